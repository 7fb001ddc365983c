// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * luoemu: the command line.  Talks to the daemon only through the control
 * protocol; `inspect` reads a blob file directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/run.h"
#include "control/control.h"
#include "serialize/blob.h"
#include "util.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: luoemu [--socket PATH] COMMAND [ARGS]\n\n"
		"  run [--] CMD [ARGS...]   run CMD with the LUO fd-returning ioctls served by luoemud\n"
		"  status                   print the daemon's state\n"
		"  kexec                    perform an emulated live update now\n"
		"  fault list|set|clear ... control fault injection\n"
		"  inspect [--json] BLOB    print a handover blob\n\n"
		"The control socket defaults to $LUOEMU_SOCKET or " LUOEMU_DEFAULT_SOCKET ".\n");
}

/* Send one request built from argv and print the reply's text. */
static int cmd_request(const char *sock_path, int argc, char **argv)
{
	char req[4096] = "", reply[LUOEMU_CONTROL_MAX];
	_cleanup_close_ int sock = -1;
	const char *text;
	size_t len = 0;
	int r;

	for (int i = 0; i < argc; i++) {
		int n = snprintf(req + len, sizeof(req) - len, "%s%s", i ? " " : "", argv[i]);

		if (n < 0 || (size_t)n >= sizeof(req) - len) {
			fprintf(stderr, "luoemu: request too long\n");
			return 2;
		}
		len += n;
	}
	sock = luoemu_control_connect(sock_path);
	if (sock < 0) {
		fprintf(stderr, "luoemu: cannot reach luoemud at %s: %s\n", sock_path,
			strerror(-sock));
		return 1;
	}
	r = luoemu_control_request(sock, req, -1, reply, sizeof(reply));
	if (r < 0) {
		fprintf(stderr, "luoemu: %s: %s\n", argv[0], strerror(-r));
		return 1;
	}
	r = luoemu_control_parse_reply(reply, &text);
	if (r < 0) {
		fprintf(stderr, "luoemu: %s: %s%s%s\n", argv[0], strerror(-r), *text ? ": " : "",
			text);
		return 1;
	}
	if (*text)
		printf("%s\n", text);
	return 0;
}

static int cmd_inspect(int argc, char **argv)
{
	_cleanup_free_ void *buf = NULL;
	struct luo_blob *blob = NULL;
	bool json = false;
	const char *path = NULL;
	char why[256] = "";
	size_t len;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (!path)
			path = argv[i];
		else
			path = NULL, i = argc;
	}
	if (!path) {
		fprintf(stderr, "Usage: luoemu inspect [--json] BLOB\n");
		return 2;
	}
	r = luo_blob_read_file(AT_FDCWD, path, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "luoemu: %s: %s\n", path, strerror(-r));
		return 1;
	}
	r = luo_blob_decode_reason(buf, len, &blob, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "luoemu: %s: not a valid blob: %s (%s)\n", path, why, strerror(-r));
		return 1;
	}
	r = luo_blob_print(stdout, blob, json);
	luo_blob_free(blob);
	return r < 0 ? 1 : 0;
}

int main(int argc, char *argv[])
{
	const char *sock = getenv("LUOEMU_SOCKET") ?: LUOEMU_DEFAULT_SOCKET;
	int i = 1;

	if (i + 1 < argc && strcmp(argv[i], "--socket") == 0) {
		sock = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[i], "run") == 0) {
		i++;
		if (i < argc && strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			sock = argv[i + 1];
			i += 2;
		}
		if (i < argc && strcmp(argv[i], "--") == 0)
			i++;
		if (i >= argc) {
			fprintf(stderr, "Usage: luoemu run [--socket PATH] [--] CMD [ARGS...]\n");
			return 2;
		}
		return luoemu_run(sock, argv + i);
	}
	if (strcmp(argv[i], "inspect") == 0)
		return cmd_inspect(argc - i, argv + i);
	if (strcmp(argv[i], "status") == 0 || strcmp(argv[i], "kexec") == 0 ||
	    strcmp(argv[i], "fault") == 0)
		return cmd_request(sock, argc - i, argv + i);
	fprintf(stderr, "luoemu: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
