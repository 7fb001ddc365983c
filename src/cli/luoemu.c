// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * luoemu: the command line.  Talks to the daemon only through the control
 * protocol; `inspect` reads a blob file directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/run.h"
#include "control/control.h"
#include "control/paths.h"
#include "serialize/blob.h"
#include "util.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: luoemu [--socket PATH] COMMAND [ARGS]\n\n"
		"  run [--] CMD [ARGS...]   run CMD with the LUO fd-returning ioctls served by "
		"luoemud\n"
		"  status                   print the daemon's state\n"
		"  kexec                    perform an emulated live update now\n"
		"  fault list|set|clear ... control fault injection\n"
		"  inspect [--json] BLOB    print a handover blob\n\n"
		"The control socket defaults to $LUOEMU_SOCKET or " LUOEMU_DEFAULT_SOCKET ".\n");
}

/* One request and its reply; errors are printed unless @quiet. */
static int request(const char *sock_path, const char *req, char *reply, size_t size,
		   const char **text, bool quiet)
{
	_cleanup_close_ int sock = -1;
	int r;

	*text = "";
	sock = luoemu_control_connect(sock_path);
	if (sock < 0) {
		if (!quiet)
			fprintf(stderr, "luoemu: cannot reach luoemud at %s: %s\n", sock_path,
				strerror(-sock));
		return sock;
	}
	r = luoemu_control_request(sock, req, -1, reply, size);
	if (r < 0) {
		if (!quiet)
			fprintf(stderr, "luoemu: %s: %s\n", req, strerror(-r));
		return r;
	}
	r = luoemu_control_parse_reply(reply, text);
	if (r < 0 && !quiet)
		fprintf(stderr, "luoemu: %s: %s%s%s\n", req, strerror(-r), **text ? ": " : "",
			*text);
	return r;
}

static int request_once(const char *sock_path, const char *req, char *reply, size_t size,
			const char **text)
{
	return request(sock_path, req, reply, size, text, false);
}

static int request_quiet(const char *sock_path, const char *req, char *reply, size_t size,
			 const char **text)
{
	return request(sock_path, req, reply, size, text, true);
}

/* Send one request built from argv and print the reply's text. */
static int cmd_request(const char *sock_path, int argc, char **argv)
{
	char req[4096] = "", reply[LUOEMU_CONTROL_MAX];
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
	r = request_once(sock_path, req, reply, sizeof(reply), &text);
	if (r < 0)
		return 1;
	if (*text)
		printf("%s\n", text);
	return 0;
}

static int status_field(const char *text, const char *key, unsigned long long *ret)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
			return sscanf(p + kl + 1, "%llu", ret) == 1 ? 0 : -EBADMSG;
	return -ENOENT;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/*
 * `kexec`: ask for the update, then wait until the next daemon answers with
 * the new live-update count and its device node exists.
 */
static int cmd_kexec(const char *sock_path, int argc, char **argv)
{
	char req[4096] = "kexec", reply[LUOEMU_CONTROL_MAX];
	unsigned long long want, count, ready, old, instance, err;
	long long start = now_us();
	const char *text;
	int r;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char arg[PATH_MAX + 16];

		if (strncmp(a, "--mode=", 7) == 0)
			snprintf(arg, sizeof(arg), " mode=%s", a + 7);
		else if (strncmp(a, "--binary=", 9) == 0)
			snprintf(arg, sizeof(arg), " binary=%s", a + 9);
		else if (strcmp(a, "--keep-clients") == 0)
			snprintf(arg, sizeof(arg), " keep-clients");
		else {
			fprintf(stderr, "Usage: luoemu kexec [--mode=exec|copy] [--binary=PATH] "
					"[--keep-clients]\n");
			return 2;
		}
		size_t used = strlen(req);

		if (snprintf(req + used, sizeof(req) - used, "%s", arg) >=
		    (int)(sizeof(req) - used))
			return 2;
	}
	r = request_once(sock_path, req, reply, sizeof(reply), &text);
	if (r < 0)
		return 1;
	if (status_field(text, "liveupdate_count", &want) < 0 ||
	    status_field(text, "instance", &old) < 0) {
		fprintf(stderr, "luoemu: kexec: unexpected reply '%s'\n", text);
		return 1;
	}
	for (int i = 0; i < 6000; i++) {
		usleep(10000);
		if (request_quiet(sock_path, "status", reply, sizeof(reply), &text) < 0)
			continue;
		/* The next daemon is the one with another instance id. */
		if (status_field(text, "instance", &instance) < 0 || instance == old ||
		    status_field(text, "ready", &ready) < 0 || !ready)
			continue;
		if (status_field(text, "incoming_error", &err) == 0 && err) {
			fprintf(stderr,
				"luoemu: kexec: the new daemon could not load the handover: "
				"every open fails with EIO (its log says why)\n");
			return 1;
		}
		if (status_field(text, "liveupdate_count", &count) == 0 && count == want) {
			printf("live update #%llu complete: the new daemon is ready after %.1f "
			       "ms\n",
			       want, (now_us() - start) / 1000.0);
			return 0;
		}
	}
	fprintf(stderr, "luoemu: kexec: the new daemon did not come up within 60 s\n");
	return 1;
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
	const char *sock = luoemu_default_socket(), *sock_arg = NULL;
	int i = 1;

	if (i + 1 < argc && strcmp(argv[i], "--socket") == 0) {
		sock = sock_arg = argv[i + 1];
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
			sock_arg = argv[i + 1];
			i += 2;
		}
		if (i < argc && strcmp(argv[i], "--") == 0)
			i++;
		if (i >= argc) {
			fprintf(stderr, "Usage: luoemu run [--socket PATH] [--] CMD [ARGS...]\n");
			return 2;
		}
		return luoemu_run(sock_arg, argv + i); /* NULL: the user's own, started if need be */
	}
	if (strcmp(argv[i], "inspect") == 0)
		return cmd_inspect(argc - i, argv + i);
	if (strcmp(argv[i], "kexec") == 0)
		return cmd_kexec(sock, argc - i, argv + i);
	if (strcmp(argv[i], "status") == 0 || strcmp(argv[i], "fault") == 0)
		return cmd_request(sock, argc - i, argv + i);
	fprintf(stderr, "luoemu: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
