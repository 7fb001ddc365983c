/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Atomic, durable replacement of the state blob and bounded reading of it.
 * A reader sees either the old blob or the complete new one, never a part.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serialize/blob.h"
#include "util.h"

#define TEMP_TRIES 16

/* Room for the ".#" prefix and ".<16 hex>" suffix of the temporary name. */
static bool plain_name(const char *name)
{
	size_t n = strlen(name);

	return n && n <= NAME_MAX - 20 && !strchr(name, '/') && strcmp(name, ".") &&
	       strcmp(name, "..");
}

static int fault(luo_blob_fault_fn fn, void *data, const char *point)
{
	int r;

	if (!fn)
		return 0;
	r = fn(data, point);
	return r < 0 ? r : 0;
}

static void temp_name(char *buf, size_t size, const char *name)
{
	uint64_t rnd;

	/* Uniqueness, not secrecy: a clock-based fallback is good enough. */
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		rnd = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 40;
	}
	snprintf(buf, size, ".#%s.%016llx", name, (unsigned long long)rnd);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, MIN(len, (size_t)SSIZE_MAX));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Give an O_TMPFILE file a (temporary) name so it can be renamed over @name. */
static int link_tmpfile(int fd, int dfd, const char *name, char *tmp, size_t tmp_size)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (int i = 0; i < TEMP_TRIES; i++) {
		temp_name(tmp, tmp_size, name);
		if (linkat(AT_FDCWD, proc, dfd, tmp, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno == EEXIST)
			continue;
		/* No /proc: AT_EMPTY_PATH works with CAP_DAC_READ_SEARCH. */
		if (errno == ENOENT && linkat(fd, "", dfd, tmp, AT_EMPTY_PATH) == 0)
			return 0;
		return -errno;
	}
	return -EEXIST;
}

static int open_named_temp(int dfd, const char *name, char *tmp, size_t tmp_size)
{
	for (int i = 0; i < TEMP_TRIES; i++) {
		int fd;

		temp_name(tmp, tmp_size, name);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int luo_blob_write_atomic_fault(int dirfd, const char *name, const void *buf, size_t len,
				luo_blob_fault_fn fn, void *data)
{
	_cleanup_close_ int dfd = -1;
	_cleanup_close_ int fd = -1;
	char tmp[NAME_MAX + 1];
	bool named = false;
	int r;

	if (!name || !plain_name(name) || (!buf && len))
		return -EINVAL;

	r = fault(fn, data, "blob/open");
	if (r < 0)
		return r;
	/* Our own fd: fsync() of the directory needs one that is not O_PATH. */
	dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			return -errno;
		fd = open_named_temp(dfd, name, tmp, sizeof(tmp));
		if (fd < 0)
			return fd;
		named = true;
	}
	/* The umask must not loosen or tighten what the next daemon reads. */
	if (fchmod(fd, 0600) < 0) {
		r = -errno;
		goto fail;
	}

	r = fault(fn, data, "blob/write");
	if (r < 0)
		goto fail;
	r = write_all(fd, buf, len);
	if (r < 0)
		goto fail;

	r = fault(fn, data, "blob/fsync");
	if (r < 0)
		goto fail;
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}

	r = fault(fn, data, "blob/rename");
	if (r < 0)
		goto fail;
	if (!named) {
		r = link_tmpfile(fd, dfd, name, tmp, sizeof(tmp));
		if (r < 0)
			return r;
		named = true;
	}
	if (renameat(dfd, tmp, dfd, name) < 0) {
		r = -errno;
		goto fail;
	}
	/* The new blob is in place; this only makes the rename durable. */
	if (fsync(dfd) < 0)
		return -errno;
	return 0;

fail:
	if (named)
		unlinkat(dfd, tmp, 0);
	return r;
}

int luo_blob_write_atomic(int dirfd, const char *name, const void *buf, size_t len)
{
	return luo_blob_write_atomic_fault(dirfd, name, buf, len, NULL, NULL);
}

int luo_blob_read_file(int dirfd, const char *name, void **ret_buf, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0, cap;
	struct stat st;

	if (!name || !ret_buf || !ret_len)
		return -EINVAL;
	/*
	 * O_NONBLOCK: a FIFO planted under the name must not hang us;
	 * O_NOFOLLOW: nor may a link planted there make us read another file.
	 */
	fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > LUO_BLOB_MAX_FILE_SIZE)
		return -EFBIG;

	/* One spare byte shows whether the file grew while we read it. */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			uint8_t *nb;

			if (cap > LUO_BLOB_MAX_FILE_SIZE)
				return -EFBIG;
			cap = MIN(cap * 2, (size_t)LUO_BLOB_MAX_FILE_SIZE + 1);
			nb = realloc(buf, cap);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}

	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}
