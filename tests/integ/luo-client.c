// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * luo-client: a conformance client for /dev/liveupdate.
 *
 * Written only against the LUO uAPI header and libc, so the same binary runs
 * under luoemu ("luoemu run -- luo-client") and on a real LUO kernel.  Every
 * expectation is the behaviour of a real kernel (kernel-observed.md); where
 * the emulator differs the check fails, which is information.
 *
 * usage: luo-client [PREFIX...]    run the cases whose name starts with a PREFIX
 *        luo-client list           list the cases
 *        luo-client stress [SECS]  concurrent create/preserve/close loop
 *        luo-client agent-peer     the unsupervised peer of the "agent" case
 *
 * Environment:
 *   LUOEMU_DEVICE          device node (default /dev/liveupdate)
 *   LUOEMU_REAL_KERNEL=1   skip emulator-only cases
 *   LUOEMU_EMULATED=1      known emulator limitations are reported as TODO
 *   LUOEMU_FRONTEND=fuse   luoemu's FUSE frontend: expect its documented
 *                          differences (FIONREAD answered by the VFS); any
 *                          other value (or unset): the kernel's behaviour
 *   LUOEMU_PEER_SOCKET     unix socket of the agent/agent-peer pair
 *   LUOEMU_STRESS_SECS     stress duration (default 10)
 *   LUOEMU_STRESS_CLIENTS  stress worker processes (default 8; 1: no fork)
 *   LUOEMU_STRESS_PIDFILE  stress writes the looping process's pid here
 *
 * Output is TAP-like: "ok N - case: check" / "not ok N - case: check:
 * expected X, got Y", then exactly "N passed, M failed".  Exit 1 on failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/kexec.h>
#include <linux/magic.h>
#include <linux/reboot.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include <luoemu/liveupdate.h>

#define NAME_LEN       LIVEUPDATE_SESSION_NAME_LENGTH
#define ARRAY_SIZE(a)  (sizeof(a) / sizeof((a)[0]))
#define SHM_DIR	       "/dev/shm"
#define PEER_WAIT_MS   30000
#define SCALE_SESSIONS 2000
#define SCALE_FILES    500
#define NR_THREADS     4
#define THREAD_FILES   16

/* ---------------------------------------------------------------- */
/* TAP reporting                                                      */

static struct {
	const char *device;
	bool real_kernel;
	bool emulated;
	bool fuse;	       /* luoemu's FUSE frontend: a regular file, not a device */
	const char *cur;       /* the running case */
	const char *directive; /* "TODO ..." while set: not counted */
	unsigned int n, passed, failed, skipped, todo;
} t;

static const char *errname(int rc)
{
	static __thread char buf[32];
	const char *s;

	if (rc >= 0)
		return "success";
	s = strerrorname_np(-rc);
	if (s)
		return s;
	snprintf(buf, sizeof(buf), "errno %d", -rc);
	return buf;
}

__attribute__((format(printf, 3, 0))) static bool vreport(bool ok, const char *detail,
							  const char *fmt, va_list ap)
{
	t.n++;
	printf("%s %u - %s: ", ok ? "ok" : "not ok", t.n, t.cur);
	vprintf(fmt, ap);
	if (!ok && detail)
		printf(": %s", detail);
	if (t.directive) {
		printf(" # %s", t.directive);
		t.todo++;
	} else if (ok) {
		t.passed++;
	} else {
		t.failed++;
	}
	putchar('\n');
	fflush(stdout);
	return ok;
}

/* The errno checker: @got and @want are 0 (or any value >= 0) or -errno. */
__attribute__((format(printf, 3, 4))) static bool expect(int got, int want, const char *fmt, ...)
{
	char detail[96];
	va_list ap;
	bool ok;

	if (got > 0)
		got = 0;
	ok = got == want;
	snprintf(detail, sizeof(detail), "expected %s, got %s", errname(want), errname(got));
	va_start(ap, fmt);
	vreport(ok, detail, fmt, ap);
	va_end(ap);
	return ok;
}

__attribute__((format(printf, 3, 4))) static bool expect_true(bool cond, const char *detail,
							      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cond, detail, fmt, ap);
	va_end(ap);
	return cond;
}

__attribute__((format(printf, 3, 4))) static bool expect_str(const char *got, const char *want,
							     const char *fmt, ...)
{
	char detail[2 * NAME_LEN + 32];
	va_list ap;
	bool ok = strcmp(got, want) == 0;

	snprintf(detail, sizeof(detail), "expected \"%s\", got \"%s\"", want, got);
	va_start(ap, fmt);
	vreport(ok, detail, fmt, ap);
	va_end(ap);
	return ok;
}

__attribute__((format(printf, 2, 3))) static void skip(const char *reason, const char *fmt, ...)
{
	va_list ap;

	t.n++;
	t.skipped++;
	printf("ok %u - %s: ", t.n, t.cur);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" # SKIP %s\n", reason);
	fflush(stdout);
}

static int summary(void)
{
	if (t.skipped || t.todo)
		printf("# %u skipped, %u todo\n", t.skipped, t.todo);
	printf("%u passed, %u failed\n", t.passed, t.failed);
	fflush(stdout);
	return t.failed ? 1 : 0;
}

/* ---------------------------------------------------------------- */
/* Small helpers                                                      */

static void closep(int *fd)
{
	int saved = errno;

	if (*fd >= 0)
		close(*fd);
	errno = saved;
}
#define _cleanup_close_ __attribute__((cleanup(closep)))

static void close_set(int *fd)
{
	closep(fd);
	*fd = -1;
}

static int sys_rc(long r)
{
	return r < 0 ? -errno : 0;
}

/* A read/write result: 0 if exactly @want bytes moved, else -errno / -EIO. */
static int io_rc(ssize_t r, size_t want)
{
	if (r < 0)
		return -errno;
	return (size_t)r == want ? 0 : -EIO;
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static bool env_flag(const char *name)
{
	const char *v = getenv(name);

	return v && strcmp(v, "1") == 0;
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);
	char *end;
	long l;

	if (!v || !*v)
		return def;
	l = strtol(v, &end, 10);
	return *end || l <= 0 ? def : l;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* @len bytes that end exactly where a PROT_NONE page starts (len 0: that page). */
static void *edge_alloc(size_t len)
{
	size_t ps = page_size();
	char *p = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p + ps, ps, PROT_NONE)) {
		munmap(p, 2 * ps);
		return NULL;
	}
	return p + ps - len;
}

static void edge_free(void *q, size_t len)
{
	if (q)
		munmap((char *)q + len - page_size(), 2 * page_size());
}

/* A read-only page holding a copy of @len bytes. */
static void *ro_alloc(const void *src, size_t len)
{
	void *p =
		mmap(NULL, page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, src, len);
	if (mprotect(p, page_size(), PROT_READ)) {
		munmap(p, page_size());
		return NULL;
	}
	return p;
}

static void ro_free(void *p)
{
	if (p)
		munmap(p, page_size());
}

/* Raise RLIMIT_NOFILE to at least @need. */
static int raise_nofile(rlim_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max < need)
		rl.rlim_max = need;
	rl.rlim_cur = need;
	return sys_rc(setrlimit(RLIMIT_NOFILE, &rl));
}

/* ---------------------------------------------------------------- */
/* LUO helpers                                                        */

