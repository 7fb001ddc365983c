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
#include <linux/kexec.h>
#include <linux/reboot.h>
#include <pthread.h>
#include <sched.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control/control.h"
#include "daemon/daemon.h"
#include "daemon/kexec-image.h"
#include "seccomp/filter.h"
#include "seccomp/kexec-request.h"
#include "seccomp/kexec.h"
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

/* Passed as kexec_load's segment list: the parent checks the pointer. */
static char segs_arg[64];

/*
 * int 0x80 from a 64-bit task: the i386 ABI.  Arguments in ebx, ecx, edx,
 * esi; the result is -errno.  Without IA32 emulation the kernel says
 * ENOSYS too, so on such a kernel this proves nothing, and hurts nothing.
 */
static long int80(long nr, long a, long b, long c, long d)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d)
			 : "memory");
	return ret;
}

/*
 * Arguments the real kernel refuses (bad arch, bad magic, bad flags), so a
 * broken filter fails the test without touching the host: ENOSYS only from
 * the filter (or from a kernel without the ABI).
 */
static bool compat_kexec_calls_refused(void)
{
	const long x32 = 0x40000000L;

	if (int80(283 /* kexec_load */, 0, 0, 0, 0xdead0000L) != -ENOSYS)
		return false;
	if (int80(88 /* reboot */, 0, 0, LINUX_REBOOT_CMD_KEXEC, 0) != -ENOSYS)
		return false;
	errno = 0;
	if (syscall(x32 | 528 /* kexec_load */, 0, 0, NULL, 0xdead0000UL) != -1 || errno != ENOSYS)
		return false;
	if (syscall(x32 | 320 /* kexec_file_load */, -1, -1, 0, NULL, 0xffffUL) != -1 ||
	    errno != ENOSYS)
		return false;
	if (syscall(x32 | 169 /* reboot */, 0, 0, LINUX_REBOOT_CMD_KEXEC, NULL) != -1 ||
	    errno != ENOSYS)
		return false;
	return true;
}

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
	/* 8b: kexec_load is trapped (never to the host's kernel, whoever calls). */
	CHILD_FAILS(syscall(SYS_kexec_load, 0x1000UL, 2UL, segs_arg, 0x3e0000UL), EKEYREVOKED);
	/* 8c: the 32-bit ABIs' kexec calls are refused by the filter itself. */
	CHILD_CHECK(compat_kexec_calls_refused());
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

	n = next_notif(&b, listener, pid);
	ck_assert_int_eq(n->data.nr, __NR_kexec_load);
	ck_assert_uint_eq(n->data.args[0], 0x1000);
	ck_assert_uint_eq(n->data.args[1], 2);
	ck_assert_uint_eq(n->data.args[2], (uintptr_t)segs_arg);
	ck_assert_uint_eq(n->data.args[3], 0x3e0000);
	answer(&b, listener, -EKEYREVOKED, false);

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
		/* Flags the kernel refuses (EINVAL): a broken filter must not unload the host's
		 * image. */
		CHILD_FAILS(syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0xdead0000UL), ENOSYS);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* ---- kexec_load's argument checks, on segment lists in our own memory ---- */

#define PG	  4096UL
#define RAM_PAGES (1UL << 20) /* a 4 GiB machine, whatever runs the test */

struct seg {
	uint64_t buf, bufsz, mem, memsz;
};

static char seg_data[2 * 4096];

static int check(const struct seg *segs, uint64_t nr, uint64_t flags, struct kexec_verdict *v)
{
	int r = kexec_load_check(getpid(), 0x100000, nr, (uintptr_t)segs, flags, RAM_PAGES, v,
				 NULL);

	ck_assert_int_eq(r, 0);
	if (v->err)
		ck_assert_msg(v->why[0], "a refusal says why");
	return v->err;
}

