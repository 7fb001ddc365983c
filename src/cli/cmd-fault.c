// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * `luoemu fault list [--json] | set POINT [KEY=VALUE...] | clear [POINT|all]`.
 * The daemon's list is one line per point:
 *   POINT calls=N injected=N (off | KNOB=V... [spent])  # DESCRIPTION
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "control/control.h"

static void fault_usage(FILE *out)
{
	fprintf(out, "Usage: luoemu fault list [--json]\n"
		     "       luoemu fault set POINT [KEY=VALUE...]\n"
		     "       luoemu fault clear [POINT|all]\n"
		     "Fault injection at the daemon's named points (luoemud(8), FAULT "
		     "INJECTION).\n\n"
		     "  -j, --json         list: a JSON array, one object per point\n"
		     "  -s, --socket PATH  control socket\n"
		     "  -h, --help         this text\n");
}

static void list_line_json(FILE *out, const char *p, const char *end)
{
	const char *hash = strstr(p, "  # ");
	const char *fields_end = hash && hash < end ? hash : end;
	const char *sp = memchr(p, ' ', (size_t)(fields_end - p)) ?: fields_end;
	const char *state = "armed";
	bool first_knob = true;

	fputs("{\"point\":", out);
	json_string_n(out, p, (size_t)(sp - p));
	fputs(",\"knobs\":{", out);
	for (const char *t = sp; t < fields_end;) {
		const char *tend, *eq;

		while (t < fields_end && *t == ' ')
			t++;
		if (t >= fields_end)
			break;
		tend = memchr(t, ' ', (size_t)(fields_end - t)) ?: fields_end;
		eq = memchr(t, '=', (size_t)(tend - t));
		if (!eq) {
			if ((size_t)(tend - t) == 3 && memcmp(t, "off", 3) == 0)
				state = "off";
			else if ((size_t)(tend - t) == 5 && memcmp(t, "spent", 5) == 0)
				state = "spent";
		} else if (!((eq - t == 5 && memcmp(t, "calls", 5) == 0) ||
			     (eq - t == 8 && memcmp(t, "injected", 8) == 0))) {
			fputs(first_knob ? "" : ",", out);
			first_knob = false;
			json_string_n(out, t, (size_t)(eq - t));
			fputc(':', out);
			json_scalar(out, eq + 1, (size_t)(tend - eq - 1));
		}
		t = tend;
	}
	fputs("}", out);
	for (const char *k = sp; k < fields_end; k++) {
		if (strncmp(k, " calls=", 7) == 0)
			fprintf(out, ",\"calls\":%lu", strtoul(k + 7, NULL, 10));
		else if (strncmp(k, " injected=", 10) == 0)
			fprintf(out, ",\"injected\":%lu", strtoul(k + 10, NULL, 10));
	}
	fprintf(out, ",\"state\":\"%s\",\"description\":", state);
	if (hash && hash < end)
		json_string_n(out, hash + 4, (size_t)(end - hash - 4));
	else
		fputs("\"\"", out);
	fputc('}', out);
}

static void list_json(FILE *out, const char *text)
{
	bool first = true;

	fputc('[', out);
	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n') ?: p + strlen(p);

		if (end > p) {
			fputs(first ? "" : ",", out);
			first = false;
			list_line_json(out, p, end);
		}
		p = *end ? end + 1 : end;
	}
	fputs("]\n", out);
}

int cmd_fault(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		CLI_COMMON_LONGOPTS,
		{},
	};
	char req[4096] = "fault", reply[LUOEMU_CONTROL_MAX];
	const char *text, *sub;
	bool json = false;
	size_t len = strlen(req);
	int c, r;

	/* "+": KEY=VALUE words after POINT are never options. */
	while ((c = getopt_long(argc, argv, "+js:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			cli->socket = optarg;
			break;
		case 'h':
			fault_usage(stdout);
			return EXIT_OK;
		default:
			fault_usage(stderr);
			return EXIT_USAGE;
		}
	}
	sub = optind < argc ? argv[optind] : "list";
	if (strcmp(sub, "list") == 0) {
		/* `fault list --json` too: options after the subcommand word. */
		for (int i = optind + 1; i < argc; i++) {
			if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
				json = true;
			else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
				fault_usage(stdout);
				return EXIT_OK;
			} else {
				fault_usage(stderr);
				return EXIT_USAGE;
			}
		}
	} else if (strcmp(sub, "set") == 0 || strcmp(sub, "clear") == 0) {
		for (int i = optind + 1; i < argc; i++)
			if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
				fault_usage(stdout);
				return EXIT_OK;
			}
		if (json || (strcmp(sub, "set") == 0 && optind + 1 >= argc) ||
		    (strcmp(sub, "clear") == 0 && optind + 2 < argc)) {
			fault_usage(stderr);
			return EXIT_USAGE;
		}
	} else {
		fprintf(stderr, "luoemu fault: unknown subcommand '%s'\n", sub);
		fault_usage(stderr);
		return EXIT_USAGE;
	}
	for (int i = optind; i < argc && !(strcmp(sub, "list") == 0 && i > optind); i++) {
		int n = snprintf(req + len, sizeof(req) - len, " %s", argv[i]);

		if (n < 0 || (size_t)n >= sizeof(req) - len) {
			fprintf(stderr, "luoemu fault: request too long\n");
			return EXIT_USAGE;
		}
		len += (size_t)n;
	}
	if (optind >= argc)
		strcat(req, " list");
	r = cli_request(cli, req, reply, sizeof(reply), &text, false, 0);
	if (r < 0)
		return cli_exit_code(cli);
	if (json)
		list_json(stdout, text);
	else if (*text)
		printf("%s\n", text);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
}
