/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The `status` control reply (documented in luoemud(8), STATUS REPLY), and
 * the copy progress of a live update that it reports while the update runs.
 */
#ifndef LUOEMU_DAEMON_STATUS_H
#define LUOEMU_DAEMON_STATUS_H

#include <stdint.h>
#include <sys/types.h>

struct daemon;

/* Bytes of a copy-mode handover: written by the copy loop, read by `status`. */
struct handover_progress {
	uint64_t done;	/* atomic */
	uint64_t total; /* atomic; 0 when no copy runs */
};

static inline void handover_progress_begin(struct handover_progress *p, uint64_t total)
{
	__atomic_store_n(&p->done, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&p->total, total, __ATOMIC_RELEASE);
}

static inline void handover_progress_add(struct handover_progress *p, uint64_t n)
{
	if (p)
		__atomic_add_fetch(&p->done, n, __ATOMIC_RELAXED);
}

static inline void handover_progress_end(struct handover_progress *p)
{
	__atomic_store_n(&p->total, 0, __ATOMIC_RELEASE);
}

/* Answer a `status` request on @conn. */
void status_reply(struct daemon *d, int conn, uid_t caller_uid);

#endif
