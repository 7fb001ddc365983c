// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests of the LUO model (src/state/luo.h): every rule the core owns,
 * with its exact errno and the state after the call, in both compat levels.
 *
 * References: shared/spec/luo-uapi.md and shared/spec/kernel-observed.md
 * (the observed kernel wins).  Real file kinds are used throughout: memfds,
 * O_TMPFILE files on /dev/shm, pipes, sockets, eventfds, /dev/null, named
 * tmpfs files, hugetlb memfds, directories and O_PATH fds.
 *
 * The live update is simulated in-process by handover(): the old context is
 * frozen, its outgoing state (token, compatible, handler record and a dup of
 * the data holder fd) is loaded as incoming state into a fresh context, the
 * "next kernel", and the old context is freed.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/fault-points.h"
#include "state/handler.h"
#include "state/luo.h"
#include "util.h"
#include "luo-test.h"

/* The kernel's O_LARGEFILE on x86-64 and arm64; glibc defines it as 0 there. */
#define KERNEL_O_LARGEFILE 0100000

#define SZ_A  8192 /* the first memfd of the standard scenario */
#define SZ_B  100  /* the second one */
#define POS_A 1234 /* A's file position at freeze */

/*
 * The suite runs twice (main): compat_of[0] is 7.2, then 7.3, the default.
 * The two differ only in FINISH's reserved check, tested on its own.
 */
static enum luo_compat compat_of[] = {LUO_COMPAT_7_2, LUO_COMPAT_6_19};

/* ---- fault hook ------------------------------------------------------ */

struct fault {
	const char *point; /* NULL: no fault armed */
	int err;	   /* negative errno to inject */
	unsigned int nth;  /* fail only the nth hit (1-based); 0: every hit */
	unsigned int hits; /* how often @point was reached */
};

static int fault_hook(void *data, const char *point)
{
	struct fault *f = data;

	if (!f->point || strcmp(point, f->point))
		return 0;
	f->hits++;
	if (f->nth && f->hits != f->nth)
		return 0;
	return f->err;
}

static void fault_arm(struct fault *f, const char *point, int err, unsigned int nth)
{
	f->point = point;
	f->err = err;
	f->nth = nth;
	f->hits = 0;
}

/* ---- contexts -------------------------------------------------------- */

static void cfg_init(struct luo_config *cfg, enum luo_compat compat, struct fault *fault)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->compat = compat;
	if (fault) {
		cfg->fault = fault_hook;
		cfg->fault_data = fault;
	}
}

/* A context for @cfg; with @open, its device is open as a daemon's would be. */
static struct luo_ctx *ctx_make(const struct luo_config *cfg, bool open)
{
	struct luo_ctx *ctx = NULL;

	ck_assert_int_eq(luo_ctx_new(cfg, &ctx), 0);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(luo_ctx_compat(ctx), cfg->compat);
	if (open)
		ck_assert_int_eq(luo_device_open(ctx), 0);
	return ctx;
}

static struct luo_ctx *ctx_new(enum luo_compat compat)
{
	struct luo_config cfg;

	cfg_init(&cfg, compat, NULL);
	return ctx_make(&cfg, true);
}

static struct luo_ctx *ctx_new_fault(enum luo_compat compat, struct fault *f)
{
	struct luo_config cfg;

	cfg_init(&cfg, compat, f);
	return ctx_make(&cfg, true);
}

static struct luo_stats stats_of(const struct luo_ctx *ctx)
{
	struct luo_stats st;

	memset(&st, 0xa5, sizeof(st));
	luo_ctx_stats(ctx, &st);
	return st;
}

/* A macro so that a failure points at the caller's line. */
#define ck_stats(ctx, out, in, nfiles)                                                             \
	do {                                                                                       \
		struct luo_stats st_ = stats_of(ctx);                                              \
		ck_assert_uint_eq(st_.outgoing, (out));                                            \
		ck_assert_uint_eq(st_.incoming, (in));                                             \
		ck_assert_uint_eq(st_.files, (nfiles));                                            \
	} while (0)

/* ---- names and sessions ---------------------------------------------- */

/* The raw 64-byte name field of a caller's struct, NUL-padded. */
static void name_fill(uint8_t name[LUO_NAME_LEN], const char *s)
{
	memset(name, 0, LUO_NAME_LEN);
	memcpy(name, s, strnlen(s, LUO_NAME_LEN));
}

static int create_named(struct luo_ctx *ctx, const char *s, struct luo_session **ret)
{
	uint8_t name[LUO_NAME_LEN];

	name_fill(name, s);
	return luo_session_create(ctx, name, ret);
}

static struct luo_session *create_ok(struct luo_ctx *ctx, const char *s)
{
	struct luo_session *ses = NULL;

	ck_assert_int_eq(create_named(ctx, s, &ses), 0);
	ck_assert_ptr_nonnull(ses);
	ck_assert(!luo_session_is_incoming(ses));
	ck_assert_str_eq(luo_session_name(ses), s);
	return ses;
}

static int retrieve_named(struct luo_ctx *ctx, const char *s, struct luo_session **ret)
{
	uint8_t name[LUO_NAME_LEN];

	name_fill(name, s);
	return luo_session_retrieve(ctx, name, ret);
}

static struct luo_session *retrieve_ok(struct luo_ctx *ctx, const char *s)
{
	struct luo_session *ses = NULL;

	ck_assert_int_eq(retrieve_named(ctx, s, &ses), 0);
	ck_assert_ptr_nonnull(ses);
	ck_assert(luo_session_is_incoming(ses));
	ck_assert_str_eq(luo_session_name(ses), s);
	return ses;
}

/* ---- files ----------------------------------------------------------- */

static int memfd_new(size_t size, unsigned int seed)
{
	return memfd_new_flags(size, seed, 0);
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/*
 * PRESERVE_FD as a frontend does it, as this process's uid (the owner of
 * the memfds made here, so an O_RDWR fd is handed back as the same inode,
 * memfd.c).  The model gets a reference of its own
 * (a dup: same open file description as the caller's fd) and owns it on
 * success; on failure we still own it and close it.  A negative @fd is
 * passed as is (the frontend's "could not take the fd", e.g. -EBADF).
 */
static int preserve(struct luo_session *s, uint64_t token, int fd)
{
	int ref = fd, r;

	if (fd >= 0) {
		ref = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		ck_assert_int_ge(ref, 0);
	}
	r = luo_session_preserve_fd_as(s, token, ref, geteuid());
	if (r < 0 && ref >= 0) {
		ck_assert(fd_is_open(ref)); /* the model must not close it */
		close(ref);
	}
	return r;
}

/* RETRIEVE_FD as a frontend does it: a dup of the model's fd, or -errno. */
static int retrieve_fd(struct luo_session *s, uint64_t token)
{
	int fd = -1, r;

	r = luo_session_retrieve_fd(s, token, &fd);
	if (r < 0)
		return r;
	ck_assert_int_ge(fd, 0);
	r = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	ck_assert_int_ge(r, 0);
	return r;
}

static unsigned int count_open_fds(void)
{
	unsigned int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* File kinds that no handler accepts (ENOENT), plus the two accepted ones. */
enum kind {
	K_PIPE,
	K_SOCKET,
	K_EVENTFD,
	K_DEVNULL,
	K_NAMED_TMPFS,
	K_HUGETLB,
	K_DIR,
	K_PROCFS,
	K_NR_UNSUPPORTED,
	K_MEMFD = K_NR_UNSUPPORTED,
	K_TMPFILE,
	K_UNLINKED_TMPFS,
};

static const char *const kind_name[] = {
	[K_PIPE] = "pipe",
	[K_SOCKET] = "socket",
	[K_EVENTFD] = "eventfd",
	[K_DEVNULL] = "/dev/null",
	[K_NAMED_TMPFS] = "named tmpfs file",
	[K_HUGETLB] = "hugetlb memfd",
	[K_DIR] = "directory",
	[K_PROCFS] = "procfs file",
	[K_MEMFD] = "memfd",
	[K_TMPFILE] = "O_TMPFILE on /dev/shm",
	[K_UNLINKED_TMPFS] = "unlinked tmpfs file",
};

/*
 * Opens a file of @kind with a little content where it can hold any.
 * Returns -1 if the system cannot make one (hugetlb); the caller skips.
 * A named tmpfs file is unlinked again by kind_close().
 */
static int kind_open(enum kind kind, char path[64])
{
	int fds[2], fd = -1;

	path[0] = '\0';
	switch (kind) {
	case K_PIPE:
		ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
		close(fds[1]);
		return fds[0];
	case K_SOCKET:
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
		close(fds[1]);
		return fds[0];
	case K_EVENTFD:
		fd = eventfd(0, EFD_CLOEXEC);
		break;
	case K_DEVNULL:
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		break;
	case K_NAMED_TMPFS:
	case K_UNLINKED_TMPFS:
		strcpy(path, "/dev/shm/luoemu-test-XXXXXX");
		fd = mkostemp(path, O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pwrite(fd, "data", 4, 0), 4);
		if (kind == K_UNLINKED_TMPFS) {
			ck_assert_int_eq(unlink(path), 0);
			path[0] = '\0';
		}
		return fd;
	case K_HUGETLB:
		return memfd_create("luoemu-huge", MFD_CLOEXEC | MFD_HUGETLB);
	case K_DIR:
		fd = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		break;
	case K_PROCFS:
		fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
		break;
	case K_MEMFD:
		return memfd_new(4096, 1);
	case K_TMPFILE:
		fd = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pwrite(fd, "data", 4, 0), 4);
		return fd;
	default:
		ck_abort_msg("bad kind %d", kind);
	}
	ck_assert_int_ge(fd, 0);
	return fd;
}

static void kind_close(int fd, const char *path)
{
	close(fd);
	if (path[0])
		unlink(path);
}

/* ---- the live update, in-process ------------------------------------- */

/*
 * The standard scenario: session "s" with memfd A (SZ_A bytes, seed 1,
 * token 1, position POS_A at freeze) and memfd B (SZ_B bytes, seed 2,
 * token 2), handed over.  *@orig_a is the test's fd of A: the same open
 * file description the old kernel preserved.
 */
static struct luo_ctx *next_kernel(enum luo_compat compat, struct fault *f, int *orig_a)
{
	struct luo_config cfg;
	struct luo_ctx *old;
	struct luo_session *s;
	int a = memfd_new(SZ_A, 1), b = memfd_new(SZ_B, 2);

	cfg_init(&cfg, compat, f);
	old = ctx_make(&cfg, true);
	s = create_ok(old, "s");
	ck_assert_int_eq(preserve(s, 1, a), 0);
	ck_assert_int_eq(preserve(s, 2, b), 0);
	ck_assert_int_eq(lseek(a, POS_A, SEEK_SET), POS_A);
	close(b);
	if (orig_a)
		*orig_a = a;
	else
		close(a);
	return handover(old, &cfg);
}

/* ======================================================================
 * Device
 */

START_TEST(test_device_single_open)
{
	struct luo_config cfg;
	struct luo_ctx *ctx;

	cfg_init(&cfg, compat_of[_i], NULL);
	ctx = ctx_make(&cfg, false);
	ck_assert(!stats_of(ctx).device_open);
	ck_assert_int_eq(luo_device_open(ctx), 0);
	ck_assert(stats_of(ctx).device_open);
	ck_assert_int_eq(luo_device_open(ctx), -EBUSY);
	ck_assert_int_eq(luo_device_open(ctx), -EBUSY);
	ck_assert(stats_of(ctx).device_open);
	luo_device_release(ctx);
	ck_assert(!stats_of(ctx).device_open);
	ck_assert_int_eq(luo_device_open(ctx), 0);
	ck_assert(stats_of(ctx).device_open);
	luo_ctx_free(ctx);
}
END_TEST

/* Closing the device fd does nothing to sessions (luo-uapi.md §3). */
START_TEST(test_device_release_keeps_sessions)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *s = create_ok(ctx, "s");
	int m = memfd_new(10, 1);

	ck_assert_int_eq(preserve(s, 1, m), 0);
	luo_device_release(ctx);
	ck_stats(ctx, 1, 0, 1);
	ck_assert_int_eq(preserve(s, 2, memfd_new(10, 2)), 0);
	ck_assert_int_eq(luo_device_open(ctx), 0);
	ck_stats(ctx, 1, 0, 2);
	luo_ctx_free(ctx);
	close(m);
}
END_TEST

