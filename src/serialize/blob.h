/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state blob: what an outgoing daemon hands to the next one across an
 * emulated live update.  An in-memory model independent of the core, its
 * wire format, and atomic file I/O.  The blob is hostile input on load.
 *
 * Every function returns 0 or a negative errno.  No global state.
 *
 * Wire format, all integers little-endian:
 *
 *   header (LUO_BLOB_HEADER_LEN = 40 bytes in versions 1 and 2)
 *     0  u8[8] magic "LUOEMU\0\0"
 *     8  u32   version             format of this blob (2)
 *    12  u32   min_reader_version  oldest reader able to load it (2)
 *    16  u32   header_len          40 in v1/v2; a newer writer may append
 *    20  u32   flags               incompatible features; none in v1
 *    24  u64   payload_len         must equal file size - header_len
 *    32  u32   payload_crc         CRC32C of the payload
 *    36  u32   header_crc          CRC32C of header bytes [0,36) followed
 *                                  by [40,header_len)
 *   payload
 *     u64 liveupdate_count, u32 mode, u32 nr_sessions, then per session:
 *       u32 rec_len, then rec_len bytes:
 *         u32 name_len (with NUL, 2..64), name bytes,
 *         u32 nr_files, then per file:
 *           u32 rec_len, then rec_len bytes:
 *             u64 token,
 *             u32 compat_len (with NUL, 2..32), compatible bytes,
 *             s32 fd_slot,
 *             u32 data_name_len (with NUL, 1..64), data_name bytes,
 *             u32 record_len (0..4096), record bytes.
 *         u32 owner_uid (version 2+: the uid that created the session)
 *
 * Version 2 added owner_uid; a version-1 blob decodes with owner 0 (root).
 * A v2 writer sets min_reader_version 2: a v1 reader would skip the owner
 * and hand every session to any user, so it must refuse (fail closed).
 * A blob of this reader's version (or older) must fill every record
 * exactly; a blob of a newer version that still admits this reader may
 * carry extra bytes at the end of the header and of each session/file
 * record, which are skipped.
 *
 * Decode errors: -EBADMSG for corruption or invalid content (including
 * names of the wrong length), -EPROTONOSUPPORT when the blob needs a newer
 * reader, -E2BIG when a count or record_len exceeds the limits below.
 */
#ifndef LUOEMU_SERIALIZE_BLOB_H
#define LUOEMU_SERIALIZE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LUO_BLOB_MAGIC		"LUOEMU\0\0"
#define LUO_BLOB_MAGIC_LEN	8
#define LUO_BLOB_VERSION	2u
#define LUO_BLOB_HEADER_LEN	40u
#define LUO_BLOB_MAX_HEADER_LEN 4096u

#define LUO_BLOB_MODE_EXEC 1u
#define LUO_BLOB_MODE_COPY 2u

#define LUO_BLOB_NAME_LEN	   64 /* session name, with NUL */
#define LUO_BLOB_COMPAT_LEN	   32 /* compatible string, with NUL */
#define LUO_BLOB_DATA_NAME_LEN	   64 /* copy-mode data file name, with NUL */
#define LUO_BLOB_MAX_SESSIONS	   1000000u
#define LUO_BLOB_MAX_SESSION_FILES 1000000u
#define LUO_BLOB_MAX_FILES	   4000000u
#define LUO_BLOB_MAX_RECORD	   4096u
#define LUO_BLOB_MAX_FILE_SIZE	   (1ull << 30) /* luo_blob_read_file() */

struct luo_blob_file {
	uint64_t token;
	char compatible[LUO_BLOB_COMPAT_LEN]; /* printable, e.g. "memfd-v2" */
	void *record;			      /* handler record bytes */
	uint32_t record_len;		      /* <= LUO_BLOB_MAX_RECORD */
	int32_t fd_slot; /* exec mode: fd the new daemon inherits; -1 in copy mode */
	char data_name[LUO_BLOB_DATA_NAME_LEN]; /* copy mode: file in the state dir; "" in exec */
};

struct luo_blob_session {
	char name[LUO_BLOB_NAME_LEN]; /* 1..63 bytes + NUL */
	uint32_t owner_uid;	      /* the creating uid; 0 from a version-1 blob */
	uint32_t nr_files;
	struct luo_blob_file *files;
};

struct luo_blob {
	uint64_t liveupdate_count;
	uint32_t mode; /* LUO_BLOB_MODE_* */
	uint32_t nr_sessions;
	struct luo_blob_session *sessions;
};

/*
 * Beyond the wire checks, encode and decode enforce the same content rules:
 * unique session names, unique tokens within a session; exec mode: empty
 * data_name, fd_slot >= -1 and every fd_slot >= 0 unique in the blob; copy
 * mode: fd_slot == -1 and a non-empty data_name that is a plain file name
 * (printable, no '/', not "." or ".."), unique in the blob.  Encode reports
 * a broken model with -EINVAL (-E2BIG for limits).
 */
int luo_blob_encode(const struct luo_blob *b, void **ret_buf, size_t *ret_len);

/* *@ret is set only on success; free it with luo_blob_free(). */
int luo_blob_decode(const void *buf, size_t len, struct luo_blob **ret);
/* Same, and on failure writes a one-line reason into @why (may be NULL). */
int luo_blob_decode_reason(const void *buf, size_t len, struct luo_blob **ret, char *why,
			   size_t why_len);
void luo_blob_free(struct luo_blob *b);

/*
 * Fault hook for the write steps: called with "blob/open", "blob/write",
 * "blob/fsync" and "blob/rename" before each step; a negative return fails
 * that step.  The previous blob under @name stays intact and no temporary
 * file is left behind on any failure before the rename.
 */
typedef int (*luo_blob_fault_fn)(void *data, const char *point);

/*
 * Replace @name in @dirfd (AT_FDCWD allowed) with @buf, mode 0600, atomically
 * and durably: O_TMPFILE + linkat (or a named temporary) + fsync + rename,
 * then fsync of the directory.  @name must be a plain file name.
 */
int luo_blob_write_atomic(int dirfd, const char *name, const void *buf, size_t len);
int luo_blob_write_atomic_fault(int dirfd, const char *name, const void *buf, size_t len,
				luo_blob_fault_fn fn, void *data);

/* Read a whole regular file of at most LUO_BLOB_MAX_FILE_SIZE (-EFBIG). */
int luo_blob_read_file(int dirfd, const char *name, void **ret_buf, size_t *ret_len);

/* Human-readable or JSON dump; names are escaped either way. */
int luo_blob_print(FILE *out, const struct luo_blob *b, bool json);

/* CRC32C (Castagnoli), reflected; start with crc = 0. */
uint32_t luo_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
