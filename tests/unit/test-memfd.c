// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests of the memfd handler ("memfd-v2"), against luo_memfd_handler
 * directly and through sessions and an in-process handover.
 *
 * Rules: luo-uapi.md §6 and kernel-observed.md ("The memfd handler accepts
 * any shmem file with i_nlink == 0", "Preserved memfd while still in the old
 * kernel", "A retrieved memfd").
 *
 * Two ways a file reaches the next "kernel" are exercised:
 *  - exec mode: the data holder is a dup of the preserved file (same inode),
 *    as when the daemon hands its fds over; seals cannot be taken away from
 *    an inode, so only "at least the preserve-time seals" is observable;
 *  - rebuilt holder: the data holder is another memfd with the same bytes
 *    (as a daemon restoring from a blob would make); then the record alone
 *    decides position and seals, which shows what the record captured.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <linux/capability.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <syslog.h>
#include <unistd.h>

#include "state/handler.h"
#include "state/luo.h"
#include "util.h"
#include "luo-test.h"

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#define TMPFS_MAGIC_ 0x01021994

#define SZ	  12288
#define SZ_SPARSE (16u << 20)

static const struct luo_file_handler *const H = &luo_memfd_handler;
/* main() runs the suite with compat_of[0] = 7.2, then 7.3 (the default). */
static enum luo_compat compat_of[] = {LUO_COMPAT_7_2, LUO_COMPAT_6_19};

/* ---- helpers --------------------------------------------------------- */

static int seals_of(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	ck_assert_int_ge(seals, 0);
	return seals;
}

static bool handler_accepts(int fd)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	return H->can_preserve(fd, &st);
}

/* ---- contexts, sessions, handover ------------------------------------ */

struct log_sink {
	unsigned int warnings;
};

static void log_fn(void *data, int prio, const char *msg)
{
	struct log_sink *l = data;

	if (prio <= LOG_WARNING)
		l->warnings++;
}

static void cfg_init(struct luo_config *cfg, enum luo_compat compat, struct log_sink *log)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->compat = compat;
	if (log) {
		cfg->log = log_fn;
		cfg->log_data = log;
	}
}

static struct luo_ctx *ctx_make(const struct luo_config *cfg)
{
	struct luo_ctx *ctx = NULL;

	ck_assert_int_eq(luo_ctx_new(cfg, &ctx), 0);
	ck_assert_int_eq(luo_device_open(ctx), 0);
	return ctx;
}

static struct luo_session *create_ok(struct luo_ctx *ctx, const char *s)
{
	uint8_t name[LUO_NAME_LEN] = {0};
	struct luo_session *ses = NULL;

	memcpy(name, s, strlen(s));
	ck_assert_int_eq(luo_session_create(ctx, name, &ses), 0);
	return ses;
}

static struct luo_session *retrieve_ok(struct luo_ctx *ctx, const char *s)
{
	uint8_t name[LUO_NAME_LEN] = {0};
	struct luo_session *ses = NULL;

	memcpy(name, s, strlen(s));
	ck_assert_int_eq(luo_session_retrieve(ctx, name, &ses), 0);
	return ses;
}

/* PRESERVE_FD of a dup of @fd by this process's uid (the model owns the dup on success). */
static int preserve(struct luo_session *s, uint64_t token, int fd)
{
	int ref = fcntl(fd, F_DUPFD_CLOEXEC, 0), r;

	ck_assert_int_ge(ref, 0);
	r = luo_session_preserve_fd_as(s, token, ref, geteuid());
	if (r < 0)
		close(ref);
	return r;
}