static int dev_open(void)
{
	int fd = open(t.device, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* Open the device for a case; a failure is reported, and -1 returned. */
static int need_dev(void)
{
	int fd = dev_open();

	if (fd < 0) {
		expect(fd, 0, "open %s", t.device);
		return -1;
	}
	return fd;
}

/* CREATE_SESSION with @len raw name bytes: the session fd, or -errno. */
static int session_create_raw(int dev, const void *name, size_t len)
{
	struct liveupdate_ioctl_create_session c = {.size = sizeof(c), .fd = -1};
	int rc;

	memcpy(c.name, name, len < NAME_LEN ? len : NAME_LEN);
	rc = xioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &c);
	if (rc)
		return rc;
	return c.fd >= 0 ? c.fd : -EPROTO;
}

static int session_create(int dev, const char *name)
{
	return session_create_raw(dev, name, strlen(name));
}

/* Create a session for a case; a failure is reported, and -1 returned. */
static int need_session(int dev, const char *name)
{
	int fd = session_create(dev, name);

	if (fd < 0) {
		expect(fd, 0, "create session \"%s\"", name);
		return -1;
	}
	return fd;
}

/* CREATE_SESSION and close the fd again: 0 or -errno. */
static int create_rc(int dev, const char *name)
{
	int fd = session_create(dev, name);

	closep(&fd);
	return fd < 0 ? fd : 0;
}

static int retrieve_session(int dev, const char *name)
{
	struct liveupdate_ioctl_retrieve_session r = {.size = sizeof(r), .fd = -1};
	int rc;

	memcpy(r.name, name, strnlen(name, NAME_LEN - 1));
	rc = xioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &r);
	if (rc)
		return rc;
	return r.fd >= 0 ? r.fd : -EPROTO;
}

static int preserve(int sfd, int fd, uint64_t token)
{
	struct liveupdate_session_preserve_fd p = {.size = sizeof(p), .fd = fd, .token = token};

	return xioctl(sfd, LIVEUPDATE_SESSION_PRESERVE_FD, &p);
}

/* GET_NAME into @out (NUL-terminated): 0 or -errno. */
static int get_name(int sfd, char out[NAME_LEN + 1])
{
	struct liveupdate_session_get_name g = {.size = sizeof(g)};
	int rc = xioctl(sfd, LIVEUPDATE_SESSION_GET_NAME, &g);

	memcpy(out, g.name, NAME_LEN);
	out[NAME_LEN] = '\0';
	if (rc)
		out[0] = '\0';
	return rc;
}

/* GET_NAME and compare: 0, -errno, or -EBADMSG on a different name. */
static int name_is(int sfd, const char *want)
{
	char got[NAME_LEN + 1];
	int rc = get_name(sfd, got);

	if (rc)
		return rc;
	return strcmp(got, want) ? -EBADMSG : 0;
}

/* Check a session's name, showing the name it really has. */
static void expect_name(int sfd, const char *want, const char *what)
{
	char got[NAME_LEN + 1];
	int rc = get_name(sfd, got);

	if (rc)
		expect(rc, 0, "%s", what);
	else
		expect_str(got, want, "%s", what);
}

/* The memfd maker: @size bytes with a marker at the start, or -errno. */
static int memfd_make(const char *name, off_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) || (size >= 8 && pwrite(fd, "luotest", 8, 0) != 8)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static int need_memfd(const char *name)
{
	int fd = memfd_make(name, 4096);

	if (fd < 0) {
		expect(fd, 0, "memfd_create \"%s\"", name);
		return -1;
	}
	return fd;
}

/* ---------------------------------------------------------------- */
/* Processes and fd passing                                           */

/* Run @fn in a forked child; its return value (0 or -errno) comes back. */
static int in_child(int (*fn)(void *), void *arg)
{
	int p[2], rc = -ECHILD, st;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(p[0]);
		close(p[1]);
		return rc;
	}
	if (pid == 0) {
		close(p[0]);
		rc = fn(arg);
		_exit(io_rc(write(p[1], &rc, sizeof(rc)), sizeof(rc)) ? 2 : 0);
	}
	close(p[1]);
	if (io_rc(read(p[0], &rc, sizeof(rc)), sizeof(rc)))
		rc = -ECHILD;
	close(p[0]);
	waitpid(pid, &st, 0);
	return rc;
}

static int send_fd(int sock, int fd, const void *data, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (fd >= 0) {
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return io_rc(sendmsg(sock, &msg, MSG_NOSIGNAL), len);
}

/* Receive @len bytes and at most one fd (*fd = -1 if none), waiting at most @ms. */
static int recv_fd(int sock, void *data, size_t len, int *fd, int ms)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = data, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	struct pollfd pfd = {.fd = sock, .events = POLLIN};
	struct cmsghdr *cm;
	int r;

	*fd = -1;
	r = poll(&pfd, 1, ms);
	if (r <= 0)
		return r < 0 ? -errno : -ETIMEDOUT;
	r = io_rc(recvmsg(sock, &msg, MSG_CMSG_CLOEXEC), len);
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return r;
}

static int unix_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Table-driven dispatch checks                                       */

#define DISPATCH_NAME  "dispatch"
#define DISPATCH_TOKEN 0xD15Bull

enum arg_kind {
	ARG_OK,		/* a writable buffer */
	ARG_NULL,	/* NULL pointer */
	ARG_PROT_NONE,	/* a PROT_NONE page */
	ARG_TAIL_FAULT, /* the struct is readable, bytes past it are not */
	ARG_READ_ONLY,	/* the struct sits in a read-only page */
};

struct dispatch_row {
	const char *what;
	unsigned long cmd;
	enum arg_kind arg;
	uint32_t size;
	uint32_t dirty; /* index of a non-zero tail byte; 0: none */
	int want;
};

union argbuf {
	unsigned char b[256];
	__u32 size;
	struct liveupdate_ioctl_create_session create;
	struct liveupdate_session_preserve_fd preserve;
	struct liveupdate_session_get_name get_name;
};

static size_t struct_size(unsigned long cmd)
{
	switch (_IOC_NR(cmd)) {
	case LIVEUPDATE_CMD_SESSION_PRESERVE_FD:
	case LIVEUPDATE_CMD_SESSION_RETRIEVE_FD:
		return sizeof(struct liveupdate_session_preserve_fd);
	case LIVEUPDATE_CMD_SESSION_FINISH:
		return sizeof(struct liveupdate_session_finish);
	default:
		return sizeof(struct liveupdate_ioctl_create_session);
	}
}

/* A valid-looking argument for @cmd: fd fields -1, a name, a token. */
static void argbuf_init(union argbuf *a, const struct dispatch_row *r)
{
	memset(a, 0, sizeof(*a));
	switch (_IOC_NR(r->cmd)) {
	case LIVEUPDATE_CMD_SESSION_PRESERVE_FD:
	case LIVEUPDATE_CMD_SESSION_RETRIEVE_FD:
		a->preserve.fd = -1;
		a->preserve.token = DISPATCH_TOKEN;
		break;
	case LIVEUPDATE_CMD_SESSION_FINISH:
	case LIVEUPDATE_CMD_SESSION_GET_NAME:
		break;
	default:
		a->create.fd = -1;
		memcpy(a->create.name, DISPATCH_NAME, sizeof(DISPATCH_NAME));
		break;
	}
	a->size = r->size;
	if (r->dirty)
		a->b[r->dirty] = 1;
}

static int dispatch_one(int fd, const struct dispatch_row *r)
{
	union argbuf a;
	size_t full = struct_size(r->cmd);
	void *p = &a, *mem = NULL;
	bool returns_fd = r->cmd == LIVEUPDATE_IOCTL_CREATE_SESSION ||
			  r->cmd == LIVEUPDATE_IOCTL_RETRIEVE_SESSION;
	int rc;

	argbuf_init(&a, r);
	switch (r->arg) {
	case ARG_OK:
		break;
	case ARG_NULL:
		p = NULL;
		break;
	case ARG_PROT_NONE:
		p = mem = edge_alloc(0);
		break;
	case ARG_TAIL_FAULT:
		p = mem = edge_alloc(full);
		if (p)
			memcpy(p, &a, full);
		break;
	case ARG_READ_ONLY:
		p = mem = ro_alloc(&a, sizeof(a));
		break;
	}
	if (r->arg != ARG_OK && r->arg != ARG_NULL && !mem)
		return -ENOMEM;
	rc = xioctl(fd, r->cmd, p);
	if (!rc && returns_fd && r->arg != ARG_NULL && r->arg != ARG_PROT_NONE)
		closep(&((union argbuf *)p)->create.fd);
	if (r->arg == ARG_READ_ONLY)
		ro_free(mem);
	else if (mem)
		edge_free(mem, r->arg == ARG_TAIL_FAULT ? full : 0);
	return rc;
}

