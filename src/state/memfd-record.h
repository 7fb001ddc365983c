/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The "memfd-v2" handler record as it crosses a live update, shared by the
 * handler (state/memfd.c) and the blob dump (`luoemu inspect`).
 */
#ifndef LUOEMU_STATE_MEMFD_RECORD_H
#define LUOEMU_STATE_MEMFD_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define MEMFD_COMPATIBLE "memfd-v2"

/* The inode may be handed back itself (see the rule in state/memfd.c). */
#define MEMFD_REC_SHARE 0x1u

/*
 * Little-endian on the wire; x86-64 and arm64 only, so stored as is.
 * Version 2 ended after @pos (24 bytes); version 3 adds @flags.
 */
struct memfd_record {
	uint32_t version;
	uint32_t seals; /* F_SEAL_* at preserve */
	uint64_t size;	/* bytes, at freeze */
	uint64_t pos;	/* file position, at freeze */
	uint32_t flags; /* MEMFD_REC_* */
	uint32_t reserved;
};

#define MEMFD_RECORD_V2_LEN offsetof(struct memfd_record, flags)

#endif