/* RETRIEVE_FD: a dup of the model's fd. */
static int retrieve_fd(struct luo_session *s, uint64_t token)
{
	int fd = -1;

	ck_assert_int_eq(luo_session_retrieve_fd(s, token, &fd), 0);
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/*
 * Preserve @m as token 1 of session "s" in a fresh context, hand over
 * (optionally with a rebuilt @holder), and return the retrieved fd.
 * @between runs after PRESERVE and before the freeze.
 */
static int roundtrip(enum luo_compat compat, int m, int holder, void (*between)(int m))
{
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_session *s;
	int fd;

	cfg_init(&cfg, compat, NULL);
	ctx = ctx_make(&cfg);
	ck_assert_int_eq(preserve(create_ok(ctx, "s"), 1, m), 0);
	if (between)
		between(m);
	ctx = handover_holder(ctx, &cfg, holder);
	s = retrieve_ok(ctx, "s");
	fd = retrieve_fd(s, 1);
	ck_assert_int_eq(luo_session_finish(s), 0);
	luo_ctx_free(ctx);
	return fd;
}

/* ======================================================================
 * can_preserve, get_id, check_record
 */

START_TEST(test_compatible)
{
	ck_assert_str_eq(H->compatible, "memfd-v2");
	ck_assert_ptr_nonnull(H->can_preserve);
	ck_assert_ptr_nonnull(H->get_id);
	ck_assert_ptr_nonnull(H->preserve);
	ck_assert_ptr_nonnull(H->check_record);
	ck_assert_ptr_nonnull(H->retrieve);
}
END_TEST

enum accepted { A_MEMFD, A_MEMFD_SEALABLE, A_MEMFD_NOEXEC, A_TMPFILE, A_UNLINKED, A_NR };

START_TEST(test_can_preserve_accepts)
{
	char path[] = "/dev/shm/luoemu-test-XXXXXX";
	int fd = -1;

	switch ((enum accepted)_i) {
	case A_MEMFD:
		fd = memfd_new_flags(10, 1, 0);
		break;
	case A_MEMFD_SEALABLE:
		fd = memfd_new_flags(10, 1, MFD_ALLOW_SEALING);
		break;
	case A_MEMFD_NOEXEC:
		fd = memfd_create("noexec", MFD_CLOEXEC | MFD_NOEXEC_SEAL);
		if (fd < 0) {
			fprintf(stderr, "skip: MFD_NOEXEC_SEAL: %s\n", strerror(errno));
			return;
		}
		break;
	case A_TMPFILE:
		fd = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		break;
	default:
		fd = mkostemp(path, O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(unlink(path), 0);
		break;
	}
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(handler_accepts(fd), "kind %d rejected", _i);
	close(fd);
}
END_TEST

enum rejected {
	R_NAMED_TMPFS,
	R_HUGETLB,
	R_PIPE,
	R_SOCKET,
	R_DEVNULL,
	R_DIR,
	R_EVENTFD,
	R_PROCFS,
	R_TMPFILE_NOT_TMPFS,
	R_NR
};

START_TEST(test_can_preserve_rejects)
{
	char path[] = "/dev/shm/luoemu-test-XXXXXX";
	struct statfs sfs;
	int fds[2], fd = -1;

	path[0] = '\0';
	switch ((enum rejected)_i) {
	case R_NAMED_TMPFS:
		strcpy(path, "/dev/shm/luoemu-test-XXXXXX");
		fd = mkostemp(path, O_CLOEXEC);
		break;
	case R_HUGETLB:
		fd = memfd_create("huge", MFD_CLOEXEC | MFD_HUGETLB);
		if (fd < 0) {
			fprintf(stderr, "skip: MFD_HUGETLB: %s\n", strerror(errno));
			return;
		}
		break;
	case R_PIPE:
		ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
		close(fds[1]);
		fd = fds[0];
		break;
	case R_SOCKET:
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
		close(fds[1]);
		fd = fds[0];
		break;
	case R_DEVNULL:
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		break;
	case R_DIR:
		fd = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		break;
	case R_EVENTFD:
		fd = eventfd(0, EFD_CLOEXEC);
		break;
	case R_PROCFS:
		fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
		break;
	default:
		/* unlinked, but not shmem: /var/tmp on a disk filesystem */
		if (statfs("/var/tmp", &sfs) < 0 || sfs.f_type == TMPFS_MAGIC_) {
			fprintf(stderr, "skip: /var/tmp is tmpfs or missing\n");
			return;
		}
		fd = open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0) {
			fprintf(stderr, "skip: O_TMPFILE on /var/tmp: %s\n", strerror(errno));
			return;
		}
		break;
	}
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(!handler_accepts(fd), "kind %d accepted", _i);
	close(fd);
	if (path[0])
		unlink(path);
}
END_TEST

START_TEST(test_get_id)
{
	int a = memfd_new_flags(10, 1, 0), b = memfd_new_flags(10, 1, 0);
	int d = dup(a), r = reopen(a, O_RDONLY);
	struct luo_file_id ia, ib, id, ir;
	struct stat st;

	ck_assert_int_eq(H->get_id(a, &ia), 0);
	ck_assert_int_eq(H->get_id(b, &ib), 0);
	ck_assert_int_eq(H->get_id(d, &id), 0);
	ck_assert_int_eq(H->get_id(r, &ir), 0);
	ck_assert(ia.dev == id.dev && ia.ino == id.ino);
	ck_assert(ia.dev == ir.dev && ia.ino == ir.ino);
	ck_assert(!(ia.dev == ib.dev && ia.ino == ib.ino));
	ck_assert_int_eq(fstat(a, &st), 0);
	ck_assert_uint_eq(ia.ino, st.st_ino);
	ck_assert_uint_eq(ia.dev, st.st_dev);
	close(a);
	close(b);
	close(d);
	close(r);
}
END_TEST

/* Records come from a blob: anything malformed is refused, a real one passes. */
START_TEST(test_check_record)
{
	struct luo_handler_file hf = {
		.fd = memfd_new_flags(SZ, 1, 0), .retrieved_fd = -1, .preserver_uid = geteuid()};
	uint8_t *bad;
	size_t len;

	ck_assert_int_eq(H->preserve(&hf), 0);
	ck_assert_ptr_nonnull(hf.record);
	len = hf.record_len;
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(H->check_record(hf.record, len), 0);
	ck_assert_int_lt(H->check_record(hf.record, 0), 0);
	ck_assert_int_lt(H->check_record(hf.record, len - 1), 0);
	bad = malloc(len + 1);
	ck_assert_ptr_nonnull(bad);
	memcpy(bad, hf.record, len);
	bad[len] = 0;
	ck_assert_int_lt(H->check_record(bad, len + 1), 0);
	memset(bad, 0xff, len);
	ck_assert_int_lt(H->check_record(bad, len), 0);
	free(bad);
	if (H->unpreserve)
		H->unpreserve(&hf);
	free(hf.record);
	close(hf.fd);
}
END_TEST

/* ======================================================================
 * preserve
 */

/* The kernel pins every page: a sparse memfd is populated at PRESERVE. */
static void check_sparse_populated(bool through_session)
{
	int m = memfd_create("sparse", MFD_CLOEXEC);
	struct luo_handler_file hf = {.fd = m, .retrieved_fd = -1, .preserver_uid = geteuid()};
	struct luo_config cfg;
	struct luo_ctx *ctx = NULL;
	struct stat st;

	ck_assert_int_ge(m, 0);
	ck_assert_int_eq(ftruncate(m, SZ_SPARSE), 0);
	ck_assert_int_eq(pwrite(m, "x", 1, SZ_SPARSE / 2), 1);
	ck_assert_int_eq(fstat(m, &st), 0);
	ck_assert_int_lt(st.st_blocks, SZ_SPARSE / 512 / 2);
	if (through_session) {
		cfg_init(&cfg, LUO_COMPAT_7_2, NULL);
		ctx = ctx_make(&cfg);
		ck_assert_int_eq(preserve(create_ok(ctx, "s"), 1, m), 0);
	} else {
		ck_assert_int_eq(H->preserve(&hf), 0);
	}
	ck_assert_int_eq(fstat(m, &st), 0);
	ck_assert_int_ge(st.st_blocks, SZ_SPARSE / 512);
	ck_assert_int_eq(st.st_size, SZ_SPARSE);
	/* holes read as zeros, data is intact */
	{
		char c = 1;

		ck_assert_int_eq(pread(m, &c, 1, 4096), 1);
		ck_assert_int_eq(c, 0);
		ck_assert_int_eq(pread(m, &c, 1, SZ_SPARSE / 2), 1);
		ck_assert_int_eq(c, 'x');
	}
	if (ctx)
		luo_ctx_free(ctx);
	if (!through_session) {
		if (H->unpreserve)
			H->unpreserve(&hf);
		free(hf.record);
	}
	close(m);
}

START_TEST(test_sparse_populated_direct)
{
	check_sparse_populated(false);
}
END_TEST

START_TEST(test_sparse_populated_session)
{
	check_sparse_populated(true);
}
END_TEST

/*
 * A memfd preserved through an O_RDONLY fd comes back O_RDWR and writable
 * (kernel-observed.md, "open flags").  PRESERVE must succeed.
 */
START_TEST(test_preserve_readonly_fd)
{
	int m = memfd_new_flags(SZ, 1, 0), ro = reopen(m, O_RDONLY), fd;

	fd = roundtrip(compat_of[_i], ro, -1, NULL);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	ck_assert_int_eq(pwrite(fd, "w", 1, 0), 1);
	close(fd);
	close(ro);
	close(m);
}
END_TEST

START_TEST(test_preserve_empty)
{
	int m = memfd_new_flags(0, 1, 0), fd;
	struct stat st;

	fd = roundtrip(compat_of[_i], m, -1, NULL);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_int_eq(pos_of(fd), 0);
	close(fd);
	close(m);
}
END_TEST

START_TEST(test_preserve_tmpfile)
{
	int t = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), fd;

	ck_assert_int_ge(t, 0);
	fill(t, SZ, 4);
	ck_assert_int_eq(lseek(t, 99, SEEK_SET), 99);
	fd = roundtrip(compat_of[_i], t, -1, NULL);
	check_content(fd, SZ, 4);
	ck_assert_int_eq(pos_of(fd), 99);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	close(fd);
	close(t);
}
END_TEST