/*
 * The expected result of @r.  On a FUSE regular file the VFS answers
 * FIONREAD itself (the bytes left before EOF: 0) before FUSE sees the call,
 * a documented difference of luoemu's FUSE frontend.
 */
static int row_want(const struct dispatch_row *r)
{
	if (r->cmd != FIONREAD || !t.fuse)
		return r->want;
	printf("# FUSE frontend: FIONREAD answered by the VFS (documented difference)\n");
	return 0;
}

static void run_rows(int fd, const struct dispatch_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int want = row_want(&rows[i]);

		expect(dispatch_one(fd, &rows[i]), want, "%s%s", rows[i].what,
		       want == rows[i].want ? "" : " (FUSE frontend: 0)");
	}
}

#define CREATE	    LIVEUPDATE_IOCTL_CREATE_SESSION
#define RETRIEVE    LIVEUPDATE_IOCTL_RETRIEVE_SESSION
#define PRESERVE    LIVEUPDATE_SESSION_PRESERVE_FD
#define RETRIEVE_FD LIVEUPDATE_SESSION_RETRIEVE_FD
#define FINISH	    LIVEUPDATE_SESSION_FINISH
#define GET_NAME    LIVEUPDATE_SESSION_GET_NAME
#define IOWR_72(nr) _IOC(_IOC_READ | _IOC_WRITE, LIVEUPDATE_IOCTL_TYPE, (nr), 72)

static const struct dispatch_row device_rows[] = {
	{"nr 0x02 -> EINVAL", _IO(0xBA, 0x02), ARG_OK, 72, 0, -EINVAL},
	{"nr 0x02 with NULL arg -> EINVAL (before the read)", _IO(0xBA, 0x02), ARG_NULL, 0, 0,
	 -EINVAL},
	{"nr 0x40 -> EINVAL", _IO(0xBA, 0x40), ARG_OK, 16, 0, -EINVAL},
	{"nr 0x41 -> EINVAL", _IO(0xBA, 0x41), ARG_OK, 16, 0, -EINVAL},
	{"nr 0x42 -> EINVAL", _IO(0xBA, 0x42), ARG_OK, 8, 0, -EINVAL},
	{"nr 0x43 -> EINVAL", _IO(0xBA, 0x43), ARG_OK, 72, 0, -EINVAL},
	{"nr 0xFF -> EINVAL", _IO(0xBA, 0xFF), ARG_OK, 72, 0, -EINVAL},
	{"FIONREAD -> EINVAL", FIONREAD, ARG_OK, 72, 0, -EINVAL},
	{"CREATE, NULL arg -> EFAULT", CREATE, ARG_NULL, 0, 0, -EFAULT},
	{"CREATE, PROT_NONE arg -> EFAULT", CREATE, ARG_PROT_NONE, 0, 0, -EFAULT},
	{"RETRIEVE_SESSION, NULL arg -> EFAULT", RETRIEVE, ARG_NULL, 0, 0, -EFAULT},
	{"_IOWR(0xBA,0,72) -> ENOTTY", IOWR_72(0), ARG_OK, 72, 0, -ENOTTY},
	{"_IOWR(0xBA,1,72) -> ENOTTY", IOWR_72(1), ARG_OK, 72, 0, -ENOTTY},
	{"foreign type _IO(0xBB,0) -> ENOTTY", _IO(0xBB, 0), ARG_OK, 72, 0, -ENOTTY},
	{"foreign type _IO(0xBB,1) -> ENOTTY", _IO(0xBB, 1), ARG_OK, 72, 0, -ENOTTY},
	{"CREATE size 0 -> EINVAL", CREATE, ARG_OK, 0, 0, -EINVAL},
	{"CREATE size 71 -> EINVAL", CREATE, ARG_OK, 71, 0, -EINVAL},
	{"RETRIEVE_SESSION size 71 -> EINVAL", RETRIEVE, ARG_OK, 71, 0, -EINVAL},
	{"CREATE size 80, non-zero tail -> E2BIG", CREATE, ARG_OK, 80, 79, -E2BIG},
	{"CREATE size 80, non-zero byte 72 -> E2BIG", CREATE, ARG_OK, 80, 72, -E2BIG},
	{"RETRIEVE_SESSION size 80, non-zero tail -> E2BIG", RETRIEVE, ARG_OK, 80, 79, -E2BIG},
	{"CREATE size 80, zero tail -> ok", CREATE, ARG_OK, 80, 0, 0},
	{"CREATE size 256, zero tail -> ok", CREATE, ARG_OK, 256, 0, 0},
	{"CREATE size 80, tail in a PROT_NONE page -> EFAULT", CREATE, ARG_TAIL_FAULT, 80, 0,
	 -EFAULT},
	{"CREATE, struct in a read-only page -> EFAULT", CREATE, ARG_READ_ONLY, 72, 0, -EFAULT},
};

static const struct dispatch_row session_rows[] = {
	{"nr 0x00 -> EINVAL", _IO(0xBA, 0x00), ARG_OK, 72, 0, -EINVAL},
	{"nr 0x01 -> EINVAL", _IO(0xBA, 0x01), ARG_OK, 72, 0, -EINVAL},
	{"nr 0x3F -> EINVAL", _IO(0xBA, 0x3F), ARG_OK, 72, 0, -EINVAL},
	{"nr 0x44 -> EINVAL", _IO(0xBA, 0x44), ARG_OK, 72, 0, -EINVAL},
	{"nr 0x44 with NULL arg -> EINVAL (before the read)", _IO(0xBA, 0x44), ARG_NULL, 0, 0,
	 -EINVAL},
	{"nr 0xFF -> EINVAL", _IO(0xBA, 0xFF), ARG_OK, 72, 0, -EINVAL},
	{"FIONREAD -> EINVAL", FIONREAD, ARG_OK, 72, 0, -EINVAL},
	{"GET_NAME, NULL arg -> EFAULT", GET_NAME, ARG_NULL, 0, 0, -EFAULT},
	{"GET_NAME, PROT_NONE arg -> EFAULT", GET_NAME, ARG_PROT_NONE, 0, 0, -EFAULT},
	{"PRESERVE_FD, PROT_NONE arg -> EFAULT", PRESERVE, ARG_PROT_NONE, 0, 0, -EFAULT},
	{"FINISH, NULL arg -> EFAULT (size read before direction)", FINISH, ARG_NULL, 0, 0,
	 -EFAULT},
	{"_IOWR(0xBA,0x43,72) -> ENOTTY", IOWR_72(0x43), ARG_OK, 72, 0, -ENOTTY},
	{"_IOWR(0xBA,0x40,72) -> ENOTTY", IOWR_72(0x40), ARG_OK, 16, 0, -ENOTTY},
	{"foreign type _IO(0xBB,0x43) -> ENOTTY", _IO(0xBB, 0x43), ARG_OK, 72, 0, -ENOTTY},
	{"RETRIEVE_FD on outgoing -> EINVAL", RETRIEVE_FD, ARG_OK, 16, 0, -EINVAL},
	{"RETRIEVE_FD on outgoing, size 24 non-zero tail -> EINVAL (direction before size)",
	 RETRIEVE_FD, ARG_OK, 24, 23, -EINVAL},
	{"FINISH on outgoing -> EINVAL", FINISH, ARG_OK, 8, 0, -EINVAL},
	{"FINISH on outgoing, size 16 non-zero tail -> EINVAL (direction before size)", FINISH,
	 ARG_OK, 16, 15, -EINVAL},
	{"PRESERVE_FD size 0 -> EINVAL", PRESERVE, ARG_OK, 0, 0, -EINVAL},
	{"PRESERVE_FD size 15 -> EINVAL", PRESERVE, ARG_OK, 15, 0, -EINVAL},
	{"PRESERVE_FD size 24, non-zero tail -> E2BIG", PRESERVE, ARG_OK, 24, 23, -E2BIG},
	{"PRESERVE_FD size 24, zero tail, fd -1 -> EBADF (size accepted)", PRESERVE, ARG_OK, 24, 0,
	 -EBADF},
	{"PRESERVE_FD size 24, tail in a PROT_NONE page -> EFAULT", PRESERVE, ARG_TAIL_FAULT, 24, 0,
	 -EFAULT},
	{"GET_NAME size 0 -> EINVAL", GET_NAME, ARG_OK, 0, 0, -EINVAL},
	{"GET_NAME size 71 -> EINVAL", GET_NAME, ARG_OK, 71, 0, -EINVAL},
	{"GET_NAME size 80, non-zero tail -> E2BIG", GET_NAME, ARG_OK, 80, 79, -E2BIG},
	{"GET_NAME size 80, zero tail -> ok", GET_NAME, ARG_OK, 80, 0, 0},
	{"GET_NAME size 80, tail in a PROT_NONE page -> EFAULT", GET_NAME, ARG_TAIL_FAULT, 80, 0,
	 -EFAULT},
	{"GET_NAME reserved != 0 -> EINVAL", GET_NAME, ARG_OK, 72, 4, -EINVAL},
	{"GET_NAME, struct in a read-only page -> EFAULT", GET_NAME, ARG_READ_ONLY, 72, 0, -EFAULT},
};

