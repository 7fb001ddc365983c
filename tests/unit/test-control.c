// SPDX-License-Identifier: LGPL-2.1-or-later
/* The control protocol: framing, fd passing, credentials, replies. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control/control.h"
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
