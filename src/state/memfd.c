// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The memfd handler ("memfd-v2", as mm/memfd_luo.c): any unlinked shmem
 * file.  The record carries size, file position (at freeze), seals (at
 * preserve) and whether the inode may be shared back; the contents travel
 * in the file itself.
 *
 * Never widen access.  The kernel hands back a new memfd holding a copy,
 * mode 0777, O_RDWR.  luoemu hands back the same inode (no copy, same
 * pages) only when that gives the caller nothing it did not have: the
 * preserving caller held the file through an O_RDWR fd AND its uid owns
 * the inode (it could chmod it itself).  Otherwise - a read-only or
 * write-only fd, or a file of another uid (e.g. root's 0600 O_TMPFILE
 * preserved read-only) - RETRIEVE_FD returns a new memfd holding a copy:
 * size, contents, position and seals as at preserve, mode 0777, exactly
 * what the kernel returns, and the original inode is never reopened
 * writable nor chmod'ed.  Records written before this rule (version 2)
 * are handed back as copies.
 *
 * Pinning (luo.h, enum luo_pin): the daemon maps each preserved file
 * MAP_SHARED and mlock()s it from PRESERVE until the file is let go, and
 * each incoming file from load until FINISH, close or drop, as the kernel
 * pins the folios.  The release op drops the mapping at that moment.
 *
 * What userspace cannot do like the kernel (see README): the size freeze
 * is not enforced (a size change is detected and logged at freeze), and a
 * shared handed-over file keeps its inode, so its name and later seals
 * persist.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <syslog.h>
#include <unistd.h>

#include "state/internal.h"
#include "state/memfd-record.h"

#define MEMFD_RECORD_VERSION	3
#define MEMFD_RECORD_VERSION_V2 2 /* no flags: handed back as a copy */
#define MEMFD_KNOWN_SEALS                                                                          \
	(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE |          \
	 F_SEAL_EXEC)
#define MEMFD_MAX_PAGES UINT32_MAX
#define MEMFD_PAGE_SIZE 4096ull

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

/* Handler-private state of one file: the pin. */
struct memfd_pin {
	void *addr;
	size_t len;
	bool locked;	   /* counted in bytes_pinned */
	uint64_t unpinned; /* counted in bytes_not_pinned */
};

static struct memfd_record *record_of(struct luo_handler_file *f)
{
	return f->record;
}

static uint32_t record_flags(const struct luo_handler_file *f)
{
	const struct memfd_record *rec = f->record;

	return f->record_len >= sizeof(*rec) ? rec->flags : 0;
}

static enum luo_pin pin_policy(const struct luo_handler_file *f)
{
	return f->ctx ? f->ctx->cfg.pin : LUO_PIN_OFF;
}

/*
 * A readable fd of the same file: @fd itself, or a read-only reopen.
 * @readonly: a read-only one even if @fd is readable, so that a shared
 * mapping of it is not writable-capable (which would make the client's
 * F_SEAL_WRITE fail with EBUSY).
 */
static int readable_fd(int fd, bool readonly, int *tmp)
{
	char path[64];
	int fl = fcntl(fd, F_GETFL);

	*tmp = -1;
	if (fl >= 0 && ((fl & O_ACCMODE) == O_RDONLY || (!readonly && (fl & O_ACCMODE) == O_RDWR)))
		return fd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	*tmp = open(path, O_RDONLY | O_CLOEXEC);
	if (*tmp >= 0)
		return *tmp;
	/* No read-only reopen (permissions): @fd itself if it can read. */
	return fl >= 0 && (fl & O_ACCMODE) != O_WRONLY ? fd : -errno;
}

/*
 * Lock the file's pages in RAM through a shared read-only mapping of the
 * daemon.  @strict (pin=on at PRESERVE): a failure is -ENOMEM; otherwise
 * it is logged once per context and the file counts as not pinned.
 */