/* Generic VFS operations that both fd kinds answer the same way. */
static void check_generic_ops(int fd, const char *kind)
{
	int one = 1, zero = 0;
	char c = 0;

	expect(xioctl(fd, FIOCLEX, NULL), 0, "%s FIOCLEX -> 0", kind);
	expect_true(fcntl(fd, F_GETFD) & FD_CLOEXEC, "FD_CLOEXEC clear", "%s FIOCLEX sets cloexec",
		    kind);
	expect(xioctl(fd, FIONCLEX, NULL), 0, "%s FIONCLEX -> 0", kind);
	expect_true(!(fcntl(fd, F_GETFD) & FD_CLOEXEC), "FD_CLOEXEC still set",
		    "%s FIONCLEX clears cloexec", kind);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	expect(xioctl(fd, FIONBIO, &one), 0, "%s FIONBIO 1 -> 0", kind);
	expect_true(fcntl(fd, F_GETFL) & O_NONBLOCK, "O_NONBLOCK clear",
		    "%s FIONBIO sets O_NONBLOCK", kind);
	expect(xioctl(fd, FIONBIO, &zero), 0, "%s FIONBIO 0 -> 0", kind);
	expect(io_rc(read(fd, &c, 1), 1), -EINVAL, "%s read -> EINVAL", kind);
	expect(io_rc(write(fd, &c, 1), 1), -EINVAL, "%s write -> EINVAL", kind);
}

/* ---------------------------------------------------------------- */
/* Cases                                                              */

static int child_create(void *arg)
{
	return create_rc(*(int *)arg, "excl-fork");
}

static void case_open_exclusive(void)
{
	_cleanup_close_ int dev = need_dev(), dup_fd = -1, s = -1, fd = -1;

	if (dev < 0)
		return;
	fd = dev_open();
	expect(fd, -EBUSY, "second open -> EBUSY");
	close_set(&fd);
	dup_fd = dup(dev);
	expect(create_rc(dup_fd, "excl-dup"), 0, "CREATE through a dup of the device fd");
	expect(in_child(child_create, &dev), 0, "CREATE from a forked child (shared open)");
	s = session_create(dev, "excl-keep");
	expect(s, 0, "create session \"excl-keep\"");
	close_set(&dev);
	fd = dev_open();
	expect(fd, -EBUSY, "open while a dup is still open -> EBUSY");
	close_set(&fd);
	close_set(&dup_fd);
	expect(name_is(s, "excl-keep"), 0, "session works after the device fd is closed");
	fd = dev_open();
	expect(fd, 0, "reopen after the last device fd is closed");
	expect(create_rc(fd, "excl-keep"), -EEXIST,
	       "session survives closing the device (name still taken)");
	close_set(&fd);
	fd = memfd_make("excl", 4096);
	expect(preserve(s, fd, 1), 0, "PRESERVE_FD after the device fd is closed");
}

static void case_dispatch_device(void)
{
	_cleanup_close_ int dev = need_dev();
	void *map;

	if (dev < 0)
		return;
	run_rows(dev, device_rows, ARRAY_SIZE(device_rows));
	expect(create_rc(dev, DISPATCH_NAME), 0, "name free again after the read-only CREATE");
	check_generic_ops(dev, "device");
	/* CUSE devices use noop_llseek: the daemon never sees an lseek (FUSE's nonseekable open
	 * does give ESPIPE). */
	if (t.emulated && !t.fuse)
		t.directive = "TODO emulator limitation (CUSE lseek)";
	expect(sys_rc(lseek(dev, 0, SEEK_SET)), -ESPIPE, "device lseek -> ESPIPE");
	t.directive = NULL;
	map = mmap(NULL, page_size(), PROT_READ, MAP_SHARED, dev, 0);
	expect(map == MAP_FAILED ? -errno : 0, -ENODEV, "device mmap -> ENODEV");
	if (map != MAP_FAILED)
		munmap(map, page_size());
}

static void case_dispatch_session(void)
{
	_cleanup_close_ int dev = need_dev(), s = -1;

	if (dev < 0)
		return;
	s = need_session(dev, "dispatch-session");
	close_set(&dev);
	if (s < 0)
		return;
	run_rows(s, session_rows, ARRAY_SIZE(session_rows));
	expect_name(s, "dispatch-session", "GET_NAME returns the name");
	check_generic_ops(s, "session");
}

static void case_names(void)
{
	static const struct {
		const char *what;
		size_t len;
		int want;
	} rows[] = {
		{"1-byte name -> ok", 1, 0},
		{"63-byte name -> ok", 63, 0},
		{"empty name -> EINVAL", 0, -EINVAL},
		{"64 bytes without NUL -> EINVAL", 64, -EINVAL},
	};
	_cleanup_close_ int dev = need_dev(), s = -1;
	char name[NAME_LEN + 1];

	if (dev < 0)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		memset(name, 'n', sizeof(name));
		name[rows[i].len] = '\0';
		s = session_create_raw(dev, name, rows[i].len);
		if (expect(s, rows[i].want, "%s", rows[i].what) && s >= 0)
			expect_name(s, name, "GET_NAME returns it");
		close_set(&s);
	}
	s = session_create_raw(dev, "abc\0zzz", 7);
	if (expect(s, 0, "bytes after the NUL are ignored") && s >= 0)
		expect_name(s, "abc", "GET_NAME stops at the NUL");
	close_set(&s);
	s = session_create(dev, "dup");
	expect(s, 0, "create \"dup\"");
	expect(create_rc(dev, "dup"), -EEXIST, "duplicate name -> EEXIST");
	close_set(&s);
	s = session_create(dev, "dup");
	expect(s, 0, "name reusable right after close");
}

/* Openers of files no LUO handler accepts: an fd, or -errno (-EOPNOTSUPP: skip). */
static int open_devnull(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int open_pipe(void)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	close(p[1]);
	return p[0];
}

static int open_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

