/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * State blob: round trips, every corruption class with its exact errno, a
 * wire writer of its own (so the documented format is tested, not just
 * encode against decode), atomic writes under faults, bounded reads.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serialize/blob.h"
#include "util.h"

/* ---- helpers: building models ---- */

static struct luo_blob *blob_new(uint32_t mode, uint32_t nr_sessions, uint32_t files_each)
{
	struct luo_blob *b = calloc(1, sizeof(*b));
	int32_t slot = 3;

	ck_assert_ptr_nonnull(b);
	b->liveupdate_count = 7;
	b->mode = mode;
	b->nr_sessions = nr_sessions;
	if (nr_sessions) {
		b->sessions = calloc(nr_sessions, sizeof(*b->sessions));
		ck_assert_ptr_nonnull(b->sessions);
	}
	for (uint32_t i = 0; i < nr_sessions; i++) {
		struct luo_blob_session *s = &b->sessions[i];

		snprintf(s->name, sizeof(s->name), "session-%u", i);
		s->owner_uid = i % 3 ? 1000 + i : 0; /* root's and users' */
		s->nr_files = files_each ? (i % files_each) + 1 : 0;
		if (!s->nr_files)
			continue;
		s->files = calloc(s->nr_files, sizeof(*s->files));
		ck_assert_ptr_nonnull(s->files);
		for (uint32_t j = 0; j < s->nr_files; j++) {
			struct luo_blob_file *f = &s->files[j];

			f->token = 0x1000000000ull * j + i;
			snprintf(f->compatible, sizeof(f->compatible), "%s",
				 j % 2 ? "memfd-v2" : "x");
			/* Lengths 0, 1, ... and the maximum, in turn. */
			f->record_len = (j % 5 == 4) ? LUO_BLOB_MAX_RECORD : (i + j) % 40;
			if (f->record_len) {
				f->record = malloc(f->record_len);
				ck_assert_ptr_nonnull(f->record);
				for (uint32_t k = 0; k < f->record_len; k++)
					((uint8_t *)f->record)[k] = (uint8_t)(k * 7 + i + j);
			}
			if (mode == LUO_BLOB_MODE_EXEC) {
				f->fd_slot = (j % 3 == 2) ? -1 : slot++;
			} else {
				f->fd_slot = -1;
				snprintf(f->data_name, sizeof(f->data_name), "data-%u-%u", i, j);
			}
		}
	}
	return b;
}

static void assert_blob_eq(const struct luo_blob *a, const struct luo_blob *b)
{
	ck_assert_uint_eq(a->liveupdate_count, b->liveupdate_count);
	ck_assert_uint_eq(a->mode, b->mode);
	ck_assert_uint_eq(a->nr_sessions, b->nr_sessions);
	for (uint32_t i = 0; i < a->nr_sessions; i++) {
		const struct luo_blob_session *x = &a->sessions[i], *y = &b->sessions[i];

		ck_assert_str_eq(x->name, y->name);
		ck_assert_uint_eq(x->owner_uid, y->owner_uid);
		ck_assert_uint_eq(x->nr_files, y->nr_files);
		for (uint32_t j = 0; j < x->nr_files; j++) {
			const struct luo_blob_file *f = &x->files[j], *g = &y->files[j];

			ck_assert_uint_eq(f->token, g->token);
			ck_assert_str_eq(f->compatible, g->compatible);
			ck_assert_int_eq(f->fd_slot, g->fd_slot);
			ck_assert_str_eq(f->data_name, g->data_name);
			ck_assert_uint_eq(f->record_len, g->record_len);
			if (f->record_len)
				ck_assert_int_eq(memcmp(f->record, g->record, f->record_len), 0);
		}
	}
}

static void round_trip(const struct luo_blob *b)
{
	_cleanup_free_ void *buf = NULL, *buf2 = NULL;
	size_t len, len2;
	struct luo_blob *d = NULL;

	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), 0);
	ck_assert_int_eq(luo_blob_decode(buf, len, &d), 0);
	assert_blob_eq(b, d);
	/* The encoding is canonical. */
	ck_assert_int_eq(luo_blob_encode(d, &buf2, &len2), 0);
	ck_assert_uint_eq(len, len2);
	ck_assert_int_eq(memcmp(buf, buf2, len), 0);
	luo_blob_free(d);
}

static void encode_small(void **buf, size_t *len)
{
	struct luo_blob *b = blob_new(LUO_BLOB_MODE_EXEC, 2, 2);

	ck_assert_int_eq(luo_blob_encode(b, buf, len), 0);
	luo_blob_free(b);
}

static int decode_err(const void *buf, size_t len)
{
	struct luo_blob *d = NULL;
	int r = luo_blob_decode(buf, len, &d);

	if (r == 0)
		luo_blob_free(d);
	else
		ck_assert_ptr_null(d);
	return r;
}

/* ---- helpers: an independent writer of the documented wire format ---- */

struct wire {
	uint8_t *b;
	size_t len, cap;
};

