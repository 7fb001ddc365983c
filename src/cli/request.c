// SPDX-License-Identifier: LGPL-2.1-or-later
/* One request to the daemon, and what to tell a user when there is none. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "control/control.h"
#include "control/paths.h"
#include "util.h"

int cli_exit_code(const struct cli *cli)
{
	return cli->unreachable ? EXIT_NO_DAEMON : EXIT_FAILED;
}

void cli_hint_no_daemon(const struct cli *cli, int err)
{
	fprintf(stderr, "luoemu: cannot reach luoemud at %s: %s\n", cli->socket, strerror(-err));
	if (err == -EACCES) {
		fprintf(stderr, "luoemu: the socket belongs to another user's daemon; "
				"use your own (--socket, $LUOEMU_SOCKET) or run as root\n");
		return;
	}
	if (err != -ENOENT && err != -ECONNREFUSED)
		return;
	if (luoemu_scope_default() == LUOEMU_SCOPE_SYSTEM)
		fprintf(stderr, "luoemu: start the system daemon: `systemctl start luoemud` "
				"(or run `luoemud` as root)\n");
	else
		fprintf(stderr, "luoemu: start your per-user daemon: `luoemu run -- CMD` starts "
				"one, or `systemctl --user start luoemud`\n");
}

int cli_request(struct cli *cli, const char *req, char *reply, size_t size, const char **text,
		bool quiet, int timeout_ms)
{
	_cleanup_close_ int sock = -1;
	int r;

	*text = "";
	sock = luoemu_control_connect(cli->socket);
	cli->unreachable = sock < 0;
	if (sock < 0) {
		if (!quiet)
			cli_hint_no_daemon(cli, sock);
		return sock;
	}
	if (timeout_ms > 0) {
		struct timeval tv = {.tv_sec = timeout_ms / 1000,
				     .tv_usec = (timeout_ms % 1000) * 1000};

		setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	r = luoemu_control_request(sock, req, -1, reply, size);
	if (r < 0) {
		if (!quiet)
			fprintf(stderr, "luoemu: %s: %s\n", req, strerror(-r));
		return r == -EAGAIN ? -ETIMEDOUT : r;
	}
	r = luoemu_control_parse_reply(reply, text);
	if (r < 0 && !quiet)
		fprintf(stderr, "luoemu: %s: %s%s%s\n", req, strerror(-r), **text ? ": " : "",
			*text);
	return r;
}

int cli_status_field(const char *text, const char *key, unsigned long long *ret)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
			return sscanf(p + kl + 1, "%llu", ret) == 1 ? 0 : -EBADMSG;
	return -ENOENT;
}

long long cli_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int cli_parse_seconds(const char *s, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 86400.0 * 365)
		return -EINVAL;
	*ret = v;
	return 0;
}