START_TEST(test_kexec_load_check_order)
{
	const uint64_t data = (uintptr_t)seg_data;
	struct kexec_verdict v;
	struct seg ok[2] = {
		{data, PG, 0x100000, PG},
		{data + PG, 100, 0x200000, 2 * PG},
	};
	struct seg s[3];

	/* Well-formed: accepted, normal and crash, with the x86_64 arch value. */
	ck_assert_int_eq(check(ok, 2, 0, &v), 0);
	ck_assert(!v.unload && !v.crash);
	ck_assert_int_eq(check(ok, 2, KEXEC_ON_CRASH | (62UL << 16), &v), 0);
	ck_assert(v.crash);
	ck_assert_int_eq(check(ok, 2, 0x2 /* PRESERVE_CONTEXT */ | 0x4 | 0x8, &v), 0);

	/* nr_segments == 0 unloads, without reading the list. */
	ck_assert_int_eq(check(NULL, 0, 0, &v), 0);
	ck_assert(v.unload && !v.crash);
	ck_assert_int_eq(check(NULL, 0, KEXEC_ON_CRASH, &v), 0);
	ck_assert(v.unload && v.crash && !v.drop_crash);

	/* kexec_load_check(): flags, then the count -- before the list is read. */
	ck_assert_int_eq(check(NULL, 1, 0x10, &v), EINVAL);
	ck_assert_int_eq(check(NULL, 17, 0, &v), EINVAL);
	ck_assert_int_eq(check(NULL, 17, 0x10, &v), EINVAL);
	ck_assert(!v.drop_crash);
	/* The arch, then the list (EFAULT), in that order. */
	ck_assert_int_eq(check(NULL, 1, 3UL << 16 /* i386 */, &v), EINVAL);
	ck_assert_int_eq(check((const struct seg *)8, 1, 0, &v), EFAULT);
	ck_assert_int_eq(check((const struct seg *)8, 1, 3UL << 16, &v), EINVAL);
	ck_assert_int_eq(check((const struct seg *)8, 1, KEXEC_ON_CRASH, &v), EFAULT);
	ck_assert(!v.drop_crash); /* the old crash image survives a bad list pointer */

	/* Alignment, wrap-around and limit: EADDRNOTAVAIL. */
	memcpy(s, ok, sizeof(ok));
	s[1].mem = 0x200800;
	ck_assert_int_eq(check(s, 2, 0, &v), EADDRNOTAVAIL);
	memcpy(s, ok, sizeof(ok));
	s[0].memsz = PG + 1;
	ck_assert_int_eq(check(s, 2, KEXEC_ON_CRASH, &v), EADDRNOTAVAIL);
	ck_assert(v.crash && v.drop_crash); /* the kernel already freed the old one */
	memcpy(s, ok, sizeof(ok));
	s[1].mem = 0xfffffffffffff000ULL;
	s[1].memsz = 2 * PG;
	ck_assert_int_eq(check(s, 2, 0, &v), EADDRNOTAVAIL);
	memcpy(s, ok, sizeof(ok));
	s[1].mem = (1ULL << 46) - PG;
	s[1].memsz = PG;
	ck_assert_int_eq(check(s, 2, 0, &v), EADDRNOTAVAIL);
	s[1].mem = (1ULL << 46) - 2 * PG;
	ck_assert_int_eq(check(s, 2, 0, &v), 0);

	/* Overlap: EINVAL, but every address check comes first. */
	memcpy(s, ok, sizeof(ok));
	s[1].mem = 0x100000 - PG;
	ck_assert_int_eq(check(s, 2, 0, &v), EINVAL);
	s[2] = (struct seg){data, 0, 0x300001, PG};
	ck_assert_int_eq(check(s, 3, 0, &v), EADDRNOTAVAIL);
	memcpy(s, ok, sizeof(ok));
	s[1].mem = 0x100000 + PG; /* touching is not overlapping */
	ck_assert_int_eq(check(s, 2, 0, &v), 0);

	/* bufsz > memsz: EINVAL, after the overlap check. */
	memcpy(s, ok, sizeof(ok));
	s[0].bufsz = 2 * PG;
	ck_assert_int_eq(check(s, 2, 0, &v), EINVAL);

	/* More than half the RAM, one segment or in total: EINVAL. */
	memcpy(s, ok, sizeof(ok));
	s[1].memsz = (RAM_PAGES / 2 + 1) * PG;
	ck_assert_int_eq(check(s, 2, 0, &v), EINVAL);
	s[1].memsz = (RAM_PAGES / 2) * PG;
	ck_assert_int_eq(check(s, 2, 0, &v), EINVAL); /* plus segment 0: too much */
	s[1].memsz = (RAM_PAGES / 2 - 1) * PG;
	ck_assert_int_eq(check(s, 2, 0, &v), 0);

	/* Every buffer is read: an unreadable one is EFAULT, last of all. */
	memcpy(s, ok, sizeof(ok));
	s[1].buf = 8;
	ck_assert_int_eq(check(s, 2, 0, &v), EFAULT);
	s[1].bufsz = 0; /* nothing to read: fine */
	ck_assert_int_eq(check(s, 2, 0, &v), 0);
}
END_TEST

