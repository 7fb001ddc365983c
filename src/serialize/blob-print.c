/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dumping a blob for people and for tools.  Names come from a hostile blob,
 * so they are escaped: no terminal control bytes, always valid JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "serialize/blob.h"
#include "state/memfd-record.h"

/* Length of the valid UTF-8 sequence at @s (no overlongs, no surrogates), or 0. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0; /* also stops at the NUL */
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * JSON: valid UTF-8 passes through, other bytes >= 0x80 become \u00XX (as if
 * Latin-1) so the output always parses.  Text: C-style \xNN escapes.
 */
static void put_escaped(FILE *out, const char *str, size_t size, bool json)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + size;

	/* Bounded by the array: an unchecked model may lack its NUL. */
	while (s < end && *s) {
		unsigned char c = *s;
		size_t n;

		if (c == '"' || c == '\\') {
			fprintf(out, "\\%c", c);
		} else if (c >= 0x20 && c < 0x7f) {
			fputc(c, out);
		} else if (json && c >= 0x80 && (n = utf8_len(s, (size_t)(end - s)))) {
			fwrite(s, 1, n, out);
			s += n;
			continue;
		} else if (json) {
			fprintf(out, "\\u%04x", c);
		} else {
			fprintf(out, "\\x%02x", c);
		}
		s++;
	}
}

static const char *mode_name(uint32_t mode)
{
	switch (mode) {
	case LUO_BLOB_MODE_EXEC:
		return "exec";
	case LUO_BLOB_MODE_COPY:
		return "copy";
	default:
		return "unknown";
	}
}

/* fcntl(2) F_SEAL_* bits, in bit order. */
static const char *const seal_names[] = {"seal", "shrink", "grow", "write", "future_write", "exec"};

/*
 * The record as its handler defines it, when we know the handler and the
 * size is one of its versions' (v2: 24 bytes, v3 adds flags).  Copied into
 * @buf: the blob's bytes need not be aligned.
 */
static const struct memfd_record *memfd_record_of(const struct luo_blob_file *f,
						  struct memfd_record *buf)
{
	if (strcmp(f->compatible, MEMFD_COMPATIBLE) != 0 || !f->record ||
	    (f->record_len != sizeof(*buf) && f->record_len != MEMFD_RECORD_V2_LEN))
		return NULL;
	memset(buf, 0, sizeof(*buf));
	memcpy(buf, f->record, f->record_len);
	return buf;
}

static void put_hex(FILE *out, const struct luo_blob_file *f)
{
	const unsigned char *p = f->record;

	for (uint32_t i = 0; p && i < f->record_len; i++)
		fprintf(out, "%02x", p[i]);
}

static void put_seals(FILE *out, uint32_t seals, bool json)
{
	bool first = true;

	for (size_t i = 0; i < sizeof(seal_names) / sizeof(seal_names[0]); i++) {
		if (!(seals & (1u << i)))
			continue;
		fprintf(out, json ? "%s\"%s\"" : "%s%s",
			first  ? ""
			: json ? ","
			       : "|",
			seal_names[i]);
		first = false;
	}
}

/* "record":{...}: memfd-v2 decoded, anything else as hex bytes. */
static void print_record_json(FILE *out, const struct luo_blob_file *f)
{
	struct memfd_record buf;
	const struct memfd_record *m = memfd_record_of(f, &buf);

	if (!m) {
		fputs(",\"record\":{\"hex\":\"", out);
		put_hex(out, f);
		fputs("\"}", out);
		return;
	}
	fprintf(out,
		",\"record\":{\"version\":%u,\"size\":%llu,\"pos\":%llu,\"seals\":%u,"
		"\"flags\":%u,\"shared_inode\":%s,\"seal_names\":[",
		m->version, (unsigned long long)m->size, (unsigned long long)m->pos, m->seals,
		m->flags, m->flags & MEMFD_REC_SHARE ? "true" : "false");
	put_seals(out, m->seals, true);
	fputs("]}", out);
}