static int memfd_pin(struct luo_handler_file *f, bool strict)
{
	enum luo_pin policy = pin_policy(f);
	struct memfd_pin *pin;
	struct stat st;
	int tmp, rfd, r;

	/* Handler-only use (no context): no policy, no accounting. */
	if (!f->ctx)
		return 0;
	if (fstat(f->fd, &st) < 0)
		return -errno;
	pin = calloc(1, sizeof(*pin));
	if (!pin)
		return -ENOMEM;
	pin->addr = MAP_FAILED;
	f->priv = pin;
	if (st.st_size == 0)
		return 0;
	if (policy == LUO_PIN_OFF) {
		pin->unpinned = (uint64_t)st.st_size;
		f->ctx->bytes_not_pinned += pin->unpinned;
		return 0;
	}
	rfd = readable_fd(f->fd, true, &tmp);
	r = rfd;
	if (rfd >= 0) {
		pin->addr = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, rfd, 0);
		r = pin->addr == MAP_FAILED ? -errno : 0;
		if (tmp >= 0)
			close(tmp);
	}
	if (r == 0) {
		pin->len = (size_t)st.st_size;
		/* The raw syscall: sanitizer runtimes turn mlock() into a no-op. */
		if (syscall(SYS_mlock, pin->addr, pin->len) == 0) {
			pin->locked = true;
			f->ctx->bytes_pinned += pin->len;
			return 0;
		}
		r = -errno;
		munmap(pin->addr, pin->len);
		pin->addr = MAP_FAILED;
		pin->len = 0;
	}
	if (strict) {
		luo_log(f->ctx, LOG_WARNING,
			"memfd: cannot lock %lld bytes in RAM (%s) and pin=on: PRESERVE refused",
			(long long)st.st_size, strerror(-r));
		free(pin);
		f->priv = NULL;
		return -ENOMEM;
	}
	if (!f->ctx->pin_warned) {
		f->ctx->pin_warned = true;
		luo_log(f->ctx, LOG_WARNING,
			"memfd: cannot lock %lld bytes in RAM (%s): preserved files stay "
			"unpinned (raise RLIMIT_MEMLOCK or grant CAP_IPC_LOCK; pin=off silences "
			"this)",
			(long long)st.st_size, strerror(-r));
	}
	pin->unpinned = (uint64_t)st.st_size;
	f->ctx->bytes_not_pinned += pin->unpinned;
	return 0;
}

static void memfd_release(struct luo_handler_file *f)
{
	struct memfd_pin *pin = f->priv;

	if (!pin)
		return;
	if (pin->addr != MAP_FAILED)
		munmap(pin->addr, pin->len);
	if (f->ctx) {
		if (pin->locked)
			f->ctx->bytes_pinned -= pin->len;
		f->ctx->bytes_not_pinned -= pin->unpinned;
	}
	free(pin);
	f->priv = NULL;
}

/* Incoming: pin on a best-effort basis; the state is loaded either way. */
static int memfd_load(struct luo_handler_file *f)
{
	int r = memfd_pin(f, false);

	return r == -ENOMEM ? 0 : r;
}

static bool memfd_can_preserve(int fd, const struct stat *st)
{
	struct statfs sfs;

	/* hugetlbfs has its own magic, so it falls out here as in the kernel. */
	if (!S_ISREG(st->st_mode) || st->st_nlink != 0)
		return false;
	if (fstatfs(fd, &sfs) < 0)
		return false;
	return sfs.f_type == TMPFS_MAGIC;
}

static int memfd_get_id(int fd, struct luo_file_id *id)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*id = (struct luo_file_id){.dev = st.st_dev, .ino = st.st_ino};
	return 0;
}

static int read_state(int fd, uint64_t *size, uint64_t *pos)
{
	struct stat st;
	off_t off;

	if (fstat(fd, &st) < 0)
		return -errno;
	off = lseek(fd, 0, SEEK_CUR);
	if (off < 0)
		return -errno;
	*size = st.st_size;
	*pos = off;
	return 0;
}

/*
 * The kernel pins every page at preserve: holes become allocated, zeroed
 * memory.  A file preserved through an O_RDONLY fd is populated through a
 * writable reopen, since preserving never needed write access.
 */
