// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/run.h"
#include "control/control.h"
#include "seccomp/filter.h"
#include "util.h"

int luoemu_run(const char *control_socket, char *const argv[])
{
	_cleanup_close_ int sock = -1, listener = -1;
	const char *text;
	char req[64], reply[4096];
	int r;

	if (!argv || !argv[0]) {
		fprintf(stderr, "luoemu run: no program given\n");
		return 1;
	}
	if (!control_socket)
		control_socket = LUOEMU_DEFAULT_SOCKET;

	/* Before the filter, so nothing of ours is ever trapped. */
	sock = luoemu_control_connect(control_socket);
	if (sock < 0) {
		fprintf(stderr, "luoemu run: cannot connect to %s: %s (is luoemud running?)\n",
			control_socket, strerror(-sock));
		return 1;
	}
	listener = luoemu_filter_install();
	if (listener < 0) {
		fprintf(stderr, "luoemu run: cannot install the seccomp filter: %s%s\n",
			strerror(-listener),
			listener == -EBUSY ? " (already supervised by another seccomp listener)"
					   : "");
		return 1;
	}
	snprintf(req, sizeof(req), "attach %d", (int)getpid());
	r = luoemu_control_request(sock, req, listener, reply, sizeof(reply));
	if (r < 0) {
		fprintf(stderr, "luoemu run: attach failed: %s\n", strerror(-r));
		return 1;
	}
	r = luoemu_control_parse_reply(reply, &text);
	if (r < 0) {
		fprintf(stderr, "luoemu run: the daemon refused: %s%s%s\n", strerror(-r),
			*text ? ": " : "", text);
		return 1;
	}
	/* The program must never hold the listener: a leak hangs it (session-fds §4.4). */
	close(TAKE_FD(listener));
	close(TAKE_FD(sock));

	execvp(argv[0], argv);
	fprintf(stderr, "luoemu run: cannot execute %s: %s\n", argv[0], strerror(errno));
	return 127;
}