static int open_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int open_dir(void)
{
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int open_procfs(void)
{
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static bool shm_is_tmpfs(void)
{
	struct statfs sf;

	return statfs(SHM_DIR, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
}

static void shm_path(char *buf, size_t size, const char *tag)
{
	snprintf(buf, size, SHM_DIR "/luo-client.%d.%s", (int)getpid(), tag);
}

/* A regular file in /dev/shm, left linked unless @unlink_it. */
static int shm_file(const char *tag, bool unlink_it)
{
	char path[PATH_MAX];
	int fd, rc;

	if (!shm_is_tmpfs())
		return -EOPNOTSUPP;
	shm_path(path, sizeof(path), tag);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = sys_rc(ftruncate(fd, 4096));
	if (rc || unlink_it)
		unlink(path);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

static int open_shm_named(void)
{
	return shm_file("named", false);
}

static int open_shm_unlinked(void)
{
	return shm_file("unlinked", true);
}

static int open_shm_tmpfile(void)
{
	int fd;

	if (!shm_is_tmpfs())
		return -EOPNOTSUPP;
	fd = open(SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EISDIR || errno == EOPNOTSUPP ? -EOPNOTSUPP : -errno;
	return fd;
}

static int open_hugetlb(void)
{
	int fd = memfd_create("luo-huge", MFD_CLOEXEC | MFD_HUGETLB);

	return fd < 0 ? -EOPNOTSUPP : fd;
}

struct opener {
	const char *what;
	int (*open)(void);
};

/* Open each file, preserve it with a fresh token, expect @want. */
static void preserve_each(int s, const struct opener *o, size_t n, uint64_t token, int want)
{
	for (size_t i = 0; i < n; i++, token++) {
		_cleanup_close_ int fd = o[i].open();

		if (fd == -EOPNOTSUPP)
			skip("not available here", "%s", o[i].what);
		else if (fd < 0)
			expect(fd, 0, "open %s", o[i].what);
		else
			expect(preserve(s, fd, token), want, "%s -> %s", o[i].what, errname(want));
	}
}

static void case_preserve(void)
{
	static const struct opener unsupported[] = {
		{"/dev/null", open_devnull},
		{"pipe", open_pipe},
		{"socket", open_socket},
		{"eventfd", open_eventfd},
		{"directory", open_dir},
		{"procfs file", open_procfs},
		{"named tmpfs file in " SHM_DIR, open_shm_named},
		{"hugetlb memfd", open_hugetlb},
	};
	static const struct opener accepted[] = {
		{"O_TMPFILE on " SHM_DIR, open_shm_tmpfile},
		{"unlinked tmpfs file", open_shm_unlinked},
	};
	_cleanup_close_ int dev = need_dev(), s = -1, s2 = -1, m = -1, m2 = -1, fd = -1;
	struct liveupdate_session_preserve_fd p = {.size = sizeof(p)};
	char path[PATH_MAX];
	void *ro;

	if (dev < 0)
		return;
	s = need_session(dev, "preserve");
	s2 = need_session(dev, "preserve-2");
	m = need_memfd("preserve");
	m2 = need_memfd("preserve-2");
	if (s < 0 || s2 < 0 || m < 0 || m2 < 0)
		return;

	expect(preserve(s, m, 1), 0, "memfd, token 1");
	expect(preserve(s, -1, 1), -EEXIST, "used token, fd -1 -> EEXIST");
	expect(preserve(s, m2, 1), -EEXIST, "used token, another memfd -> EEXIST");
	expect(preserve(s, -1, 2), -EBADF, "fd -1 -> EBADF");
	expect(preserve(s, 1000000, 2), -EBADF, "unopened fd -> EBADF");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m2);
	fd = open(path, O_PATH | O_CLOEXEC);
	expect(preserve(s, fd, 2), -EBADF, "O_PATH fd of a memfd -> EBADF");
	close_set(&fd);

	preserve_each(s, unsupported, ARRAY_SIZE(unsupported), 100, -ENOENT);
	shm_path(path, sizeof(path), "named");
	unlink(path);
	expect(preserve(s, dev, 120), -ENOENT, "the %s fd -> ENOENT", t.device);
	expect(preserve(s, s2, 121), -ENOENT, "another session fd -> ENOENT");
	expect(preserve(s, s, 122), -ENOENT, "the session's own fd -> ENOENT");

	fd = dup(m);
	expect(preserve(s, fd, 3), -EBUSY, "same memfd via dup -> EBUSY");
	close_set(&fd);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m);
	fd = open(path, O_RDWR | O_CLOEXEC);
	expect(preserve(s, fd, 4), -EBUSY, "same memfd via a /proc/self/fd reopen -> EBUSY");
	close_set(&fd);
	expect(preserve(s2, m, 1), -EBUSY, "same memfd in another session -> EBUSY");

	expect(preserve(s, m2, 0), 0, "token 0 -> ok");
	fd = memfd_make("umax", 4096);
	expect(preserve(s, fd, UINT64_MAX), 0, "token UINT64_MAX -> ok");
	close_set(&fd);
	preserve_each(s, accepted, ARRAY_SIZE(accepted), 200, 0);

	fd = memfd_make("closed", 4096);
	expect(preserve(s, fd, 5), 0, "memfd, token 5");
	close_set(&fd);
	expect(preserve(s, -1, 5), -EEXIST, "caller closed its fd: still preserved (EEXIST)");
	expect(name_is(s, "preserve"), 0, "session works after the caller closed the memfd");

	fd = memfd_make("ro", 4096);
	p.fd = fd;
	p.token = 6;
	ro = ro_alloc(&p, sizeof(p));
	expect(ro ? xioctl(s, PRESERVE, ro) : -ENOMEM, -EFAULT,
	       "struct in a read-only page -> EFAULT");
	ro_free(ro);
	expect(preserve(s, fd, 6), -EEXIST, "... but it was preserved: retry -> EEXIST");
	expect(preserve(s, fd, 7), -EBUSY, "... and the file is busy: new token -> EBUSY");
}

static void case_retrieve_session(void)
{
	_cleanup_close_ int dev = need_dev(), s = -1, fd = -1;
	char name[NAME_LEN];

	if (dev < 0)
		return;
	snprintf(name, sizeof(name), "luo-client-unknown-%d", (int)getpid());
	fd = retrieve_session(dev, name);
	expect(fd, -ENOENT, "unknown name -> ENOENT");
	close_set(&fd);
	s = need_session(dev, "retrieve-outgoing");
	fd = retrieve_session(dev, "retrieve-outgoing");
	expect(fd, -ENOENT, "an outgoing session is not incoming -> ENOENT");
}

struct child_op {
	int fd;	      /* the session fd, or the socket to receive it from */
	int close_fd; /* an inherited fd the child drops first, or -1 */
	uint64_t token;
	const char *name;
};

/* In a child: (receive the session fd,) check its name, preserve a new memfd. */
static int child_use_session(void *arg)
{
	struct child_op *op = arg;
	int s = op->fd, m, rc;
	char byte;

	if (op->close_fd >= 0) {
		close(op->close_fd);
		rc = recv_fd(op->fd, &byte, 1, &s, PEER_WAIT_MS);
		if (rc || s < 0)
			return rc ? rc : -EBADMSG;
	}
	rc = name_is(s, op->name);
	if (rc)
		return rc;
	m = memfd_make("child", 4096);
	if (m < 0)
		return m;
	rc = preserve(s, m, op->token);
	close(m);
	return rc;
}

static void case_session_fd(void)
{
	_cleanup_close_ int dev = need_dev(), s = -1;
	struct child_op op = {.close_fd = -1, .name = "session-fd"};
	int sp[2];

	if (dev < 0)
		return;
	s = need_session(dev, "session-fd");
	close_set(&dev);
	if (s < 0)
		return;
	expect_true(fcntl(s, F_GETFD) & FD_CLOEXEC, "FD_CLOEXEC clear", "session fd is O_CLOEXEC");
	expect_true((fcntl(s, F_GETFL) & O_ACCMODE) == O_RDWR, "not O_RDWR",
		    "session fd is O_RDWR");

	op.fd = s;
	op.token = 1;
	expect(in_child(child_use_session, &op), 0, "forked child: GET_NAME and PRESERVE_FD");
	expect(preserve(s, -1, 1), -EEXIST, "the child's preserve landed in the session");
	expect(name_is(s, "session-fd"), 0, "session still open after the child exited");

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) {
		expect(-errno, 0, "socketpair");
		return;
	}
	/* The child drops its inherited copy and gets the fd only over SCM_RIGHTS. */
	op.fd = sp[1];
	op.close_fd = s;
	op.token = 2;
	expect(send_fd(sp[0], s, "s", 1), 0, "send the session fd over SCM_RIGHTS");
	expect(in_child(child_use_session, &op), 0,
	       "SCM_RIGHTS receiver: GET_NAME and PRESERVE_FD");
	expect(preserve(s, -1, 2), -EEXIST, "the receiver's preserve landed in the session");
	close(sp[0]);
	close(sp[1]);
}

static void case_close_unpreserves(void)
{
	_cleanup_close_ int dev = need_dev(), s = -1, m = -1;

	if (dev < 0)
		return;
	s = need_session(dev, "close-unpreserve");
	m = need_memfd("close-unpreserve");
	if (s < 0 || m < 0)
		return;
	expect(preserve(s, m, 7), 0, "preserve a memfd");
	close_set(&s);
	s = session_create(dev, "close-unpreserve");
	expect(s, 0, "after close the name is free");
	expect(preserve(s, m, 7), 0, "after close the memfd can be preserved again");
}

struct thr {
	pthread_t id;
	pthread_rwlock_t *gate; /* write-held by main until every thread exists */
	int dev, idx, rc;
	const char *step;
};

static void *thr_main(void *arg)
{
	struct thr *th = arg;
	char name[NAME_LEN];
	int s, m;

	snprintf(name, sizeof(name), "thread-%d-%d", (int)getpid(), th->idx);
	pthread_rwlock_rdlock(th->gate);
	pthread_rwlock_unlock(th->gate);
	th->step = "create";
	th->rc = 0;
	s = session_create(th->dev, name);
	if (s < 0) {
		th->rc = s;
		return NULL;
	}
	for (uint64_t tok = 0; tok < THREAD_FILES && !th->rc; tok++) {
		th->step = "memfd";
		m = memfd_make("thread", 4096);
		th->rc = m < 0 ? m : 0;
		if (m >= 0) {
			th->step = "preserve";
			th->rc = preserve(s, m, tok);
			close(m);
		}
	}
	if (!th->rc) {
		th->step = "token reuse (want EEXIST)";
		th->rc = preserve(s, -1, 0) == -EEXIST ? 0 : -EPROTO;
	}
	if (!th->rc) {
		th->step = "GET_NAME";
		th->rc = name_is(s, name);
	}
	close(s);
	return NULL;
}

static void case_threads(void)
{
	_cleanup_close_ int dev = need_dev();
	struct thr th[NR_THREADS];
	pthread_rwlock_t gate = PTHREAD_RWLOCK_INITIALIZER;
	int started, rc = 0;

	if (dev < 0)
		return;
	pthread_rwlock_wrlock(&gate);
	for (started = 0; started < NR_THREADS && !rc; started++) {
		th[started] = (struct thr){.gate = &gate, .dev = dev, .idx = started};
		rc = -pthread_create(&th[started].id, NULL, thr_main, &th[started]);
	}
	if (rc) {
		expect(rc, 0, "pthread_create");
		started--;
	}
	pthread_rwlock_unlock(&gate); /* all go at once */
	for (int i = 0; i < started; i++) {
		pthread_join(th[i].id, NULL);
		expect(th[i].rc, 0, "thread %d: create, %d preserves, GET_NAME (step %s)", i,
		       THREAD_FILES, th[i].step);
	}
}

static void case_scale_sessions(void)
{
	_cleanup_close_ int dev = need_dev();
	static int s[SCALE_SESSIONS];
	char name[NAME_LEN];
	int n, rc = 0;

	if (dev < 0)
		return;
	if (raise_nofile(SCALE_SESSIONS + 64)) {
		skip("cannot raise RLIMIT_NOFILE", "%d sessions", SCALE_SESSIONS);
		return;
	}
	for (n = 0; n < SCALE_SESSIONS; n++) {
		snprintf(name, sizeof(name), "scale-%04d", n);
		s[n] = session_create(dev, name);
		if (s[n] < 0) {
			rc = s[n];
			break;
		}
	}
	expect(rc, 0, "%d sessions open at once (created %d)", SCALE_SESSIONS, n);
	if (n > 0)
		expect(name_is(s[n - 1], name), 0, "GET_NAME of the last one");
	expect(create_rc(dev, "scale-0000"), -EEXIST, "names still taken");
	while (n > 0)
		close(s[--n]);
	expect(create_rc(dev, "scale-0000"), 0, "names free after closing them all");
}

static void case_scale_files(void)
{
	_cleanup_close_ int dev = need_dev(), s = -1;
	int n, m, rc = 0;

	if (dev < 0)
		return;
	s = need_session(dev, "scale-files");
	if (s < 0)
		return;
	for (n = 0; n < SCALE_FILES && !rc; n++) {
		m = memfd_make("scale", 4096);
		rc = m < 0 ? m : preserve(s, m, n);
		closep(&m);
	}
	expect(rc, 0, "%d memfds in one session (preserved %d)", SCALE_FILES, rc ? n - 1 : n);
	expect(preserve(s, -1, SCALE_FILES - 1), -EEXIST, "last token still held");
	expect(name_is(s, "scale-files"), 0, "GET_NAME");
}

static void case_memfd_frozen(void)
{
	_cleanup_close_ int dev = need_dev(), s = -1, m = -1;
	const char *saved = t.directive;
	char buf[16] = "frozen-contents";

	if (dev < 0)
		return;
	s = need_session(dev, "memfd-frozen");
	m = need_memfd("frozen");
	if (s < 0 || m < 0)
		return;
	expect(preserve(s, m, 1), 0, "preserve a 4096-byte memfd");
	expect(sys_rc(ftruncate(m, 4096)), 0, "ftruncate to the same size -> 0");
	expect(io_rc(pwrite(m, buf, sizeof(buf), 16), sizeof(buf)), 0, "pwrite inside the size");
	if (t.emulated)
		t.directive = "TODO emulator limitation (size freeze)";
	expect(io_rc(pwrite(m, buf, sizeof(buf), 4090), sizeof(buf)), -EPERM,
	       "pwrite straddling EOF -> EPERM");
	expect(sys_rc(fallocate(m, 0, 0, 4096)), -EPERM, "fallocate -> EPERM");
	expect(sys_rc(ftruncate(m, 8192)), -EPERM, "ftruncate grow -> EPERM");
	expect(sys_rc(ftruncate(m, 2048)), -EPERM, "ftruncate shrink -> EPERM");
	t.directive = saved;
	close_set(&s);
	expect(sys_rc(ftruncate(m, 16384)), 0, "closing the session unfreezes: ftruncate -> 0");
}

static void case_unsupervised_create(void)
{
	_cleanup_close_ int dev = -1, fd = -1;

	if (t.real_kernel) {
		skip("emulator-only", "CREATE outside the launcher -> EPERM");
		return;
	}
	dev = need_dev();
	if (dev < 0)
		return;
	fd = session_create(dev, "unsupervised");
	expect(fd, -EPERM, "CREATE outside the launcher -> EPERM (emulator-only)");
}

/*
 * The first release's rules, against a daemon started with --compat 6.19
 * (or a 6.19 kernel): empty names, no GET_NAME, no double-preservation
 * check, and 128 files per session.
 */
static void case_compat_6_19(void)
{
	_cleanup_close_ int dev = need_dev(), s = -1, s2 = -1, m = -1;
	char name[NAME_LEN + 1];
	int rc = 0;

	if (dev < 0)
		return;
	s = session_create_raw(dev, "", 0);
	expect(s < 0 ? s : 0, 0, "6.19: CREATE with an empty name -> ok");
	s2 = need_session(dev, "compat-2");
	m = need_memfd("compat");
	if (s < 0 || s2 < 0 || m < 0)
		return;
	expect(get_name(s2, name), -EINVAL, "6.19: GET_NAME (0x43) -> EINVAL");
	expect(preserve(s, m, 0), 0, "6.19: preserve a memfd");
	expect(preserve(s2, m, 0), 0, "6.19: the same memfd in another session -> ok (no EBUSY)");
	for (uint64_t tok = 1; tok < 128 && rc == 0; tok++) {
		_cleanup_close_ int f = memfd_make("compat-n", 16);

		rc = f < 0 ? f : preserve(s, f, tok);
	}
	expect(rc, 0, "6.19: 128 files in one session");
	{
		_cleanup_close_ int f = memfd_make("compat-129", 16);

		expect(preserve(s, f, 128), -ENOSPC, "6.19: the 129th file -> ENOSPC");
	}
}

/*
 * reboot(KEXEC) with no image loaded is EINVAL, and kexec_file_load checks
 * its fds.  Emulator-only: on a real kernel a loaded image would reboot it.
 */
static void case_kexec_noimage(void)
{
	_cleanup_close_ int kfd = -1;

	if (t.real_kernel) {
		skip("emulator-only", "reboot(KEXEC) without an image -> EINVAL");
		return;
	}
	expect(sys_rc(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
			      LINUX_REBOOT_CMD_KEXEC, NULL)),
	       -EINVAL, "reboot(KEXEC) without an image -> EINVAL");
	expect(sys_rc(syscall(SYS_kexec_file_load, -1, -1, 1, "", KEXEC_FILE_NO_INITRAMFS)), -EBADF,
	       "kexec_file_load with a bad kernel fd -> EBADF");
	kfd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	expect(sys_rc(syscall(SYS_kexec_file_load, kfd, -1, 1, "", KEXEC_FILE_NO_INITRAMFS)), 0,
	       "kexec_file_load of a readable image -> 0");
	expect(sys_rc(syscall(SYS_kexec_file_load, -1, -1, 0, NULL, KEXEC_FILE_UNLOAD)), 0,
	       "kexec_file_load(KEXEC_FILE_UNLOAD) -> 0");
	expect(sys_rc(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
			      LINUX_REBOOT_CMD_KEXEC, NULL)),
	       -EINVAL, "reboot(KEXEC) after unloading -> EINVAL");
}