/* A failed deserialization sticks: every open gives EIO (luo-uapi.md §3). */
START_TEST(test_device_incoming_error_eio)
{
	static const int errs[] = {-EIO, -EINVAL, -ENOMEM};
	struct luo_config cfg;
	struct luo_ctx *ctx;

	cfg_init(&cfg, compat_of[_i % 2], NULL);
	ctx = ctx_make(&cfg, false);
	ck_assert_int_eq(luo_ctx_incoming_error(ctx), 0);
	luo_ctx_set_incoming_error(ctx, errs[_i / 2]);
	ck_assert_int_eq(luo_ctx_incoming_error(ctx), errs[_i / 2]);
	ck_assert_int_eq(luo_device_open(ctx), -EIO);
	ck_assert(!stats_of(ctx).device_open);
	ck_assert_int_eq(luo_device_open(ctx), -EIO);
	ck_assert_int_eq(luo_device_open(ctx), -EIO);
	ck_assert(!stats_of(ctx).device_open);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_device_liveupdate_count)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);

	ck_assert_uint_eq(luo_ctx_liveupdate_count(ctx), 0);
	luo_ctx_set_liveupdate_count(ctx, 7);
	ck_assert_uint_eq(luo_ctx_liveupdate_count(ctx), 7);
	luo_ctx_set_liveupdate_count(ctx, UINT64_MAX);
	ck_assert_uint_eq(luo_ctx_liveupdate_count(ctx), UINT64_MAX);
	luo_ctx_free(ctx);
}
END_TEST

/* ======================================================================
 * CREATE_SESSION
 */

START_TEST(test_create_name_lengths)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	char buf[LUO_NAME_LEN];

	for (size_t len = 1; len < LUO_NAME_LEN; len++) {
		struct luo_session *s;

		memset(buf, 'a' + len % 26, len);
		buf[len] = '\0';
		s = create_ok(ctx, buf);
		ck_assert_uint_eq(strlen(luo_session_name(s)), len);
		ck_stats(ctx, len, 0, 0);
	}
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_create_empty_name_7_2)
{
	struct luo_ctx *ctx = ctx_new(LUO_COMPAT_7_2);
	struct luo_session *s = NULL;
	uint8_t name[LUO_NAME_LEN] = {0};

	ck_assert_int_eq(luo_session_create(ctx, name, &s), -EINVAL);
	ck_stats(ctx, 0, 0, 0);
	/* Bytes after a leading NUL do not make a name. */
	name[1] = 'x';
	ck_assert_int_eq(luo_session_create(ctx, name, &s), -EINVAL);
	ck_stats(ctx, 0, 0, 0);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_create_unterminated_name_7_2)
{
	struct luo_ctx *ctx = ctx_new(LUO_COMPAT_7_2);
	struct luo_session *s = NULL;
	uint8_t name[LUO_NAME_LEN];

	memset(name, 'n', sizeof(name));
	ck_assert_int_eq(luo_session_create(ctx, name, &s), -EINVAL);
	ck_stats(ctx, 0, 0, 0);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_create_empty_name_6_19)
{
	struct luo_ctx *ctx = ctx_new(LUO_COMPAT_6_19);
	struct luo_session *s = NULL, *s2 = NULL;
	uint8_t name[LUO_NAME_LEN] = {0};

	ck_assert_int_eq(luo_session_create(ctx, name, &s), 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(luo_session_name(s), "");
	ck_stats(ctx, 1, 0, 0);
	/* The empty name is a name like any other: a second one is a duplicate. */
	ck_assert_int_eq(luo_session_create(ctx, name, &s2), -EEXIST);
	ck_stats(ctx, 1, 0, 0);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_create_unterminated_name_6_19)
{
	struct luo_ctx *ctx = ctx_new(LUO_COMPAT_6_19);
	struct luo_session *s = NULL, *s2 = NULL;
	uint8_t name[LUO_NAME_LEN];
	char want[LUO_NAME_LEN];

	memset(name, 'n', sizeof(name));
	memset(want, 'n', LUO_NAME_LEN - 1);
	want[LUO_NAME_LEN - 1] = '\0';
	ck_assert_int_eq(luo_session_create(ctx, name, &s), 0);
	ck_assert_ptr_nonnull(s);
	/* Truncated to 63 bytes, as strscpy into the 64-byte field does. */
	ck_assert_str_eq(luo_session_name(s), want);
	ck_stats(ctx, 1, 0, 0);
	/* The truncated name collides with the 63-byte one. */
	ck_assert_int_eq(create_named(ctx, want, &s2), -EEXIST);
	ck_stats(ctx, 1, 0, 0);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_create_duplicate)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *s, *s2 = NULL, *o;
	uint8_t name[LUO_NAME_LEN];

	s = create_ok(ctx, "dup");
	ck_assert_int_eq(create_named(ctx, "dup", &s2), -EEXIST);
	ck_stats(ctx, 1, 0, 0);
	/* Names compare as strings: bytes after the NUL do not matter. */
	name_fill(name, "dup");
	name[10] = 'x';
	ck_assert_int_eq(luo_session_create(ctx, name, &s2), -EEXIST);
	ck_stats(ctx, 1, 0, 0);
	/* A prefix or extension is another name. */
	create_ok(ctx, "du");
	create_ok(ctx, "dupe");
	ck_stats(ctx, 3, 0, 0);
	o = create_ok(ctx, "other");
	ck_assert_uint_ne(luo_session_id(s), luo_session_id(o));
	luo_ctx_free(ctx);
}
END_TEST

/* Incoming and outgoing names are separate namespaces (kernel-observed.md). */
START_TEST(test_create_shares_name_with_incoming)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *in = NULL, *out, *got;

	ck_assert_int_eq(luo_incoming_add_session(ctx, "s1", &in), 0);
	ck_stats(ctx, 0, 1, 0);
	out = create_ok(ctx, "s1");
	ck_stats(ctx, 1, 1, 0);
	/* ... also once the incoming one is retrieved, and retrieve still finds it */
	got = retrieve_ok(ctx, "s1");
	ck_assert_ptr_ne(got, out);
	luo_session_release(out);
	create_ok(ctx, "s1");
	ck_stats(ctx, 1, 1, 0);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_create_release_frees_name)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *s = create_ok(ctx, "name");

	luo_session_release(s);
	ck_stats(ctx, 0, 0, 0);
	s = create_ok(ctx, "name");
	ck_stats(ctx, 1, 0, 0);
	luo_session_release(s);
	ck_stats(ctx, 0, 0, 0);
	luo_ctx_free(ctx);
}
END_TEST

/* Too many sessions: ENOSPC in 7.2, ENOMEM in 6.19 (luo-uapi.md §4). */
START_TEST(test_create_max_sessions)
{
	enum luo_compat compat = compat_of[_i];
	int want = compat != LUO_COMPAT_6_19 ? -ENOSPC : -ENOMEM;
	struct luo_session *s, *s2 = NULL;
	struct luo_config cfg;
	struct luo_ctx *ctx;

	cfg_init(&cfg, compat, NULL);
	cfg.max_sessions = 3;
	ctx = ctx_make(&cfg, true);
	create_ok(ctx, "a");
	s = create_ok(ctx, "b");
	create_ok(ctx, "c");
	ck_assert_int_eq(create_named(ctx, "d", &s2), want);
	ck_stats(ctx, 3, 0, 0);
	ck_assert_int_eq(create_named(ctx, "d", &s2), want);
	/* releasing one frees its slot at once */
	luo_session_release(s);
	create_ok(ctx, "d");
	ck_stats(ctx, 3, 0, 0);
	ck_assert_int_eq(create_named(ctx, "e", &s2), want);
	luo_ctx_free(ctx);
}
END_TEST

/* ======================================================================
 * PRESERVE_FD, in the kernel's errno order
 */

/* 1. A used token gives EEXIST, before every other check, even for fd -1. */
START_TEST(test_preserve_token_used)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *s = create_ok(ctx, "s");
	int m = memfd_new(100, 1), m2 = memfd_new(100, 2);
	char path[64];
	int pipefd = kind_open(K_PIPE, path);

	ck_assert_int_eq(preserve(s, 5, m), 0);
	ck_stats(ctx, 1, 0, 1);
	ck_assert_int_eq(preserve(s, 5, -EBADF), -EEXIST);
	ck_assert_int_eq(preserve(s, 5, m2), -EEXIST);
	ck_assert_int_eq(preserve(s, 5, pipefd), -EEXIST);
	ck_assert_int_eq(preserve(s, 5, m), -EEXIST);
	ck_stats(ctx, 1, 0, 1);
	ck_assert_uint_eq(luo_session_nr_files(s), 1);
	/* Tokens are unique per session only. */
	ck_assert_int_eq(preserve(create_ok(ctx, "t"), 5, m2), 0);
	ck_stats(ctx, 2, 0, 2);
	luo_ctx_free(ctx);
	close(m);
	close(m2);
	kind_close(pipefd, path);
}
END_TEST

/* 2. Capacity: ENOSPC, after the token check and before EBADF. */
START_TEST(test_preserve_capacity)
{
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_session *s;
	int m1 = memfd_new(10, 1), m2 = memfd_new(10, 2), m3 = memfd_new(10, 3);

	cfg_init(&cfg, compat_of[_i], NULL);
	cfg.max_files = 2;
	ctx = ctx_make(&cfg, true);
	s = create_ok(ctx, "s");
	ck_assert_int_eq(preserve(s, 1, m1), 0);
	ck_assert_int_eq(preserve(s, 2, m2), 0);
	ck_assert_int_eq(preserve(s, 3, m3), -ENOSPC);
	ck_assert_int_eq(preserve(s, 3, -EBADF), -ENOSPC);
	ck_assert_int_eq(preserve(s, 2, -EBADF), -EEXIST);
	ck_stats(ctx, 1, 0, 2);
	/* The limit is per session. */
	ck_assert_int_eq(preserve(create_ok(ctx, "t"), 3, m3), 0);
	ck_stats(ctx, 2, 0, 3);
	luo_ctx_free(ctx);
	close(m1);
	close(m2);
	close(m3);
}
END_TEST