static void w_put(struct wire *w, const void *p, size_t n)
{
	if (w->len + n > w->cap) {
		w->cap = (w->len + n) * 2 + 64;
		w->b = realloc(w->b, w->cap);
		ck_assert_ptr_nonnull(w->b);
	}
	memcpy(w->b + w->len, p, n);
	w->len += n;
}

static void w_u32(struct wire *w, uint32_t v)
{
	uint8_t b[4] = {v, v >> 8, v >> 16, v >> 24};

	w_put(w, b, 4);
}

static void w_u64(struct wire *w, uint64_t v)
{
	w_u32(w, (uint32_t)v);
	w_u32(w, (uint32_t)(v >> 32));
}

/* A string field with the NUL, as an honest writer does. */
static void w_str(struct wire *w, const char *s)
{
	w_u32(w, (uint32_t)strlen(s) + 1);
	w_put(w, s, strlen(s) + 1);
}

static size_t w_begin(struct wire *w)
{
	w_u32(w, 0);
	return w->len - 4;
}

static void w_end(struct wire *w, size_t off)
{
	uint32_t n = (uint32_t)(w->len - off - 4);
	uint8_t b[4] = {n, n >> 8, n >> 16, n >> 24};

	memcpy(w->b + off, b, 4);
}

static void w_file(struct wire *w, uint64_t token, const char *compat, int32_t slot,
		   const char *dname, uint32_t record_len)
{
	size_t rec = w_begin(w);

	w_u64(w, token);
	w_str(w, compat);
	w_u32(w, (uint32_t)slot);
	w_str(w, dname);
	w_u32(w, record_len);
	for (uint32_t i = 0; i < record_len; i++)
		w_put(w, "r", 1);
	w_end(w, rec);
}

static void w_payload_head(struct wire *w, uint32_t mode, uint32_t nr_sessions)
{
	w_u64(w, 42);
	w_u32(w, mode);
	w_u32(w, nr_sessions);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Recompute both CRCs after editing a blob, as a forger would. */
static void reseal(uint8_t *buf, size_t len)
{
	uint32_t hlen = buf[16] | buf[17] << 8 | buf[18] << 16 | (uint32_t)buf[19] << 24;
	uint32_t crc;

	put32(buf + 32, luo_crc32c(0, buf + hlen, len - hlen));
	crc = luo_crc32c(0, buf, 36);
	put32(buf + 36, luo_crc32c(crc, buf + 40, hlen - 40));
}

static uint8_t *seal_ext(const struct wire *pl, uint32_t version, uint32_t min_reader,
			 uint32_t flags, uint32_t ext, size_t *len)
{
	uint32_t hlen = 40 + ext;
	uint8_t *buf = calloc(1, hlen + pl->len);

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, "LUOEMU\0\0", 8);
	put32(buf + 8, version);
	put32(buf + 12, min_reader);
	put32(buf + 16, hlen);
	put32(buf + 20, flags);
	put32(buf + 24, (uint32_t)pl->len);
	put32(buf + 28, 0);
	memset(buf + 40, 0xee, ext);
	memcpy(buf + hlen, pl->b, pl->len);
	*len = hlen + pl->len;
	reseal(buf, *len);
	return buf;
}

static uint8_t *seal(const struct wire *pl, size_t *len)
{
	return seal_ext(pl, 1, 1, 0, 0, len);
}

/* Decode a v1 blob around @pl; frees the payload. */
static int decode_payload(struct wire *pl)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r;

	buf = seal(pl, &len);
	r = decode_err(buf, len);
	free(pl->b);
	*pl = (struct wire){0};
	return r;
}

/* One session named @name (raw field bytes, length @n) with no files. */
static int decode_session_name(const void *name, uint32_t n)
{
	struct wire w = {0};
	size_t rec;

	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 1);
	rec = w_begin(&w);
	w_u32(&w, n);
	w_put(&w, name, n);
	w_u32(&w, 0);
	w_end(&w, rec);
	return decode_payload(&w);
}

/* ---- tests ---- */

START_TEST(test_crc32c)
{
	ck_assert_uint_eq(luo_crc32c(0, "123456789", 9), 0xe3069283);
	ck_assert_uint_eq(luo_crc32c(0, "", 0), 0);
	/* Incremental equals one shot. */
	ck_assert_uint_eq(luo_crc32c(luo_crc32c(0, "1234", 4), "56789", 5), 0xe3069283);
}
END_TEST

START_TEST(test_empty)
{
	struct luo_blob b = {.liveupdate_count = 3, .mode = LUO_BLOB_MODE_EXEC};
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	round_trip(&b);
	ck_assert_int_eq(luo_blob_encode(&b, (void **)&buf, &len), 0);
	ck_assert_uint_eq(len, 40 + 16);
	ck_assert_int_eq(
		memcmp(buf, "LUOEMU\0\0\2\0\0\0\2\0\0\0\50\0\0\0\0\0\0\0\20\0\0\0\0\0\0\0", 32), 0);
	b.mode = LUO_BLOB_MODE_COPY;
	round_trip(&b);
}
END_TEST

START_TEST(test_one_session_no_files)
{
	struct luo_blob_session s = {.name = "a"};
	struct luo_blob b = {.mode = LUO_BLOB_MODE_COPY, .nr_sessions = 1, .sessions = &s};

	round_trip(&b);
}
END_TEST