/* ======================================================================
 * What the record carries: size, position at freeze, seals at preserve
 */

static void write_inside(int m)
{
	fill(m, SZ, 9); /* same size, new bytes */
}

/* Writes inside the size after PRESERVE are carried over. */
START_TEST(test_writes_after_preserve)
{
	int m = memfd_new_flags(SZ, 1, 0), fd;

	fd = roundtrip(compat_of[_i], m, -1, write_inside);
	check_content(fd, SZ, 9);
	close(fd);
	close(m);
}
END_TEST

static void seek_1234(int m)
{
	ck_assert_int_eq(lseek(m, 1234, SEEK_SET), 1234);
}

/* The position is the one at freeze, not at preserve. */
START_TEST(test_position_at_freeze)
{
	int m = memfd_new_flags(SZ, 1, 0), fd;

	ck_assert_int_eq(lseek(m, 100, SEEK_SET), 100);
	fd = roundtrip(compat_of[_i], m, -1, seek_1234);
	ck_assert_int_eq(pos_of(fd), 1234);
	close(fd);
	close(m);
}
END_TEST

/* A position change after the freeze is not carried. */
START_TEST(test_position_after_freeze_ignored)
{
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_session *s;
	int m = memfd_new_flags(SZ, 1, 0), fd;

	cfg_init(&cfg, compat_of[_i], NULL);
	ctx = ctx_make(&cfg);
	ck_assert_int_eq(preserve(create_ok(ctx, "s"), 1, m), 0);
	ck_assert_int_eq(lseek(m, 1234, SEEK_SET), 1234);
	ck_assert_int_eq(luo_freeze(ctx), 0);
	ck_assert_int_eq(lseek(m, 5, SEEK_SET), 5);
	ctx = handover(ctx, &cfg);
	s = retrieve_ok(ctx, "s");
	fd = retrieve_fd(s, 1);
	ck_assert_int_eq(pos_of(fd), 1234);
	luo_ctx_free(ctx);
	close(fd);
	close(m);
}
END_TEST