/* The agent/agent-peer pair: a session fd handed to an unsupervised process. */
#define AGENT_MAGIC "LUOAGNT1"
#define AGENT_TOKEN 0xA6E47ull

struct agent_msg {
	char magic[8];
	char name[NAME_LEN];
	uint64_t token;
};

struct agent_reply {
	int32_t received, get_name, preserve, token_reuse;
};

static void case_agent(void)
{
	const char *path = getenv("LUOEMU_PEER_SOCKET");
	_cleanup_close_ int dev = -1, s = -1, sock = -1;
	struct agent_msg msg = {.magic = AGENT_MAGIC, .token = AGENT_TOKEN};
	struct agent_reply rep;
	struct sockaddr_un sa;
	int64_t deadline = now_ms() + PEER_WAIT_MS;
	int rc, none;

	if (!path || unix_addr(&sa, path)) {
		skip("LUOEMU_PEER_SOCKET not set", "session fd to an unsupervised peer");
		return;
	}
	/* Connect first: if anything below fails, closing tells the peer. */
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (!expect(sock, 0, "socket"))
		return;
	do {
		rc = sys_rc(connect(sock, (struct sockaddr *)&sa, sizeof(sa)));
		if (rc)
			usleep(100000);
	} while (rc && now_ms() < deadline);
	if (!expect(rc, 0, "connect to the peer at %s", path))
		return;
	dev = need_dev();
	if (dev < 0)
		return;
	snprintf(msg.name, sizeof(msg.name), "agent-%d", (int)getpid());
	s = need_session(dev, msg.name);
	if (s < 0)
		return;
	expect(send_fd(sock, s, &msg, sizeof(msg)), 0, "send the session fd");
	rc = recv_fd(sock, &rep, sizeof(rep), &none, PEER_WAIT_MS);
	closep(&none);
	if (!expect(rc, 0, "peer reply"))
		return;
	expect(rep.received, 0, "peer received the session fd");
	expect(rep.get_name, 0, "peer: GET_NAME returns the name");
	expect(rep.preserve, 0, "peer: PRESERVE_FD of its own memfd");
	expect(rep.token_reuse, -EEXIST, "peer: token reuse -> EEXIST");
	expect(preserve(s, -1, AGENT_TOKEN), -EEXIST, "the peer's memfd is in our session");
	expect(name_is(s, msg.name), 0, "session intact after the peer closed its copy");
}