static void print_record_text(FILE *out, const struct luo_blob_file *f)
{
	struct memfd_record buf;
	const struct memfd_record *m = memfd_record_of(f, &buf);

	if (!m) {
		if (f->record_len) {
			fputs(": ", out);
			put_hex(out, f);
		}
		return;
	}
	fprintf(out, ": memfd v%u, size %llu, pos %llu, seals 0x%x", m->version,
		(unsigned long long)m->size, (unsigned long long)m->pos, m->seals);
	if (m->seals) {
		fputs(" (", out);
		put_seals(out, m->seals, false);
		fputc(')', out);
	}
	fprintf(out, ", %s",
		m->flags & MEMFD_REC_SHARE ? "same inode on retrieve" : "copy on retrieve");
}

static void print_json(FILE *out, const struct luo_blob *b)
{
	fprintf(out, "{\"liveupdate_count\":%llu,\"mode\":\"%s\",\"sessions\":[",
		(unsigned long long)b->liveupdate_count, mode_name(b->mode));
	for (uint32_t i = 0; i < b->nr_sessions; i++) {
		const struct luo_blob_session *s = &b->sessions[i];

		fputs(i ? ",{\"name\":\"" : "{\"name\":\"", out);
		put_escaped(out, s->name, sizeof(s->name), true);
		fputs("\",\"files\":[", out);
		for (uint32_t j = 0; j < s->nr_files; j++) {
			const struct luo_blob_file *f = &s->files[j];

			/* Tokens are u64: a string keeps them exact in every JSON reader. */
			fprintf(out, "%s{\"token\":\"%llu\",\"compatible\":\"", j ? "," : "",
				(unsigned long long)f->token);
			put_escaped(out, f->compatible, sizeof(f->compatible), true);
			fprintf(out, "\",\"fd_slot\":%d,\"data_name\":\"", f->fd_slot);
			put_escaped(out, f->data_name, sizeof(f->data_name), true);
			fprintf(out, "\",\"record_len\":%u", f->record_len);
			print_record_json(out, f);
			fputc('}', out);
		}
		fputs("]}", out);
	}
	fputs("]}\n", out);
}

static void print_text(FILE *out, const struct luo_blob *b)
{
	fprintf(out, "liveupdate count: %llu\nmode: %s\nsessions: %u\n",
		(unsigned long long)b->liveupdate_count, mode_name(b->mode), b->nr_sessions);
	for (uint32_t i = 0; i < b->nr_sessions; i++) {
		const struct luo_blob_session *s = &b->sessions[i];

		fputs("session \"", out);
		put_escaped(out, s->name, sizeof(s->name), false);
		fprintf(out, "\": %u file%s\n", s->nr_files, s->nr_files == 1 ? "" : "s");
		for (uint32_t j = 0; j < s->nr_files; j++) {
			const struct luo_blob_file *f = &s->files[j];

			fprintf(out, "  token %llu (0x%llx) ", (unsigned long long)f->token,
				(unsigned long long)f->token);
			put_escaped(out, f->compatible, sizeof(f->compatible), false);
			if (f->fd_slot >= 0)
				fprintf(out, " fd %d", f->fd_slot);
			if (f->data_name[0]) {
				fputs(" data \"", out);
				put_escaped(out, f->data_name, sizeof(f->data_name), false);
				fputc('"', out);
			}
			fprintf(out, " record %u bytes", f->record_len);
			print_record_text(out, f);
			fputc('\n', out);
		}
	}
}

int luo_blob_print(FILE *out, const struct luo_blob *b, bool json)
{
	if (!out || !b || (b->nr_sessions && !b->sessions))
		return -EINVAL;
	for (uint32_t i = 0; i < b->nr_sessions; i++)
		if (b->sessions[i].nr_files && !b->sessions[i].files)
			return -EINVAL;
	if (json)
		print_json(out, b);
	else
		print_text(out, b);
	if (fflush(out) == EOF || ferror(out))
		return -EIO;
	return 0;
}