/* 6.19: 128 files per session, the 129th gets ENOSPC (luo-uapi.md §4). */
START_TEST(test_preserve_capacity_6_19_default)
{
	struct luo_ctx *ctx = ctx_new(LUO_COMPAT_6_19);
	struct luo_session *s = create_ok(ctx, "s");
	int m;

	for (unsigned int i = 0; i < LUO_6_19_MAX_FILES; i++) {
		m = memfd_new(1, i);
		ck_assert_int_eq(preserve(s, i, m), 0);
		close(m);
	}
	ck_stats(ctx, 1, 0, LUO_6_19_MAX_FILES);
	m = memfd_new(1, 0);
	ck_assert_int_eq(preserve(s, 1000, m), -ENOSPC);
	ck_assert_int_eq(preserve(s, 1000, -EBADF), -ENOSPC);
	ck_stats(ctx, 1, 0, LUO_6_19_MAX_FILES);
	luo_ctx_free(ctx);
	close(m);
}
END_TEST

/* 3. A bad fd: EBADF. */
START_TEST(test_preserve_badf)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *s = create_ok(ctx, "s");
	int m = memfd_new(10, 1);

	ck_assert_int_eq(preserve(s, 1, -EBADF), -EBADF);
	ck_stats(ctx, 1, 0, 0);
	/* The failed token was not used up. */
	ck_assert_int_eq(preserve(s, 1, m), 0);
	ck_stats(ctx, 1, 0, 1);
	luo_ctx_free(ctx);
	close(m);
}
END_TEST

/* An O_PATH fd is a bad fd, even to a memfd (kernel-observed.md). */
START_TEST(test_preserve_opath)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *s = create_ok(ctx, "s");
	int m = memfd_new(10, 1);
	int p = reopen(m, O_PATH);

	ck_assert_int_eq(preserve(s, 1, p), -EBADF);
	ck_stats(ctx, 1, 0, 0);
	/* O_PATH before "no handler" too. */
	close(p);
	p = open("/dev/null", O_PATH | O_CLOEXEC);
	ck_assert_int_ge(p, 0);
	ck_assert_int_eq(preserve(s, 1, p), -EBADF);
	ck_assert_int_eq(preserve(s, 1, m), 0);
	ck_stats(ctx, 1, 0, 1);
	luo_ctx_free(ctx);
	close(p);
	close(m);
}
END_TEST

/* 4. No handler accepts the file: ENOENT, for every non-memfd kind. */
START_TEST(test_preserve_no_handler)
{
	enum kind kind = _i / 2;
	struct luo_ctx *ctx = ctx_new(compat_of[_i % 2]);
	struct luo_session *s = create_ok(ctx, "s");
	char path[64];
	int fd = kind_open(kind, path);

	if (fd < 0) {
		ck_assert_int_eq(kind, K_HUGETLB);
		fprintf(stderr, "skip: MFD_HUGETLB: %s\n", strerror(errno));
		luo_ctx_free(ctx);
		return;
	}
	ck_assert_msg(preserve(s, 1, fd) == -ENOENT, "%s not rejected with ENOENT",
		      kind_name[kind]);
	ck_stats(ctx, 1, 0, 0);
	ck_assert_uint_eq(luo_session_nr_files(s), 0);
	luo_ctx_free(ctx);
	kind_close(fd, path);
}
END_TEST

/* The accepted kinds: memfd, O_TMPFILE on tmpfs, an unlinked tmpfs file. */
START_TEST(test_preserve_accepted_kinds)
{
	enum kind kind = K_MEMFD + _i / 2;
	struct luo_ctx *ctx = ctx_new(compat_of[_i % 2]);
	struct luo_session *s = create_ok(ctx, "s");
	char path[64];
	int fd = kind_open(kind, path);

	ck_assert_msg(preserve(s, 1, fd) == 0, "%s not accepted", kind_name[kind]);
	ck_stats(ctx, 1, 0, 1);
	luo_ctx_free(ctx);
	kind_close(fd, path);
}
END_TEST

/* 5. The same inode, preserved anywhere: EBUSY in 7.2, allowed in 6.19. */
enum busy_how { BUSY_DUP, BUSY_REOPEN, BUSY_OTHER_SESSION, BUSY_OTHER_SESSION_OFD, BUSY_NR };

START_TEST(test_preserve_same_inode)
{
	enum luo_compat compat = compat_of[_i % 2];
	enum busy_how how = _i / 2;
	int want = compat != LUO_COMPAT_6_19 ? -EBUSY : 0;
	struct luo_ctx *ctx = ctx_new(compat);
	struct luo_session *s = create_ok(ctx, "s"), *t = create_ok(ctx, "t");
	int m = memfd_new(100, 1), other;

	ck_assert_int_eq(preserve(s, 1, m), 0);
	switch (how) {
	case BUSY_DUP:
		other = dup(m);
		ck_assert_int_eq(preserve(s, 2, other), want);
		break;
	case BUSY_REOPEN:
		other = reopen(m, O_RDWR);
		ck_assert_int_eq(preserve(s, 2, other), want);
		break;
	case BUSY_OTHER_SESSION:
		other = reopen(m, O_RDWR);
		ck_assert_int_eq(preserve(t, 1, other), want);
		break;
	default:
		other = dup(m);
		ck_assert_int_eq(preserve(t, 1, other), want);
		break;
	}
	ck_stats(ctx, 2, 0, want ? 1 : 2);
	luo_ctx_free(ctx);
	close(other);
	close(m);
}
END_TEST

/* EBUSY comes after the token, capacity and fd checks. */
START_TEST(test_preserve_busy_order)
{
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_session *s;
	int m = memfd_new(100, 1);

	cfg_init(&cfg, LUO_COMPAT_7_2, NULL);
	cfg.max_files = 1;
	ctx = ctx_make(&cfg, true);
	s = create_ok(ctx, "s");
	ck_assert_int_eq(preserve(s, 1, m), 0);
	ck_assert_int_eq(preserve(s, 1, m), -EEXIST);
	ck_assert_int_eq(preserve(s, 2, m), -ENOSPC);
	ck_assert_int_eq(preserve(create_ok(ctx, "t"), 1, m), -EBUSY);
	ck_stats(ctx, 2, 0, 1);
	luo_ctx_free(ctx);
	close(m);
}
END_TEST

/* Tokens are any u64: 0 and 2^64-1 are valid and come back unchanged. */
START_TEST(test_preserve_token_extremes)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *s = create_ok(ctx, "s");
	int m0 = memfd_new(10, 1), m1 = memfd_new(20, 2);
	struct luo_file *f;

	ck_assert_int_eq(preserve(s, 0, m0), 0);
	ck_assert_int_eq(preserve(s, UINT64_MAX, m1), 0);
	ck_stats(ctx, 1, 0, 2);
	f = luo_file_first(s);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(luo_file_token(f), 0);
	f = luo_file_next(f);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(luo_file_token(f), UINT64_MAX);
	ck_assert_ptr_null(luo_file_next(f));
	luo_ctx_free(ctx);
	close(m0);
	close(m1);
}
END_TEST

/* On success the model owns the fd (and closes it itself); on failure not. */
START_TEST(test_preserve_fd_ownership)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *s = create_ok(ctx, "s");
	int m = memfd_new(10, 1);
	char path[64];
	int pipefd = kind_open(K_PIPE, path);
	int ref = dup(m), bad = dup(pipefd);

	ck_assert_int_eq(luo_session_preserve_fd(s, 1, ref), 0);
	ck_assert(fd_is_open(ref));
	ck_assert_int_eq(luo_file_fd(luo_file_first(s)), ref);
	ck_assert_int_eq(luo_session_preserve_fd(s, 2, bad), -ENOENT);
	ck_assert(fd_is_open(bad));
	ck_assert_int_eq(luo_session_preserve_fd(s, 1, bad), -EEXIST);
	ck_assert(fd_is_open(bad));
	close(bad);
	luo_session_release(s);
	ck_assert(!fd_is_open(ref));
	ck_assert(fd_is_open(m));
	ck_stats(ctx, 0, 0, 0);
	luo_ctx_free(ctx);
	close(m);
	kind_close(pipefd, path);
}
END_TEST

/* The walk gives sessions in creation order, files in preservation order. */
START_TEST(test_outgoing_walk_order)
{
	static const char *const names[] = {"zeta", "alpha", "mid"};
	static const uint64_t tokens[] = {9, 3, 7, 1};
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *s;
	unsigned int i = 0;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		create_ok(ctx, names[i]);
	/* an incoming session is not part of the outgoing walk */
	ck_assert_int_eq(luo_incoming_add_session(ctx, "in", &s), 0);
	s = luo_outgoing_first(ctx);
	for (i = 0; i < ARRAY_SIZE(tokens); i++) {
		int m = memfd_new(10, i);

		ck_assert_int_eq(preserve(s, tokens[i], m), 0);
		close(m);
	}
	ck_assert_uint_eq(luo_session_nr_files(s), ARRAY_SIZE(tokens));
	i = 0;
	for (struct luo_file *f = luo_file_first(s); f; f = luo_file_next(f), i++) {
		ck_assert_uint_eq(luo_file_token(f), tokens[i]);
		ck_assert_str_eq(luo_file_compatible(f), luo_memfd_handler.compatible);
		ck_assert_int_ge(luo_file_fd(f), 0);
	}
	ck_assert_uint_eq(i, ARRAY_SIZE(tokens));
	i = 0;
	for (s = luo_outgoing_first(ctx); s; s = luo_session_next(s), i++) {
		ck_assert_uint_lt(i, ARRAY_SIZE(names));
		ck_assert_str_eq(luo_session_name(s), names[i]);
	}
	ck_assert_uint_eq(i, ARRAY_SIZE(names));
	luo_ctx_free(ctx);
}
END_TEST

/* ======================================================================
 * Direction check and GET_NAME
 */