/* The command line kexec_load carries inside the image, as kexec-tools lays it out. */
START_TEST(test_kexec_load_cmdline)
{
	static unsigned char zero_page[2 * 4096];
	static const char line[] = "console=ttyS0 luo=1";
	const uint64_t zp = (uintptr_t)zero_page;
	struct kexec_verdict v;
	char found[KEXEC_CMDLINE_MAX + 1];
	/* The zero page at 0x90000, the command line right after it at 0x91000. */
	struct seg s[2] = {
		{zp, 2 * PG, 0x90000, 2 * PG},
		{(uintptr_t)seg_data, PG, 0x100000, PG},
	};

	memcpy(zero_page + 0x202, "HdrS", 4);
	zero_page[0x228] = 0x00;
	zero_page[0x229] = 0x10;
	zero_page[0x22a] = 0x09; /* cmd_line_ptr 0x91000 */
	memcpy(zero_page + PG, line, sizeof(line));
	ck_assert_int_eq(
		kexec_load_check(getpid(), 0x100000, 2, (uintptr_t)s, 0, RAM_PAGES, &v, found), 0);
	ck_assert_int_eq(v.err, 0);
	ck_assert_str_eq(found, line);
	/* A pointer into no segment: nothing recorded, the load still fine. */
	zero_page[0x22a] = 0x0a;
	ck_assert_int_eq(
		kexec_load_check(getpid(), 0x100000, 2, (uintptr_t)s, 0, RAM_PAGES, &v, found), 0);
	ck_assert_str_eq(found, "");
}
END_TEST

/* ---- the courier's request datagram ---- */

