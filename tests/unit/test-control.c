// SPDX-License-Identifier: LGPL-2.1-or-later
/* The control protocol: framing, fd passing, credentials, replies. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control/control.h"
#include "control/peercred.h"
#include "control/request.h"
#include "control/server.h"
#include "util.h"

static char tmpdir[PATH_MAX - 64];
static char sockpath[PATH_MAX];

static void setup_dir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/luoemu-control-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(sockpath, sizeof(sockpath), "%s/control.sock", tmpdir);
}

static void teardown_dir(void)
{
	unlink(sockpath);
	rmdir(tmpdir);
}

static void seqpacket_pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

/* Send raw bytes with @nfds copies of @fd, bypassing the module. */
static void send_raw(int sock, const void *buf, size_t len, int fd, int nfds)
{
	char ctl[CMSG_SPACE(8 * sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (nfds) {
		struct cmsghdr *c;

		msg.msg_control = ctl;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		for (int i = 0; i < nfds; i++)
			memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
	}
	ck_assert_int_eq(sendmsg(sock, &msg, 0), (ssize_t)len);
}

START_TEST(test_roundtrip_real_socket)
{
	_cleanup_close_ int lfd = -1;
	struct stat st;
	pid_t child;
	int status;

	lfd = luoemu_control_listen(sockpath, 0600);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(stat(sockpath, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_ne(fcntl(lfd, F_GETFD) & FD_CLOEXEC, 0);

	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		char reply[128];
		const char *text;
		int s = luoemu_control_connect(sockpath);

		if (s < 0 || luoemu_control_request(s, "status now", -1, reply, sizeof(reply)))
			_exit(2);
		if (luoemu_control_parse_reply(reply, &text) != 0 || strcmp(text, "all fine 7"))
			_exit(3);
		_exit(0);
	}

	{
		_cleanup_close_ int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		char buf[128];
		pid_t pid = 0;
		uid_t uid = 1;
		int fd = 5;

		ck_assert_int_ge(conn, 0);
		ck_assert_int_eq(luoemu_control_recv(conn, buf, sizeof(buf), &fd, &pid, &uid), 10);
		ck_assert_str_eq(buf, "status now");
		ck_assert_int_eq(fd, -1);
		ck_assert_int_eq(pid, child);
		ck_assert_int_eq(uid, getuid());
		ck_assert_int_eq(luoemu_control_reply(conn, 0, "all fine %d", 7), 0);
	}
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(test_listen_stale_and_live)
{
	_cleanup_close_ int a = -1, b = -1;
	int fd;

	a = luoemu_control_listen(sockpath, 0666);
	ck_assert_int_ge(a, 0);
	/* Somebody answers: leave it alone. */
	ck_assert_int_eq(luoemu_control_listen(sockpath, 0666), -EADDRINUSE);
	/* The daemon died: the socket file stays, nobody answers: replace it. */
	close(TAKE_FD(a));
	ck_assert_int_eq(access(sockpath, F_OK), 0);
	b = luoemu_control_listen(sockpath, 0660);
	ck_assert_int_ge(b, 0);
	close(TAKE_FD(b));
	unlink(sockpath);

	/* Never remove something that is not a socket. */
	fd = open(sockpath, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(luoemu_control_listen(sockpath, 0600), -EEXIST);
	ck_assert_int_eq(access(sockpath, F_OK), 0);
}
END_TEST

START_TEST(test_connect_errors)
{
	char longpath[200];

	ck_assert_int_eq(luoemu_control_connect(sockpath), -ENOENT);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	ck_assert_int_eq(luoemu_control_connect(longpath), -ENAMETOOLONG);
	ck_assert_int_eq(luoemu_control_listen(longpath, 0600), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_fd_passing)
{
	_cleanup_close_ int got = -1, null = -1;
	int sv[2];
	char buf[64], reply[64];
	struct stat a, b;

	seqpacket_pair(sv);
	null = open("/dev/null", O_RDONLY); /* no CLOEXEC: the receiver must add it */
	ck_assert_int_ge(null, 0);

	/* The reply must already be queued: request() reads it after sending. */
	ck_assert_int_eq(luoemu_control_reply(sv[1], 0, NULL), 0);
	ck_assert_int_eq(luoemu_control_request(sv[0], "attach 42", null, reply, sizeof(reply)), 0);
	ck_assert_str_eq(reply, "ok");

	ck_assert_int_eq(luoemu_control_recv(sv[1], buf, sizeof(buf), &got, NULL, NULL), 9);
	ck_assert_str_eq(buf, "attach 42");
	ck_assert_int_ge(got, 0);
	ck_assert_int_ne(got, null);
	ck_assert_int_eq(fstat(null, &a), 0);
	ck_assert_int_eq(fstat(got, &b), 0);
	ck_assert_int_eq(a.st_rdev, b.st_rdev);
	ck_assert_int_ne(fcntl(got, F_GETFD) & FD_CLOEXEC, 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_extra_fds_closed)
{
	_cleanup_close_ int got = -1;
	int sv[2], before, probe;
	char buf[64];

	seqpacket_pair(sv);
	send_raw(sv[0], "attach 1", 8, STDERR_FILENO, 5);
	/* The lowest free fd now: the four extra fds must have been closed again. */
	before = dup(STDERR_FILENO);
	close(before);
	ck_assert_int_eq(luoemu_control_recv(sv[1], buf, sizeof(buf), &got, NULL, NULL), 8);
	ck_assert_int_eq(got, before);
	probe = dup(STDERR_FILENO);
	ck_assert_int_eq(probe, before + 1);
	close(probe);

	/* A receiver that wants no fd gets none left behind either. */
	send_raw(sv[0], "status", 6, STDERR_FILENO, 3);
	ck_assert_int_eq(luoemu_control_recv(sv[1], buf, sizeof(buf), NULL, NULL, NULL), 6);
	probe = dup(STDERR_FILENO);
	ck_assert_int_eq(probe, before + 1);
	close(probe);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_too_long)
{
	_cleanup_free_ char *big = malloc(LUOEMU_CONTROL_MAX + 2);
	int sv[2], fd = 7, probe, before;
	char small[16], reply[16];

	seqpacket_pair(sv);
	ck_assert_int_ge(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){1 << 20}, sizeof(int)), 0);
	/* A truncated request is refused and its fd closed. */
	before = dup(STDERR_FILENO);
	close(before);
	send_raw(sv[0], "attach 12345678", 15, STDERR_FILENO, 1);
	ck_assert_int_eq(luoemu_control_recv(sv[1], small, 10, &fd, NULL, NULL), -EMSGSIZE);
	ck_assert_int_eq(fd, -1);
	probe = dup(STDERR_FILENO);
	ck_assert_int_eq(probe, before);
	close(probe);
	/* The next datagram is intact: SEQPACKET drops only the rest of the bad one. */
	send_raw(sv[0], "ping", 4, -1, 0);
	ck_assert_int_eq(luoemu_control_recv(sv[1], small, sizeof(small), NULL, NULL, NULL), 4);
	ck_assert_str_eq(small, "ping");

	/* Requests over LUOEMU_CONTROL_MAX are not sent at all. */
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', LUOEMU_CONTROL_MAX + 1);
	big[LUOEMU_CONTROL_MAX + 1] = 0;
	ck_assert_int_eq(luoemu_control_request(sv[0], big, -1, reply, sizeof(reply)), -EMSGSIZE);

	/* A reply too long for the caller's buffer. */
	ck_assert_int_eq(luoemu_control_reply(sv[1], 0, "%s", "a rather long answer"), 0);
	ck_assert_int_eq(luoemu_control_request(sv[0], "x", -1, reply, 8), -EMSGSIZE);
	ck_assert_int_eq(luoemu_control_recv(sv[1], small, sizeof(small), NULL, NULL, NULL), 1);

	/* A datagram with a NUL inside is not text. */
	send_raw(sv[0], "at\0tach", 7, -1, 0);
	ck_assert_int_eq(luoemu_control_recv(sv[1], small, sizeof(small), NULL, NULL, NULL),
			 -EBADMSG);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_reply_format)
{
	int sv[2];
	char buf[LUOEMU_CONTROL_MAX + 1];
	_cleanup_free_ char *huge = malloc(LUOEMU_CONTROL_MAX * 2);

	seqpacket_pair(sv);
	ck_assert_int_eq(luoemu_control_reply(sv[0], 0, NULL), 0);
	ck_assert_int_eq(luoemu_control_recv(sv[1], buf, sizeof(buf), NULL, NULL, NULL), 2);
	ck_assert_str_eq(buf, "ok");
	ck_assert_int_eq(luoemu_control_reply(sv[0], 0, "%s", ""), 0);
	luoemu_control_recv(sv[1], buf, sizeof(buf), NULL, NULL, NULL);
	ck_assert_str_eq(buf, "ok");
	ck_assert_int_eq(luoemu_control_reply(sv[0], 0, "sessions %d", 3), 0);
	luoemu_control_recv(sv[1], buf, sizeof(buf), NULL, NULL, NULL);
	ck_assert_str_eq(buf, "ok sessions 3");
	/* Either sign of errno gives the positive decimal. */
	ck_assert_int_eq(luoemu_control_reply(sv[0], -ENOENT, "no such session %s", "a"), 0);
	luoemu_control_recv(sv[1], buf, sizeof(buf), NULL, NULL, NULL);
	ck_assert_str_eq(buf, "err 2 no such session a");
	ck_assert_int_eq(luoemu_control_reply(sv[0], EPERM, NULL), 0);
	luoemu_control_recv(sv[1], buf, sizeof(buf), NULL, NULL, NULL);
	ck_assert_str_eq(buf, "err 1 Operation not permitted");
	/* Text beyond the datagram limit is cut, not refused. */
	ck_assert_ptr_nonnull(huge);
	memset(huge, 'z', LUOEMU_CONTROL_MAX * 2 - 1);
	huge[LUOEMU_CONTROL_MAX * 2 - 1] = 0;
	ck_assert_int_eq(luoemu_control_reply(sv[0], 0, "%s", huge), 0);
	ck_assert_int_eq(luoemu_control_recv(sv[1], buf, sizeof(buf), NULL, NULL, NULL),
			 LUOEMU_CONTROL_MAX);
	ck_assert(strncmp(buf, "ok zzz", 6) == 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_parse_reply)
{
	const char *text;
	char r1[] = "err 2 x", r2[] = "ok", r3[] = "ok hello world", r4[] = "err 13",
	     r5[] = "err x y", r6[] = "what", r7[] = "err 0 zero", r8[] = "ok done\n",
	     r9[] = "err 5000 big", r10[] = "err 22abc", r11[] = "okay";

	ck_assert_int_eq(luoemu_control_parse_reply(r1, &text), -2);
	ck_assert_str_eq(text, "x");
	ck_assert_int_eq(luoemu_control_parse_reply(r2, &text), 0);
	ck_assert_str_eq(text, "");
	ck_assert_int_eq(luoemu_control_parse_reply(r3, &text), 0);
	ck_assert_str_eq(text, "hello world");
	ck_assert_int_eq(luoemu_control_parse_reply(r4, &text), -EACCES);
	ck_assert_str_eq(text, "");
	ck_assert_int_eq(luoemu_control_parse_reply(r8, NULL), 0);
	/* Malformed replies are -EBADMSG, with the raw text for the message. */
	ck_assert_int_eq(luoemu_control_parse_reply(r5, &text), -EBADMSG);
	ck_assert_str_eq(text, "err x y");
	ck_assert_int_eq(luoemu_control_parse_reply(r6, &text), -EBADMSG);
	ck_assert_int_eq(luoemu_control_parse_reply(r7, &text), -EBADMSG);
	ck_assert_int_eq(luoemu_control_parse_reply(r9, &text), -EBADMSG);
	ck_assert_int_eq(luoemu_control_parse_reply(r10, &text), -EBADMSG);
	ck_assert_int_eq(luoemu_control_parse_reply(r11, &text), -EBADMSG);
}
END_TEST

START_TEST(test_eof)
{
	int sv[2], fd;
	char buf[16];

	seqpacket_pair(sv);
	close(sv[0]);
	ck_assert_int_eq(luoemu_control_recv(sv[1], buf, sizeof(buf), &fd, NULL, NULL), 0);
	ck_assert_int_eq(fd, -1);
	close(sv[1]);

	/* The daemon hangs up without a reply. */
	seqpacket_pair(sv);
	if (fork() == 0) {
		close(sv[0]);
		luoemu_control_recv(sv[1], buf, sizeof(buf), NULL, NULL, NULL);
		_exit(0);
	}
	close(sv[1]);
	ck_assert_int_eq(luoemu_control_request(sv[0], "kexec", -1, buf, sizeof(buf)), -ECONNRESET);
	close(sv[0]);
	wait(NULL);
}
END_TEST

/* ---- request parsers ---- */

START_TEST(test_split)
{
	char a[] = "  kexec  mode=copy keep-clients", b[] = "status", c[] = "   ", *v, *args;

	ck_assert_int_eq(luoemu_request_split(a, &v, &args), 0);
	ck_assert_str_eq(v, "kexec");
	ck_assert_str_eq(args, "mode=copy keep-clients");
	ck_assert_int_eq(luoemu_request_split(b, &v, &args), 0);
	ck_assert_str_eq(v, "status");
	ck_assert_str_eq(args, "");
	ck_assert_int_eq(luoemu_request_split(c, &v, &args), -EINVAL);
	ck_assert_int_eq(luoemu_request_split(NULL, &v, &args), -EINVAL);
}
END_TEST

START_TEST(test_kexec_args)
{
	struct luoemu_kexec_args ka;
	char why[128];
	char ok[] = "mode=copy binary=/usr/sbin/luoemud keep-clients on-behalf";
	char empty[] = "";
	char twice[] = "mode=exec mode=copy", rel[] = "binary=luoemud", bad[] = "mode=warp",
	     junk[] = "reboot-now";

	ck_assert_int_eq(luoemu_parse_kexec_args(ok, &ka, why, sizeof(why)), 0);
	ck_assert_int_eq(ka.mode, LUOEMU_KEXEC_MODE_COPY);
	ck_assert_str_eq(ka.binary, "/usr/sbin/luoemud");
	ck_assert(ka.keep_clients && ka.on_behalf);
	ck_assert_int_eq(luoemu_parse_kexec_args(empty, &ka, why, sizeof(why)), 0);
	ck_assert_int_eq(ka.mode, LUOEMU_KEXEC_MODE_DEFAULT);
	ck_assert_ptr_null(ka.binary);
	ck_assert(!ka.keep_clients && !ka.on_behalf);
	ck_assert_int_eq(luoemu_parse_kexec_args(twice, &ka, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(luoemu_parse_kexec_args(rel, &ka, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(luoemu_parse_kexec_args(bad, &ka, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(luoemu_parse_kexec_args(junk, &ka, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "reboot-now"));
}
END_TEST

START_TEST(test_attach_args)
{
	char why[128];
	pid_t pid = 7;

	ck_assert_int_eq(luoemu_parse_attach_args("", &pid, why, sizeof(why)), 0);
	ck_assert_int_eq(pid, 0);
	ck_assert_int_eq(luoemu_parse_attach_args("1234", &pid, why, sizeof(why)), 0);
	ck_assert_int_eq(pid, 1234);
	ck_assert_int_eq(luoemu_parse_attach_args("2147483647", &pid, why, sizeof(why)), 0);
	ck_assert_int_eq(luoemu_parse_attach_args("2147483648", &pid, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(luoemu_parse_attach_args("-1", &pid, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(luoemu_parse_attach_args("0", &pid, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(luoemu_parse_attach_args("12 13", &pid, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(luoemu_parse_attach_args("12x", &pid, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(luoemu_parse_attach_args("+5", &pid, why, sizeof(why)), -EINVAL);
}
END_TEST

/* ---- the connection engine ---- */

struct harness {
	int lfd;
	struct luoemu_server *srv;
	pthread_t thread;
	struct luoemu_server_limits lim;
	/* What the handler saw last ("peer" requests). */
	struct luoemu_peer seen;
	int seen_fd_kind; /* luoemu_fd_is_seccomp_listener() of the passed fd */
};

static void harness_request(void *data, struct luoemu_request *req)
{
	struct harness *h = data;

	if (strcmp(req->text, "peer") == 0) {
		h->seen = req->peer;
		h->seen.pidfd = -1;
		h->seen_fd_kind = req->fd >= 0 ? luoemu_fd_is_seccomp_listener(req->fd) : -EBADF;
		luoemu_control_reply(req->conn, 0, "pid %d alive %d", req->peer.pid,
				     req->peer.alive);
	} else if (strcmp(req->text, "big") == 0) {
		_cleanup_free_ char *text = malloc(60001);

		memset(text, 'x', 60000);
		text[60000] = 0;
		luoemu_control_reply(req->conn, 0, "%s", text);
	} else {
		luoemu_control_reply(req->conn, 0, "echo %s", req->text);
	}
}

static void *harness_main(void *data)
{
	struct harness *h = data;

	ck_assert_int_eq(luoemu_server_run(h->srv), 0);
	return NULL;
}

static void harness_start(struct harness *h, unsigned int per_uid, unsigned int deadline_ms)
{
	static const struct luoemu_server_ops ops = {.request = harness_request};

	memset(h, 0, sizeof(*h));
	h->lim = (struct luoemu_server_limits){per_uid, LUOEMU_SERVER_TOTAL, deadline_ms};
	h->lfd = luoemu_control_listen(sockpath, 0600);
	ck_assert_int_ge(h->lfd, 0);
	ck_assert_int_eq(luoemu_server_new(h->lfd, &h->lim, &ops, h, &h->srv), 0);
	ck_assert_int_eq(pthread_create(&h->thread, NULL, harness_main, h), 0);
}

static void harness_stop(struct harness *h)
{
	luoemu_server_stop(h->srv);
	ck_assert_int_eq(pthread_join(h->thread, NULL), 0);
	luoemu_server_free(h->srv);
	close(h->lfd);
}

/* A client whose reads give up after a long bound: a hang fails, never blocks the suite. */
static int client_connect(void)
{
	struct timeval tv = {.tv_sec = 30};
	int s = luoemu_control_connect(sockpath);

	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return s;
}

/* One request on a fresh connection; the reply's text (static) or NULL. */
static int ask(const char *request, char *reply, size_t size)
{
	_cleanup_close_ int s = client_connect();
	const char *text;
	int r;

	r = luoemu_control_request(s, request, -1, reply, size);
	if (r < 0)
		return r;
	r = luoemu_control_parse_reply(reply, &text);
	memmove(reply, text, strlen(text) + 1);
	return r;
}

START_TEST(test_idle_connections_do_not_stall)
{
	struct harness h;
	int idle[100];
	char reply[256];

	harness_start(&h, 128, 60000);
	/* 100 clients connect and say nothing (the old server served one at a time). */
	for (size_t i = 0; i < ARRAY_SIZE(idle); i++)
		idle[i] = client_connect();
	ck_assert_int_eq(ask("status", reply, sizeof(reply)), 0);
	ck_assert_str_eq(reply, "echo status");
	/* Half of them speak up, in reverse order: each is answered. */
	for (size_t i = ARRAY_SIZE(idle); i-- > 50;) {
		const char *text;

		ck_assert_int_eq(luoemu_control_request(idle[i], "late", -1, reply, sizeof(reply)),
				 0);
		ck_assert_int_eq(luoemu_control_parse_reply(reply, &text), 0);
		ck_assert_str_eq(text, "echo late");
	}
	for (size_t i = 0; i < ARRAY_SIZE(idle); i++)
		close(idle[i]);
	harness_stop(&h);
}
END_TEST

START_TEST(test_deadline_drops_silent_client)
{
	struct harness h;
	char buf[64], reply[64];
	int silent;

	harness_start(&h, 128, 200);
	silent = client_connect();
	/* The server hangs up on us (a read that returns 0), and keeps serving. */
	ck_assert_int_eq(recv(silent, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(ask("still there", reply, sizeof(reply)), 0);
	ck_assert_str_eq(reply, "echo still there");
	close(silent);
	harness_stop(&h);
}
END_TEST

START_TEST(test_per_uid_quota)
{
	struct harness h;
	int held[3];
	char reply[128];
	_cleanup_close_ int extra = -1;
	const char *text;

	harness_start(&h, 3, 60000);
	for (size_t i = 0; i < ARRAY_SIZE(held); i++)
		held[i] = client_connect();
	/* The 4th connection of this uid is refused with EAGAIN, the connection closed. */
	extra = client_connect();
	ck_assert_int_gt(recv(extra, reply, sizeof(reply) - 1, 0), 0);
	ck_assert_int_eq(luoemu_control_parse_reply(reply, &text), -EAGAIN);
	ck_assert_int_eq(recv(extra, reply, sizeof(reply), 0), 0);
	/* Those admitted are served. */
	ck_assert_int_eq(luoemu_control_request(held[0], "mine", -1, reply, sizeof(reply)), 0);
	for (size_t i = 0; i < ARRAY_SIZE(held); i++)
		close(held[i]);
	harness_stop(&h);
}
END_TEST

START_TEST(test_reader_never_reads)
{
	struct harness h;
	char reply[64];
	int lazy[4];

	harness_start(&h, 128, 60000);
	/* Clients that ask for a big reply and never read it do not block the loop. */
	for (size_t i = 0; i < ARRAY_SIZE(lazy); i++) {
		lazy[i] = client_connect();
		ck_assert_int_eq(send(lazy[i], "big", 3, 0), 3);
	}
	ck_assert_int_eq(ask("next", reply, sizeof(reply)), 0);
	ck_assert_str_eq(reply, "echo next");
	for (size_t i = 0; i < ARRAY_SIZE(lazy); i++)
		close(lazy[i]);
	harness_stop(&h);
}
END_TEST

START_TEST(test_peer_is_the_connecting_process)
{
	struct harness h;
	char reply[128];

	harness_start(&h, 128, 60000);
	ck_assert_int_eq(ask("peer", reply, sizeof(reply)), 0);
	ck_assert_int_eq(h.seen.pid, getpid());
	ck_assert(h.seen.alive);
	ck_assert_int_eq(h.seen.uid, getuid());
	ck_assert_int_eq(h.seen_fd_kind, -EBADF);
	harness_stop(&h);
}
END_TEST

/* Send @fd over the unix socket @via. */
static void pass_fd(int via, int fd)
{
	char c = 'f';

	send_raw(via, &c, 1, fd, 1);
}

static int receive_fd(int via)
{
	char c, buf[16];
	int fd = -1;

	ck_assert_int_eq(luoemu_control_recv(via, buf, sizeof(buf), &fd, NULL, NULL), 1);
	(void)c;
	return fd;
}

/*
 * A connection made by a process that exited, handed to another one: the
 * request names nobody alive (the old server trusted SO_PEERCRED's pid).
 */
START_TEST(test_handed_over_connection)
{
	struct harness h;
	int sv[2], conn, status;
	char reply[128];
	const char *text;
	pid_t child;

	harness_start(&h, 128, 60000);
	seqpacket_pair(sv);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		int s = luoemu_control_connect(sockpath);

		if (s < 0)
			_exit(2);
		pass_fd(sv[1], s);
		_exit(0);
	}
	conn = receive_fd(sv[0]);
	ck_assert_int_ge(conn, 0);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_int_eq(status, 0);
	/* The connecting process is dead and reaped; its pid may be anybody's next. */
	ck_assert_int_eq(luoemu_control_request(conn, "peer", -1, reply, sizeof(reply)), 0);
	ck_assert_int_eq(luoemu_control_parse_reply(reply, &text), 0);
	ck_assert_int_eq(h.seen.pid, child);
	ck_assert(!h.seen.alive);
	close(conn);
	close(sv[0]);
	close(sv[1]);
	harness_stop(&h);
}
END_TEST

/* The same proof without SO_PEERPIDFD, as on kernels before 6.5. */
START_TEST(test_fallback_liveness)
{
	_cleanup_close_ int lfd = -1, conn = -1, handed = -1;
	struct luoemu_peer p;
	int sv[2], status;
	pid_t child;

	lfd = luoemu_control_listen(sockpath, 0600);
	ck_assert_int_ge(lfd, 0);
	/* Alive: ourselves. */
	{
		_cleanup_close_ int c = luoemu_control_connect(sockpath);
		_cleanup_close_ int a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		ck_assert_int_ge(a, 0);
		p = (struct luoemu_peer){.pid = getpid(), .pidfd = -1};
		ck_assert_int_eq(luoemu_peer_get_fallback(a, 0, &p), 0);
		ck_assert(p.alive);
		ck_assert_int_eq(luoemu_pidfd_pid(p.pidfd), getpid());
		luoemu_peer_release(&p);
		(void)c;
	}
	/* Dead: a child that connected, handed its socket over and exited. */
	seqpacket_pair(sv);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		int s = luoemu_control_connect(sockpath);

		if (s < 0)
			_exit(2);
		pass_fd(sv[1], s);
		_exit(0);
	}
	handed = receive_fd(sv[0]);
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(conn, 0);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	p = (struct luoemu_peer){.pid = child, .pidfd = -1};
	ck_assert_int_eq(luoemu_peer_get_fallback(conn, 0, &p), 0);
	ck_assert(!p.alive);
	ck_assert_int_eq(p.pidfd, -1);
	close(sv[0]);
	close(sv[1]);
	unlink(sockpath);
}
END_TEST

START_TEST(test_pidfd_creds)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	_cleanup_close_ int efd = eventfd(0, EFD_CLOEXEC);
	uint64_t caps = 0;
	uid_t euid = 1;

	ck_assert_int_ge(pidfd, 0);
	ck_assert_int_eq(luoemu_pidfd_pid(pidfd), getpid());
	ck_assert_int_eq(luoemu_pidfd_creds(pidfd, &caps, &euid), 0);
	ck_assert_int_eq(euid, geteuid());
	if (geteuid() == 0)
		ck_assert(caps != 0);
	/* Not a pidfd at all. */
	ck_assert_int_eq(luoemu_pidfd_pid(efd), -EBADF);
}
END_TEST

/* A real seccomp listener is one; a pipe, an eventfd, a memfd are not. */
START_TEST(test_listener_type)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = ARRAY_SIZE(insns), .filter = insns};
	int status, pfd[2];
	pid_t child;

	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	ck_assert_int_eq(luoemu_fd_is_seccomp_listener(pfd[0]), 0);
	close(pfd[0]);
	close(pfd[1]);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		int efd = eventfd(0, EFD_CLOEXEC), mfd = memfd_create("seccomp notify", 0);
		int l;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(2);
		l = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				 SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
		if (l < 0)
			_exit(3);
		if (luoemu_fd_is_seccomp_listener(l) != 1)
			_exit(4);
		if (luoemu_fd_is_seccomp_listener(efd) != 0 ||
		    luoemu_fd_is_seccomp_listener(mfd) != 0)
			_exit(5);
		if (luoemu_fd_is_seccomp_listener(999) != -EBADF &&
		    luoemu_fd_is_seccomp_listener(999) != -ENOENT)
			_exit(6);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("socket");

	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_add_test(tc, test_roundtrip_real_socket);
	tcase_add_test(tc, test_listen_stale_and_live);
	tcase_add_test(tc, test_connect_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("datagram");
	tcase_add_test(tc, test_fd_passing);
	tcase_add_test(tc, test_extra_fds_closed);
	tcase_add_test(tc, test_too_long);
	tcase_add_test(tc, test_reply_format);
	tcase_add_test(tc, test_parse_reply);
	tcase_add_test(tc, test_eof);
	suite_add_tcase(s, tc);

	tc = tcase_create("parsers");
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_kexec_args);
	tcase_add_test(tc, test_attach_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("server");
	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_idle_connections_do_not_stall);
	tcase_add_test(tc, test_deadline_drops_silent_client);
	tcase_add_test(tc, test_per_uid_quota);
	tcase_add_test(tc, test_reader_never_reads);
	tcase_add_test(tc, test_peer_is_the_connecting_process);
	tcase_add_test(tc, test_handed_over_connection);
	tcase_add_test(tc, test_fallback_liveness);
	tcase_add_test(tc, test_pidfd_creds);
	tcase_add_test(tc, test_listener_type);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(control_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