START_TEST(test_many)
{
	uint32_t modes[] = {LUO_BLOB_MODE_EXEC, LUO_BLOB_MODE_COPY};

	for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
		struct luo_blob *b = blob_new(modes[m], 500, 13);

		b->liveupdate_count = UINT64_MAX;
		round_trip(b);
		luo_blob_free(b);
	}
}
END_TEST

START_TEST(test_wire_writer_agrees)
{
	struct wire w = {0};
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len, rec;
	struct luo_blob *d = NULL;

	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 1);
	rec = w_begin(&w);
	w_str(&w, "sess");
	w_u32(&w, 2);
	w_file(&w, 5, "memfd-v2", 9, "", 3);
	w_file(&w, 6, "memfd-v2", -1, "", 0);
	w_u32(&w, 4242); /* v2: owner_uid */
	w_end(&w, rec);
	buf = seal_ext(&w, 2, 2, 0, 0, &len);
	free(w.b);
	ck_assert_int_eq(luo_blob_decode(buf, len, &d), 0);
	ck_assert_uint_eq(d->liveupdate_count, 42);
	ck_assert_uint_eq(d->nr_sessions, 1);
	ck_assert_str_eq(d->sessions[0].name, "sess");
	ck_assert_uint_eq(d->sessions[0].owner_uid, 4242);
	ck_assert_uint_eq(d->sessions[0].nr_files, 2);
	ck_assert_uint_eq(d->sessions[0].files[0].token, 5);
	ck_assert_int_eq(d->sessions[0].files[0].fd_slot, 9);
	ck_assert_uint_eq(d->sessions[0].files[0].record_len, 3);
	ck_assert_int_eq(memcmp(d->sessions[0].files[0].record, "rrr", 3), 0);
	ck_assert_ptr_null(d->sessions[0].files[1].record);
	ck_assert_int_eq(d->sessions[0].files[1].fd_slot, -1);

	/* Our encoder produces exactly the documented bytes. */
	{
		_cleanup_free_ void *enc = NULL;
		size_t enc_len;

		d->liveupdate_count = 42;
		ck_assert_int_eq(luo_blob_encode(d, &enc, &enc_len), 0);
		ck_assert_uint_eq(enc_len, len);
		ck_assert_int_eq(memcmp(enc, buf, len), 0);
	}
	luo_blob_free(d);
}
END_TEST

/*
 * Owners: a version-1 blob (before owners) decodes with every session
 * root's; a v2 session record must carry its owner.
 */
START_TEST(test_owner_versions)
{
	struct wire w = {0};
	_cleanup_free_ uint8_t *buf = NULL;
	char why[128];
	size_t len, rec;
	struct luo_blob *d = NULL;

	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 1);
	rec = w_begin(&w);
	w_str(&w, "old");
	w_u32(&w, 1);
	w_file(&w, 5, "memfd-v2", 9, "", 3);
	w_end(&w, rec);

	buf = seal(&w, &len);
	ck_assert_int_eq(luo_blob_decode(buf, len, &d), 0);
	ck_assert_str_eq(d->sessions[0].name, "old");
	ck_assert_uint_eq(d->sessions[0].owner_uid, 0);
	luo_blob_free(d);
	free(buf);

	/* The same record in a v2 blob lacks the owner. */
	buf = seal_ext(&w, 2, 2, 0, 0, &len);
	ck_assert_int_eq(luo_blob_decode_reason(buf, len, &d, why, sizeof(why)), -EBADMSG);
	ck_assert_str_eq(why, "session 0: owner truncated");
	free(buf);
	buf = NULL;
	free(w.b);
}
END_TEST

START_TEST(test_encode_rejects)
{
	struct luo_blob *b = blob_new(LUO_BLOB_MODE_EXEC, 3, 3);
	_cleanup_free_ void *buf = NULL;
	size_t len;
	struct luo_blob_file saved;

	ck_assert_int_eq(luo_blob_encode(NULL, &buf, &len), -EINVAL);

	b->mode = 3;
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -EINVAL);
	b->mode = LUO_BLOB_MODE_EXEC;

	strcpy(b->sessions[2].name, "session-0");
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -EINVAL);
	b->sessions[2].name[0] = '\0';
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -EINVAL);
	memset(b->sessions[2].name, 'n', sizeof(b->sessions[2].name));
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -EINVAL);
	strcpy(b->sessions[2].name, "session-2");

	saved = b->sessions[2].files[1];
	b->sessions[2].files[1].token = b->sessions[2].files[0].token;
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -EINVAL);
	b->sessions[2].files[1] = saved;

	b->sessions[2].files[1].fd_slot = b->sessions[1].files[0].fd_slot;
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -EINVAL);
	b->sessions[2].files[1].fd_slot = -2;
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -EINVAL);
	b->sessions[2].files[1] = saved;

	strcpy(b->sessions[2].files[1].data_name, "x");
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -EINVAL);
	b->sessions[2].files[1] = saved;

	strcpy(b->sessions[2].files[1].compatible, "has space");
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -EINVAL);
	b->sessions[2].files[1] = saved;

	b->sessions[2].files[1].record_len = LUO_BLOB_MAX_RECORD + 1;
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -E2BIG);
	b->sessions[2].files[1] = saved;

	ck_assert_ptr_null(buf);
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), 0);
	luo_blob_free(b);

	/* Copy mode: no fd slots, safe unique data names. */
	b = blob_new(LUO_BLOB_MODE_COPY, 2, 2);
	b->sessions[1].files[0].fd_slot = 4;
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -EINVAL);
	b->sessions[1].files[0].fd_slot = -1;
	strcpy(b->sessions[1].files[0].data_name, "../etc/passwd");
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -EINVAL);
	strcpy(b->sessions[1].files[0].data_name, "..");
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -EINVAL);
	strcpy(b->sessions[1].files[0].data_name, "");
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -EINVAL);
	strcpy(b->sessions[1].files[0].data_name, b->sessions[0].files[0].data_name);
	ck_assert_int_eq(luo_blob_encode(b, &buf, &len), -EINVAL);
	luo_blob_free(b);
}
END_TEST

