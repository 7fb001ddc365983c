// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * trust-client: a hostile (or just slow) local user of the control socket,
 * for run-trust.sh.  Speaks the control protocol (control/control.h).
 *
 *   trust-client SOCK idle N          open N connections, say nothing; print
 *                                     READY, hold them until stdin closes
 *   trust-client SOCK request TEXT    one request; print the reply
 *   trust-client SOCK attach-self     attach with a seccomp listener of our own
 *   trust-client SOCK attach-pid PID  the same, naming PID in the request
 *   trust-client SOCK attach-notlistener   attach with an eventfd
 *   trust-client SOCK attach-handed   a child connects, hands us the socket
 *                                     and exits; we attach through it
 *   trust-client SOCK attach-hold N   N processes attach themselves and stay;
 *                                     print each reply, READY, hold until
 *                                     stdin closes
 *
 * Every reply is printed as "ok[ TEXT]" or "err ERRNO TEXT"; the exit
 * status is 0 for "ok", else the errno (1 for other failures).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control/control.h"
#include "util.h"

static const char *sock_path;

static int connect_bounded(void)
{
	struct timeval tv = {.tv_sec = 30};
	int s = luoemu_control_connect(sock_path);

	if (s < 0) {
		fprintf(stderr, "trust-client: connect %s: %s\n", sock_path, strerror(-s));
		exit(1);
	}
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

/* Send @req (with @fd) on @s, print the reply; the exit status it calls for. */
static int exchange(int s, const char *req, int fd)
{
	char reply[LUOEMU_CONTROL_MAX + 1];
	const char *text;
	int r;

	r = luoemu_control_request(s, req, fd, reply, sizeof(reply));
	if (r < 0) {
		printf("failed %d %s\n", -r, strerror(-r));
		return 1;
	}
	printf("%s\n", reply);
	fflush(stdout);
	r = luoemu_control_parse_reply(reply, &text);
	return r == 0 ? 0 : r == -EBADMSG ? 1 : -r;
}

/* A seccomp listener of our own: a filter that allows everything. */
static int own_listener(void)
{
	struct sock_filter insns[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_fprog prog = {.len = 1, .filter = insns};
	int l;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	l = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			 &prog);
	return l < 0 ? -errno : l;
}

static void wait_stdin_eof(void)
{
	char c;

	while (read(0, &c, 1) > 0)
		;
}

static int attach(const char *req)
{
	_cleanup_close_ int s = connect_bounded();
	int l = own_listener();

	if (l < 0) {
		fprintf(stderr, "trust-client: seccomp listener: %s\n", strerror(-l));
		return 1;
	}
	return exchange(s, req, l);
}

/* Receive one fd over @via. */
static int receive_fd(int via)
{
	char buf[8];
	int fd = -1;

	if (luoemu_control_recv(via, buf, sizeof(buf), &fd, NULL, NULL) <= 0)
		return -1;
	return fd;
}

static int attach_handed(void)
{
	int sv[2], status, conn, l;
	pid_t child;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		int s = connect_bounded();

		_exit(luoemu_control_send(sv[1], "c", s) < 0 ? 1 : 0);
	}
	conn = receive_fd(sv[0]);
	if (conn < 0 || waitpid(child, &status, 0) != child || status != 0)
		return 1;
	/* The process that connected is dead and reaped: its pid is free for reuse. */
	printf("# connected by pid %d, which exited; attaching from pid %d\n", child, getpid());
	l = own_listener();
	if (l < 0)
		return 1;
	return exchange(conn, "attach", l);
}

static int attach_hold(int n)
{
	int to_parent[2];
	pid_t *kids = calloc(n, sizeof(*kids));

	if (!kids || pipe(to_parent) < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		char req[32];
		int rc;

		kids[i] = fork();
		if (kids[i] < 0)
			return 1;
		if (kids[i] == 0) {
			close(to_parent[0]);
			snprintf(req, sizeof(req), "attach %d", getpid());
			rc = attach(req);
			/* Tell the parent we are done (a byte), then stay supervised. */
			if (write(to_parent[1], "x", 1) != 1)
				_exit(1);
			pause();
			_exit(rc);
		}
		/* One at a time, so the replies come in order. */
		{
			char c;

			if (read(to_parent[0], &c, 1) != 1)
				return 1;
		}
	}
	printf("READY\n");
	fflush(stdout);
	wait_stdin_eof();
	for (int i = 0; i < n; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 3) {
		fprintf(stderr, "usage: trust-client SOCK COMMAND [ARG]\n");
		return 2;
	}
	sock_path = argv[1];
	cmd = argv[2];
	if (strcmp(cmd, "idle") == 0 && argc == 4) {
		int n = atoi(argv[3]);

		for (int i = 0; i < n; i++)
			connect_bounded(); /* held open until we exit */
		printf("READY\n");
		fflush(stdout);
		wait_stdin_eof();
		return 0;
	}
	if (strcmp(cmd, "request") == 0 && argc == 4) {
		_cleanup_close_ int s = connect_bounded();

		return exchange(s, argv[3], -1);
	}
	if (strcmp(cmd, "attach-self") == 0 && argc == 3)
		return attach("attach");
	if (strcmp(cmd, "attach-pid") == 0 && argc == 4) {
		char req[64];

		snprintf(req, sizeof(req), "attach %s", argv[3]);
		return attach(req);
	}
	if (strcmp(cmd, "attach-notlistener") == 0 && argc == 3) {
		_cleanup_close_ int s = connect_bounded();

		return exchange(s, "attach", eventfd(0, EFD_CLOEXEC));
	}
	if (strcmp(cmd, "attach-handed") == 0 && argc == 3)
		return attach_handed();
	if (strcmp(cmd, "attach-hold") == 0 && argc == 4)
		return attach_hold(atoi(argv[3]));
	fprintf(stderr, "trust-client: unknown command '%s'\n", cmd);
	return 2;
}