START_TEST(test_direction)
{
	enum luo_compat compat = compat_of[_i];
	int e = compat != LUO_COMPAT_6_19 ? -EINVAL : 0;
	struct luo_ctx *ctx = ctx_new(compat);
	struct luo_session *out = create_ok(ctx, "s"), *in = NULL;

	ck_assert_int_eq(luo_incoming_add_session(ctx, "s", &in), 0);
	in = retrieve_ok(ctx, "s");

	ck_assert_int_eq(luo_session_check_direction(out, LIVEUPDATE_CMD_SESSION_PRESERVE_FD), 0);
	ck_assert_int_eq(luo_session_check_direction(out, LIVEUPDATE_CMD_SESSION_RETRIEVE_FD), e);
	ck_assert_int_eq(luo_session_check_direction(out, LIVEUPDATE_CMD_SESSION_FINISH), e);
	ck_assert_int_eq(luo_session_check_direction(out, LIVEUPDATE_CMD_SESSION_GET_NAME), 0);

	ck_assert_int_eq(luo_session_check_direction(in, LIVEUPDATE_CMD_SESSION_PRESERVE_FD), e);
	ck_assert_int_eq(luo_session_check_direction(in, LIVEUPDATE_CMD_SESSION_RETRIEVE_FD), 0);
	ck_assert_int_eq(luo_session_check_direction(in, LIVEUPDATE_CMD_SESSION_FINISH), 0);
	ck_assert_int_eq(luo_session_check_direction(in, LIVEUPDATE_CMD_SESSION_GET_NAME), 0);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_get_name_padded)
{
	struct luo_ctx *ctx = ctx_new(LUO_COMPAT_7_2);
	uint8_t raw[LUO_NAME_LEN], out[LUO_NAME_LEN];
	struct luo_session *s = NULL, *in = NULL;
	char full[LUO_NAME_LEN];

	/* Garbage after the NUL of the caller's field does not come back. */
	memset(raw, 0xee, sizeof(raw));
	memcpy(raw, "abc", 4);
	ck_assert_int_eq(luo_session_create(ctx, raw, &s), 0);
	memset(out, 0xff, sizeof(out));
	ck_assert_int_eq(luo_session_get_name(s, out), 0);
	ck_assert_str_eq((char *)out, "abc");
	for (size_t i = 3; i < LUO_NAME_LEN; i++)
		ck_assert_uint_eq(out[i], 0);

	memset(full, 'z', LUO_NAME_LEN - 1);
	full[LUO_NAME_LEN - 1] = '\0';
	s = create_ok(ctx, full);
	memset(out, 0xff, sizeof(out));
	ck_assert_int_eq(luo_session_get_name(s, out), 0);
	ck_assert_mem_eq(out, full, LUO_NAME_LEN);

	/* Incoming sessions too. */
	ck_assert_int_eq(luo_incoming_add_session(ctx, "incoming", &in), 0);
	in = retrieve_ok(ctx, "incoming");
	memset(out, 0xff, sizeof(out));
	ck_assert_int_eq(luo_session_get_name(in, out), 0);
	ck_assert_str_eq((char *)out, "incoming");
	for (size_t i = strlen("incoming"); i < LUO_NAME_LEN; i++)
		ck_assert_uint_eq(out[i], 0);
	luo_ctx_free(ctx);
}
END_TEST

/* ======================================================================
 * Release of an outgoing session
 */

START_TEST(test_release_unpreserves)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *s = create_ok(ctx, "s");
	int m = memfd_new(SZ_A, 1), m2 = memfd_new(SZ_B, 2);

	ck_assert_int_eq(preserve(s, 1, m), 0);
	ck_assert_int_eq(preserve(s, 2, m2), 0);
	ck_stats(ctx, 1, 0, 2);
	luo_session_release(s);
	ck_stats(ctx, 0, 0, 0);
	/* The name is free and the memfd is no longer preserved (no EBUSY). */
	s = create_ok(ctx, "s");
	ck_assert_int_eq(preserve(s, 1, m), 0);
	ck_stats(ctx, 1, 0, 1);
	/* The file itself is untouched. */
	check_content(m, SZ_A, 1);
	check_content(m2, SZ_B, 2);
	luo_ctx_free(ctx);
	close(m);
	close(m2);
}
END_TEST

/* Nothing leaks: after freeing the contexts the fd table is as before. */
START_TEST(test_no_fd_leak)
{
	unsigned int before = count_open_fds();
	int a = -1, fd;
	struct luo_ctx *ctx = next_kernel(compat_of[_i], NULL, &a);
	struct luo_session *s = retrieve_ok(ctx, "s");

	fd = retrieve_fd(s, 1);
	ck_assert_int_ge(fd, 0);
	close(fd);
	luo_ctx_free(ctx);
	close(a);
	ck_assert_uint_eq(count_open_fds(), before);
}
END_TEST

/* ======================================================================
 * Incoming sessions (after handover)
 */

START_TEST(test_in_cold_boot_enoent)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *s = NULL;

	ck_assert_int_eq(retrieve_named(ctx, "s", &s), -ENOENT);
	create_ok(ctx, "s");
	/* an outgoing session is not an incoming one */
	ck_assert_int_eq(retrieve_named(ctx, "s", &s), -ENOENT);
	ck_stats(ctx, 1, 0, 0);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_in_retrieve_unknown)
{
	struct luo_ctx *ctx = next_kernel(compat_of[_i], NULL, NULL);
	struct luo_session *s = NULL;

	ck_stats(ctx, 0, 1, 2);
	ck_assert_int_eq(retrieve_named(ctx, "nope", &s), -ENOENT);
	ck_assert_int_eq(retrieve_named(ctx, "S", &s), -ENOENT);
	ck_stats(ctx, 0, 1, 2);
	retrieve_ok(ctx, "s");
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_in_retrieve_twice)
{
	struct luo_ctx *ctx = next_kernel(compat_of[_i], NULL, NULL);
	struct luo_session *s = retrieve_ok(ctx, "s"), *s2 = NULL;

	ck_assert_int_eq(retrieve_named(ctx, "s", &s2), -EINVAL);
	ck_stats(ctx, 0, 1, 2);
	/* Still EINVAL after FINISH while the session is open. */
	ck_assert_int_eq(luo_session_finish(s), 0);
	ck_assert_int_eq(retrieve_named(ctx, "s", &s2), -EINVAL);
	ck_assert_uint_eq(stats_of(ctx).incoming, 1);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_in_retrieve_fd_unknown_token)
{
	struct luo_ctx *ctx = next_kernel(compat_of[_i], NULL, NULL);
	struct luo_session *s = retrieve_ok(ctx, "s");
	int fd = -1;

	ck_assert_int_eq(luo_session_retrieve_fd(s, 3, &fd), -ENOENT);
	ck_assert_int_eq(luo_session_retrieve_fd(s, 0, &fd), -ENOENT);
	ck_assert_int_eq(luo_session_retrieve_fd(s, UINT64_MAX, &fd), -ENOENT);
	ck_stats(ctx, 0, 1, 2);
	/* an unknown token is not sticky for the known ones */
	fd = retrieve_fd(s, 1);
	ck_assert_int_ge(fd, 0);
	close(fd);
	luo_ctx_free(ctx);
}
END_TEST

/* A repeated RETRIEVE_FD gives the same open file description. */
START_TEST(test_in_retrieve_fd_same_ofd)
{
	struct luo_ctx *ctx = next_kernel(compat_of[_i], NULL, NULL);
	struct luo_session *s = retrieve_ok(ctx, "s");
	int fd1 = retrieve_fd(s, 1), fd2 = retrieve_fd(s, 1), fd3;

	ck_assert_int_ge(fd1, 0);
	ck_assert_int_ge(fd2, 0);
	ck_assert(same_inode(fd1, fd2));
	ck_assert_int_eq(lseek(fd1, 77, SEEK_SET), 77);
	ck_assert_int_eq(pos_of(fd2), 77);
	ck_assert_int_eq(lseek(fd2, 4000, SEEK_SET), 4000);
	ck_assert_int_eq(pos_of(fd1), 4000);
	fd3 = retrieve_fd(s, 1);
	ck_assert_int_eq(pos_of(fd3), 4000);
	/* another token is another file */
	close(fd3);
	fd3 = retrieve_fd(s, 2);
	ck_assert(!same_inode(fd1, fd3));
	check_content(fd3, SZ_B, 2);
	ck_stats(ctx, 0, 1, 2);
	luo_ctx_free(ctx);
	close(fd1);
	close(fd2);
	close(fd3);
}
END_TEST

/*
 * The retrieved file: O_RDWR|O_LARGEFILE, a new open file description,
 * content, size and the position at freeze; mode 0777 (kernel-observed.md,
 * "A retrieved memfd").
 */
START_TEST(test_in_retrieved_file)
{
	int a = -1;
	struct luo_ctx *ctx = next_kernel(compat_of[_i], NULL, &a);
	struct luo_session *s = retrieve_ok(ctx, "s");
	int fd = retrieve_fd(s, 1), fl;
	struct stat st;

	ck_assert_int_ge(fd, 0);
	fl = fcntl(fd, F_GETFL);
	ck_assert_int_ge(fl, 0);
	ck_assert_int_eq(fl & O_ACCMODE, O_RDWR);
	ck_assert_int_eq(fl & KERNEL_O_LARGEFILE, KERNEL_O_LARGEFILE);
	ck_assert_int_eq(pos_of(fd), POS_A);
	check_content(fd, SZ_A, 1);
	ck_assert_int_eq(pos_of(fd), POS_A);
	/* A new open file description: the old one's offset is independent. */
	ck_assert_int_eq(lseek(a, 10, SEEK_SET), 10);
	ck_assert_int_eq(pos_of(fd), POS_A);
	ck_assert_int_eq(lseek(fd, 20, SEEK_SET), 20);
	ck_assert_int_eq(pos_of(a), 10);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0777);
	ck_assert(S_ISREG(st.st_mode));
	/* Writable, and not frozen: it can grow. */
	ck_assert_int_eq(pwrite(fd, "xyz", 3, SZ_A), 3);
	ck_assert_int_eq(ftruncate(fd, 2 * SZ_A), 0);
	luo_ctx_free(ctx);
	close(fd);
	close(a);
}
END_TEST

/*
 * Seals are those at PRESERVE time (7.2; 6.19 restores unsealed).  What can
 * be asserted depends on the handler: if it rebuilds the file (a different
 * inode) the set must be exact; if it hands out a new open file description
 * of the same inode (exec mode), seals cannot be removed, so the retrieved
 * set must hold at least the preserve-time seals and the late one as well.
 */
START_TEST(test_in_seals_at_preserve)
{
	enum luo_compat compat = compat_of[_i];
	unsigned int at_preserve = F_SEAL_SHRINK, late = F_SEAL_GROW;
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_session *s;
	int m = memfd_new_flags(SZ_A, 1, MFD_ALLOW_SEALING), fd, seals;

	cfg_init(&cfg, compat, NULL);
	ctx = ctx_make(&cfg, true);
	s = create_ok(ctx, "s");
	ck_assert_int_eq(fcntl(m, F_ADD_SEALS, at_preserve), 0);
	ck_assert_int_eq(preserve(s, 1, m), 0);
	ck_assert_int_eq(fcntl(m, F_ADD_SEALS, late), 0);
	ctx = handover(ctx, &cfg);
	s = retrieve_ok(ctx, "s");
	fd = retrieve_fd(s, 1);
	ck_assert_int_ge(fd, 0);
	seals = fcntl(fd, F_GET_SEALS);
	ck_assert_int_ge(seals, 0);
	if (!same_inode(fd, m)) {
		ck_assert_int_eq(seals, compat != LUO_COMPAT_6_19 ? (int)at_preserve : 0);
		/* and sealing stays allowed */
		ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
	} else {
		ck_assert_int_eq(seals, (int)(at_preserve | late));
	}
	check_content(fd, SZ_A, 1);
	luo_ctx_free(ctx);
	close(fd);
	close(m);
}
END_TEST

START_TEST(test_in_finish_idempotent)
{
	struct luo_ctx *ctx = next_kernel(compat_of[_i], NULL, NULL);
	struct luo_session *s = retrieve_ok(ctx, "s");
	int fd = retrieve_fd(s, 1);

	ck_assert_int_eq(luo_session_finish(s), 0);
	ck_stats(ctx, 0, 1, 0);
	ck_assert_int_eq(luo_session_finish(s), 0);
	ck_assert_int_eq(luo_session_finish(s), 0);
	ck_stats(ctx, 0, 1, 0);
	/* The retrieved file outlives LUO's reference. */
	check_content(fd, SZ_A, 1);
	luo_ctx_free(ctx);
	close(fd);
}
END_TEST

