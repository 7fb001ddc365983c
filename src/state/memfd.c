// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The memfd handler ("memfd-v2", as mm/memfd_luo.c): any unlinked shmem
 * file.  The record carries size, file position (at freeze) and seals (at
 * preserve); the contents travel in the file itself.
 *
 * What userspace cannot do like the kernel (see README): the size freeze
 * is not enforced (a size change is detected and logged at freeze), and a
 * handed-over file keeps its inode, so its name and later seals persist.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <syslog.h>
#include <unistd.h>

#include "state/internal.h"
#include "state/memfd-record.h"

#define MEMFD_RECORD_VERSION 2
#define MEMFD_KNOWN_SEALS                                                                          \
	(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE |          \
	 F_SEAL_EXEC)
#define MEMFD_MAX_PAGES UINT32_MAX
#define MEMFD_PAGE_SIZE 4096ull

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif


static struct memfd_record *record_of(struct luo_handler_file *f)
{
	return f->record;
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
	struct memfd_record rec;

	if (len != sizeof(rec))
		return -EBADMSG;
	memcpy(&rec, record, sizeof(rec));
	if (rec.version != MEMFD_RECORD_VERSION)
		return -EPROTONOSUPPORT;
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

/*
 * A new open file description on the handed-over inode, shaped like the
 * kernel's retrieved file: O_RDWR|O_LARGEFILE, mode 0777, the saved position
 * and the seals of preserve time.
 */
static int memfd_retrieve(struct luo_handler_file *f, int *ret_fd)
{
	const struct memfd_record *rec = record_of(f);
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
	if (lseek(fd, (off_t)rec->pos, SEEK_SET) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	/* Best effort: F_SEAL_EXEC forbids the chmod, as on a fresh inode it would not. */
	if (fchmod(fd, 0777) < 0)
		luo_log(f->ctx, LOG_INFO, "memfd: cannot set mode 0777 (%d)", -errno);
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
};
