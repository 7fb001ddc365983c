// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The launcher's seccomp filter, against the real kernel: a child installs
 * it and hands the listener to the parent, which plays the courier.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/reboot.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control/control.h"
#include "seccomp/filter.h"
#include "util.h"

/* Same address in parent and forked child: the parent can check args[2]. */
static struct {
	uint32_t size;
	int32_t fd;
	uint8_t name[64];
} arg_struct;
static const char cmdline[] = "console=ttyS0";

#define CHILD_CHECK(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "child: %s:%d: %s failed (errno %d %s)\n", __FILE__,       \
				__LINE__, #cond, errno, strerror(errno));                          \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

/* The call must fail with @err (the parent's answer or the kernel's). */
#define CHILD_FAILS(call, err) CHILD_CHECK((errno = 0, (call)) == -1 && errno == (err))

static void child(int sock)
{
	char reply[64], req[64];
	int listener, null, r;

	listener = luoemu_filter_install();
	CHILD_CHECK(listener >= 0);
	CHILD_CHECK(fcntl(listener, F_GETFD) & FD_CLOEXEC);
	CHILD_CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
	snprintf(req, sizeof(req), "attach %d", (int)getpid());
	r = luoemu_control_request(sock, req, listener, reply, sizeof(reply));
	CHILD_CHECK(r == 0 && strcmp(reply, "ok") == 0);
	close(listener);
	close(sock);

	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHILD_CHECK(null >= 0);

	/* 1: CREATE_SESSION is trapped; the parent answers EXDEV. */
	CHILD_FAILS(ioctl(null, 0xBA00, &arg_struct), EXDEV);
	/* 2: PRESERVE_FD and the others are not trapped: /dev/null's own ENOTTY. */
	CHILD_FAILS(ioctl(null, 0xBA40, &arg_struct), ENOTTY);
	CHILD_FAILS(ioctl(null, 0xBA42, &arg_struct), ENOTTY);
	CHILD_FAILS(ioctl(null, 0xBA43, &arg_struct), ENOTTY);
	CHILD_FAILS(ioctl(null, 0x1BA00, &arg_struct), ENOTTY);
	/* 3: garbage in the high half of cmd does not get RETRIEVE_SESSION past the trap. */
	CHILD_FAILS(syscall(SYS_ioctl, null, 0xdead0000BA01UL, &arg_struct), ENOLINK);
	/* 4: RETRIEVE_FD is trapped; the parent says CONTINUE: the kernel's ENOTTY. */
	CHILD_FAILS(ioctl(null, 0xBA41, &arg_struct), ENOTTY);
	/* 5: reboot(KEXEC) is trapped (never let it through: tests may run as root). */
	CHILD_FAILS(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
			    LINUX_REBOOT_CMD_KEXEC, NULL),
		    ENOTRECOVERABLE);
	/* 6: other reboot commands are not: bad magic, the kernel refuses. */
	CHILD_CHECK(syscall(SYS_reboot, 0, 0, LINUX_REBOOT_CMD_CAD_ON, NULL) == -1 &&
		    (errno == EINVAL || errno == EPERM));
	/* 7: reboot's cmd is an unsigned int: high bits do not hide KEXEC. */
	CHILD_FAILS(syscall(SYS_reboot, 0, 0, 0x700000000UL | LINUX_REBOOT_CMD_KEXEC, NULL), EDOM);
	/* 8: kexec_file_load is trapped. */
	CHILD_FAILS(syscall(SYS_kexec_file_load, 3, -1, sizeof(cmdline), cmdline, 4UL),
		    EKEYREJECTED);
	/* 9: everything else runs as usual. */
	CHILD_CHECK(getppid() > 1);
	CHILD_CHECK(write(null, "x", 1) == 1);
	/* 10: a second user-notif filter is refused: one supervisor per task. */
	CHILD_CHECK(luoemu_filter_install() == -EBUSY);
	/* 11: an answer of success reaches the caller as 0. */
	CHILD_CHECK(ioctl(null, 0xBA00, &arg_struct) == 0);
	_exit(0);
}

struct notif_bufs {
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	size_t req_size, resp_size;
};

static void bufs_init(struct notif_bufs *b)
{
	struct seccomp_notif_sizes sizes = {0};

	ck_assert_int_eq(syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes), 0);
	b->req_size = sizes.seccomp_notif > sizeof(*b->req) ? sizes.seccomp_notif : sizeof(*b->req);
	b->resp_size = sizes.seccomp_notif_resp > sizeof(*b->resp) ? sizes.seccomp_notif_resp
								   : sizeof(*b->resp);
	b->req = calloc(1, b->req_size);
	b->resp = calloc(1, b->resp_size);
	ck_assert(b->req && b->resp);
}