/* After FINISH every RETRIEVE_FD is ENOENT, including retrieved tokens. */
START_TEST(test_in_finish_then_retrieve_fd)
{
	struct luo_ctx *ctx = next_kernel(compat_of[_i], NULL, NULL);
	struct luo_session *s = retrieve_ok(ctx, "s");
	int fd = retrieve_fd(s, 1), x = -1;

	ck_assert_int_eq(luo_session_finish(s), 0);
	ck_assert_int_eq(luo_session_retrieve_fd(s, 1, &x), -ENOENT);
	ck_assert_int_eq(luo_session_retrieve_fd(s, 2, &x), -ENOENT);
	ck_assert_int_eq(luo_session_retrieve_fd(s, 3, &x), -ENOENT);
	ck_stats(ctx, 0, 1, 0);
	luo_ctx_free(ctx);
	close(fd);
}
END_TEST

START_TEST(test_in_finish_unretrieved)
{
	struct luo_ctx *ctx = next_kernel(compat_of[_i], NULL, NULL);
	struct luo_session *s = retrieve_ok(ctx, "s");

	ck_stats(ctx, 0, 1, 2);
	ck_assert_int_eq(luo_session_finish(s), 0);
	ck_stats(ctx, 0, 1, 0);
	luo_session_release(s);
	ck_stats(ctx, 0, 0, 0);
	luo_ctx_free(ctx);
}
END_TEST

/* Closing a retrieved session is an implicit FINISH; the session is gone. */
START_TEST(test_in_release_implicit_finish)
{
	struct luo_ctx *ctx = next_kernel(compat_of[_i], NULL, NULL);
	struct luo_session *s = retrieve_ok(ctx, "s");
	int fd = retrieve_fd(s, 1);

	ck_assert_int_ge(fd, 0);
	luo_session_release(s);
	ck_stats(ctx, 0, 0, 0);
	ck_assert_int_eq(retrieve_named(ctx, "s", &s), -ENOENT);
	/* Retrieved memfds stay valid after the session is closed. */
	check_content(fd, SZ_A, 1);
	ck_assert_int_eq(pos_of(fd), POS_A);
	/* and it can be preserved again at once */
	ck_assert_int_eq(preserve(create_ok(ctx, "s"), 1, fd), 0);
	ck_stats(ctx, 1, 0, 1);
	luo_ctx_free(ctx);
	close(fd);
}
END_TEST

/* Retrieved but not finished: EBUSY (7.2); after FINISH it can be preserved. */
/*
 * A file preserved through an O_RDONLY fd comes back as a copy (another
 * inode); like the kernel's restored file it is busy until FINISH.
 */
START_TEST(test_in_represerve_copy_before_finish)
{
	enum luo_compat compat = compat_of[_i];
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_session *in, *out;
	int m = memfd_new(SZ_A, 1), ro = reopen(m, O_RDONLY), fd;

	cfg_init(&cfg, compat, NULL);
	ctx = ctx_make(&cfg, true);
	ck_assert_int_eq(preserve(create_ok(ctx, "s"), 1, ro), 0);
	ctx = handover(ctx, &cfg);
	in = retrieve_ok(ctx, "s");
	out = create_ok(ctx, "s");
	fd = retrieve_fd(in, 1);
	ck_assert(!same_inode(fd, m));
	check_content(fd, SZ_A, 1);
	if (compat != LUO_COMPAT_6_19) {
		ck_assert_int_eq(preserve(out, 1, fd), -EBUSY);
		ck_assert_int_eq(luo_session_finish(in), 0);
	}
	ck_assert_int_eq(preserve(out, 1, fd), 0);
	luo_ctx_free(ctx);
	close(fd);
	close(ro);
	close(m);
}
END_TEST

START_TEST(test_in_represerve_before_finish)
{
	enum luo_compat compat = compat_of[_i];
	struct luo_ctx *ctx = next_kernel(compat, NULL, NULL);
	struct luo_session *in = retrieve_ok(ctx, "s"), *out = create_ok(ctx, "s");
	int fd = retrieve_fd(in, 1);

	if (compat != LUO_COMPAT_6_19) {
		int r = reopen(fd, O_RDWR);

		ck_assert_int_eq(preserve(out, 1, fd), -EBUSY);
		ck_assert_int_eq(preserve(out, 1, r), -EBUSY);
		close(r);
		ck_stats(ctx, 1, 1, 2);
		ck_assert_int_eq(luo_session_finish(in), 0);
		ck_stats(ctx, 1, 1, 0);
		ck_assert_int_eq(preserve(out, 1, fd), 0);
		ck_stats(ctx, 1, 1, 1);
	} else {
		ck_assert_int_eq(preserve(out, 1, fd), 0);
		ck_stats(ctx, 1, 1, 3);
	}
	luo_ctx_free(ctx);
	close(fd);
}
END_TEST

/* A failed retrieve is sticky: the same errno for that token ever after. */
START_TEST(test_in_retrieve_fd_sticky_error)
{
	struct fault f = {0};
	struct luo_ctx *ctx = next_kernel(compat_of[_i], &f, NULL);
	struct luo_session *s = retrieve_ok(ctx, "s");
	int x = -1, fd;

	fault_arm(&f, LUO_FP_RETRIEVE_FD, -ENOMEM, 1);
	ck_assert_int_eq(luo_session_retrieve_fd(s, 1, &x), -ENOMEM);
	ck_assert_uint_eq(f.hits, 1);
	fault_arm(&f, NULL, 0, 0);
	ck_assert_int_eq(luo_session_retrieve_fd(s, 1, &x), -ENOMEM);
	ck_assert_int_eq(luo_session_retrieve_fd(s, 1, &x), -ENOMEM);
	/* other tokens are not affected */
	fd = retrieve_fd(s, 2);
	ck_assert_int_ge(fd, 0);
	check_content(fd, SZ_B, 2);
	ck_stats(ctx, 0, 1, 2);
	/* FINISH still works and then it is ENOENT like any token */
	ck_assert_int_eq(luo_session_finish(s), 0);
	ck_assert_int_eq(luo_session_retrieve_fd(s, 1, &x), -ENOENT);
	luo_ctx_free(ctx);
	close(fd);
}
END_TEST

START_TEST(test_in_unknown_compatible)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *in = NULL;
	uint8_t rec[16] = {0};
	int m = memfd_new(10, 1);

	ck_assert_int_eq(luo_incoming_add_session(ctx, "s", &in), 0);
	ck_assert_int_eq(luo_incoming_add_file(in, 1, "no-such-handler-v1", rec, sizeof(rec), m),
			 -ENOENT);
	ck_assert_int_eq(luo_incoming_add_file(in, 1, "", rec, sizeof(rec), m), -ENOENT);
	ck_assert(fd_is_open(m)); /* still ours */
	ck_stats(ctx, 0, 1, 0);
	luo_ctx_free(ctx);
	close(m);
}
END_TEST

/* Tokens 0 and 2^64-1 cross the update. */
START_TEST(test_in_token_extremes)
{
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_session *s;
	int m0 = memfd_new(SZ_A, 3), m1 = memfd_new(SZ_B, 4), fd0, fd1;

	cfg_init(&cfg, compat_of[_i], NULL);
	ctx = ctx_make(&cfg, true);
	s = create_ok(ctx, "s");
	ck_assert_int_eq(preserve(s, 0, m0), 0);
	ck_assert_int_eq(preserve(s, UINT64_MAX, m1), 0);
	ctx = handover(ctx, &cfg);
	s = retrieve_ok(ctx, "s");
	fd0 = retrieve_fd(s, 0);
	fd1 = retrieve_fd(s, UINT64_MAX);
	ck_assert_int_ge(fd0, 0);
	ck_assert_int_ge(fd1, 0);
	check_content(fd0, SZ_A, 3);
	check_content(fd1, SZ_B, 4);
	luo_ctx_free(ctx);
	close(fd0);
	close(fd1);
	close(m0);
	close(m1);
}
END_TEST

/*
 * Only outgoing sessions cross; incoming ones that were not retrieved, or
 * retrieved and not finished, are dropped.  A memfd re-preserved after
 * FINISH crosses a second update with its changes (kernel-observed.md).
 */
START_TEST(test_in_second_update)
{
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_session *in, *out, *s2 = NULL;
	int fd, m;

	cfg_init(&cfg, compat_of[_i], NULL);
	ctx = ctx_make(&cfg, true);
	m = memfd_new(SZ_A, 1);
	ck_assert_int_eq(preserve(create_ok(ctx, "a"), 1, m), 0);
	close(m);
	m = memfd_new(SZ_A, 2);
	ck_assert_int_eq(preserve(create_ok(ctx, "b"), 1, m), 0);
	close(m);
	m = memfd_new(SZ_A, 3);
	ck_assert_int_eq(preserve(create_ok(ctx, "c"), 1, m), 0);
	close(m);
	ctx = handover(ctx, &cfg);
	ck_stats(ctx, 0, 3, 3);

	/* a: retrieved, finished and carried on with changes */
	in = retrieve_ok(ctx, "a");
	fd = retrieve_fd(in, 1);
	ck_assert_int_eq(luo_session_finish(in), 0);
	ck_assert_int_eq(ftruncate(fd, SZ_B), 0);
	out = create_ok(ctx, "a2");
	ck_assert_int_eq(preserve(out, 9, fd), 0);
	close(fd);
	/* b: retrieved, not finished; c: never retrieved */
	retrieve_ok(ctx, "b");

	ctx = handover(ctx, &cfg);
	ck_stats(ctx, 0, 1, 1);
	ck_assert_int_eq(retrieve_named(ctx, "a", &s2), -ENOENT);
	ck_assert_int_eq(retrieve_named(ctx, "b", &s2), -ENOENT);
	ck_assert_int_eq(retrieve_named(ctx, "c", &s2), -ENOENT);
	in = retrieve_ok(ctx, "a2");
	fd = retrieve_fd(in, 9);
	ck_assert_int_ge(fd, 0);
	check_content(fd, SZ_B, 1);
	luo_ctx_free(ctx);
	close(fd);
}
END_TEST

/* 6.19 accepted an empty name; such a session crosses like any other. */
START_TEST(test_in_empty_name_6_19)
{
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_session *s = NULL;
	uint8_t name[LUO_NAME_LEN] = {0};
	int m = memfd_new(SZ_A, 1), fd;

	cfg_init(&cfg, LUO_COMPAT_6_19, NULL);
	ctx = ctx_make(&cfg, true);
	ck_assert_int_eq(luo_session_create(ctx, name, &s), 0);
	ck_assert_int_eq(preserve(s, 1, m), 0);
	ctx = handover(ctx, &cfg);
	ck_stats(ctx, 0, 1, 1);
	ck_assert_int_eq(luo_session_retrieve(ctx, name, &s), 0);
	fd = retrieve_fd(s, 1);
	ck_assert_int_ge(fd, 0);
	check_content(fd, SZ_A, 1);
	luo_ctx_free(ctx);
	close(fd);
	close(m);
}
END_TEST