START_TEST(test_bad_magic)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	char why[128];
	struct luo_blob *d = NULL;

	encode_small((void **)&buf, &len);
	buf[0] = 'X';
	reseal(buf, len);
	ck_assert_int_eq(luo_blob_decode_reason(buf, len, &d, why, sizeof(why)), -EBADMSG);
	ck_assert_str_eq(why, "bad magic: not a luoemu state blob");
	ck_assert_int_eq(decode_err("", 0), -EBADMSG);
	ck_assert_int_eq(luo_blob_decode(NULL, 0, &d), -EBADMSG);
	ck_assert_int_eq(luo_blob_decode(buf, len, NULL), -EINVAL);
}
END_TEST

START_TEST(test_byte_flips)
{
	_cleanup_free_ uint8_t *buf = NULL;
	const uint8_t masks[] = {0x01, 0x80, 0xff, 0x5a};
	size_t len;

	encode_small((void **)&buf, &len);
	ck_assert_uint_gt(len, 100);
	for (size_t i = 0; i < len; i++) {
		for (size_t m = 0; m < ARRAY_SIZE(masks); m++) {
			buf[i] ^= masks[m];
			/* CRC32C catches every burst up to 32 bits, so exactly this. */
			ck_assert_msg(decode_err(buf, len) == -EBADMSG, "flip 0x%02x at %zu",
				      masks[m], i);
			buf[i] ^= masks[m];
		}
	}
	ck_assert_int_eq(decode_err(buf, len), 0);
}
END_TEST

START_TEST(test_truncation)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	encode_small((void **)&buf, &len);
	for (size_t n = 0; n < len; n++) {
		/* A copy of exactly n bytes, so ASan sees any over-read. */
		uint8_t *t = malloc(n ? n : 1);

		memcpy(t, buf, n);
		ck_assert_msg(decode_err(t, n) == -EBADMSG, "truncated to %zu", n);
		free(t);
	}
}
END_TEST

START_TEST(test_versions)
{
	struct wire w = {0};
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	char why[128];
	struct luo_blob *d = NULL;

	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 0);

	buf = seal_ext(&w, 3, 3, 0, 0, &len);
	ck_assert_int_eq(luo_blob_decode_reason(buf, len, &d, why, sizeof(why)), -EPROTONOSUPPORT);
	ck_assert_str_eq(why, "blob version 3 needs a reader of version 3, this reader is 2");
	free(buf);
	buf = seal_ext(&w, 2, 2, 0, 4, &len); /* v2 has no header extension either */
	ck_assert_int_eq(decode_err(buf, len), -EBADMSG);
	free(buf);

	buf = seal_ext(&w, 0, 0, 0, 0, &len);
	ck_assert_int_eq(decode_err(buf, len), -EBADMSG);
	free(buf);
	buf = seal_ext(&w, 1, 2, 0, 0, &len); /* min_reader > version */
	ck_assert_int_eq(decode_err(buf, len), -EBADMSG);
	free(buf);
	buf = seal_ext(&w, 1, 1, 1, 0, &len); /* unknown incompatible flag */
	ck_assert_int_eq(decode_err(buf, len), -EPROTONOSUPPORT);
	free(buf);
	buf = seal_ext(&w, 1, 1, 0, 4, &len); /* v1 has no header extension */
	ck_assert_int_eq(decode_err(buf, len), -EBADMSG);
	free(buf);
	buf = seal_ext(&w, 1, 1, 0, LUO_BLOB_MAX_HEADER_LEN, &len);
	ck_assert_int_eq(decode_err(buf, len), -EBADMSG);
	free(buf);
	buf = NULL;
	free(w.b);
}
END_TEST

