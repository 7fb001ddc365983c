// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * `luoemu status [--json]` and `luoemu wait [--timeout S]`.
 *
 * The daemon's status reply (luoemud(8), "STATUS REPLY") is `key value`
 * lines, then one `session k=v ... name=NAME` line per session, each
 * followed by its `file k=v ...` lines.  Names are \xNN-escaped by the
 * daemon; `name=` comes last so a name may hold anything.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "control/control.h"

/* Keys whose values are strings even when they look like numbers. */
static bool always_string(const char *key, size_t len)
{
	static const char *const keys[] = {"token", "name", "handler", "direction", "state"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i]) == len && memcmp(keys[i], key, len) == 0)
			return true;
	return false;
}

/* Print the `k=v` pairs of a session/file line as JSON members. */
static void json_pairs(FILE *out, const char *p, const char *end)
{
	bool first = true;

	while (p < end) {
		const char *eq = memchr(p, '=', (size_t)(end - p)), *val, *vend;
		char name[256];
		size_t klen;

		if (!eq)
			break;
		klen = (size_t)(eq - p);
		val = eq + 1;
		/* name= runs to the end of the line; every other value to the next blank. */
		if (klen == 4 && memcmp(p, "name", 4) == 0)
			vend = end;
		else
			vend = memchr(val, ' ', (size_t)(end - val)) ?: end;
		fputs(first ? "" : ",", out);
		first = false;
		json_string_n(out, p, klen);
		fputc(':', out);
		if (klen == 4 && memcmp(p, "name", 4) == 0)
			json_string_n(out, name,
				      unescape_hex(val, (size_t)(vend - val), name, sizeof(name)));
		else if (always_string(p, klen))
			json_string_n(out, val, (size_t)(vend - val));
		else
			json_scalar(out, val, (size_t)(vend - val));
		p = vend + (vend < end);
	}
}

static void status_json(FILE *out, const char *text)
{
	bool in_session = false, first_member = true, first_session = true, first_file = true;
	bool truncated = false;

	fputc('{', out);
	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n') ?: p + strlen(p);
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		size_t klen = sp ? (size_t)(sp - p) : 0;

		if (!sp) {
			/* not a line of the format: skipped rather than guessed */
		} else if (klen == 7 && memcmp(p, "session", 7) == 0) {
			if (first_session)
				fputs(first_member ? "\"sessions\":[{" : ",\"sessions\":[{", out);
			else
				fputs(in_session ? "]},{" : ",{", out);
			first_member = false;
			json_pairs(out, sp + 1, end);
			fputs(",\"files\":[", out);
			in_session = true;
			first_session = false;
			first_file = true;
		} else if (klen == 4 && memcmp(p, "file", 4) == 0 && in_session) {
			fputs(first_file ? "{" : ",{", out);
			json_pairs(out, sp + 1, end);
			fputc('}', out);
			first_file = false;
		} else if (klen == 9 && memcmp(p, "truncated", 9) == 0) {
			truncated = true;
		} else if (!in_session) {
			fputs(first_member ? "" : ",", out);
			first_member = false;
			json_string_n(out, p, klen);
			fputc(':', out);
			/* A u64 id: a string keeps it exact in every JSON reader. */
			if (klen == 8 && memcmp(p, "instance", 8) == 0)
				json_string_n(out, sp + 1, (size_t)(end - sp - 1));
			else
				json_scalar(out, sp + 1, (size_t)(end - sp - 1));
		}
		p = *end ? end + 1 : end;
	}
	/* The members above never include "sessions": the daemon has no such key. */
	if (in_session)
		fputs("]}]", out);
	else
		fputs(first_member ? "\"sessions\":[]" : ",\"sessions\":[]", out);
	if (truncated)
		fputs(",\"truncated\":1", out);
	fputs("}\n", out);
}

/* Value of key @key (length-delimited) in a k=v line, or "". */
static void pair(const char *p, const char *end, const char *key, char *buf, size_t size)
{
	size_t kl = strlen(key);

	buf[0] = '\0';
	for (; p < end; p++) {
		if (p[-1] == ' ' && (size_t)(end - p) > kl && memcmp(p, key, kl) == 0 &&
		    p[kl] == '=') {
			const char *v = p + kl + 1;
			const char *vend = strcmp(key, "name") == 0
						   ? end
						   : (memchr(v, ' ', (size_t)(end - v)) ?: end);

			snprintf(buf, size, "%.*s", (int)(vend - v), v);
			return;
		}
	}
}

