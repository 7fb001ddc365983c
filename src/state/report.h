/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A read-only walk over the model for status output: every session of
 * both directions and its files, as plain values.  The caller holds the
 * context's lock for the whole walk.
 */
#ifndef LUOEMU_STATE_REPORT_H
#define LUOEMU_STATE_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "state/luo.h"

struct luo_report_session {
	const char *name; /* NUL-terminated, unescaped */
	uint64_t id;
	bool incoming;
	/*
	 * outgoing: "open" or "frozen" (a live update is in progress);
	 * incoming: "waiting" (for RETRIEVE_SESSION), "retrieved", "finished",
	 * or "closed-unfinished" (its implicit finish failed).
	 */
	const char *state;
	unsigned int nr_files;
	uid_t owner; /* the creating uid (incoming: as the blob carried it) */
};

struct luo_report_file {
	uint64_t token;
	const char *handler; /* compatible string, e.g. "memfd-v2" */
	int64_t size;	     /* bytes held, or -errno when it cannot be read */
	bool retrieved;
};

/*
 * Call @session for each session (outgoing first, each list in creation
 * order), then @file for each of its files in preservation order.  A
 * non-zero return of a callback stops the walk and is returned.
 */
int luo_report_walk(struct luo_ctx *ctx,
		    int (*session)(void *data, const struct luo_report_session *s),
		    int (*file)(void *data, const struct luo_report_file *f), void *data);

#endif