START_TEST(test_in_drop_all)
{
	struct luo_ctx *ctx = next_kernel(compat_of[_i], NULL, NULL);
	struct luo_session *s = NULL;

	create_ok(ctx, "out");
	ck_stats(ctx, 1, 1, 2);
	luo_incoming_drop_all(ctx);
	ck_stats(ctx, 1, 0, 0);
	ck_assert_int_eq(retrieve_named(ctx, "s", &s), -ENOENT);
	luo_ctx_free(ctx);
}
END_TEST

/* ======================================================================
 * Freeze (the serialization side of the live update)
 */

/* Two sessions, three files: a, b in "s1"; c in "s2".  Returns the memfds. */
static void freeze_setup(struct luo_ctx *ctx, int m[3])
{
	struct luo_session *s1 = create_ok(ctx, "s1"), *s2 = create_ok(ctx, "s2");

	for (int i = 0; i < 3; i++)
		m[i] = memfd_new(SZ_A, i);
	ck_assert_int_eq(preserve(s1, 1, m[0]), 0);
	ck_assert_int_eq(preserve(s1, 2, m[1]), 0);
	ck_assert_int_eq(preserve(s2, 1, m[2]), 0);
}

/* The Nth freeze fails: the call returns its errno, everything stays usable. */
START_TEST(test_freeze_rollback)
{
	unsigned int nth = 1 + _i / 2;
	struct fault f = {0};
	struct luo_ctx *ctx = ctx_new_fault(compat_of[_i % 2], &f);
	struct luo_session *s = NULL;
	int m[3], m4 = memfd_new(10, 4), m5 = memfd_new(1, 5);

	freeze_setup(ctx, m);
	fault_arm(&f, LUO_FP_FREEZE_FILE, -ENOMEM, nth);
	ck_assert_int_eq(luo_freeze(ctx), -ENOMEM);
	/* stopped at the failing file */
	ck_assert_uint_eq(f.hits, nth);
	ck_assert(!luo_ctx_going_down(ctx));
	ck_assert(!stats_of(ctx).going_down);
	ck_stats(ctx, 2, 0, 3);
	/* usable: create, preserve, get_name */
	s = create_ok(ctx, "s3");
	ck_assert_int_eq(preserve(s, 1, m4), 0);
	ck_assert_int_eq(preserve(luo_outgoing_first(ctx), 7, m5), 0);
	ck_stats(ctx, 3, 0, 5);
	/* and a later freeze goes through every file */
	fault_arm(&f, LUO_FP_FREEZE_FILE, 0, 0);
	ck_assert_int_eq(luo_freeze(ctx), 0);
	ck_assert_uint_eq(f.hits, 5);
	ck_assert(luo_ctx_going_down(ctx));
	luo_ctx_free(ctx);
	for (int i = 0; i < 3; i++)
		close(m[i]);
	close(m4);
	close(m5);
}
END_TEST

/* A position changed after a failed freeze is the one recorded later. */
START_TEST(test_freeze_rollback_position)
{
	struct fault f = {0};
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_session *s;
	int m = memfd_new(SZ_A, 1), m2 = memfd_new(SZ_A, 2), fd;

	cfg_init(&cfg, compat_of[_i], &f);
	ctx = ctx_make(&cfg, true);
	s = create_ok(ctx, "s");
	ck_assert_int_eq(preserve(s, 1, m), 0);
	ck_assert_int_eq(preserve(s, 2, m2), 0);
	ck_assert_int_eq(lseek(m, 100, SEEK_SET), 100);
	fault_arm(&f, LUO_FP_FREEZE_FILE, -EIO, 2);
	ck_assert_int_eq(luo_freeze(ctx), -EIO);
	ck_assert(!luo_ctx_going_down(ctx));
	ck_assert_int_eq(lseek(m, 200, SEEK_SET), 200);
	fault_arm(&f, NULL, 0, 0);
	ctx = handover(ctx, &cfg);
	s = retrieve_ok(ctx, "s");
	fd = retrieve_fd(s, 1);
	ck_assert_int_eq(pos_of(fd), 200);
	luo_ctx_free(ctx);
	close(fd);
	close(m);
	close(m2);
}
END_TEST

/* After a successful freeze every session operation gives ESHUTDOWN. */
START_TEST(test_freeze_shutdown)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *out = create_ok(ctx, "out"), *in = NULL, *x = NULL;
	uint8_t name[LUO_NAME_LEN];
	int m = memfd_new(10, 1), m2 = memfd_new(10, 2), fd = -1;

	ck_assert_int_eq(preserve(out, 1, m), 0);
	ck_assert_int_eq(luo_incoming_add_session(ctx, "in", &in), 0);
	ck_assert_int_eq(luo_incoming_add_session(ctx, "in2", &x), 0);
	in = retrieve_ok(ctx, "in");
	ck_assert(!luo_ctx_going_down(ctx));

	ck_assert_int_eq(luo_freeze(ctx), 0);
	ck_assert(luo_ctx_going_down(ctx));
	ck_assert(stats_of(ctx).going_down);
	ck_assert_int_eq(create_named(ctx, "new", &x), -ESHUTDOWN);
	ck_assert_int_eq(retrieve_named(ctx, "in2", &x), -ESHUTDOWN);
	ck_assert_int_eq(preserve(out, 2, m2), -ESHUTDOWN);
	ck_assert_int_eq(luo_session_get_name(out, name), -ESHUTDOWN);
	ck_assert_int_eq(luo_session_get_name(in, name), -ESHUTDOWN);
	ck_assert_int_eq(luo_session_retrieve_fd(in, 1, &fd), -ESHUTDOWN);
	ck_assert_int_eq(luo_session_finish(in), -ESHUTDOWN);
	ck_stats(ctx, 1, 2, 1);

	luo_unfreeze(ctx);
	ck_assert(!luo_ctx_going_down(ctx));
	ck_assert(!stats_of(ctx).going_down);
	create_ok(ctx, "new");
	retrieve_ok(ctx, "in2");
	ck_assert_int_eq(preserve(out, 2, m2), 0);
	ck_assert_int_eq(luo_session_get_name(out, name), 0);
	ck_assert_str_eq((char *)name, "out");
	ck_assert_int_eq(luo_session_finish(in), 0);
	ck_stats(ctx, 2, 2, 2);
	luo_ctx_free(ctx);
	close(m);
	close(m2);
}
END_TEST

START_TEST(test_freeze_empty)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);

	ck_assert_int_eq(luo_freeze(ctx), 0);
	ck_assert(luo_ctx_going_down(ctx));
	luo_unfreeze(ctx);
	ck_assert(!luo_ctx_going_down(ctx));
	luo_ctx_free(ctx);
}
END_TEST

/* ======================================================================
 * Fault points: the hook's errno, state unchanged, a retry succeeds.
 */

START_TEST(test_fault_device_open)
{
	struct fault f = {0};
	struct luo_config cfg;
	struct luo_ctx *ctx;

	cfg_init(&cfg, compat_of[_i], &f);
	ctx = ctx_make(&cfg, false);
	fault_arm(&f, LUO_FP_DEVICE_OPEN, -ENOMEM, 0);
	ck_assert_int_eq(luo_device_open(ctx), -ENOMEM);
	ck_assert_uint_eq(f.hits, 1);
	ck_assert(!stats_of(ctx).device_open);
	fault_arm(&f, NULL, 0, 0);
	ck_assert_int_eq(luo_device_open(ctx), 0);
	ck_assert(stats_of(ctx).device_open);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_fault_session_create)
{
	struct fault f = {0};
	struct luo_ctx *ctx = ctx_new_fault(compat_of[_i], &f);
	struct luo_session *s = NULL;

	fault_arm(&f, LUO_FP_SESSION_CREATE, -ENOMEM, 0);
	ck_assert_int_eq(create_named(ctx, "s", &s), -ENOMEM);
	ck_assert_uint_eq(f.hits, 1);
	ck_stats(ctx, 0, 0, 0);
	ck_assert_ptr_null(luo_outgoing_first(ctx));
	fault_arm(&f, NULL, 0, 0);
	create_ok(ctx, "s"); /* the name was not taken */
	ck_stats(ctx, 1, 0, 0);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_fault_session_retrieve)
{
	struct fault f = {0};
	struct luo_ctx *ctx = next_kernel(compat_of[_i], &f, NULL);
	struct luo_session *s = NULL;

	fault_arm(&f, LUO_FP_SESSION_RETRIEVE, -ENOMEM, 0);
	ck_assert_int_eq(retrieve_named(ctx, "s", &s), -ENOMEM);
	ck_assert_uint_eq(f.hits, 1);
	ck_stats(ctx, 0, 1, 2);
	fault_arm(&f, NULL, 0, 0);
	s = retrieve_ok(ctx, "s"); /* not marked retrieved by the failure */
	ck_stats(ctx, 0, 1, 2);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_fault_session_finish)
{
	struct fault f = {0};
	struct luo_ctx *ctx = next_kernel(compat_of[_i], &f, NULL);
	struct luo_session *s = retrieve_ok(ctx, "s");
	int fd = retrieve_fd(s, 1), fd2;

	fault_arm(&f, LUO_FP_SESSION_FINISH, -ENOMEM, 0);
	ck_assert_int_eq(luo_session_finish(s), -ENOMEM);
	ck_assert_uint_eq(f.hits, 1);
	ck_stats(ctx, 0, 1, 2);
	/* not finished: retrieving still works */
	fd2 = retrieve_fd(s, 2);
	ck_assert_int_ge(fd2, 0);
	fault_arm(&f, NULL, 0, 0);
	ck_assert_int_eq(luo_session_finish(s), 0);
	ck_stats(ctx, 0, 1, 0);
	luo_ctx_free(ctx);
	close(fd);
	close(fd2);
}
END_TEST

/* "finish/can_finish": a handler veto makes FINISH fail (EBUSY). */
START_TEST(test_fault_finish_can_finish)
{
	struct fault f = {0};
	struct luo_ctx *ctx = next_kernel(compat_of[_i], &f, NULL);
	struct luo_session *s = retrieve_ok(ctx, "s");
	int fd = retrieve_fd(s, 1), fd2;

	fault_arm(&f, LUO_FP_FINISH_CAN_FINISH, -EBUSY, 0);
	ck_assert_int_eq(luo_session_finish(s), -EBUSY);
	ck_assert_uint_ge(f.hits, 1);
	ck_stats(ctx, 0, 1, 2);
	fd2 = retrieve_fd(s, 2);
	ck_assert_int_ge(fd2, 0);
	fault_arm(&f, NULL, 0, 0);
	ck_assert_int_eq(luo_session_finish(s), 0);
	ck_stats(ctx, 0, 1, 0);
	luo_ctx_free(ctx);
	close(fd);
	close(fd2);
}
END_TEST

/* The three PRESERVE_FD points: _i / 2 selects the point. */
START_TEST(test_fault_preserve)
{
	static const char *const points[] = {
		LUO_FP_PRESERVE_TOKEN,
		LUO_FP_PRESERVE_CAPACITY,
		LUO_FP_PRESERVE_HANDLER,
	};
	const char *point = points[_i / 2];
	struct fault f = {0};
	struct luo_ctx *ctx = ctx_new_fault(compat_of[_i % 2], &f);
	struct luo_session *s = create_ok(ctx, "s");
	int m = memfd_new(SZ_A, 1), m2 = memfd_new(SZ_B, 2);

	ck_assert_int_eq(preserve(s, 1, m), 0);
	fault_arm(&f, point, -ENOMEM, 0);
	ck_assert_msg(preserve(s, 2, m2) == -ENOMEM, "%s did not fail PRESERVE_FD", point);
	ck_assert_uint_eq(f.hits, 1);
	ck_stats(ctx, 1, 0, 1);
	ck_assert_uint_eq(luo_session_nr_files(s), 1);
	fault_arm(&f, NULL, 0, 0);
	/* neither the token nor the file was taken */
	ck_assert_int_eq(preserve(s, 2, m2), 0);
	ck_stats(ctx, 1, 0, 2);
	luo_ctx_free(ctx);
	close(m);
	close(m2);
}
END_TEST