/* A newer writer that admits v2 readers: extension bytes are skipped. */
START_TEST(test_newer_compatible)
{
	struct wire w = {0};
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len, rec, frec;
	struct luo_blob *d = NULL;

	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 1);
	rec = w_begin(&w);
	w_str(&w, "s");
	w_u32(&w, 1);
	frec = w_begin(&w);
	w_u64(&w, 1);
	w_str(&w, "memfd-v2");
	w_u32(&w, 3);
	w_str(&w, "");
	w_u32(&w, 0);
	w_u32(&w, 0xdeadbeef); /* a v3 field */
	w_end(&w, frec);
	w_u32(&w, 77);	   /* v2: owner_uid */
	w_u64(&w, 0x1234); /* a v3 session field */
	w_end(&w, rec);

	buf = seal_ext(&w, 3, 2, 0, 8, &len);
	ck_assert_int_eq(luo_blob_decode(buf, len, &d), 0);
	ck_assert_str_eq(d->sessions[0].name, "s");
	ck_assert_uint_eq(d->sessions[0].owner_uid, 77);
	ck_assert_int_eq(d->sessions[0].files[0].fd_slot, 3);
	luo_blob_free(d);
	free(buf);

	/* The same extras in a v1 or v2 blob are trailing garbage. */
	buf = seal(&w, &len);
	ck_assert_int_eq(decode_err(buf, len), -EBADMSG);
	free(buf);
	buf = seal_ext(&w, 2, 2, 0, 0, &len);
	ck_assert_int_eq(decode_err(buf, len), -EBADMSG);
	free(w.b);
}
END_TEST

START_TEST(test_counts)
{
	struct wire w = {0};
	size_t rec;

	/* More sessions than the bytes could describe. */
	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 1000);
	ck_assert_int_eq(decode_payload(&w), -EBADMSG);
	w_payload_head(&w, LUO_BLOB_MODE_EXEC, UINT32_MAX);
	ck_assert_int_eq(decode_payload(&w), -E2BIG);
	w_payload_head(&w, LUO_BLOB_MODE_EXEC, LUO_BLOB_MAX_SESSIONS + 1);
	ck_assert_int_eq(decode_payload(&w), -E2BIG);

	/* More files than the session record could describe. */
	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 1);
	rec = w_begin(&w);
	w_str(&w, "s");
	w_u32(&w, 2);
	w_file(&w, 1, "c", 3, "", 0);
	w_end(&w, rec);
	ck_assert_int_eq(decode_payload(&w), -EBADMSG);

	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 1);
	rec = w_begin(&w);
	w_str(&w, "s");
	w_u32(&w, LUO_BLOB_MAX_SESSION_FILES + 1);
	w_end(&w, rec);
	ck_assert_int_eq(decode_payload(&w), -E2BIG);

	/* A session record longer than the payload. */
	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 1);
	w_u32(&w, 1000);
	w_str(&w, "s");
	w_u32(&w, 0);
	ck_assert_int_eq(decode_payload(&w), -EBADMSG);

	/* A string length beyond its record. */
	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 1);
	rec = w_begin(&w);
	w_u32(&w, 60);
	w_put(&w, "s", 2);
	w_end(&w, rec);
	w_u32(&w, 0);
	w_put(&w, "padding-padding-padding-padding-padding-padding-padding-padding", 60);
	ck_assert_int_eq(decode_payload(&w), -EBADMSG);
}
END_TEST

START_TEST(test_names)
{
	char name[70];

	ck_assert_int_eq(decode_session_name("ok", 3), 0);
	ck_assert_int_eq(decode_session_name("abc", 3), -EBADMSG); /* unterminated */
	ck_assert_int_eq(decode_session_name("", 1), -EBADMSG);	   /* empty */
	ck_assert_int_eq(decode_session_name("", 0), -EBADMSG);
	ck_assert_int_eq(decode_session_name("a\0b", 4), -EBADMSG); /* embedded NUL */

	memset(name, 'n', sizeof(name));
	name[63] = '\0';
	ck_assert_int_eq(decode_session_name(name, 64), 0); /* 63 bytes: the maximum */
	name[63] = 'n';
	name[64] = '\0';
	ck_assert_int_eq(decode_session_name(name, 65), -EBADMSG); /* 64 bytes */
	ck_assert_int_eq(decode_session_name(name, 64), -EBADMSG); /* 64, no NUL */
}
END_TEST

START_TEST(test_duplicates)
{
	struct wire w = {0};
	size_t rec;
	char why[128];
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	struct luo_blob *d = NULL;

	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 3);
	for (int i = 0; i < 3; i++) {
		rec = w_begin(&w);
		w_str(&w, i == 1 ? "b" : "a");
		w_u32(&w, 0);
		w_end(&w, rec);
	}
	buf = seal(&w, &len);
	ck_assert_int_eq(luo_blob_decode_reason(buf, len, &d, why, sizeof(why)), -EBADMSG);
	ck_assert_str_eq(why, "sessions 0 and 2 share a name");
	free(w.b);
	w = (struct wire){0};

	/* Same token twice in one session. */
	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 1);
	rec = w_begin(&w);
	w_str(&w, "a");
	w_u32(&w, 2);
	w_file(&w, 77, "c", 3, "", 0);
	w_file(&w, 77, "c", 4, "", 0);
	w_end(&w, rec);
	ck_assert_int_eq(decode_payload(&w), -EBADMSG);

	/* Same token in two sessions is fine. */
	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 2);
	for (int i = 0; i < 2; i++) {
		rec = w_begin(&w);
		w_str(&w, i ? "b" : "a");
		w_u32(&w, 1);
		w_file(&w, 77, "c", 3 + i, "", 0);
		w_end(&w, rec);
	}
	ck_assert_int_eq(decode_payload(&w), 0);

	/* One inherited fd claimed by two files. */
	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 2);
	for (int i = 0; i < 2; i++) {
		rec = w_begin(&w);
		w_str(&w, i ? "b" : "a");
		w_u32(&w, 1);
		w_file(&w, 77, "c", 3, "", 0);
		w_end(&w, rec);
	}
	ck_assert_int_eq(decode_payload(&w), -EBADMSG);
}
END_TEST