START_TEST(test_kexec_request_roundtrip)
{
	struct kexec_request in =
				     {
					     .op = KEXEC_OP_LOAD,
					     .file = true,
					     .crash = false,
					     .err = 0,
					     .pid = 1234,
					     .creds = {.uid = 1000,
						       .euid = 0,
						       .cap_eff = 0x1ffffffffffULL,
						       .same_userns = true},
					     .cmdline = "console=ttyS0 root=/dev/vda  quiet",
				     },
			     out;
	char buf[4096], *verb, *args;

	ck_assert_int_eq(kexec_request_format(&in, buf, sizeof(buf)), 0);
	verb = strtok_r(buf, " ", &args);
	ck_assert_str_eq(verb, KEXEC_VERB_LOAD);
	ck_assert_int_eq(kexec_request_parse(verb, args, &out), 0);
	ck_assert_int_eq(out.op, KEXEC_OP_LOAD);
	ck_assert(out.file && !out.crash && !out.drop_crash);
	ck_assert_int_eq(out.pid, 1234);
	ck_assert_uint_eq(out.creds.uid, 1000);
	ck_assert_uint_eq(out.creds.euid, 0);
	ck_assert_uint_eq(out.creds.cap_eff, 0x1ffffffffffULL);
	ck_assert(out.creds.same_userns);
	ck_assert_str_eq(out.cmdline, "console=ttyS0 root=/dev/vda  quiet");

	in = (struct kexec_request){.op = KEXEC_OP_REBOOT, .err = EINVAL, .pid = 7};
	ck_assert_int_eq(kexec_request_format(&in, buf, sizeof(buf)), 0);
	verb = strtok_r(buf, " ", &args);
	ck_assert_str_eq(verb, KEXEC_VERB_REBOOT);
	ck_assert_int_eq(kexec_request_parse(verb, args, &out), 0);
	ck_assert_int_eq(out.op, KEXEC_OP_REBOOT);
	ck_assert_int_eq(out.err, EINVAL);

	/* Malformed: EINVAL, never a half-parsed request. */
	ck_assert_int_eq(kexec_request_parse("kexec-load", (char[]){"pid=1 uid=0"}, &out), -EINVAL);
	ck_assert_int_eq(
		kexec_request_parse("kexec-load", (char[]){"pid=1 uid=0 euid=0 x=1"}, &out),
		-EINVAL);
	ck_assert_int_eq(kexec_request_parse("kexec-load", (char[]){"pid=-1 uid=0 euid=0"}, &out),
			 -EINVAL);
	ck_assert_int_eq(
		kexec_request_parse("kexec-reboot", (char[]){"op=load pid=1 uid=0 euid=0"}, &out),
		-EINVAL);
	ck_assert_int_eq(kexec_request_parse("kexec-nope", (char[]){"pid=1 uid=0 euid=0"}, &out),
			 -EINVAL);
}
END_TEST

/* ---- the daemon's decision, through its real request handler ---- */

static const uint64_t CAP_BOOT = UINT64_C(1) << 22;

START_TEST(test_kexec_may_boot)
{
	struct peer_creds root = {.uid = 0, .euid = 0, .cap_eff = ~0ULL, .same_userns = true};
	struct peer_creds user = {.uid = 1000, .euid = 1000, .cap_eff = 0, .same_userns = true};
	struct peer_creds dropped = {
		.uid = 0, .euid = 0, .cap_eff = ~CAP_BOOT, .same_userns = true};
	struct peer_creds nsroot = {.uid = 1000, .euid = 1000, .cap_eff = ~0ULL};
	struct peer_creds capuser = {
		.uid = 1000, .euid = 1000, .cap_eff = CAP_BOOT, .same_userns = true};

	/* System mode: CAP_SYS_BOOT in our namespace, whatever the uid. */
	ck_assert(kexec_may_boot(&root, false, 0));
	ck_assert(!kexec_may_boot(&user, false, 0));
	ck_assert(!kexec_may_boot(&dropped, false, 0));
	ck_assert(!kexec_may_boot(&nsroot, false, 0));
	ck_assert(kexec_may_boot(&capuser, false, 0));
	/* Per-user mode: the owner holds every right; nobody else does. */
	ck_assert(kexec_may_boot(&user, true, 1000));
	ck_assert(!kexec_may_boot(&user, true, 1001));
	ck_assert(!kexec_may_boot(&nsroot, true, 1001));
}
END_TEST

struct fake_daemon {
	struct daemon d;
	int conn, peer;
};

static void daemon_setup(struct fake_daemon *f)
{
	int sv[2];

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->d.lock, NULL);
	f->d.courier_pid = getpid(); /* we play the courier */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	f->conn = sv[0];
	f->peer = sv[1];
}