/*
 * Rebuilt holder: a fresh, unsealed memfd with the same bytes at position 0.
 * Position and seals can then only come from the record: position at
 * freeze, seals at preserve (F_SEAL_GROW added later is not carried).
 * 6.19 restores unsealed (luo-uapi.md §6).
 */
static void add_grow(int m)
{
	ck_assert_int_eq(fcntl(m, F_ADD_SEALS, F_SEAL_GROW), 0);
	ck_assert_int_eq(lseek(m, 4321, SEEK_SET), 4321);
}

START_TEST(test_record_rebuilt_holder)
{
	enum luo_compat compat = compat_of[_i];
	int want_seals = compat != LUO_COMPAT_6_19 ? F_SEAL_SHRINK : 0;
	int m = memfd_new_flags(SZ, 1, MFD_ALLOW_SEALING);
	int holder = memfd_new_flags(SZ, 1, MFD_ALLOW_SEALING), fd;
	struct stat st;

	ck_assert_int_eq(fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	fd = roundtrip(compat, m, holder, add_grow);
	ck_assert(!same_inode(fd, m));
	check_content(fd, SZ, 1);
	ck_assert_int_eq(pos_of(fd), 4321);
	ck_assert_int_eq(seals_of(fd), want_seals);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0777);
	/* sealing stays allowed */
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
	close(fd);
	close(m);
}
END_TEST