START_TEST(test_fault_retrieve_fd)
{
	struct fault f = {0};
	struct luo_ctx *ctx = next_kernel(compat_of[_i], &f, NULL);
	struct luo_session *s = retrieve_ok(ctx, "s");
	int x = -1, fd;

	fault_arm(&f, LUO_FP_RETRIEVE_FD, -EIO, 0);
	ck_assert_int_eq(luo_session_retrieve_fd(s, 2, &x), -EIO);
	ck_assert_uint_eq(f.hits, 1);
	ck_stats(ctx, 0, 1, 2);
	fault_arm(&f, NULL, 0, 0);
	/* token 1 was never tried: it works; token 2 stays failed (sticky) */
	fd = retrieve_fd(s, 1);
	ck_assert_int_ge(fd, 0);
	check_content(fd, SZ_A, 1);
	ck_assert_int_eq(luo_session_retrieve_fd(s, 2, &x), -EIO);
	luo_ctx_free(ctx);
	close(fd);
}
END_TEST

START_TEST(test_fault_deserialize)
{
	struct fault f = {0};
	struct luo_config cfg;
	struct luo_ctx *old, *ctx;
	struct luo_session *s, *in = NULL;
	const void *rec;
	void *copy;
	size_t len = 0;
	int m = memfd_new(SZ_A, 1), ref, fd;

	cfg_init(&cfg, compat_of[_i], &f);
	old = ctx_make(&cfg, true);
	s = create_ok(old, "s");
	ck_assert_int_eq(preserve(s, 1, m), 0);
	ck_assert_int_eq(luo_freeze(old), 0);
	rec = luo_file_record(luo_file_first(s), &len);
	copy = malloc(len + 1);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, rec, len);

	ctx = ctx_make(&cfg, false);
	ck_assert_int_eq(luo_incoming_add_session(ctx, "s", &in), 0);
	ref = dup(luo_file_fd(luo_file_first(s)));
	fault_arm(&f, LUO_FP_DESERIALIZE, -ENOMEM, 0);
	ck_assert_int_eq(luo_incoming_add_file(in, 1, luo_memfd_handler.compatible, copy, len, ref),
			 -ENOMEM);
	ck_assert_uint_eq(f.hits, 1);
	ck_assert(fd_is_open(ref));
	ck_stats(ctx, 0, 1, 0);
	fault_arm(&f, NULL, 0, 0);
	ck_assert_int_eq(luo_incoming_add_file(in, 1, luo_memfd_handler.compatible, copy, len, ref),
			 0);
	ck_stats(ctx, 0, 1, 1);
	free(copy);
	luo_ctx_free(old);
	ck_assert_int_eq(luo_device_open(ctx), 0);
	s = retrieve_ok(ctx, "s");
	fd = retrieve_fd(s, 1);
	check_content(fd, SZ_A, 1);
	luo_ctx_free(ctx);
	close(fd);
	close(m);
}
END_TEST

/* ====================================================================== */

/* ---- compat levels, pin policy --------------------------------------- */

START_TEST(test_compat_parse)
{
	static const struct {
		const char *s;
		enum luo_compat c;
	} ok[] = {{"7.3", LUO_COMPAT_7_3}, {"7.2", LUO_COMPAT_7_2}, {"6.19", LUO_COMPAT_6_19}};
	static const char *const bad[] = {"", "7", "7.4", "7.2 ", "6.18", "7.3.4", "auto"};
	struct luo_ctx *ctx = NULL;
	enum luo_compat c;
	enum luo_pin pin;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		c = LUO_COMPAT_6_19 + 1;
		ck_assert_int_eq(luo_compat_parse(ok[i].s, &c), 0);
		ck_assert_int_eq(c, ok[i].c);
		ck_assert_str_eq(luo_compat_name(c), ok[i].s);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_int_eq(luo_compat_parse(bad[i], &c), -EINVAL);
	ck_assert_int_eq(luo_compat_parse(NULL, &c), -EINVAL);
	ck_assert_str_eq(luo_compat_name((enum luo_compat)42), "?");
	/* Only 7.3 checks FINISH's reserved field. */
	ck_assert(luo_compat_finish_checks_reserved(LUO_COMPAT_7_3));
	ck_assert(!luo_compat_finish_checks_reserved(LUO_COMPAT_7_2));
	ck_assert(!luo_compat_finish_checks_reserved(LUO_COMPAT_6_19));
	/* A zeroed config is 7.3 with pin=auto; an unknown level is refused. */
	ck_assert_int_eq(luo_ctx_new(NULL, &ctx), 0);
	ck_assert_int_eq(luo_ctx_compat(ctx), LUO_COMPAT_7_3);
	luo_ctx_free(ctx);
	{
		struct luo_config cfg = {.compat = (enum luo_compat)3};

		ck_assert_int_eq(luo_ctx_new(&cfg, &ctx), -EINVAL);
		cfg.compat = LUO_COMPAT_7_3;
		cfg.pin = (enum luo_pin)3;
		ck_assert_int_eq(luo_ctx_new(&cfg, &ctx), -EINVAL);
	}
	ck_assert_int_eq(luo_pin_parse("auto", &pin), 0);
	ck_assert_int_eq(pin, LUO_PIN_AUTO);
	ck_assert_int_eq(luo_pin_parse("on", &pin), 0);
	ck_assert_int_eq(pin, LUO_PIN_ON);
	ck_assert_int_eq(luo_pin_parse("off", &pin), 0);
	ck_assert_int_eq(pin, LUO_PIN_OFF);
	ck_assert_int_eq(luo_pin_parse("yes", &pin), -EINVAL);
	ck_assert_str_eq(luo_pin_name(LUO_PIN_ON), "on");
}
END_TEST

/* ---- owners ---------------------------------------------------------- */

static int create_as(struct luo_ctx *ctx, const char *s, uid_t uid, struct luo_session **ret)
{
	uint8_t name[LUO_NAME_LEN];

	name_fill(name, s);
	return luo_session_create_as(ctx, name, uid, ret);
}

static int retrieve_as(struct luo_ctx *ctx, const char *s, uid_t uid, struct luo_session **ret)
{
	uint8_t name[LUO_NAME_LEN];

	name_fill(name, s);
	return luo_session_retrieve_as(ctx, name, uid, ret);
}

START_TEST(test_owner_rules)
{
	struct luo_ctx *ctx = ctx_new(compat_of[_i]);
	struct luo_session *s = NULL, *in = NULL;

	ck_assert_int_eq(create_as(ctx, "mine", 1000, &s), 0);
	ck_assert_uint_eq(luo_session_owner(s), 1000);
	s = create_ok(ctx, "root's");
	ck_assert_uint_eq(luo_session_owner(s), 0);
	ck_assert_int_eq(luo_incoming_add_session_owned(ctx, "vm", 1000, &in), 0);
	ck_assert_uint_eq(luo_session_owner(in), 1000);
	ck_assert_int_eq(luo_incoming_add_session(ctx, "old", &in), 0);
	ck_assert_uint_eq(luo_session_owner(in), 0);
	/* Another uid sees nothing, retrieved or not: ENOENT, never EINVAL. */
	ck_assert_int_eq(retrieve_as(ctx, "vm", 2000, &s), -ENOENT);
	ck_assert_int_eq(retrieve_as(ctx, "old", 2000, &s), -ENOENT);
	ck_assert_int_eq(retrieve_as(ctx, "vm", 1000, &s), 0);
	ck_assert_int_eq(retrieve_as(ctx, "vm", 2000, &s), -ENOENT);
	ck_assert_int_eq(retrieve_as(ctx, "vm", 1000, &s), -EINVAL);
	/* root sees everything. */
	ck_assert_int_eq(retrieve_as(ctx, "old", 0, &s), 0);
	luo_ctx_free(ctx);
}
END_TEST

/* ---- undo of a call whose fd could not be installed ------------------ */

START_TEST(test_unretrieve)
{
	struct luo_ctx *ctx;
	struct luo_session *s;
	bool first = false;
	int a = -1, fd = -1, fd2 = -1;

	ctx = next_kernel(compat_of[_i], NULL, &a);
	s = retrieve_ok(ctx, "s");
	ck_assert_int_eq(luo_session_unretrieve(s), 0);
	ck_assert_int_eq(luo_session_unretrieve(s), -EINVAL);
	ck_stats(ctx, 0, 1, 2);
	s = retrieve_ok(ctx, "s");
	ck_assert_int_eq(luo_session_retrieve_fd_first(s, 1, &fd, &first), 0);
	ck_assert(first);
	ck_assert_int_eq(luo_session_retrieve_fd_first(s, 1, &fd2, &first), 0);
	ck_assert(!first);
	ck_assert_int_eq(fd, fd2);
	/* Handed out twice: the undo of the second leaves it alone. */
	luo_session_unretrieve_fd(s, 1);
	ck_assert(fd_is_open(fd));
	luo_session_unretrieve_fd(s, 0x5eed); /* unknown token: nothing */
	ck_stats(ctx, 0, 1, 2);
	ck_assert_int_eq(luo_session_finish(s), 0);
	luo_session_unretrieve_fd(s, 1); /* finished: nothing */
	ck_assert_int_eq(luo_session_unretrieve(s), -EINVAL);
	luo_session_release(s);
	/* An outgoing session is never "unretrieved". */
	s = create_ok(ctx, "out");
	ck_assert_int_eq(luo_session_unretrieve(s), -EINVAL);
	close(a);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_unretrieve_fd_first)
{
	struct luo_ctx *ctx;
	struct luo_session *s;
	bool first = false;
	int a = -1, fd = -1, r1, r2;

	ctx = next_kernel(compat_of[_i], NULL, &a);
	s = retrieve_ok(ctx, "s");
	ck_assert_int_eq(luo_session_retrieve_fd_first(s, 1, &fd, &first), 0);
	ck_assert(first);
	r1 = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	luo_session_unretrieve_fd(s, 1);
	/* Retrievable again as a new open file description, contents intact. */
	ck_assert_int_eq(luo_session_retrieve_fd_first(s, 1, &fd, &first), 0);
	ck_assert(first);
	r2 = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	check_content(r2, SZ_A, 1);
	ck_assert_int_eq(lseek(r1, 5, SEEK_SET), 5);
	ck_assert_int_eq(pos_of(r2), POS_A);
	close(r1);
	close(r2);
	close(a);
	luo_ctx_free(ctx);
}
END_TEST

/* ---- quotas ---------------------------------------------------------- */

struct log_lines {
	unsigned int n;
	char last[512];
};

static void log_keep(void *data, int prio, const char *msg)
{
	struct log_lines *l = data;

	(void)prio;
	l->n++;
	snprintf(l->last, sizeof(l->last), "%s", msg);
}