static int populate(int fd, uint64_t size)
{
	char path[64];
	int rw, r = 0;

	if (!size || fallocate(fd, 0, 0, (off_t)size) == 0)
		return 0;
	if (errno != EBADF)
		return -errno;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rw = open(path, O_RDWR | O_CLOEXEC);
	if (rw < 0)
		return -errno;
	if (fallocate(rw, 0, 0, (off_t)size) < 0)
		r = -errno;
	close(rw);
	return r;
}

/* The rule of the header comment: an O_RDWR fd on an inode the caller owns. */
static bool may_share(const struct luo_handler_file *f)
{
	struct stat st;
	int fl = fcntl(f->fd, F_GETFL);

	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR || fstat(f->fd, &st) < 0)
		return false;
	return st.st_uid == f->preserver_uid;
}

static int memfd_preserve(struct luo_handler_file *f)
{
	struct memfd_record *rec;
	int seals, r;

	rec = calloc(1, sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	r = read_state(f->fd, &rec->size, &rec->pos);
	if (r < 0)
		goto fail;
	seals = fcntl(f->fd, F_GET_SEALS);
	/* O_TMPFILE files have no seal support: none is set. */
	rec->seals = seals < 0 ? 0 : (uint32_t)seals;
	r = -EOPNOTSUPP;
	if (rec->seals & ~MEMFD_KNOWN_SEALS)
		goto fail;
	r = -EFBIG;
	if (rec->size / MEMFD_PAGE_SIZE > MEMFD_MAX_PAGES)
		goto fail;
	r = populate(f->fd, rec->size);
	if (r < 0 && r != -EPERM && r != -EOPNOTSUPP && r != -EACCES)
		goto fail;
	if (r < 0)
		luo_log(f->ctx, LOG_NOTICE,
			"memfd: could not populate holes (%d); pages stay sparse", r);
	rec->version = MEMFD_RECORD_VERSION;
	rec->flags = may_share(f) ? MEMFD_REC_SHARE : 0;
	r = memfd_pin(f, pin_policy(f) == LUO_PIN_ON);
	if (r < 0)
		goto fail;
	f->record = rec;
	f->record_len = sizeof(*rec);
	return 0;
fail:
	free(rec);
	return r;
}

static int memfd_freeze(struct luo_handler_file *f)
{
	struct memfd_record *rec = record_of(f);
	uint64_t size, pos;
	int r = read_state(f->fd, &size, &pos);

	if (r < 0)
		return r;
	if (size != rec->size) {
		/* The kernel would have refused that change with EPERM. */
		luo_log(f->ctx, LOG_WARNING,
			"memfd: size changed while preserved (%" PRIu64 " -> %" PRIu64
			"); a LUO kernel forbids this, carrying the new size",
			rec->size, size);
		rec->size = size;
	}
	rec->pos = pos;
	return 0;
}

static int memfd_check_record(const void *record, size_t len)
{
	struct memfd_record rec = {0};

	if (len != sizeof(rec) && len != MEMFD_RECORD_V2_LEN)
		return -EBADMSG;
	memcpy(&rec, record, len);
	if (rec.version != (len == sizeof(rec) ? MEMFD_RECORD_VERSION : MEMFD_RECORD_VERSION_V2))
		return -EPROTONOSUPPORT;
	if (rec.flags & ~MEMFD_REC_SHARE || rec.reserved)
		return -EBADMSG;
	if (rec.seals & ~MEMFD_KNOWN_SEALS)
		return -EOPNOTSUPP;
	if (rec.size / MEMFD_PAGE_SIZE > MEMFD_MAX_PAGES || rec.pos > INT64_MAX)
		return -EBADMSG;
	return 0;
}

/*
 * The kernel re-creates the file with mode 0777, and F_SEAL_EXEC on an
 * executable inode implies the write seals (memfd_add_seals()): that is why
 * MFD_NOEXEC_SEAL memfds come back write-sealed (0x3e).
 */
static void reapply_seals(struct luo_ctx *ctx, int fd, uint32_t want)
{
	int have = fcntl(fd, F_GET_SEALS);

	if (want & F_SEAL_EXEC)
		want |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
	if (have < 0 || !(want & ~(uint32_t)have))
		return;
	if (fcntl(fd, F_ADD_SEALS, want & ~(uint32_t)have) < 0)
		luo_log(ctx, LOG_INFO, "memfd: cannot re-apply seals 0x%x (%d)", want, -errno);
}

/* Copy @size bytes of @src into @dst from offset 0 (sparse-agnostic). */
static int copy_contents(int src, int dst, uint64_t size)
{
	loff_t in = 0, out = 0;
	char buf[65536];

	while ((uint64_t)in < size) {
		ssize_t n =
			copy_file_range(src, &in, dst, &out, (size_t)MIN(size - in, 1ull << 30), 0);

		if (n > 0)
			continue;
		if (n == 0)
			return -EIO; /* the holder shrank under us */
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return -errno;
		/* No copy_file_range here: the plain way. */
		while ((uint64_t)in < size) {
			ssize_t r = pread(src, buf, (size_t)MIN(sizeof(buf), size - in), in);

			if (r <= 0)
				return r < 0 ? -errno : -EIO;
			if (pwrite(dst, buf, (size_t)r, in) != r)
				return -errno;
			in += r;
		}
	}
	return 0;
}

/* A new memfd holding a copy, as the kernel returns it (never touches @f's inode). */
static int retrieve_copy(struct luo_handler_file *f, const struct memfd_record *rec)
{
	int fd, src, tmp, r;

	fd = memfd_create("", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	src = readable_fd(f->fd, false, &tmp);
	r = src < 0 ? src : 0;
	if (r == 0 && ftruncate(fd, (off_t)rec->size) < 0)
		r = -errno;
	if (r == 0)
		r = copy_contents(src, fd, rec->size);
	if (tmp >= 0)
		close(tmp);
	if (r == 0 && fchmod(fd, 0777) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* A new open file description on the handed-over inode itself (shared). */
static int retrieve_shared(struct luo_handler_file *f, const struct memfd_record *rec)
{
	char path[64];
	struct stat a, b;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd);
	fd = open(path, O_RDWR | O_LARGEFILE | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &a) < 0 || fstat(f->fd, &b) < 0 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev) {
		close(fd);
		return -EIO;
	}
	if ((uint64_t)a.st_size != rec->size)
		luo_log(f->ctx, LOG_WARNING, "memfd: size is %lld, record says %" PRIu64,
			(long long)a.st_size, rec->size);
	/* Best effort: F_SEAL_EXEC forbids the chmod, as on a fresh inode it would not. */
	if (fchmod(fd, 0777) < 0)
		luo_log(f->ctx, LOG_INFO, "memfd: cannot set mode 0777 (%d)", -errno);
	return fd;
}

/*
 * The retrieved file, shaped like the kernel's: O_RDWR|O_LARGEFILE, mode
 * 0777, the saved position and the seals of preserve time.  The same inode
 * only where that widens nothing (header comment), else a copy.
 */
static int memfd_retrieve(struct luo_handler_file *f, int *ret_fd)
{
	const struct memfd_record *rec = record_of(f);
	int fd;

	if (record_flags(f) & MEMFD_REC_SHARE)
		fd = retrieve_shared(f, rec);
	else
		fd = retrieve_copy(f, rec);
	if (fd < 0)
		return fd;
	if (lseek(fd, (off_t)rec->pos, SEEK_SET) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	/* 6.19 handed files back unsealed; 7.x re-applies the preserve-time seals. */
	if (!f->ctx || luo_ctx_compat(f->ctx) != LUO_COMPAT_6_19)
		reapply_seals(f->ctx, fd, rec->seals);
	*ret_fd = fd;
	return 0;
}

static bool memfd_can_finish(struct luo_handler_file *f)
{
	(void)f;
	return true;
}

const struct luo_file_handler luo_memfd_handler = {
	.compatible = "memfd-v2",
	.can_preserve = memfd_can_preserve,
	.get_id = memfd_get_id,
	.preserve = memfd_preserve,
	.freeze = memfd_freeze,
	.check_record = memfd_check_record,
	.retrieve = memfd_retrieve,
	.can_finish = memfd_can_finish,
	.load = memfd_load,
	.release = memfd_release,
};