/* The same, through the handler alone. */
START_TEST(test_record_direct)
{
	int m = memfd_new_flags(SZ, 2, MFD_ALLOW_SEALING);
	int holder = memfd_new_flags(SZ, 2, MFD_ALLOW_SEALING), fd = -1;
	struct luo_handler_file hf = {.fd = m, .retrieved_fd = -1, .preserver_uid = geteuid()};
	struct luo_handler_file in = {.fd = holder, .retrieved_fd = -1};

	ck_assert_int_eq(fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE), 0);
	ck_assert_int_eq(H->preserve(&hf), 0);
	add_grow(m);
	if (H->freeze)
		ck_assert_int_eq(H->freeze(&hf), 0);
	ck_assert_int_eq(H->check_record(hf.record, hf.record_len), 0);
	in.record = malloc(hf.record_len);
	ck_assert_ptr_nonnull(in.record);
	memcpy(in.record, hf.record, hf.record_len);
	in.record_len = hf.record_len;
	ck_assert_int_eq(H->retrieve(&in, &fd), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert(same_inode(fd, holder));
	ck_assert_int_ne(fd, holder);
	ck_assert_int_eq(pos_of(fd), 4321);
	ck_assert_int_eq(pos_of(holder), 0); /* a new open file description */
	ck_assert_int_eq(seals_of(fd), F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	check_content(fd, SZ, 2);
	if (H->finish)
		H->finish(&in);
	if (H->unfreeze)
		H->unfreeze(&hf);
	if (H->unpreserve)
		H->unpreserve(&hf);
	free(hf.record);
	free(in.record);
	close(fd);
	close(holder);
	close(m);
}
END_TEST

/*
 * Exec mode (same inode): seals cannot be removed from an inode, so what is
 * asserted is that the preserve-time seals are there; a later seal stays
 * too (a documented deviation from the kernel, which would drop it).
 */
START_TEST(test_seals_exec_mode)
{
	int m = memfd_new_flags(SZ, 1, MFD_ALLOW_SEALING), fd;

	ck_assert_int_eq(fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	fd = roundtrip(compat_of[_i], m, -1, add_grow);
	ck_assert(same_inode(fd, m));
	ck_assert_int_eq(seals_of(fd), F_SEAL_SHRINK | F_SEAL_GROW);
	close(fd);
	close(m);
}
END_TEST

/* Without MFD_ALLOW_SEALING a memfd has F_SEAL_SEAL, and keeps it. */
START_TEST(test_seals_default)
{
	int m = memfd_new_flags(SZ, 1, 0), fd;

	ck_assert_int_eq(seals_of(m), F_SEAL_SEAL);
	fd = roundtrip(LUO_COMPAT_7_2, m, -1, NULL);
	ck_assert_int_eq(seals_of(fd), F_SEAL_SEAL);
	close(fd);
	close(m);
}
END_TEST

/*
 * MFD_NOEXEC_SEAL: mode 0666, seals F_SEAL_EXEC.  The kernel restores it
 * with mode 0777, and adding F_SEAL_EXEC to an executable inode implies
 * SHRINK|GROW|WRITE|FUTURE_WRITE: seals 0x3e, writes fail with EPERM
 * (kernel-observed.md, "Surprise").
 */
START_TEST(test_noexec_seal_comes_back_write_sealed)
{
	int m = memfd_create("noexec", MFD_CLOEXEC | MFD_NOEXEC_SEAL), fd;

	if (m < 0) {
		fprintf(stderr, "skip: MFD_NOEXEC_SEAL: %s\n", strerror(errno));
		return;
	}
	fill(m, SZ, 1);
	ck_assert_int_eq(seals_of(m) & F_SEAL_EXEC, F_SEAL_EXEC);
	fd = roundtrip(LUO_COMPAT_7_2, m, -1, NULL);
	check_content(fd, SZ, 1);
	ck_assert_int_eq(seals_of(fd), 0x3e);
	ck_assert_int_eq(pwrite(fd, "x", 1, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	close(fd);
	close(m);
}
END_TEST

/*
 * The size is frozen in the kernel; userspace cannot enforce that, so a
 * change is carried and a warning is logged at freeze (memfd.c header).
 */
START_TEST(test_size_change_warned)
{
	struct log_sink log = {0};
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_session *s;
	int m = memfd_new_flags(SZ, 1, 0), fd;
	struct stat st;

	cfg_init(&cfg, LUO_COMPAT_7_2, &log);
	ctx = ctx_make(&cfg);
	ck_assert_int_eq(preserve(create_ok(ctx, "s"), 1, m), 0);
	ck_assert_uint_eq(log.warnings, 0);
	ck_assert_int_eq(ftruncate(m, 2 * SZ), 0);
	ck_assert_int_eq(luo_freeze(ctx), 0);
	ck_assert_uint_ge(log.warnings, 1);
	ctx = handover(ctx, &cfg);
	s = retrieve_ok(ctx, "s");
	fd = retrieve_fd(s, 1);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, 2 * SZ);
	luo_ctx_free(ctx);
	close(fd);
	close(m);
}
END_TEST

/* ======================================================================
 * Never widen access (memfd.c header): a copy unless the preserver had an
 * O_RDWR fd on an inode its uid owns
 */

static mode_t mode_of(int fd)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	return st.st_mode & 07777;
}

/* The kernel's answer: a new memfd, O_RDWR, mode 0777, same bytes and position. */
static void check_is_copy(int fd, int orig, size_t size, unsigned int seed, off_t pos)
{
	ck_assert(!same_inode(fd, orig));
	check_content(fd, size, seed);
	ck_assert_int_eq(pos_of(fd), pos);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	ck_assert_uint_eq(mode_of(fd), 0777);
	/* Writable, and writes stay in the copy. */
	ck_assert_int_eq(pwrite(fd, "\xff", 1, 0), 1);
	check_content(orig, size, seed);
}

/* Root's 0600 O_TMPFILE, preserved through a read-only fd (issue 9). */
START_TEST(test_readonly_tmpfile_is_copied)
{
	int t = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), ro, fd;

	ck_assert_int_ge(t, 0);
	fill(t, SZ, 5);
	ck_assert_int_eq(fchmod(t, 0600), 0);
	ro = reopen(t, O_RDONLY);
	ck_assert_int_eq(lseek(ro, 77, SEEK_SET), 77);
	fd = roundtrip(compat_of[_i], ro, -1, NULL);
	check_is_copy(fd, t, SZ, 5, 77);
	/* The original inode's mode was never touched. */
	ck_assert_uint_eq(mode_of(t), 0600);
	close(fd);
	close(ro);
	close(t);
}
END_TEST

/* A read-write fd on another uid's inode: a copy too, and no chmod. */
START_TEST(test_other_owner_is_copied)
{
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_session *s;
	int m = memfd_new_flags(SZ, 6, MFD_ALLOW_SEALING), ref, fd;

	ck_assert_int_eq(fchmod(m, 0640), 0);
	ck_assert_int_eq(fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	cfg_init(&cfg, compat_of[_i], NULL);
	ctx = ctx_make(&cfg);
	ref = fcntl(m, F_DUPFD_CLOEXEC, 0);
	ck_assert_int_eq(luo_session_preserve_fd_as(create_ok(ctx, "s"), 1, ref, 1000), 0);
	ctx = handover(ctx, &cfg);
	s = retrieve_ok(ctx, "s");
	fd = retrieve_fd(s, 1);
	check_is_copy(fd, m, SZ, 6, 0);
	ck_assert_int_eq(seals_of(fd), compat_of[_i] != LUO_COMPAT_6_19 ? F_SEAL_SHRINK : 0);
	ck_assert_uint_eq(mode_of(m), 0640);
	luo_ctx_free(ctx);
	close(fd);
	close(m);
}
END_TEST

/* The owner with an O_RDWR fd gets the inode itself: nothing it lacked. */
START_TEST(test_owner_rdwr_is_shared)
{
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_session *s;
	int m = memfd_new_flags(SZ, 7, 0), ref, fd;

	cfg_init(&cfg, compat_of[_i], NULL);
	ctx = ctx_make(&cfg);
	ref = fcntl(m, F_DUPFD_CLOEXEC, 0);
	ck_assert_int_eq(luo_session_preserve_fd_as(create_ok(ctx, "s"), 1, ref, geteuid()), 0);
	ctx = handover(ctx, &cfg);
	s = retrieve_ok(ctx, "s");
	fd = retrieve_fd(s, 1);
	ck_assert(same_inode(fd, m));
	check_content(fd, SZ, 7);
	luo_ctx_free(ctx);
	close(fd);
	close(m);
}
END_TEST

/* ======================================================================
 * Pinning and release (issue 10): locked in RAM while held, gone at once
 */

#define PIN_SZ (64ull << 20)

/* A "Key:   N kB" line of a /proc file, in bytes. */
static uint64_t proc_kb(const char *path, const char *key)
{
	char line[256];
	unsigned long long kb = 0;
	size_t n = strlen(key);
	FILE *f = fopen(path, "re");
	bool found = false;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			found = sscanf(line + n + 1, "%llu", &kb) == 1;
			break;
		}
	fclose(f);
	ck_assert_msg(found, "%s: no %s", path, key);
	return kb * 1024;
}

static uint64_t vm_locked(void)
{
	return proc_kb("/proc/self/status", "VmLck");
}

static unsigned int nr_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Can this process lock @bytes more?  Else say why the test is skipped. */
static bool can_lock(uint64_t bytes)
{
	struct rlimit rl;
	void *p;

	ck_assert_int_eq(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < bytes + vm_locked()) {
		/* Maybe CAP_IPC_LOCK lifts the limit: try it. */
		p = mmap(NULL, (size_t)bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ck_assert_ptr_ne(p, MAP_FAILED);
		if (mlock(p, (size_t)bytes) < 0) {
			fprintf(stderr,
				"skip: RLIMIT_MEMLOCK is %llu bytes and mlock of %llu fails (%s); "
				"run as root or raise the limit\n",
				(unsigned long long)rl.rlim_cur, (unsigned long long)bytes,
				strerror(errno));
			munmap(p, (size_t)bytes);
			return false;
		}
		munmap(p, (size_t)bytes);
	}
	return true;
}

static struct luo_ctx *ctx_pin(enum luo_compat compat, enum luo_pin pin, struct log_sink *log)
{
	struct luo_config cfg;

	cfg_init(&cfg, compat, log);
	cfg.pin = pin;
	return ctx_make(&cfg);
}

/* VmLck grows by the file at PRESERVE and shrinks back when it is let go. */
START_TEST(test_pin_preserve_unpreserve)
{
	struct luo_ctx *ctx;
	struct luo_session *s;
	struct luo_stats st;
	uint64_t before;
	int m;

	if (!can_lock(PIN_SZ))
		return;
	m = memfd_create("pin", MFD_CLOEXEC);
	ck_assert_int_ge(m, 0);
	ck_assert_int_eq(ftruncate(m, (off_t)PIN_SZ), 0);
	ctx = ctx_pin(compat_of[_i], LUO_PIN_ON, NULL);
	before = vm_locked();
	s = create_ok(ctx, "s");
	ck_assert_int_eq(preserve(s, 1, m), 0);
	ck_assert_uint_eq(vm_locked(), before + PIN_SZ);
	luo_ctx_stats(ctx, &st);
	ck_assert_uint_eq(st.bytes_pinned, PIN_SZ);
	ck_assert_uint_eq(st.bytes_not_pinned, 0);
	/* Closing the outgoing session unpreserves: unpinned at once. */
	luo_session_release(s);
	ck_assert_uint_eq(vm_locked(), before);
	luo_ctx_stats(ctx, &st);
	ck_assert_uint_eq(st.bytes_pinned, 0);
	luo_ctx_free(ctx);
	close(m);
}
END_TEST

/* How many of this process's fds and mappings reach inode @ino. */
static unsigned int refs_to(ino_t ino)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned int n = 0;
	char line[512];
	FILE *f;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		struct stat st;

		if (e->d_name[0] != '.' && fstatat(dirfd(d), e->d_name, &st, 0) == 0 &&
		    st.st_ino == ino && S_ISREG(st.st_mode))
			n++;
	}
	closedir(d);
	f = fopen("/proc/self/maps", "re");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long i = 0;

		/* address perms offset dev inode path */
		if (sscanf(line, "%*s %*s %*s %*s %llu", &i) == 1 && i == (unsigned long long)ino)
			n++;
	}
	fclose(f);
	return n;
}