/* One request as the control server hands it over; the reply's errno (or RUN_UPDATE). */
static int ask(struct fake_daemon *f, const struct kexec_request *kr, pid_t from, uid_t uid)
{
	char buf[8192], reply[8192], *verb, *args;
	const char *text;
	ssize_t n;
	int r;

	ck_assert_int_eq(kexec_request_format(kr, buf, sizeof(buf)), 0);
	verb = strtok_r(buf, " ", &args);
	r = kexec_image_request(&f->d, f->conn, verb, &args, from, uid);
	if (r == KEXEC_IMAGE_RUN_UPDATE) {
		ck_assert_str_eq(args, "");
		return r;
	}
	ck_assert_int_eq(r, 0);
	n = recv(f->peer, reply, sizeof(reply) - 1, 0);
	ck_assert_int_gt(n, 0);
	reply[n] = '\0';
	return -luoemu_control_parse_reply(reply, &text);
}

static int attr(struct fake_daemon *f, const char *name)
{
	char buf[8];

	ck_assert_int_eq(kexec_image_attr(&f->d, name, buf, sizeof(buf)), 2);
	return buf[0] - '0';
}

START_TEST(test_kexec_image_state)
{
	struct peer_creds root = {.uid = 0, .euid = 0, .cap_eff = CAP_BOOT, .same_userns = true};
	struct peer_creds user = {.uid = 1000, .euid = 1000, .same_userns = true};
	struct kexec_request load = {.op = KEXEC_OP_LOAD,
				     .file = true,
				     .pid = 42,
				     .creds = root,
				     .cmdline = "console=ttyS0 luo=\"x y\"\n"};
	struct kexec_request crash = {.op = KEXEC_OP_LOAD, .crash = true, .pid = 42, .creds = root};
	struct kexec_request reboot = {.op = KEXEC_OP_REBOOT, .pid = 42, .creds = root};
	struct kexec_request kr;
	struct fake_daemon f;
	char status[512];
	bool per_user;
	int fd;

	/* The rule reads the daemon's own user namespace: make sure which one we test. */
	fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_gt(read(fd, status, sizeof(status) - 1), 0);
	close(fd);
	per_user = !strstr(status, "4294967295");
	daemon_setup(&f);

	/* Nothing loaded at start: reboot is EINVAL, the attributes read 0. */
	ck_assert_int_eq(ask(&f, &reboot, getpid(), 0), EINVAL);
	ck_assert_int_eq(attr(&f, "kexec_loaded"), 0);
	ck_assert_int_eq(attr(&f, "kexec_crash_loaded"), 0);
	ck_assert_int_eq(kexec_image_attr(&f.d, "kexec_nope", status, sizeof(status)), -ENOENT);

	/* Only the courier may relay: another pid gets EPERM and changes nothing. */
	ck_assert_int_eq(ask(&f, &load, getpid() + 1, 0), EPERM);
	ck_assert_int_eq(attr(&f, "kexec_loaded"), 0);

	/* Without CAP_SYS_BOOT: EPERM before the argument verdict (EINVAL here). */
	if (!per_user) {
		kr = load;
		kr.creds = user;
		kr.err = EINVAL;
		ck_assert_int_eq(ask(&f, &kr, getpid(), 0), EPERM);
		kr = reboot;
		kr.creds = user;
		ck_assert_int_eq(ask(&f, &kr, getpid(), 0), EPERM);
	}

	/* A load, with its command line kept as one escaped status line. */
	ck_assert_int_eq(ask(&f, &load, getpid(), 0), 0);
	ck_assert_int_eq(attr(&f, "kexec_loaded"), 1);
	ck_assert_int_gt(kexec_image_status(&f.d, true, status, sizeof(status)), 0);
	ck_assert_str_eq(status, "kexec_loaded 1\nkexec_crash_loaded 0\n"
				 "kexec_cmdline console=ttyS0 luo=\"x y\"\\x0a");
	ck_assert_int_gt(kexec_image_status(&f.d, false, status, sizeof(status)), 0);
	ck_assert(strstr(status, "kexec_cmdline (root only)"));

	/* A refused normal load keeps the old image (the kernel swaps only on success). */
	kr = load;
	kr.err = EFAULT;
	ck_assert_int_eq(ask(&f, &kr, getpid(), 0), EFAULT);
	ck_assert_int_eq(attr(&f, "kexec_loaded"), 1);

	/* Crash image: tracked apart; a failure after the kernel freed it drops it. */
	ck_assert_int_eq(ask(&f, &crash, getpid(), 0), 0);
	ck_assert_int_eq(attr(&f, "kexec_crash_loaded"), 1);
	kr = crash;
	kr.err = EINVAL;
	ck_assert_int_eq(ask(&f, &kr, getpid(), 0), EINVAL);
	ck_assert_int_eq(attr(&f, "kexec_crash_loaded"), 1);
	kr.drop_crash = true;
	ck_assert_int_eq(ask(&f, &kr, getpid(), 0), EINVAL);
	ck_assert_int_eq(attr(&f, "kexec_crash_loaded"), 0);
	ck_assert_int_eq(attr(&f, "kexec_loaded"), 1);

	/* Bad reboot magic: EINVAL; then the update runs (the caller replies). */
	kr = reboot;
	kr.err = EINVAL;
	ck_assert_int_eq(ask(&f, &kr, getpid(), 0), EINVAL);
	ck_assert_int_eq(ask(&f, &reboot, getpid(), 0), KEXEC_IMAGE_RUN_UPDATE);

	/* Unload: reboot is EINVAL again, the command line is gone. */
	kr = load;
	kr.op = KEXEC_OP_UNLOAD;
	kr.cmdline = NULL;
	ck_assert_int_eq(ask(&f, &kr, getpid(), 0), 0);
	ck_assert_int_eq(attr(&f, "kexec_loaded"), 0);
	ck_assert_int_eq(ask(&f, &reboot, getpid(), 0), EINVAL);
	ck_assert_int_gt(kexec_image_status(&f.d, true, status, sizeof(status)), 0);
	ck_assert(strstr(status, "kexec_cmdline -"));
	close(f.conn);
	close(f.peer);
	pthread_mutex_destroy(&f.d.lock);
}
END_TEST

