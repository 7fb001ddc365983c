/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * State blob encoding and decoding.  Decoding treats the buffer as hostile:
 * every length is checked against what remains before it is used, and no
 * count allocates more than the remaining bytes could describe.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "serialize/blob.h"
#include "util.h"

/* Header field offsets (see blob.h). */
#define OFF_VERSION	8
#define OFF_MIN_READER	12
#define OFF_HEADER_LEN	16
#define OFF_FLAGS	20
#define OFF_PAYLOAD_LEN 24
#define OFF_PAYLOAD_CRC 32
#define OFF_HEADER_CRC	36
#define KNOWN_FLAGS	0u

/* Smallest wire size of a session and a file, to bound counts. */
#define SESSION_MIN_WIRE (4 + 4 + 2 + 4)
#define FILE_MIN_WIRE	 (4 + 8 + 4 + 2 + 4 + 4 + 1 + 4)

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static uint8_t *put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
	return p + 4;
}

static uint8_t *put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	return put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint8_t *put_bytes(uint8_t *p, const void *src, size_t n)
{
	if (n)
		memcpy(p, src, n);
	return p + n;
}

static uint32_t header_crc(const uint8_t *p, uint32_t header_len)
{
	uint32_t crc = luo_crc32c(0, p, OFF_HEADER_CRC);

	return luo_crc32c(crc, p + LUO_BLOB_HEADER_LEN, header_len - LUO_BLOB_HEADER_LEN);
}

/* Length of the NUL-terminated string in @s[0..size), or -1 if unterminated. */
static int bounded_strlen(const char *s, size_t size)
{
	const char *nul = memchr(s, 0, size);

	return nul ? (int)(nul - s) : -1;
}