/* Wait for the next notification (bounded: a missing trap fails, not hangs). */
static const struct seccomp_notif *next_notif(struct notif_bufs *b, int listener, pid_t pid)
{
	struct pollfd p = {.fd = listener, .events = POLLIN};

	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert(p.revents & POLLIN);
	memset(b->req, 0, b->req_size);
	ck_assert_int_eq(ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, b->req), 0);
	ck_assert_int_eq(b->req->pid, pid);
	ck_assert_int_eq(ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &b->req->id), 0);
	return b->req;
}

static void answer(struct notif_bufs *b, int listener, int err, bool cont)
{
	memset(b->resp, 0, b->resp_size);
	b->resp->id = b->req->id;
	b->resp->error = err;
	b->resp->flags = cont ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
	ck_assert_int_eq(ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, b->resp), 0);
}

static void expect_ioctl(struct notif_bufs *b, int listener, pid_t pid, uint64_t cmd)
{
	const struct seccomp_notif *n = next_notif(b, listener, pid);

	ck_assert_int_eq(n->data.nr, __NR_ioctl);
	ck_assert_uint_eq(n->data.args[1], cmd);
	ck_assert_uint_eq(n->data.args[2], (uintptr_t)&arg_struct);
}

START_TEST(test_filter_traps)
{
	_cleanup_close_ int listener = -1;
	const struct seccomp_notif *n;
	struct notif_bufs b;
	struct pollfd p;
	int sv[2], status;
	char buf[64];
	pid_t pid;

	bufs_init(&b);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		child(sv[1]);
	}
	close(sv[1]);

	/* The listener arrives the way the launcher sends it to the daemon. */
	ck_assert_int_gt(luoemu_control_recv(sv[0], buf, sizeof(buf), &listener, NULL, NULL), 0);
	ck_assert_int_ge(listener, 0);
	ck_assert_int_eq(luoemu_control_reply(sv[0], 0, NULL), 0);
	close(sv[0]);

	expect_ioctl(&b, listener, pid, 0xBA00);
	answer(&b, listener, -EXDEV, false);
	expect_ioctl(&b, listener, pid, 0xdead0000BA01UL);
	answer(&b, listener, -ENOLINK, false);
	expect_ioctl(&b, listener, pid, 0xBA41);
	answer(&b, listener, 0, true);

	n = next_notif(&b, listener, pid);
	ck_assert_int_eq(n->data.nr, __NR_reboot);
	ck_assert_uint_eq((uint32_t)n->data.args[0], LINUX_REBOOT_MAGIC1);
	ck_assert_uint_eq((uint32_t)n->data.args[1], LINUX_REBOOT_MAGIC2);
	ck_assert_uint_eq((uint32_t)n->data.args[2], LINUX_REBOOT_CMD_KEXEC);
	answer(&b, listener, -ENOTRECOVERABLE, false);

	n = next_notif(&b, listener, pid);
	ck_assert_int_eq(n->data.nr, __NR_reboot);
	ck_assert_uint_eq((uint32_t)n->data.args[2], LINUX_REBOOT_CMD_KEXEC);
	answer(&b, listener, -EDOM, false);

	n = next_notif(&b, listener, pid);
	ck_assert_int_eq(n->data.nr, __NR_kexec_file_load);
	ck_assert_uint_eq(n->data.args[0], 3);
	ck_assert_uint_eq((uint32_t)n->data.args[1], (uint32_t)-1);
	ck_assert_uint_eq(n->data.args[2], sizeof(cmdline));
	ck_assert_uint_eq(n->data.args[3], (uintptr_t)cmdline);
	ck_assert_uint_eq(n->data.args[4], 4);
	answer(&b, listener, -EKEYREJECTED, false);

	expect_ioctl(&b, listener, pid, 0xBA00);
	answer(&b, listener, 0, false);

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);

	/* Nobody uses the filter any more: the courier's cue to close it. */
	p = (struct pollfd){.fd = listener, .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert(p.revents & POLLHUP);
	free(b.req);
	free(b.resp);
}
END_TEST

/* Without a supervisor the trapped calls fail with ENOSYS; the rest still works. */
START_TEST(test_filter_listener_closed)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int listener = luoemu_filter_install(), null;

		CHILD_CHECK(listener >= 0);
		close(listener);
		null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		CHILD_CHECK(null >= 0);
		CHILD_FAILS(ioctl(null, 0xBA00, &arg_struct), ENOSYS);
		CHILD_FAILS(ioctl(null, 0xBA40, &arg_struct), ENOTTY);
		CHILD_FAILS(syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 0UL), ENOSYS);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

static Suite *filter_suite(void)
{
	Suite *s = suite_create("filter");
	TCase *tc = tcase_create("traps");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_filter_traps);
	tcase_add_test(tc, test_filter_listener_closed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(filter_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
