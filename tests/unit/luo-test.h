/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers the Check suites of the core share: patterned memfds, inode and
 * position checks, and an in-process live update (freeze one context, load
 * its outgoing state into the next as incoming).
 */
#ifndef LUOEMU_TESTS_LUO_TEST_H
#define LUOEMU_TESTS_LUO_TEST_H

#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/luo.h"
#include "util.h"

static inline uint8_t pattern_byte(size_t off, unsigned int seed)
{
	return (uint8_t)((off * 31 + seed * 7 + (off >> 8)) ^ seed);
}

/* Write @size pattern bytes of @seed from offset 0 (the position stays). */
static inline void fill(int fd, size_t size, unsigned int seed)
{
	uint8_t buf[4096];

	for (size_t off = 0; off < size;) {
		size_t n = MIN(sizeof(buf), size - off);

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern_byte(off + i, seed);
		ck_assert_int_eq(pwrite(fd, buf, n, off), (ssize_t)n);
		off += n;
	}
}

/* The file is exactly @size pattern bytes of @seed. */
static inline void check_content(int fd, size_t size, unsigned int seed)
{
	uint8_t buf[4096];
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)size);
	for (size_t off = 0; off < size;) {
		size_t n = MIN(sizeof(buf), size - off);

		ck_assert_int_eq(pread(fd, buf, n, off), (ssize_t)n);
		for (size_t i = 0; i < n; i++)
			ck_assert_uint_eq(buf[i], pattern_byte(off + i, seed));
		off += n;
	}
}

static inline int memfd_new_flags(size_t size, unsigned int seed, unsigned int flags)
{
	int fd = memfd_create("luoemu-test", MFD_CLOEXEC | flags);

	ck_assert_int_ge(fd, 0);
	fill(fd, size, seed);
	return fd;
}

static inline bool same_inode(int a, int b)
{
	struct stat sa, sb;

	ck_assert_int_eq(fstat(a, &sa), 0);
	ck_assert_int_eq(fstat(b, &sb), 0);
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* A new open file description of @fd's file, through /proc/self/fd. */
static inline int reopen(int fd, int flags)
{
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = open(path, flags | O_CLOEXEC);
	ck_assert_int_ge(r, 0);
	return r;
}

static inline off_t pos_of(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

/*
 * The live update, in process: freeze @old (unless already frozen), load
 * its outgoing sessions into a new context as incoming ones, free @old and
 * open the new device.  Each file's data holder is a dup of the old fd, as
 * in exec mode, except the first file's when @holder >= 0 (a rebuilt
 * holder, as in copy mode: it shows what the record alone carries).  The
 * record is passed through a scratch copy that is poisoned afterwards, so
 * the core must keep its own copy.
 */
static inline struct luo_ctx *handover_holder(struct luo_ctx *old, const struct luo_config *cfg,
					      int holder)
{
	struct luo_ctx *next = NULL;

	if (!luo_ctx_going_down(old))
		ck_assert_int_eq(luo_freeze(old), 0);
	ck_assert(luo_ctx_going_down(old));
	ck_assert_int_eq(luo_ctx_new(cfg, &next), 0);
	for (struct luo_session *s = luo_outgoing_first(old); s; s = luo_session_next(s)) {
		struct luo_session *in = NULL;
		unsigned int n = 0;

		ck_assert(!luo_session_is_incoming(s));
		ck_assert_int_eq(luo_incoming_add_session(next, luo_session_name(s), &in), 0);
		ck_assert_ptr_nonnull(in);
		for (struct luo_file *f = luo_file_first(s); f; f = luo_file_next(f)) {
			size_t len = 0;
			const void *rec = luo_file_record(f, &len);
			void *copy = malloc(len + 1);
			int fd = holder >= 0 ? holder : fcntl(luo_file_fd(f), F_DUPFD_CLOEXEC, 0);
			int r;

			ck_assert_int_ge(fd, 0);
			ck_assert_ptr_nonnull(copy);
			if (len)
				memcpy(copy, rec, len);
			r = luo_incoming_add_file(in, luo_file_token(f), luo_file_compatible(f),
						  copy, len, fd);
			memset(copy, 0x5a, len + 1);
			free(copy);
			ck_assert_int_eq(r, 0);
			holder = -1;
			n++;
		}
		ck_assert_uint_eq(n, luo_session_nr_files(s));
	}
	luo_ctx_free(old);
	ck_assert_int_eq(luo_device_open(next), 0);
	return next;
}

static inline struct luo_ctx *handover(struct luo_ctx *old, const struct luo_config *cfg)
{
	return handover_holder(old, cfg, -1);
}

#endif