static bool compat_ok(const char *s)
{
	int n = bounded_strlen(s, LUO_BLOB_COMPAT_LEN);

	if (n < 1)
		return false;
	for (int i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

/* A plain file name in the state directory: never a path. */
static bool data_name_ok(const char *s, bool want_empty)
{
	int n = bounded_strlen(s, LUO_BLOB_DATA_NAME_LEN);

	if (n < 0)
		return false;
	if (want_empty)
		return n == 0;
	if (n == 0 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (int i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '/')
			return false;
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

static int cmp_session(const void *a, const void *b)
{
	const struct luo_blob_session *x = *(const struct luo_blob_session *const *)a;
	const struct luo_blob_session *y = *(const struct luo_blob_session *const *)b;

	return strcmp(x->name, y->name);
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int check_file(const struct luo_blob *b, const struct luo_blob_file *f, uint32_t si,
		      uint32_t fi, int bad, char *why, size_t wl)
{
	bool exec = b->mode == LUO_BLOB_MODE_EXEC;

	if (!compat_ok(f->compatible))
		return why_err(why, wl, bad, "session %u file %u: invalid compatible string", si,
			       fi);
	if (f->record_len > LUO_BLOB_MAX_RECORD)
		return why_err(why, wl, -E2BIG, "session %u file %u: record_len %u exceeds %u", si,
			       fi, f->record_len, LUO_BLOB_MAX_RECORD);
	if (f->record_len && !f->record)
		return why_err(why, wl, bad, "session %u file %u: no record bytes", si, fi);
	if (f->fd_slot < -1 || (!exec && f->fd_slot != -1))
		return why_err(why, wl, bad, "session %u file %u: fd_slot %d invalid in %s mode",
			       si, fi, f->fd_slot, exec ? "exec" : "copy");
	if (!data_name_ok(f->data_name, exec))
		return why_err(why, wl, bad, "session %u file %u: invalid data_name for %s mode",
			       si, fi, exec ? "exec" : "copy");
	return 0;
}

/* Tokens unique within each session. */
static int check_tokens(const struct luo_blob *b, uint32_t max_files, int bad, char *why, size_t wl)
{
	_cleanup_free_ uint64_t *tok = NULL;

	if (!max_files)
		return 0;
	tok = malloc(sizeof(*tok) * max_files);
	if (!tok)
		return why_err(why, wl, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < b->nr_sessions; i++) {
		const struct luo_blob_session *s = &b->sessions[i];

		for (uint32_t j = 0; j < s->nr_files; j++)
			tok[j] = s->files[j].token;
		qsort(tok, s->nr_files, sizeof(*tok), cmp_u64);
		for (uint32_t j = 1; j < s->nr_files; j++)
			if (tok[j] == tok[j - 1])
				return why_err(why, wl, bad, "session %u: duplicate token 0x%llx",
					       i, (unsigned long long)tok[j]);
	}
	return 0;
}

/* Session names, fd slots (exec) and data names (copy) unique in the blob. */
static int check_unique(const struct luo_blob *b, uint32_t total, int bad, char *why, size_t wl)
{
	_cleanup_free_ const struct luo_blob_session **ss = NULL;
	_cleanup_free_ const char **names = NULL;
	_cleanup_free_ int32_t *slots = NULL;
	uint32_t n = 0;

	if (b->nr_sessions) {
		ss = malloc(sizeof(*ss) * b->nr_sessions);
		if (!ss)
			return why_err(why, wl, -ENOMEM, "out of memory");
		for (uint32_t i = 0; i < b->nr_sessions; i++)
			ss[i] = &b->sessions[i];
		qsort(ss, b->nr_sessions, sizeof(*ss), cmp_session);
		for (uint32_t i = 1; i < b->nr_sessions; i++)
			if (!strcmp(ss[i]->name, ss[i - 1]->name))
				return why_err(why, wl, bad, "sessions %zu and %zu share a name",
					       (size_t)(ss[i - 1] - b->sessions),
					       (size_t)(ss[i] - b->sessions));
	}
	if (!total)
		return 0;

	if (b->mode == LUO_BLOB_MODE_COPY) {
		names = malloc(sizeof(*names) * total);
		if (!names)
			return why_err(why, wl, -ENOMEM, "out of memory");
		for (uint32_t i = 0; i < b->nr_sessions; i++)
			for (uint32_t j = 0; j < b->sessions[i].nr_files; j++)
				names[n++] = b->sessions[i].files[j].data_name;
		qsort(names, n, sizeof(*names), cmp_strp);
		for (uint32_t i = 1; i < n; i++)
			if (!strcmp(names[i], names[i - 1]))
				return why_err(why, wl, bad, "data_name used by two files");
		return 0;
	}

	slots = malloc(sizeof(*slots) * total);
	if (!slots)
		return why_err(why, wl, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < b->nr_sessions; i++)
		for (uint32_t j = 0; j < b->sessions[i].nr_files; j++)
			if (b->sessions[i].files[j].fd_slot >= 0)
				slots[n++] = b->sessions[i].files[j].fd_slot;
	qsort(slots, n, sizeof(*slots), cmp_i32);
	for (uint32_t i = 1; i < n; i++)
		if (slots[i] == slots[i - 1])
			return why_err(why, wl, bad, "fd_slot %d used by two files", slots[i]);
	return 0;
}

/*
 * The content rules shared by encode (@bad = -EINVAL: a caller bug) and
 * decode (@bad = -EBADMSG: a corrupt blob).
 */
static int blob_check(const struct luo_blob *b, int bad, char *why, size_t wl)
{
	uint32_t total = 0, max_files = 0;
	int r;

	if (b->mode != LUO_BLOB_MODE_EXEC && b->mode != LUO_BLOB_MODE_COPY)
		return why_err(why, wl, bad, "unknown mode %u", b->mode);
	if (b->nr_sessions > LUO_BLOB_MAX_SESSIONS)
		return why_err(why, wl, -E2BIG, "%u sessions exceed the limit of %u",
			       b->nr_sessions, LUO_BLOB_MAX_SESSIONS);
	if (b->nr_sessions && !b->sessions)
		return why_err(why, wl, bad, "no session array");

	for (uint32_t i = 0; i < b->nr_sessions; i++) {
		const struct luo_blob_session *s = &b->sessions[i];
		int n = bounded_strlen(s->name, LUO_BLOB_NAME_LEN);

		if (n < 1)
			return why_err(why, wl, bad, "session %u: name %s", i,
				       n ? "not NUL-terminated" : "empty");
		if (s->nr_files > LUO_BLOB_MAX_SESSION_FILES)
			return why_err(why, wl, -E2BIG,
				       "session %u: %u files exceed the limit of %u", i,
				       s->nr_files, LUO_BLOB_MAX_SESSION_FILES);
		if (s->nr_files > LUO_BLOB_MAX_FILES - total)
			return why_err(why, wl, -E2BIG, "more than %u files in total",
				       LUO_BLOB_MAX_FILES);
		total += s->nr_files;
		if (s->nr_files > max_files)
			max_files = s->nr_files;
		if (s->nr_files && !s->files)
			return why_err(why, wl, bad, "session %u: no file array", i);
		for (uint32_t j = 0; j < s->nr_files; j++) {
			r = check_file(b, &s->files[j], i, j, bad, why, wl);
			if (r < 0)
				return r;
		}
	}

	r = check_tokens(b, max_files, bad, why, wl);
	if (r < 0)
		return r;
	return check_unique(b, total, bad, why, wl);
}

static size_t file_wire_len(const struct luo_blob_file *f)
{
	return 8 + 4 + strlen(f->compatible) + 1 + 4 + 4 + strlen(f->data_name) + 1 + 4 +
	       f->record_len;
}

static uint8_t *put_str(uint8_t *p, const char *s)
{
	size_t n = strlen(s) + 1;

	p = put_le32(p, (uint32_t)n);
	return put_bytes(p, s, n);
}

int luo_blob_encode(const struct luo_blob *b, void **ret_buf, size_t *ret_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = LUO_BLOB_HEADER_LEN + 8 + 4 + 4;
	uint8_t *p;
	int r;

	if (!b || !ret_buf || !ret_len)
		return -EINVAL;
	r = blob_check(b, -EINVAL, NULL, 0);
	if (r < 0)
		return r;

	/* Sizes stay far below SIZE_MAX on 64 bits; the cap keeps it readable back. */
	for (uint32_t i = 0; i < b->nr_sessions; i++) {
		const struct luo_blob_session *s = &b->sessions[i];

		len += 4 + 4 + strlen(s->name) + 1 + 4 + 4;
		for (uint32_t j = 0; j < s->nr_files; j++)
			len += 4 + file_wire_len(&s->files[j]);
		if (len > LUO_BLOB_MAX_FILE_SIZE)
			return -E2BIG;
	}

	buf = malloc(len);
	if (!buf)
		return -ENOMEM;

	p = buf + LUO_BLOB_HEADER_LEN;
	p = put_le64(p, b->liveupdate_count);
	p = put_le32(p, b->mode);
	p = put_le32(p, b->nr_sessions);
	for (uint32_t i = 0; i < b->nr_sessions; i++) {
		const struct luo_blob_session *s = &b->sessions[i];
		uint8_t *rec = p;

		p += 4; /* record length, filled below */
		p = put_str(p, s->name);
		p = put_le32(p, s->nr_files);
		for (uint32_t j = 0; j < s->nr_files; j++) {
			const struct luo_blob_file *f = &s->files[j];

			p = put_le32(p, (uint32_t)file_wire_len(f));
			p = put_le64(p, f->token);
			p = put_str(p, f->compatible);
			p = put_le32(p, (uint32_t)f->fd_slot);
			p = put_str(p, f->data_name);
			p = put_le32(p, f->record_len);
			p = put_bytes(p, f->record, f->record_len);
		}
		p = put_le32(p, s->owner_uid);
		put_le32(rec, (uint32_t)(p - rec - 4));
	}

	memcpy(buf, LUO_BLOB_MAGIC, LUO_BLOB_MAGIC_LEN);
	put_le32(buf + OFF_VERSION, LUO_BLOB_VERSION);
	put_le32(buf + OFF_MIN_READER, LUO_BLOB_VERSION);
	put_le32(buf + OFF_HEADER_LEN, LUO_BLOB_HEADER_LEN);
	put_le32(buf + OFF_FLAGS, 0);
	put_le64(buf + OFF_PAYLOAD_LEN, len - LUO_BLOB_HEADER_LEN);
	put_le32(buf + OFF_PAYLOAD_CRC,
		 luo_crc32c(0, buf + LUO_BLOB_HEADER_LEN, len - LUO_BLOB_HEADER_LEN));
	put_le32(buf + OFF_HEADER_CRC, header_crc(buf, LUO_BLOB_HEADER_LEN));

	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* A cursor over untrusted bytes: every read checks what is left. */
struct rd {
	const uint8_t *p;
	size_t left;
};

static bool rd_bytes(struct rd *r, size_t n, const uint8_t **ret)
{
	if (n > r->left)
		return false;
	*ret = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

static bool rd_u32(struct rd *r, uint32_t *v)
{
	const uint8_t *p;

	if (!rd_bytes(r, 4, &p))
		return false;
	*v = get_le32(p);
	return true;
}

static bool rd_u64(struct rd *r, uint64_t *v)
{
	const uint8_t *p;

	if (!rd_bytes(r, 8, &p))
		return false;
	*v = get_le64(p);
	return true;
}

/* Split off a length-prefixed record as its own cursor. */
static bool rd_record(struct rd *r, struct rd *rec)
{
	uint32_t n;

	if (!rd_u32(r, &n) || !rd_bytes(r, n, &rec->p))
		return false;
	rec->left = n;
	return true;
}

/*
 * A length-prefixed string of @min..@size-1 bytes plus its NUL, copied into
 * @dst[@size].  Returns NULL or what is wrong with it.
 */
static const char *rd_str(struct rd *r, char *dst, size_t size, size_t min)
{
	const uint8_t *p;
	uint32_t n;

	if (!rd_u32(r, &n))
		return "truncated";
	if (n < min + 1 || n > size)
		return n == 1 ? "empty" : "length out of range";
	if (!rd_bytes(r, n, &p))
		return "truncated";
	if (p[n - 1])
		return "not NUL-terminated";
	if (memchr(p, 0, n - 1))
		return "has an embedded NUL";
	memcpy(dst, p, n);
	return NULL;
}

static int parse_file(struct rd *r, bool ext, struct luo_blob_file *f, uint32_t si, uint32_t fi,
		      char *why, size_t wl)
{
	const uint8_t *rec_bytes;
	struct rd rec;
	uint32_t slot;
	const char *e;

	if (!rd_record(r, &rec))
		return why_err(why, wl, -EBADMSG, "session %u file %u: record truncated", si, fi);
	if (!rd_u64(&rec, &f->token))
		return why_err(why, wl, -EBADMSG, "session %u file %u: truncated", si, fi);
	e = rd_str(&rec, f->compatible, LUO_BLOB_COMPAT_LEN, 1);
	if (e)
		return why_err(why, wl, -EBADMSG, "session %u file %u: compatible %s", si, fi, e);
	if (!rd_u32(&rec, &slot))
		return why_err(why, wl, -EBADMSG, "session %u file %u: truncated", si, fi);
	f->fd_slot = (int32_t)slot;
	e = rd_str(&rec, f->data_name, LUO_BLOB_DATA_NAME_LEN, 0);
	if (e)
		return why_err(why, wl, -EBADMSG, "session %u file %u: data_name %s", si, fi, e);
	if (!rd_u32(&rec, &f->record_len))
		return why_err(why, wl, -EBADMSG, "session %u file %u: truncated", si, fi);
	if (f->record_len > LUO_BLOB_MAX_RECORD)
		return why_err(why, wl, -E2BIG, "session %u file %u: record_len %u exceeds %u", si,
			       fi, f->record_len, LUO_BLOB_MAX_RECORD);
	if (!rd_bytes(&rec, f->record_len, &rec_bytes))
		return why_err(why, wl, -EBADMSG, "session %u file %u: record bytes truncated", si,
			       fi);
	if (f->record_len) {
		f->record = malloc(f->record_len);
		if (!f->record)
			return why_err(why, wl, -ENOMEM, "out of memory");
		memcpy(f->record, rec_bytes, f->record_len);
	}
	if (rec.left && !ext)
		return why_err(why, wl, -EBADMSG,
			       "session %u file %u: %zu trailing bytes in record", si, fi,
			       rec.left);
	return 0;
}

static int parse_session(struct rd *r, uint32_t version, struct luo_blob_session *s, uint32_t si,
			 uint32_t *total, char *why, size_t wl)
{
	bool ext = version > LUO_BLOB_VERSION;
	struct rd rec;
	uint32_t nr;
	const char *e;
	int ret;

	if (!rd_record(r, &rec))
		return why_err(why, wl, -EBADMSG, "session %u: record truncated", si);
	e = rd_str(&rec, s->name, LUO_BLOB_NAME_LEN, 1);
	if (e)
		return why_err(why, wl, -EBADMSG, "session %u: name %s", si, e);
	if (!rd_u32(&rec, &nr))
		return why_err(why, wl, -EBADMSG, "session %u: truncated", si);
	if (nr > LUO_BLOB_MAX_SESSION_FILES)
		return why_err(why, wl, -E2BIG, "session %u: %u files exceed the limit of %u", si,
			       nr, LUO_BLOB_MAX_SESSION_FILES);
	if (nr > LUO_BLOB_MAX_FILES - *total)
		return why_err(why, wl, -E2BIG, "more than %u files in total", LUO_BLOB_MAX_FILES);
	*total += nr;
	if (nr > rec.left / FILE_MIN_WIRE)
		return why_err(why, wl, -EBADMSG, "session %u: %u files cannot fit in %zu bytes",
			       si, nr, rec.left);
	if (nr) {
		s->files = calloc(nr, sizeof(*s->files));
		if (!s->files)
			return why_err(why, wl, -ENOMEM, "out of memory");
		s->nr_files = nr;
	}
	for (uint32_t j = 0; j < nr; j++) {
		ret = parse_file(&rec, ext, &s->files[j], si, j, why, wl);
		if (ret < 0)
			return ret;
	}
	/* Version 1 had no owner: root's, as every session was then. */
	s->owner_uid = 0;
	if (version >= 2 && !rd_u32(&rec, &s->owner_uid))
		return why_err(why, wl, -EBADMSG, "session %u: owner truncated", si);
	if (rec.left && !ext)
		return why_err(why, wl, -EBADMSG, "session %u: %zu trailing bytes in record", si,
			       rec.left);
	return 0;
}

static int parse_payload(struct rd *r, uint32_t version, struct luo_blob *b, char *why, size_t wl)
{
	uint32_t nr, total = 0;
	int ret;

	if (!rd_u64(r, &b->liveupdate_count) || !rd_u32(r, &b->mode) || !rd_u32(r, &nr))
		return why_err(why, wl, -EBADMSG, "payload truncated");
	if (b->mode != LUO_BLOB_MODE_EXEC && b->mode != LUO_BLOB_MODE_COPY)
		return why_err(why, wl, -EBADMSG, "unknown mode %u", b->mode);
	if (nr > LUO_BLOB_MAX_SESSIONS)
		return why_err(why, wl, -E2BIG, "%u sessions exceed the limit of %u", nr,
			       LUO_BLOB_MAX_SESSIONS);
	if (nr > r->left / SESSION_MIN_WIRE)
		return why_err(why, wl, -EBADMSG, "%u sessions cannot fit in %zu bytes", nr,
			       r->left);
	if (nr) {
		b->sessions = calloc(nr, sizeof(*b->sessions));
		if (!b->sessions)
			return why_err(why, wl, -ENOMEM, "out of memory");
		b->nr_sessions = nr;
	}
	for (uint32_t i = 0; i < nr; i++) {
		ret = parse_session(r, version, &b->sessions[i], i, &total, why, wl);
		if (ret < 0)
			return ret;
	}
	if (r->left)
		return why_err(why, wl, -EBADMSG, "%zu trailing bytes after the last session",
			       r->left);
	return 0;
}

int luo_blob_decode_reason(const void *buf, size_t len, struct luo_blob **ret, char *why,
			   size_t why_len)
{
	const uint8_t *p = buf;
	uint32_t hlen, version, min_reader, flags, stored, crc;
	uint64_t plen;
	struct luo_blob *b;
	struct rd rd;
	int r;

	if (why && why_len)
		why[0] = '\0';
	if (!ret || (!buf && len))
		return why_err(why, why_len, -EINVAL, "no buffer");
	if (len < LUO_BLOB_HEADER_LEN)
		return why_err(why, why_len, -EBADMSG, "truncated header: %zu bytes, need %u", len,
			       LUO_BLOB_HEADER_LEN);
	if (memcmp(p, LUO_BLOB_MAGIC, LUO_BLOB_MAGIC_LEN))
		return why_err(why, why_len, -EBADMSG, "bad magic: not a luoemu state blob");

	hlen = get_le32(p + OFF_HEADER_LEN);
	if (hlen < LUO_BLOB_HEADER_LEN || hlen > LUO_BLOB_MAX_HEADER_LEN)
		return why_err(why, why_len, -EBADMSG, "header_len %u out of range", hlen);
	if (hlen > len)
		return why_err(why, why_len, -EBADMSG, "truncated header: header_len %u, blob %zu",
			       hlen, len);
	/* Checked before the versions, so a flipped version byte reads as corruption. */
	stored = get_le32(p + OFF_HEADER_CRC);
	crc = header_crc(p, hlen);
	if (stored != crc)
		return why_err(why, why_len, -EBADMSG,
			       "header crc mismatch: stored 0x%08x, computed 0x%08x", stored, crc);

	version = get_le32(p + OFF_VERSION);
	min_reader = get_le32(p + OFF_MIN_READER);
	if (!version || !min_reader || min_reader > version)
		return why_err(why, why_len, -EBADMSG,
			       "inconsistent versions: version %u, min_reader_version %u", version,
			       min_reader);
	if (min_reader > LUO_BLOB_VERSION)
		return why_err(why, why_len, -EPROTONOSUPPORT,
			       "blob version %u needs a reader of version %u, this reader is %u",
			       version, min_reader, LUO_BLOB_VERSION);
	if (version <= LUO_BLOB_VERSION && hlen != LUO_BLOB_HEADER_LEN)
		return why_err(why, why_len, -EBADMSG, "header_len %u wrong for version %u", hlen,
			       version);
	flags = get_le32(p + OFF_FLAGS);
	if (flags & ~KNOWN_FLAGS)
		return why_err(why, why_len, -EPROTONOSUPPORT, "unknown flags 0x%x",
			       flags & ~KNOWN_FLAGS);

	plen = get_le64(p + OFF_PAYLOAD_LEN);
	if (plen < len - hlen)
		return why_err(why, why_len, -EBADMSG, "trailing garbage: %llu bytes after payload",
			       (unsigned long long)(len - hlen - plen));
	if (plen > len - hlen)
		return why_err(why, why_len, -EBADMSG,
			       "truncated payload: payload_len %llu, %zu bytes present",
			       (unsigned long long)plen, len - hlen);
	stored = get_le32(p + OFF_PAYLOAD_CRC);
	crc = luo_crc32c(0, p + hlen, plen);
	if (stored != crc)
		return why_err(why, why_len, -EBADMSG,
			       "payload crc mismatch: stored 0x%08x, computed 0x%08x", stored, crc);

	b = calloc(1, sizeof(*b));
	if (!b)
		return why_err(why, why_len, -ENOMEM, "out of memory");
	rd.p = p + hlen;
	rd.left = plen;
	r = parse_payload(&rd, version, b, why, why_len);
	if (r >= 0)
		r = blob_check(b, -EBADMSG, why, why_len);
	if (r < 0) {
		luo_blob_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

int luo_blob_decode(const void *buf, size_t len, struct luo_blob **ret)
{
	return luo_blob_decode_reason(buf, len, ret, NULL, 0);
}

void luo_blob_free(struct luo_blob *b)
{
	if (!b)
		return;
	for (uint32_t i = 0; i < b->nr_sessions && b->sessions; i++) {
		struct luo_blob_session *s = &b->sessions[i];

		for (uint32_t j = 0; j < s->nr_files && s->files; j++)
			free(s->files[j].record);
		free(s->files);
	}
	free(b->sessions);
	free(b);
}