START_TEST(test_file_fields)
{
	struct wire w = {0};
	size_t rec;
	struct {
		uint32_t mode;
		const char *compat;
		int32_t slot;
		const char *dname;
		uint32_t record_len;
		int err;
	} cases[] = {
		{LUO_BLOB_MODE_EXEC, "memfd-v2", 3, "", LUO_BLOB_MAX_RECORD, 0},
		{LUO_BLOB_MODE_EXEC, "memfd-v2", 3, "", LUO_BLOB_MAX_RECORD + 1, -E2BIG},
		{LUO_BLOB_MODE_EXEC, "memfd-v2", -1, "", 0, 0},
		{LUO_BLOB_MODE_EXEC, "memfd-v2", -2, "", 0, -EBADMSG},
		{LUO_BLOB_MODE_EXEC, "memfd-v2", INT32_MIN, "", 0, -EBADMSG},
		{LUO_BLOB_MODE_EXEC, "memfd-v2", 3, "data", 0, -EBADMSG},
		{LUO_BLOB_MODE_EXEC, "mem fd", 3, "", 0, -EBADMSG},
		{LUO_BLOB_MODE_EXEC, "mem\x1b", 3, "", 0, -EBADMSG},
		{LUO_BLOB_MODE_EXEC, "", 3, "", 0, -EBADMSG},
		{LUO_BLOB_MODE_EXEC, "0123456789012345678901234567890", 3, "", 0, 0},
		{LUO_BLOB_MODE_EXEC, "01234567890123456789012345678901", 3, "", 0, -EBADMSG},
		{LUO_BLOB_MODE_COPY, "memfd-v2", -1, "data-1", 0, 0},
		{LUO_BLOB_MODE_COPY, "memfd-v2", 3, "data-1", 0, -EBADMSG},
		{LUO_BLOB_MODE_COPY, "memfd-v2", -1, "", 0, -EBADMSG},
		{LUO_BLOB_MODE_COPY, "memfd-v2", -1, "a/b", 0, -EBADMSG},
		{LUO_BLOB_MODE_COPY, "memfd-v2", -1, "..", 0, -EBADMSG},
		{LUO_BLOB_MODE_COPY, "memfd-v2", -1, "a\nb", 0, -EBADMSG},
		{0, "memfd-v2", -1, "", 0, -EBADMSG},
		{3, "memfd-v2", -1, "", 0, -EBADMSG},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		w_payload_head(&w, cases[i].mode, 1);
		rec = w_begin(&w);
		w_str(&w, "s");
		w_u32(&w, 1);
		w_file(&w, 1, cases[i].compat, cases[i].slot, cases[i].dname, cases[i].record_len);
		w_end(&w, rec);
		ck_assert_msg(decode_payload(&w) == cases[i].err, "case %zu", i);
	}
}
END_TEST

START_TEST(test_trailing)
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint8_t *big;
	size_t len;
	struct wire w = {0};
	size_t rec, frec;
	char why[128];
	struct luo_blob *d = NULL;

	/* Bytes after the payload. */
	encode_small((void **)&buf, &len);
	big = malloc(len + 3);
	memcpy(big, buf, len);
	memset(big + len, 0, 3);
	ck_assert_int_eq(luo_blob_decode_reason(big, len + 3, &d, why, sizeof(why)), -EBADMSG);
	ck_assert_str_eq(why, "trailing garbage: 3 bytes after payload");
	free(big);

	/* Inside the payload, after the last session, with matching CRC. */
	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 1);
	rec = w_begin(&w);
	w_str(&w, "s");
	w_u32(&w, 0);
	w_end(&w, rec);
	w_u32(&w, 0);
	ck_assert_int_eq(decode_payload(&w), -EBADMSG);

	/* Inside a v1 file record. */
	w_payload_head(&w, LUO_BLOB_MODE_EXEC, 1);
	rec = w_begin(&w);
	w_str(&w, "s");
	w_u32(&w, 1);
	frec = w.len;
	w_file(&w, 1, "c", 3, "", 0);
	w.b[frec] += 1; /* the file record claims one more byte */
	w_put(&w, "x", 1);
	w_end(&w, rec);
	ck_assert_int_eq(decode_payload(&w), -EBADMSG);
}
END_TEST