/* ---------------------------------------------------------------- */
/* Modes                                                              */

static int mode_agent_peer(void)
{
	const char *path = getenv("LUOEMU_PEER_SOCKET");
	_cleanup_close_ int lsock = -1, conn = -1, s = -1, m = -1;
	struct agent_reply rep = {-EPROTO, -EPROTO, -EPROTO, -EPROTO};
	struct pollfd pfd;
	struct agent_msg msg;
	struct sockaddr_un sa;
	int rc;

	t.cur = "agent-peer";
	if (!path || unix_addr(&sa, path)) {
		expect(-EINVAL, 0, "LUOEMU_PEER_SOCKET names a socket path");
		return summary();
	}
	unlink(path);
	lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	rc = sys_rc(bind(lsock, (struct sockaddr *)&sa, sizeof(sa)));
	if (!rc)
		rc = sys_rc(listen(lsock, 1));
	if (!expect(rc, 0, "listen on %s", path))
		return summary();
	pfd = (struct pollfd){.fd = lsock, .events = POLLIN};
	rc = poll(&pfd, 1, 2 * PEER_WAIT_MS);
	conn = rc > 0 ? accept4(lsock, NULL, NULL, SOCK_CLOEXEC) : -1;
	unlink(path);
	if (!expect(conn < 0 ? (rc > 0 ? -errno : -ETIMEDOUT) : 0, 0, "accept the agent"))
		return summary();
	rc = recv_fd(conn, &msg, sizeof(msg), &s, PEER_WAIT_MS);
	if (!rc && (s < 0 || memcmp(msg.magic, AGENT_MAGIC, sizeof(msg.magic))))
		rc = -EBADMSG;
	rep.received = rc;
	if (expect(rc, 0, "receive a session fd over SCM_RIGHTS")) {
		msg.name[NAME_LEN - 1] = '\0';
		rep.get_name = name_is(s, msg.name);
		expect(rep.get_name, 0, "GET_NAME from an unsupervised process");
		m = memfd_make("agent-peer", 65536);
		rep.preserve = m < 0 ? m : preserve(s, m, msg.token);
		expect(rep.preserve, 0, "PRESERVE_FD from an unsupervised process");
		rep.token_reuse = preserve(s, -1, msg.token);
		expect(rep.token_reuse, -EEXIST, "token reuse -> EEXIST");
		close_set(&m);
		close_set(&s);
	}
	expect(send_fd(conn, -1, &rep, sizeof(rep)), 0, "reply to the agent");
	return summary();
}

struct stress_result {
	long iters, fails;
};

