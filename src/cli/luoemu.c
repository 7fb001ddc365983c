// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * luoemu: the command line.  Talks to the daemon only through the control
 * protocol; `inspect` reads a blob file directly.  Each subcommand parses
 * its own options (getopt_long); `--help` never contacts the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "control/paths.h"
#include "serialize/blob.h"
#include "util.h"

static int cmd_run(struct cli *cli, int argc, char **argv);
static int cmd_help(struct cli *cli, int argc, char **argv);
static int cmd_version(struct cli *cli, int argc, char **argv);

static const struct cli_command commands[] = {
	{"run", "run CMD with the LUO fd-returning ioctls served by luoemud", cmd_run},
	{"status", "print the daemon's state and its sessions", cmd_status},
	{"wait", "wait until the daemon's device is ready", cmd_wait},
	{"kexec", "perform an emulated live update", cmd_kexec},
	{"fault", "list, arm and clear fault injection points", cmd_fault},
	{"inspect", "decode a handover blob file", cmd_inspect},
	{"help", "this text, or COMMAND --help", cmd_help},
	{"version", "print the version", cmd_version},
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: luoemu [--socket PATH] COMMAND [OPTIONS] [ARGS]\n"
		     "       luoemu --help | --version\n\n"
		     "Control luoemud, the emulated Live Update Orchestrator.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\nOptions:\n"
		"  -s, --socket PATH  control socket (default: $LUOEMU_SOCKET, else %s)\n"
		"  -h, --help         this text; `luoemu COMMAND --help` for a command's\n"
		"  -V, --version      print the version\n\n"
		"Exit status: 0 success, 1 failure, 2 usage error, 3 no daemon reachable,\n"
		"4 timeout.  See luoemu(1).\n",
		luoemu_default_socket());
}

static int cmd_help(struct cli *cli, int argc, char **argv)
{
	usage(stdout);
	return EXIT_OK;
}

static int cmd_version(struct cli *cli, int argc, char **argv)
{
	printf("luoemu %s\n", PACKAGE_VERSION);
	return EXIT_OK;
}

static void run_usage(FILE *out)
{
	fprintf(out, "Usage: luoemu run [--socket PATH] [--] CMD [ARGS...]\n"
		     "Run CMD under a seccomp filter that lets luoemud answer the LUO ioctls\n"
		     "returning fds.  Options end at CMD: `luoemu run ls --help` runs ls.\n\n"
		     "  -s, --socket PATH  control socket\n"
		     "  -h, --help         this text\n\n"
		     "Exit status: CMD's own; 1 when the daemon cannot be reached or refuses,\n"
		     "127 when CMD cannot be executed, 2 usage error.\n");
}

static int cmd_run(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_LONGOPTS,
		{},
	};
	int c;

	/* "+": stop at CMD, its options are its own. */
	while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			cli->socket = optarg;
			cli->socket_given = true;
			break;
		case 'h':
			run_usage(stdout);
			return EXIT_OK;
		default:
			run_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "luoemu run: no program given\n");
		run_usage(stderr);
		return EXIT_USAGE;
	}
	/* NULL: the user's own daemon, started if none runs. */
	return luoemu_run(cli->socket_given ? cli->socket : NULL, argv + optind);
}

static void inspect_usage(FILE *out)
{
	fprintf(out, "Usage: luoemu inspect [--json] BLOB\n"
		     "Decode a handover blob (e.g. /run/luoemu/state/handover.blob.loaded);\n"
		     "needs no daemon.\n\n"
		     "  -j, --json   one JSON object, every record decoded (schema in luoemu(1))\n"
		     "  -h, --help   this text\n");
}

int cmd_inspect(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	_cleanup_free_ void *buf = NULL;
	struct luo_blob *blob = NULL;
	_cleanup_free_ char *real = NULL;
	bool json = false;
	char why[256] = "";
	const char *path;
	size_t len;
	int c, r;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			inspect_usage(stdout);
			return EXIT_OK;
		default:
			inspect_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		inspect_usage(stderr);
		return EXIT_USAGE;
	}
	path = argv[optind];
	/* The reader refuses links (the daemon's guard); a user may name a blob through one. */
	real = realpath(path, NULL);
	r = luo_blob_read_file(AT_FDCWD, real ?: path, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "luoemu inspect: %s: %s\n", path, strerror(-r));
		return EXIT_FAILED;
	}
	r = luo_blob_decode_reason(buf, len, &blob, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "luoemu inspect: %s: not a valid blob: %s (%s)\n", path, why,
			strerror(-r));
		return EXIT_FAILED;
	}
	r = luo_blob_print(stdout, blob, json);
	luo_blob_free(blob);
	return r < 0 ? EXIT_FAILED : EXIT_OK;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{},
	};
	struct cli cli = {.socket = luoemu_default_socket()};
	int c;

	/* "+": the first non-option is the command; its options are its own. */
	while ((c = getopt_long(argc, argv, "+s:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			cli.socket = optarg;
			cli.socket_given = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			return cmd_version(&cli, 0, NULL);
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;

			optind = 0; /* restart getopt for the subcommand (glibc: full reset) */
			return commands[i].run(&cli, sub_argc, sub_argv);
		}
	}
	fprintf(stderr, "luoemu: unknown command '%s'; `luoemu --help` lists them\n", argv[optind]);
	return EXIT_USAGE;
}