START_TEST(test_crc_reason)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	char why[128];
	struct luo_blob *d = NULL;

	encode_small((void **)&buf, &len);
	buf[len - 1] ^= 1;
	ck_assert_int_eq(luo_blob_decode_reason(buf, len, &d, why, sizeof(why)), -EBADMSG);
	ck_assert_int_eq(strncmp(why, "payload crc mismatch: stored 0x", 31), 0);
	buf[len - 1] ^= 1;
	buf[9] ^= 1;
	ck_assert_int_eq(luo_blob_decode_reason(buf, len, &d, why, sizeof(why)), -EBADMSG);
	ck_assert_int_eq(strncmp(why, "header crc mismatch: stored 0x", 30), 0);
	buf[9] ^= 1;
	ck_assert_int_eq(luo_blob_decode_reason(buf, len, &d, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "");
	/* A tiny buffer still gets a terminated reason. */
	buf[0] ^= 1;
	ck_assert_int_eq(luo_blob_decode_reason(buf, len, &d, why, 4), -EBADMSG);
	ck_assert_str_eq(why, "bad");
	luo_blob_free(d);
}
END_TEST

/* ---- files ---- */

static char *make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	ck_assert_int_ge(asprintf(&path, "%s/test-blob.XXXXXX", base ? base : "/tmp"), 0);
	ck_assert_ptr_nonnull(mkdtemp(path));
	return path;
}

/* Names in @dir other than "." and "..", concatenated in readdir order. */
static int count_entries(const char *dir, char *list, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	list[0] = '\0';
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		n++;
		strncat(list, de->d_name, size - strlen(list) - 1);
	}
	closedir(d);
	return n;
}

static void remove_tree(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	rmdir(dir);
	free(dir);
}

struct fault_ctx {
	const char *fail_at;
	int err;
	char seen[128];
};

static int fault_hook(void *data, const char *point)
{
	struct fault_ctx *c = data;

	strcat(c->seen, point);
	strcat(c->seen, ";");
	if (c->fail_at && !strcmp(c->fail_at, point))
		return c->err;
	return 0;
}

static void assert_file(int dfd, const char *name, const void *buf, size_t len)
{
	_cleanup_free_ void *got = NULL;
	size_t got_len;
	struct stat st;

	ck_assert_int_eq(luo_blob_read_file(dfd, name, &got, &got_len), 0);
	ck_assert_uint_eq(got_len, len);
	ck_assert_int_eq(memcmp(got, buf, len), 0);
	ck_assert_int_eq(fstatat(dfd, name, &st, 0), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
}

START_TEST(test_write_atomic)
{
	char *dir = make_tmpdir();
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ void *old = NULL, *new = NULL;
	size_t old_len, new_len;
	const char *points[] = {"blob/open", "blob/write", "blob/fsync", "blob/rename"};
	struct luo_blob *b;
	char list[512];
	mode_t mask;

	ck_assert_int_ge(dfd, 0);
	encode_small(&old, &old_len);
	b = blob_new(LUO_BLOB_MODE_COPY, 50, 4);
	ck_assert_int_eq(luo_blob_encode(b, &new, &new_len), 0);
	luo_blob_free(b);

	/* A loose umask must not make the blob readable by others. */
	mask = umask(0);
	ck_assert_int_eq(luo_blob_write_atomic(dfd, "state", old, old_len), 0);
	umask(mask);
	assert_file(dfd, "state", old, old_len);
	ck_assert_int_eq(count_entries(dir, list, sizeof(list)), 1);
	ck_assert_str_eq(list, "state");

	for (size_t i = 0; i < ARRAY_SIZE(points); i++) {
		struct fault_ctx c = {.fail_at = points[i], .err = -EIO - (int)i};

		ck_assert_int_eq(
			luo_blob_write_atomic_fault(dfd, "state", new, new_len, fault_hook, &c),
			-EIO - (int)i);
		assert_file(dfd, "state", old, old_len);
		ck_assert_int_eq(count_entries(dir, list, sizeof(list)), 1);
		ck_assert_str_eq(list, "state");
	}

	{
		struct fault_ctx c = {0};

		/* A tight umask must not hide it from its owner either. */
		mask = umask(0277);
		ck_assert_int_eq(
			luo_blob_write_atomic_fault(dfd, "state", new, new_len, fault_hook, &c), 0);
		umask(mask);
		ck_assert_str_eq(c.seen, "blob/open;blob/write;blob/fsync;blob/rename;");
	}
	assert_file(dfd, "state", new, new_len);
	ck_assert_int_eq(count_entries(dir, list, sizeof(list)), 1);

	/* Relative to the working directory too. */
	{
		_cleanup_close_ int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		ck_assert_int_eq(fchdir(dfd), 0);
		ck_assert_int_eq(luo_blob_write_atomic(AT_FDCWD, "other", "", 0), 0);
		ck_assert_int_eq(fchdir(cwd), 0);
		assert_file(dfd, "other", "", 0);
	}

	ck_assert_int_eq(luo_blob_write_atomic(dfd, "", old, old_len), -EINVAL);
	ck_assert_int_eq(luo_blob_write_atomic(dfd, "a/b", old, old_len), -EINVAL);
	ck_assert_int_eq(luo_blob_write_atomic(dfd, "..", old, old_len), -EINVAL);
	ck_assert_int_eq(luo_blob_write_atomic(dfd, "x", NULL, 1), -EINVAL);
	ck_assert_int_eq(luo_blob_write_atomic(-1, "x", old, old_len), -EBADF);
	remove_tree(dir);
}
END_TEST

START_TEST(test_read_file)
{
	char *dir = make_tmpdir();
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int fd = -1;
	_cleanup_free_ void *buf = NULL;
	size_t len = 99;

	ck_assert_int_eq(luo_blob_read_file(dfd, "missing", &buf, &len), -ENOENT);

	fd = openat(dfd, "empty", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(luo_blob_read_file(dfd, "empty", &buf, &len), 0);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(len, 0);
	close(TAKE_FD(fd));

	/* Sparse: costs nothing, but is one byte over the limit. */
	fd = openat(dfd, "huge", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)LUO_BLOB_MAX_FILE_SIZE + 1), 0);
	free(TAKE_PTR(buf));
	ck_assert_int_eq(luo_blob_read_file(dfd, "huge", &buf, &len), -EFBIG);
	ck_assert_ptr_null(buf);

	ck_assert_int_eq(mkdirat(dfd, "sub", 0700), 0);
	ck_assert_int_eq(luo_blob_read_file(dfd, "sub", &buf, &len), -EINVAL);
	ck_assert_int_eq(mkfifoat(dfd, "fifo", 0600), 0);
	ck_assert_int_eq(luo_blob_read_file(dfd, "fifo", &buf, &len), -EINVAL);
	ck_assert_int_eq(luo_blob_read_file(dfd, "x", NULL, &len), -EINVAL);
	remove_tree(dir);
}
END_TEST