static struct luo_ctx *ctx_quota(enum luo_compat compat, struct luo_quota q, struct log_lines *l)
{
	struct luo_config cfg;

	cfg_init(&cfg, compat, NULL);
	cfg.quota = q;
	cfg.log = log_keep;
	cfg.log_data = l;
	return ctx_make(&cfg, true);
}

START_TEST(test_quota_sessions)
{
	enum luo_compat compat = compat_of[_i];
	int want = compat != LUO_COMPAT_6_19 ? -ENOSPC : -ENOMEM;
	struct log_lines l = {0};
	struct luo_ctx *ctx = ctx_quota(compat, (struct luo_quota){.sessions = 2}, &l);
	struct luo_session *a, *b, *s;

	ck_assert_int_eq(create_as(ctx, "a", 1000, &a), 0);
	ck_assert_int_eq(create_as(ctx, "b", 1000, &b), 0);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_int_eq(create_as(ctx, "c", 1000, &s), want);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(l.last, "uid 1000: session quota of 2 reached");
	/* Exhaustion comes before the duplicate check, as the kernel's table. */
	ck_assert_int_eq(create_as(ctx, "a", 1000, &s), want);
	/* Per uid: others are not affected; incoming sessions do not count. */
	ck_assert_int_eq(create_as(ctx, "c", 1001, &s), 0);
	ck_assert_int_eq(luo_incoming_add_session_owned(ctx, "in", 1000, &s), 0);
	/* A closed session gives its slot back; a failed create took none. */
	luo_session_release(a);
	ck_assert_int_eq(create_as(ctx, "a", 1000, &a), 0);
	ck_assert_int_eq(create_as(ctx, "d", 1000, &s), want);
	ck_stats(ctx, 3, 1, 0);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_quota_files)
{
	struct log_lines l = {0};
	struct luo_ctx *ctx = ctx_quota(compat_of[_i], (struct luo_quota){.files = 3}, &l);
	struct luo_session *a, *b, *c;
	int m[5];

	for (int i = 0; i < 5; i++)
		m[i] = memfd_new(100, i);
	ck_assert_int_eq(create_as(ctx, "a", 1000, &a), 0);
	ck_assert_int_eq(create_as(ctx, "b", 1000, &b), 0);
	ck_assert_int_eq(create_as(ctx, "c", 1001, &c), 0);
	ck_assert_int_eq(preserve(a, 1, m[0]), 0);
	ck_assert_int_eq(preserve(a, 2, m[1]), 0);
	ck_assert_int_eq(preserve(b, 1, m[2]), 0);
	/* The owner's quota spans its sessions. */
	ck_assert_int_eq(preserve(b, 2, m[3]), -ENOSPC);
	ck_assert_str_eq(l.last, "uid 1000: preserved-file quota of 3 reached");
	ck_assert_int_eq(preserve(c, 1, m[3]), 0);
	/* Closing a session gives its files back. */
	luo_session_release(a);
	ck_assert_int_eq(preserve(b, 2, m[4]), 0);
	ck_stats(ctx, 2, 0, 3);
	for (int i = 0; i < 5; i++)
		close(m[i]);
	luo_ctx_free(ctx);
}
END_TEST

START_TEST(test_quota_bytes)
{
	struct log_lines l = {0};
	struct luo_ctx *ctx = ctx_quota(compat_of[_i], (struct luo_quota){.bytes = 10000}, &l);
	struct luo_session *a, *b;
	int m1 = memfd_new(6000, 1), m2 = memfd_new(6000, 2), m3 = memfd_new(4000, 3);

	ck_assert_int_eq(create_as(ctx, "a", 1000, &a), 0);
	ck_assert_int_eq(create_as(ctx, "b", 1000, &b), 0);
	ck_assert_int_eq(preserve(a, 1, m1), 0);
	ck_assert_int_eq(preserve(b, 1, m2), -ENOMEM);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_ptr_nonnull(strstr(l.last, "uid 1000: preserved-bytes quota of 10000"));
	ck_assert_int_eq(preserve(b, 1, m3), 0);
	ck_stats(ctx, 2, 0, 2);
	/* Closing the first session gives its 6000 bytes back. */
	luo_session_release(a);
	ck_assert_int_eq(preserve(b, 2, m2), 0);
	close(m1);
	close(m2);
	close(m3);
	luo_ctx_free(ctx);
}
END_TEST

/* The defaults fit the kernel selftests' scale: 2000 sessions, 500 files in one. */
START_TEST(test_quota_defaults)
{
	struct luo_ctx *ctx = ctx_new(LUO_COMPAT_7_3);
	struct luo_session *s = NULL;
	char name[LUO_NAME_LEN] = {0};
	int m = memfd_new(16, 1);

	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		ck_assert_int_eq(create_as(ctx, name, 1000, &s), 0);
	}
	for (int i = 0; i < 500; i++) {
		int fd = memfd_new(16, i);

		ck_assert_int_eq(preserve(s, (uint64_t)i, fd), 0);
		close(fd);
	}
	close(m);
	luo_ctx_free(ctx);
}
END_TEST

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc;

	tc = tcase_create("device");
	tcase_add_loop_test(tc, test_device_single_open, 0, 2);
	tcase_add_loop_test(tc, test_device_release_keeps_sessions, 0, 2);
	tcase_add_loop_test(tc, test_device_incoming_error_eio, 0, 6);
	tcase_add_loop_test(tc, test_device_liveupdate_count, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("create");
	tcase_add_loop_test(tc, test_create_name_lengths, 0, 2);
	tcase_add_test(tc, test_create_empty_name_7_2);
	tcase_add_test(tc, test_create_unterminated_name_7_2);
	tcase_add_test(tc, test_create_empty_name_6_19);
	tcase_add_test(tc, test_create_unterminated_name_6_19);
	tcase_add_loop_test(tc, test_create_duplicate, 0, 2);
	tcase_add_loop_test(tc, test_create_shares_name_with_incoming, 0, 2);
	tcase_add_loop_test(tc, test_create_release_frees_name, 0, 2);
	tcase_add_loop_test(tc, test_create_max_sessions, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("preserve");
	tcase_add_loop_test(tc, test_preserve_token_used, 0, 2);
	tcase_add_loop_test(tc, test_preserve_capacity, 0, 2);
	tcase_add_test(tc, test_preserve_capacity_6_19_default);
	tcase_add_loop_test(tc, test_preserve_badf, 0, 2);
	tcase_add_loop_test(tc, test_preserve_opath, 0, 2);
	tcase_add_loop_test(tc, test_preserve_no_handler, 0, 2 * K_NR_UNSUPPORTED);
	tcase_add_loop_test(tc, test_preserve_accepted_kinds, 0, 2 * 3);
	tcase_add_loop_test(tc, test_preserve_same_inode, 0, 2 * BUSY_NR);
	tcase_add_test(tc, test_preserve_busy_order);
	tcase_add_loop_test(tc, test_preserve_token_extremes, 0, 2);
	tcase_add_loop_test(tc, test_preserve_fd_ownership, 0, 2);
	tcase_add_loop_test(tc, test_outgoing_walk_order, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("session");
	tcase_add_loop_test(tc, test_direction, 0, 2);
	tcase_add_test(tc, test_get_name_padded);
	tcase_add_loop_test(tc, test_release_unpreserves, 0, 2);
	tcase_add_loop_test(tc, test_no_fd_leak, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("incoming");
	tcase_add_loop_test(tc, test_in_cold_boot_enoent, 0, 2);
	tcase_add_loop_test(tc, test_in_retrieve_unknown, 0, 2);
	tcase_add_loop_test(tc, test_in_retrieve_twice, 0, 2);
	tcase_add_loop_test(tc, test_in_retrieve_fd_unknown_token, 0, 2);
	tcase_add_loop_test(tc, test_in_retrieve_fd_same_ofd, 0, 2);
	tcase_add_loop_test(tc, test_in_retrieved_file, 0, 2);
	tcase_add_loop_test(tc, test_in_seals_at_preserve, 0, 2);
	tcase_add_loop_test(tc, test_in_finish_idempotent, 0, 2);
	tcase_add_loop_test(tc, test_in_finish_then_retrieve_fd, 0, 2);
	tcase_add_loop_test(tc, test_in_finish_unretrieved, 0, 2);
	tcase_add_loop_test(tc, test_in_release_implicit_finish, 0, 2);
	tcase_add_loop_test(tc, test_in_represerve_before_finish, 0, 2);
	tcase_add_loop_test(tc, test_in_represerve_copy_before_finish, 0, 2);
	tcase_add_loop_test(tc, test_in_retrieve_fd_sticky_error, 0, 2);
	tcase_add_loop_test(tc, test_in_unknown_compatible, 0, 2);
	tcase_add_loop_test(tc, test_in_token_extremes, 0, 2);
	tcase_add_loop_test(tc, test_in_second_update, 0, 2);
	tcase_add_test(tc, test_in_empty_name_6_19);
	tcase_add_loop_test(tc, test_in_drop_all, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("freeze");
	tcase_add_loop_test(tc, test_freeze_rollback, 0, 2 * 3);
	tcase_add_loop_test(tc, test_freeze_rollback_position, 0, 2);
	tcase_add_loop_test(tc, test_freeze_shutdown, 0, 2);
	tcase_add_loop_test(tc, test_freeze_empty, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("compat");
	tcase_add_test(tc, test_compat_parse);
	suite_add_tcase(s, tc);

	tc = tcase_create("owner");
	tcase_add_loop_test(tc, test_owner_rules, 0, 2);
	tcase_add_loop_test(tc, test_unretrieve, 0, 2);
	tcase_add_loop_test(tc, test_unretrieve_fd_first, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("quota");
	tcase_add_loop_test(tc, test_quota_sessions, 0, 2);
	tcase_add_loop_test(tc, test_quota_files, 0, 2);
	tcase_add_loop_test(tc, test_quota_bytes, 0, 2);
	tcase_add_test(tc, test_quota_defaults);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("fault");
	tcase_add_loop_test(tc, test_fault_device_open, 0, 2);
	tcase_add_loop_test(tc, test_fault_session_create, 0, 2);
	tcase_add_loop_test(tc, test_fault_session_retrieve, 0, 2);
	tcase_add_loop_test(tc, test_fault_session_finish, 0, 2);
	tcase_add_loop_test(tc, test_fault_finish_can_finish, 0, 2);
	tcase_add_loop_test(tc, test_fault_preserve, 0, 2 * 3);
	tcase_add_loop_test(tc, test_fault_retrieve_fd, 0, 2);
	tcase_add_loop_test(tc, test_fault_deserialize, 0, 2);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	static const enum luo_compat newest[] = {LUO_COMPAT_7_2, LUO_COMPAT_7_3};
	int failed = 0;

	/* Every compat loop once with 7.2 and once with 7.3 beside 6.19. */
	for (size_t i = 0; i < ARRAY_SIZE(newest); i++) {
		SRunner *sr;

		compat_of[0] = newest[i];
		printf("== compat levels %s and 6.19\n", luo_compat_name(newest[i]));
		sr = srunner_create(core_suite());
		srunner_run_all(sr, CK_NORMAL);
		failed += srunner_ntests_failed(sr);
		srunner_free(sr);
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