/*
 * An incoming 64 MiB memfd never retrieved: pinned from load, and FINISH
 * lets go of everything at once - the daemon's fd, its mapping and lock -
 * so nothing is left to keep the memory (the kernel frees it at FINISH).
 */
START_TEST(test_finish_releases_unretrieved)
{
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_session *s;
	struct luo_stats st;
	uint64_t locked0, shmem;
	unsigned int fds;
	struct stat mst;
	int m;

	if (!can_lock(2 * PIN_SZ))
		return;
	locked0 = vm_locked();
	m = memfd_create("finish", MFD_CLOEXEC);
	ck_assert_int_ge(m, 0);
	fill(m, PIN_SZ, 3);
	ck_assert_int_eq(fstat(m, &mst), 0);
	cfg_init(&cfg, compat_of[_i], NULL);
	cfg.pin = LUO_PIN_ON;
	ctx = ctx_make(&cfg);
	ck_assert_int_eq(preserve(create_ok(ctx, "s"), 1, m), 0);
	close(m); /* only the model holds it now */
	ctx = handover(ctx, &cfg);
	ck_assert_uint_eq(vm_locked(), locked0 + PIN_SZ);
	luo_ctx_stats(ctx, &st);
	ck_assert_uint_eq(st.bytes_pinned, PIN_SZ);
	ck_assert_uint_eq(refs_to(mst.st_ino), 2); /* the holder fd and the pin mapping */
	s = retrieve_ok(ctx, "s");
	fds = nr_fds();
	shmem = proc_kb("/proc/meminfo", "Shmem");
	ck_assert_int_eq(luo_session_finish(s), 0);
	ck_assert_uint_eq(nr_fds(), fds - 1);
	ck_assert_uint_eq(refs_to(mst.st_ino), 0);
	ck_assert_uint_eq(vm_locked(), locked0);
	luo_ctx_stats(ctx, &st);
	ck_assert_uint_eq(st.bytes_pinned, 0);
	ck_assert_uint_eq(st.files, 0);
	/* Shmem is system-wide (other tests run in parallel): shown, not asserted. */
	printf("finish: Shmem %llu -> %llu kB\n", (unsigned long long)shmem / 1024,
	       (unsigned long long)proc_kb("/proc/meminfo", "Shmem") / 1024);
	luo_session_release(s);
	luo_ctx_free(ctx);
}
END_TEST