static void stress_fail(int id, long iter, struct stress_result *r, const char *step, int got,
			int want)
{
	if (r->fails++ < 5)
		printf("# stress worker %d iteration %ld: %s: expected %s, got %s\n", id, iter,
		       step, errname(want), errname(got));
}

/* One create/preserve/close round; failures are counted in @r. */
static void stress_round(int dev, int id, long i, struct stress_result *r)
{
	char name[NAME_LEN];
	int s, m, rc;

#define STRESS_EXPECT(step, got, want)                                                             \
	do {                                                                                       \
		int g_ = (got);                                                                    \
		if ((g_ > 0 ? 0 : g_) != (want))                                                   \
			stress_fail(id, i, r, (step), g_, (want));                                 \
	} while (0)

	snprintf(name, sizeof(name), "stress-%d-%d-%ld", (int)getpid(), id, i);
	s = session_create(dev, name);
	if (s < 0) {
		stress_fail(id, i, r, "create", s, 0);
		return;
	}
	m = memfd_make("stress", 4096);
	STRESS_EXPECT("memfd", m, 0);
	STRESS_EXPECT("preserve", preserve(s, m, (uint64_t)i), 0);
	STRESS_EXPECT("preserve same file (EBUSY)", preserve(s, m, (uint64_t)i + 1), -EBUSY);
	STRESS_EXPECT("token reuse (EEXIST)", preserve(s, -1, (uint64_t)i), -EEXIST);
	STRESS_EXPECT("GET_NAME", name_is(s, name), 0);
	rc = session_create(dev, name);
	STRESS_EXPECT("duplicate name (EEXIST)", rc, -EEXIST);
	closep(&rc);
	close(s);
	s = session_create(dev, name);
	STRESS_EXPECT("name free after close", s, 0);
	STRESS_EXPECT("memfd free after close", preserve(s, m, 0), 0);
	closep(&s);
	closep(&m);
#undef STRESS_EXPECT
}

static void write_pidfile(const char *path)
{
	char tmp[PATH_MAX];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) == 0)
		rename(tmp, path);
}

static struct stress_result stress_worker(int dev, int id, int64_t deadline)
{
	const char *pidfile = getenv("LUOEMU_STRESS_PIDFILE");
	struct stress_result r = {0, 0};

	do {
		stress_round(dev, id, r.iters, &r);
		if (r.iters++ == 0 && id == 0 && pidfile)
			write_pidfile(pidfile);
	} while (now_ms() < deadline);
	return r;
}

static int mode_stress(const char *secs_arg)
{
	long secs = secs_arg ? strtol(secs_arg, NULL, 10) : env_long("LUOEMU_STRESS_SECS", 10);
	long workers = env_long("LUOEMU_STRESS_CLIENTS", 8);
	int64_t deadline = now_ms() + (secs > 0 ? secs : 10) * 1000;
	struct stress_result r;
	_cleanup_close_ int dev = -1;
	int p[2];

	t.cur = "stress";
	dev = need_dev();
	if (dev < 0)
		return summary();
	if (workers == 1) {
		r = stress_worker(dev, 0, deadline);
		expect_true(!r.fails, "failures above", "worker 0: %ld rounds, %ld failed", r.iters,
			    r.fails);
		return summary();
	}
	if (pipe2(p, O_CLOEXEC)) {
		expect(-errno, 0, "pipe");
		return summary();
	}
	fflush(stdout);
	for (int id = 0; id < workers; id++) {
		pid_t pid = fork();

		if (pid == 0) {
			r = stress_worker(dev, id, deadline);
			fflush(stdout);
			_exit(io_rc(write(p[1], &r, sizeof(r)), sizeof(r)) ? 2 : 0);
		}
		if (pid < 0)
			expect(-errno, 0, "fork worker %d", id);
	}
	close(p[1]);
	for (int id = 0; id < workers; id++) {
		if (io_rc(read(p[0], &r, sizeof(r)), sizeof(r))) {
			expect(-ECHILD, 0, "a worker died before reporting");
			continue;
		}
		expect_true(!r.fails && r.iters > 0, "failures above",
			    "worker: %ld rounds, %ld failed", r.iters, r.fails);
	}
	close(p[0]);
	while (wait(NULL) > 0)
		;
	return summary();
}

/* ---------------------------------------------------------------- */

#define EXPLICIT true /* run only when named, never by default */

static const struct luo_case {
	const char *name;
	void (*fn)(void);
	bool explicit_only;
} cases[] = {
	{"open-exclusive", case_open_exclusive, false},
	{"dispatch-device", case_dispatch_device, false},
	{"dispatch-session", case_dispatch_session, false},
	{"names", case_names, false},
	{"preserve", case_preserve, false},
	{"retrieve-session", case_retrieve_session, false},
	{"session-fd", case_session_fd, false},
	{"close-unpreserves", case_close_unpreserves, false},
	{"threads", case_threads, false},
	{"scale-sessions", case_scale_sessions, false},
	{"scale-files", case_scale_files, false},
	{"memfd-frozen", case_memfd_frozen, false},
	{"kexec-noimage", case_kexec_noimage, false},
	{"unsupervised-create", case_unsupervised_create, EXPLICIT},
	{"agent", case_agent, EXPLICIT},
	{"compat-6.19", case_compat_6_19, EXPLICIT},
};

static bool selected(const struct luo_case *c, int argc, char **argv)
{
	if (argc < 2)
		return !c->explicit_only;
	for (int i = 1; i < argc; i++)
		if (strncmp(c->name, argv[i], strlen(argv[i])) == 0)
			return true;
	return false;
}

static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: luo-client [PREFIX...] | list | stress [SECS] | agent-peer\n"
		   "cases (* only when named):\n");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		fprintf(f, "  %s%s\n", cases[i].name, cases[i].explicit_only ? " *" : "");
	return rc;
}

int main(int argc, char **argv)
{
	size_t i, n = 0;
	int fd;

	t.device = getenv("LUOEMU_DEVICE");
	if (!t.device || !*t.device)
		t.device = "/dev/liveupdate";
	t.real_kernel = env_flag("LUOEMU_REAL_KERNEL");
	t.emulated = env_flag("LUOEMU_EMULATED");
	t.fuse = getenv("LUOEMU_FRONTEND") && strcmp(getenv("LUOEMU_FRONTEND"), "fuse") == 0;
	signal(SIGPIPE, SIG_IGN);

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return usage(stdout, 0);
	if (argc > 1 && !strcmp(argv[1], "list"))
		return usage(stdout, 0);
	if (argc > 1 && !strcmp(argv[1], "agent-peer"))
		return mode_agent_peer();
	if (argc > 1 && !strcmp(argv[1], "stress"))
		return mode_stress(argc > 2 ? argv[2] : NULL);
	for (int a = 1; a < argc; a++) {
		bool any = false;

		for (i = 0; i < ARRAY_SIZE(cases); i++)
			any |= strncmp(cases[i].name, argv[a], strlen(argv[a])) == 0;
		if (!any) {
			fprintf(stderr, "luo-client: no case matches \"%s\"\n", argv[a]);
			return usage(stderr, 2);
		}
	}

	printf("# luo-client: device %s%s%s%s\n", t.device, t.emulated ? " (emulated)" : "",
	       t.fuse ? " (FUSE frontend)" : "", t.real_kernel ? " (real kernel)" : "");
	t.cur = "preflight";
	fd = dev_open();
	if (fd < 0) {
		expect(fd, 0, "open %s (%s)", t.device, strerror(-fd));
		printf("# set LUOEMU_DEVICE to the LUO device; under luoemu run the program with "
		       "\"luoemu run -- luo-client\"\n");
		return summary();
	}
	close(fd);

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (!selected(&cases[i], argc, argv))
			continue;
		t.cur = cases[i].name;
		printf("# %s\n", t.cur);
		cases[i].fn();
		n++;
	}
	printf("# %zu cases run\n", n);
	return summary();
}
