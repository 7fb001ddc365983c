/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated live update.  The old daemon freezes the model and writes
 * the outgoing state as a blob on its tmpfs state directory; the daemon it
 * re-executes (the "new kernel") loads it as incoming state.
 *
 *   exec mode: the preserved files' fds survive execve() (the userspace
 *              twin of kexec handing over memory): no byte is copied;
 *   copy mode: contents are written into the state directory, so any later
 *              start of the daemon picks them up.
 */
#ifndef LUOEMU_DAEMON_HANDOVER_H
#define LUOEMU_DAEMON_HANDOVER_H

#include <stdbool.h>
#include <stddef.h>

struct daemon;

enum handover_mode {
	HANDOVER_EXEC = 1,
	HANDOVER_COPY = 2,
};

#define HANDOVER_BLOB	     "handover.blob"
#define HANDOVER_BLOB_LOADED "handover.blob.loaded"

struct handover_request {
	enum handover_mode mode;
	const char *binary; /* the next daemon; NULL: this one */
	bool keep_clients;  /* do not kill supervised processes */
};

int handover_parse_mode(const char *s, enum handover_mode *ret);

/*
 * Serialization: freeze, write the blob (and contents in copy mode).  On
 * failure everything is unfrozen and usable again, and @why says what
 * failed.  Called with the daemon lock held.
 */
int handover_prepare(struct daemon *d, const struct handover_request *req, char *why,
		     size_t why_len);

/* After the CUSE device is gone: become the next daemon.  Returns only on failure. */
int handover_exec(struct daemon *d);

/*
 * At start-up: load a blob left by the previous daemon.  A bad blob makes
 * every open fail with EIO (the kernel's rule), is logged and kept.
 * Also closes inherited fds that the blob does not claim.
 */
void handover_load(struct daemon *d);

#endif