/* ---- the caller's credentials, as the courier reads them ---- */

START_TEST(test_peer_creds)
{
	struct peer_creds c;
	int sv[2], status;
	char go;
	pid_t pid;

	/* Ourselves: our uids, our namespace, CapEff as the kernel reports it. */
	ck_assert_int_eq(peer_creds(getpid(), &c), 0);
	ck_assert_uint_eq(c.uid, getuid());
	ck_assert_uint_eq(c.euid, geteuid());
	ck_assert(c.same_userns);
	ck_assert_int_eq(!!(c.cap_eff & (UINT64_C(1) << 22)), geteuid() == 0);
	ck_assert_int_eq(peer_creds(0, &c), -ESRCH);

	/* A task in a user namespace of its own: full caps there, which do not count. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char r = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';

		CHILD_CHECK(write(sv[1], &r, 1) == 1);
		CHILD_CHECK(read(sv[1], &r, 1) == 1); /* hold until the parent looked */
		_exit(0);
	}
	ck_assert_int_eq(read(sv[0], &go, 1), 1);
	if (go == 'y') {
		ck_assert_int_eq(peer_creds(pid, &c), 0);
		ck_assert(!c.same_userns);
		ck_assert(c.cap_eff & (UINT64_C(1) << 22)); /* CAP_SYS_BOOT, in its namespace */
		ck_assert(!kexec_may_boot(&c, false, geteuid()));
	}
	ck_assert_int_eq(write(sv[0], "x", 1), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[0]);
	close(sv[1]);
	/* An exited task: ESRCH, never stale data. */
	ck_assert_int_eq(peer_creds(pid, &c), -ESRCH);
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
	tc = tcase_create("kexec");
	tcase_add_test(tc, test_kexec_load_check_order);
	tcase_add_test(tc, test_kexec_load_cmdline);
	tcase_add_test(tc, test_kexec_request_roundtrip);
	tcase_add_test(tc, test_kexec_may_boot);
	tcase_add_test(tc, test_peer_creds);
	tcase_add_test(tc, test_kexec_image_state);
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
