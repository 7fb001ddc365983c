/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the state blob decoder.  Each input is decoded as is
 * (exercising the header and CRC checks) and again with its CRCs repaired,
 * so mutations reach the payload parser instead of dying at the checksum.
 * Whatever decodes must encode, decode again to an equal model, print, and
 * for an input of the writer's own version re-encode to the very same bytes
 * (older versions decode, e.g. v1 with every owner 0, and re-encode newer).
 *
 * Build: see src/serialize/local.mk.  With -DLUOEMU_FUZZ_STANDALONE a small
 * main() replays files or corpus directories and can write seed inputs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serialize/blob.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz-blob: invariant broken: %s\n", what);
		abort();
	}
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static bool blob_equal(const struct luo_blob *a, const struct luo_blob *b)
{
	if (a->liveupdate_count != b->liveupdate_count || a->mode != b->mode ||
	    a->nr_sessions != b->nr_sessions)
		return false;
	for (uint32_t i = 0; i < a->nr_sessions; i++) {
		const struct luo_blob_session *x = &a->sessions[i], *y = &b->sessions[i];

		if (strcmp(x->name, y->name) || x->owner_uid != y->owner_uid ||
		    x->nr_files != y->nr_files)
			return false;
		for (uint32_t j = 0; j < x->nr_files; j++) {
			const struct luo_blob_file *f = &x->files[j], *g = &y->files[j];

			if (f->token != g->token || strcmp(f->compatible, g->compatible) ||
			    f->fd_slot != g->fd_slot || strcmp(f->data_name, g->data_name) ||
			    f->record_len != g->record_len ||
			    (f->record_len && memcmp(f->record, g->record, f->record_len)))
				return false;
		}
	}
	return true;
}

static void one(const uint8_t *data, size_t size)
{
	struct luo_blob *b = NULL, *b2 = NULL;
	_cleanup_free_ void *enc = NULL;
	_cleanup_free_ char *out = NULL;
	size_t enc_len, out_len;
	char why[256];
	FILE *f;
	int r;

	r = luo_blob_decode_reason(data, size, &b, why, sizeof(why));
	if (r < 0) {
		check(r == -EBADMSG || r == -EPROTONOSUPPORT || r == -E2BIG || r == -ENOMEM,
		      "decode errno outside its classes");
		check(why[0] != '\0', "failure without a reason");
		return;
	}

	r = luo_blob_encode(b, &enc, &enc_len);
	check(r == 0, "decoded blob does not encode");
	r = luo_blob_decode(enc, enc_len, &b2);
	check(r == 0, "re-encoded blob does not decode");
	check(blob_equal(b, b2), "round trip changed the blob");
	/* The writer's version leaves no room for skipped bytes: the encoding is canonical. */
	if (le32(data + 8) == LUO_BLOB_VERSION && le32(data + 12) == LUO_BLOB_VERSION)
		check(enc_len == size && !memcmp(enc, data, size), "re-encoding differs");
	/* Before owners every session was root's. */
	if (le32(data + 8) == 1)
		for (uint32_t i = 0; i < b->nr_sessions; i++)
			check(b->sessions[i].owner_uid == 0, "v1 session with an owner");

	f = open_memstream(&out, &out_len);
	if (f) {
		check(luo_blob_print(f, b, true) == 0, "json print failed");
		check(luo_blob_print(f, b, false) == 0, "text print failed");
		fclose(f);
	}
	luo_blob_free(b2);
	luo_blob_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ uint8_t *copy = NULL;
	uint32_t hlen, crc;
	uint64_t plen;

	/* A private copy: ASan then catches reads past the input's end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	one(copy, size);

	/* Repair the CRCs where the header's lengths allow it. */
	if (size < LUO_BLOB_HEADER_LEN)
		return 0;
	hlen = le32(copy + 16);
	plen = (uint64_t)le32(copy + 24) | (uint64_t)le32(copy + 28) << 32;
	if (hlen < LUO_BLOB_HEADER_LEN || hlen > size)
		return 0;
	if (plen <= size - hlen)
		put32(copy + 32, luo_crc32c(0, copy + hlen, plen));
	crc = luo_crc32c(0, copy, 36);
	put32(copy + 36, luo_crc32c(crc, copy + 40, hlen - 40));
	one(copy, size);
	return 0;
}

#ifdef LUOEMU_FUZZ_STANDALONE
#include "replay.h"

static int replay_file(int dfd, const char *name)
{
	_cleanup_free_ void *buf = NULL;
	size_t len;
	int r = luo_blob_read_file(dfd, name, &buf, &len);

	if (r < 0) {
		fprintf(stderr, "%s: %s\n", name, strerror(-r));
		return r;
	}
	LLVMFuzzerTestOneInput(buf, len);
	return 0;
}

/* A few valid blobs, so a fresh libFuzzer run starts past the magic. */
static int write_seeds(const char *dir)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char rec[64] = "record bytes";

	if (dfd < 0)
		return -errno;
	for (uint32_t n = 0; n < 6; n++) {
		struct luo_blob_file files[3][3] = {0};
		struct luo_blob_session sessions[3] = {0};
		struct luo_blob b = {.liveupdate_count = n,
				     .sessions = sessions,
				     .nr_sessions = n % 4,
				     .mode = n % 2 ? LUO_BLOB_MODE_COPY : LUO_BLOB_MODE_EXEC};
		_cleanup_free_ void *buf = NULL;
		char name[32];
		size_t len;
		int r;

		for (uint32_t i = 0; i < b.nr_sessions; i++) {
			snprintf(sessions[i].name, sizeof(sessions[i].name), "seed-%u", i);
			sessions[i].owner_uid = i ? 1000 + n : 0;
			sessions[i].nr_files = (i + n) % 4;
			sessions[i].files = files[i];
			for (uint32_t j = 0; j < sessions[i].nr_files; j++) {
				struct luo_blob_file *f = &files[i][j];

				f->token = j * 1000 + 1;
				strcpy(f->compatible, "memfd-v2");
				f->record = rec;
				f->record_len = j * 8;
				if (b.mode == LUO_BLOB_MODE_COPY) {
					f->fd_slot = -1;
					snprintf(f->data_name, sizeof(f->data_name), "d%u-%u", i,
						 j);
				} else {
					f->fd_slot = (int32_t)(i * 3 + j + 3);
				}
			}
		}
		r = luo_blob_encode(&b, &buf, &len);
		if (r < 0)
			return r;
		snprintf(name, sizeof(name), "seed-%u", n);
		r = luo_blob_write_atomic(dfd, name, buf, len);
		if (r < 0)
			return r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	int r = 0;

	if (argc == 3 && !strcmp(argv[1], "--write-seeds")) {
		r = write_seeds(argv[2]);
		if (r < 0)
			fprintf(stderr, "writing seeds: %s\n", strerror(-r));
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n       %s --write-seeds DIR\n", argv[0],
			argv[0]);
		return EXIT_FAILURE;
	}
	for (int i = 1; i < argc; i++)
		if (fuzz_replay(argv[i], &count, replay_file) < 0)
			r = -EIO;
	printf("fuzz-blob: replayed %lu inputs\n", count);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