/* Dropped at the next update without being retrieved: let go at that moment too. */
START_TEST(test_drop_releases)
{
	struct luo_config cfg;
	struct luo_ctx *ctx;
	struct luo_stats st;
	uint64_t locked0;
	unsigned int fds;
	int m;

	if (!can_lock(2 * PIN_SZ))
		return;
	locked0 = vm_locked();
	m = memfd_new_flags(PIN_SZ, 4, 0);
	cfg_init(&cfg, compat_of[_i], NULL);
	cfg.pin = LUO_PIN_ON;
	ctx = ctx_make(&cfg);
	ck_assert_int_eq(preserve(create_ok(ctx, "s"), 1, m), 0);
	close(m);
	ctx = handover(ctx, &cfg);
	ck_assert_uint_eq(vm_locked(), locked0 + PIN_SZ);
	fds = nr_fds();
	luo_incoming_drop_all(ctx);
	ck_assert_uint_eq(nr_fds(), fds - 1);
	ck_assert_uint_eq(vm_locked(), locked0);
	luo_ctx_stats(ctx, &st);
	ck_assert_uint_eq(st.incoming, 0);
	ck_assert_uint_eq(st.bytes_pinned, 0);
	luo_ctx_free(ctx);
}
END_TEST

/* Drop CAP_IPC_LOCK (root ignores RLIMIT_MEMLOCK with it) and lower the limit. */
static bool forbid_mlock(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	struct rlimit rl = {.rlim_cur = 0, .rlim_max = 0};

	ck_assert_int_eq(syscall(SYS_capget, &h, d), 0);
	d[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	d[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
	if (syscall(SYS_capset, &h, d) < 0 || setrlimit(RLIMIT_MEMLOCK, &rl) < 0) {
		fprintf(stderr, "skip: cannot forbid mlock: %s\n", strerror(errno));
		return false;
	}
	return true;
}

/* on: PRESERVE fails with ENOMEM and leaves nothing; auto: one log line, unpinned. */
START_TEST(test_pin_policy_when_mlock_fails)
{
	struct log_sink log = {0};
	struct luo_ctx *ctx;
	struct luo_session *s;
	struct luo_stats st;
	int a = memfd_new_flags(1 << 20, 1, 0), b = memfd_new_flags(1 << 20, 2, 0);

	if (!forbid_mlock())
		return;
	ctx = ctx_pin(compat_of[_i], LUO_PIN_ON, &log);
	s = create_ok(ctx, "s");
	ck_assert_int_eq(preserve(s, 1, a), -ENOMEM);
	ck_assert_uint_eq(log.warnings, 1);
	luo_ctx_stats(ctx, &st);
	ck_assert_uint_eq(st.files, 0);
	ck_assert_uint_eq(st.bytes_pinned + st.bytes_not_pinned, 0);
	/* Undone entirely: the same token and file go in when pinning is not required. */
	luo_ctx_free(ctx);

	log.warnings = 0;
	ctx = ctx_pin(compat_of[_i], LUO_PIN_AUTO, &log);
	s = create_ok(ctx, "s");
	ck_assert_int_eq(preserve(s, 1, a), 0);
	ck_assert_int_eq(preserve(s, 2, b), 0);
	ck_assert_uint_eq(log.warnings, 1); /* once, not per file */
	luo_ctx_stats(ctx, &st);
	ck_assert_uint_eq(st.bytes_pinned, 0);
	ck_assert_uint_eq(st.bytes_not_pinned, 2 << 20);
	luo_session_release(s);
	luo_ctx_stats(ctx, &st);
	ck_assert_uint_eq(st.bytes_not_pinned, 0);
	luo_ctx_free(ctx);

	log.warnings = 0;
	ctx = ctx_pin(compat_of[_i], LUO_PIN_OFF, &log);
	ck_assert_int_eq(preserve(create_ok(ctx, "s"), 1, a), 0);
	ck_assert_uint_eq(log.warnings, 0);
	luo_ctx_stats(ctx, &st);
	ck_assert_uint_eq(st.bytes_not_pinned, 1 << 20);
	luo_ctx_free(ctx);
	close(a);
	close(b);
}
END_TEST

/* pin=off locks nothing. */
START_TEST(test_pin_off)
{
	struct luo_ctx *ctx = ctx_pin(compat_of[_i], LUO_PIN_OFF, NULL);
	int m = memfd_new_flags(1 << 20, 1, 0);
	uint64_t before = vm_locked();

	ck_assert_int_eq(preserve(create_ok(ctx, "s"), 1, m), 0);
	ck_assert_uint_eq(vm_locked(), before);
	luo_ctx_free(ctx);
	close(m);
}
END_TEST

static Suite *memfd_suite(void)
{
	Suite *s = suite_create("memfd");
	TCase *tc;

	tc = tcase_create("handler");
	tcase_add_test(tc, test_compatible);
	tcase_add_loop_test(tc, test_can_preserve_accepts, 0, A_NR);
	tcase_add_loop_test(tc, test_can_preserve_rejects, 0, R_NR);
	tcase_add_test(tc, test_get_id);
	tcase_add_test(tc, test_check_record);
	suite_add_tcase(s, tc);

	tc = tcase_create("preserve");
	tcase_add_test(tc, test_sparse_populated_direct);
	tcase_add_test(tc, test_sparse_populated_session);
	tcase_add_loop_test(tc, test_preserve_readonly_fd, 0, 2);
	tcase_add_loop_test(tc, test_preserve_empty, 0, 2);
	tcase_add_loop_test(tc, test_preserve_tmpfile, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("record");
	tcase_add_loop_test(tc, test_writes_after_preserve, 0, 2);
	tcase_add_loop_test(tc, test_position_at_freeze, 0, 2);
	tcase_add_loop_test(tc, test_position_after_freeze_ignored, 0, 2);
	tcase_add_loop_test(tc, test_record_rebuilt_holder, 0, 2);
	tcase_add_test(tc, test_record_direct);
	tcase_add_loop_test(tc, test_seals_exec_mode, 0, 2);
	tcase_add_test(tc, test_seals_default);
	tcase_add_test(tc, test_noexec_seal_comes_back_write_sealed);
	tcase_add_test(tc, test_size_change_warned);
	suite_add_tcase(s, tc);

	tc = tcase_create("access");
	tcase_add_loop_test(tc, test_readonly_tmpfile_is_copied, 0, 2);
	tcase_add_loop_test(tc, test_other_owner_is_copied, 0, 2);
	tcase_add_loop_test(tc, test_owner_rdwr_is_shared, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("pin");
	tcase_add_loop_test(tc, test_pin_preserve_unpreserve, 0, 2);
	tcase_add_loop_test(tc, test_finish_releases_unretrieved, 0, 2);
	tcase_add_loop_test(tc, test_drop_releases, 0, 2);
	tcase_add_loop_test(tc, test_pin_policy_when_mlock_fails, 0, 2);
	tcase_add_loop_test(tc, test_pin_off, 0, 2);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	static const enum luo_compat newest[] = {LUO_COMPAT_7_2, LUO_COMPAT_7_3};
	int failed = 0;

	for (size_t i = 0; i < ARRAY_SIZE(newest); i++) {
		SRunner *sr;

		compat_of[0] = newest[i];
		printf("== compat levels %s and 6.19\n", luo_compat_name(newest[i]));
		sr = srunner_create(memfd_suite());
		srunner_run_all(sr, CK_NORMAL);
		failed += srunner_ntests_failed(sr);
		srunner_free(sr);
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