/* ---- printing ---- */

static char *print_to_string(const struct luo_blob *b, bool json)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(luo_blob_print(f, b, json), 0);
	fclose(f);
	return s;
}

START_TEST(test_print)
{
	struct luo_blob_file files[2] = {
		{.token = UINT64_MAX, .compatible = "memfd-v2", .fd_slot = 5},
		{.token = 2,
		 .compatible = "x",
		 .fd_slot = -1,
		 .record_len = 3,
		 .record = (void *)"abc"},
	};
	struct luo_blob_session s[2] = {
		{.name = "q\"b\\\x01\xc3\xa9\xff", .nr_files = 2, .files = files},
		{.name = "plain"},
	};
	struct luo_blob b = {
		.liveupdate_count = 4, .mode = LUO_BLOB_MODE_EXEC, .nr_sessions = 2, .sessions = s};
	_cleanup_free_ char *json = print_to_string(&b, true);
	_cleanup_free_ char *text = print_to_string(&b, false);

	ck_assert_str_eq(json,
			 "{\"liveupdate_count\":4,\"mode\":\"exec\",\"sessions\":["
			 "{\"name\":\"q\\\"b\\\\\\u0001\xc3\xa9\\u00ff\",\"files\":["
			 "{\"token\":\"18446744073709551615\",\"compatible\":\"memfd-v2\","
			 "\"fd_slot\":5,\"data_name\":\"\",\"record_len\":0,"
			 "\"record\":{\"hex\":\"\"}},"
			 "{\"token\":\"2\",\"compatible\":\"x\",\"fd_slot\":-1,"
			 "\"data_name\":\"\",\"record_len\":3,\"record\":{\"hex\":\"616263\"}}]},"
			 "{\"name\":\"plain\",\"files\":[]}]}\n");
	ck_assert_str_eq(text, "liveupdate count: 4\nmode: exec\nsessions: 2\n"
			       "session \"q\\\"b\\\\\\x01\\xc3\\xa9\\xff\": 2 files\n"
			       "  token 18446744073709551615 (0xffffffffffffffff) memfd-v2 fd 5"
			       " record 0 bytes\n"
			       "  token 2 (0x2) x record 3 bytes: 616263\n"
			       "session \"plain\": 0 files\n");
	ck_assert_int_eq(luo_blob_print(NULL, &b, true), -EINVAL);
}
END_TEST

static Suite *blob_suite(void)
{
	Suite *s = suite_create("blob");
	TCase *tc = tcase_create("format");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_crc32c);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_one_session_no_files);
	tcase_add_test(tc, test_many);
	tcase_add_test(tc, test_wire_writer_agrees);
	tcase_add_test(tc, test_owner_versions);
	tcase_add_test(tc, test_encode_rejects);
	tcase_add_test(tc, test_bad_magic);
	tcase_add_test(tc, test_byte_flips);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_versions);
	tcase_add_test(tc, test_newer_compatible);
	tcase_add_test(tc, test_counts);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_file_fields);
	tcase_add_test(tc, test_trailing);
	tcase_add_test(tc, test_crc_reason);
	suite_add_tcase(s, tc);

	tc = tcase_create("io");
	tcase_add_test(tc, test_write_atomic);
	tcase_add_test(tc, test_read_file);
	tcase_add_test(tc, test_print);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(blob_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