static void status_text(FILE *out, const char *text)
{
	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n') ?: p + strlen(p);
		char name[512], id[32], dir[32], state[32], nr[32], owner[32], token[32],
			handler[64], size[32];

		if (strncmp(p, "session ", 8) == 0) {
			pair(p + 7, end, "name", name, sizeof(name));
			pair(p + 7, end, "id", id, sizeof(id));
			pair(p + 7, end, "direction", dir, sizeof(dir));
			pair(p + 7, end, "state", state, sizeof(state));
			pair(p + 7, end, "nr_files", nr, sizeof(nr));
			pair(p + 7, end, "owner", owner, sizeof(owner));
			fprintf(out, "session \"%s\" (id %s): %s, %s, %s file%s%s%s\n", name, id,
				dir, state, nr, strcmp(nr, "1") ? "s" : "",
				*owner ? ", owner uid " : "", owner);
		} else if (strncmp(p, "file ", 5) == 0) {
			pair(p + 4, end, "token", token, sizeof(token));
			pair(p + 4, end, "handler", handler, sizeof(handler));
			pair(p + 4, end, "size", size, sizeof(size));
			fprintf(out, "  token %s: %s, %s bytes\n", token, handler, size);
		} else {
			fprintf(out, "%.*s\n", (int)(end - p), p);
		}
		p = *end ? end + 1 : end;
	}
}

static void status_usage(FILE *out)
{
	fprintf(out, "Usage: luoemu status [--json] [--socket PATH]\n"
		     "Print the daemon's state: counters, then every session and its files.\n\n"
		     "  -j, --json         one JSON object (schema in luoemu(1))\n"
		     "  -s, --socket PATH  control socket\n"
		     "  -h, --help         this text\n");
}

int cmd_status(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		CLI_COMMON_LONGOPTS,
		{},
	};
	char reply[LUOEMU_CONTROL_MAX];
	const char *text;
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "js:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			cli->socket = optarg;
			break;
		case 'h':
			status_usage(stdout);
			return EXIT_OK;
		default:
			status_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		status_usage(stderr);
		return EXIT_USAGE;
	}
	r = cli_request(cli, "status", reply, sizeof(reply), &text, false, 0);
	if (r < 0)
		return cli_exit_code(cli);
	if (json)
		status_json(stdout, text);
	else
		status_text(stdout, text);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
}

static void wait_usage(FILE *out)
{
	fprintf(out, "Usage: luoemu wait [--timeout S] [--quiet] [--socket PATH]\n"
		     "Wait until the daemon answers and its device node is ready.\n\n"
		     "  -t, --timeout S    give up after S seconds (default 60): exit 4\n"
		     "  -q, --quiet        print nothing on success\n"
		     "  -s, --socket PATH  control socket\n"
		     "  -h, --help         this text\n");
}

int cmd_wait(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"timeout", required_argument, NULL, 't'},
		{"quiet", no_argument, NULL, 'q'},
		CLI_COMMON_LONGOPTS,
		{},
	};
	char reply[LUOEMU_CONTROL_MAX];
	unsigned long long ready, err, count;
	double timeout = 60;
	bool quiet = false;
	long long deadline;
	const char *text;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "t:qs:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (cli_parse_seconds(optarg, &timeout) < 0) {
				fprintf(stderr, "luoemu wait: bad timeout '%s' (seconds > 0)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'q':
			quiet = true;
			break;
		case 's':
			cli->socket = optarg;
			break;
		case 'h':
			wait_usage(stdout);
			return EXIT_OK;
		default:
			wait_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		wait_usage(stderr);
		return EXIT_USAGE;
	}
	deadline = cli_now_us() + (long long)(timeout * 1e6);
	do {
		r = cli_request(cli, "status", reply, sizeof(reply), &text, true, 1000);
		if (r == 0 && cli_status_field(text, "ready", &ready) == 0 && ready) {
			if (cli_status_field(text, "incoming_error", &err) == 0 && err) {
				fprintf(stderr,
					"luoemu wait: the daemon is up but could not load "
					"the previous one's handover (errno %llu): every "
					"open fails with EIO; its log says why\n",
					err);
				return EXIT_FAILED;
			}
			if (!quiet && cli_status_field(text, "liveupdate_count", &count) == 0)
				printf("luoemud ready (live update count %llu)\n", count);
			return EXIT_OK;
		}
		usleep(100000);
	} while (cli_now_us() < deadline);
	fprintf(stderr, "luoemu wait: luoemud at %s not ready within %g s", cli->socket, timeout);
	if (r < 0)
		fprintf(stderr, " (last attempt: %s)", strerror(-r));
	fputc('\n', stderr);
	if (r < 0)
		cli_hint_no_daemon(cli, r);
	return EXIT_TIMEOUT;
}
