/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ABI layer: decodes, validates and encodes the LUO uAPI structs and
 * dispatches through one table per fd kind, in the kernel's order
 * (kernel-observed.md "Dispatch order").  Transport-neutral: the CUSE path
 * and the courier path both call luo_abi_ioctl(); they differ only in how
 * caller memory is reached and how an fd is handed over.
 */
#ifndef LUOEMU_ABI_H
#define LUOEMU_ABI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "state/luo.h"

struct luo_abi_call;

/*
 * What a successful fd-returning call produced, for the transport to
 * install in the caller.  The ABI layer fills it; the transport installs
 * the fd (SESSION: an fd bound to @session; FILE: a copy of the file) and,
 * if that fails (EMFILE, caller gone), calls luo_abi_undo().
 */
struct luo_abi_result {
	enum luo_abi_result_kind {
		LUO_ABI_RESULT_NONE,
		LUO_ABI_RESULT_SESSION,
		LUO_ABI_RESULT_FILE,
	} kind;
	/* The command that produced it. */
	uint32_t cmd;
	/* SESSION: the new/retrieved session; FILE: the file's session. */
	struct luo_session *session;
	/* FILE: the model's fd of the retrieved file (still owned by the model). */
	int fd;
	/* FILE: the token, and whether this call did its first retrieval. */
	uint64_t token;
	bool first;
	/*
	 * FILE: a dup of @fd made under the lock, owned by the transport
	 * (close it once installed).  Use this one after luo_abi_ioctl()
	 * returns: @fd may be closed by a concurrent FINISH as soon as the
	 * lock is dropped.
	 */
	int owned_fd;
	uint64_t session_id; /* FILE: luo_session_id() of @session, for the undo */
};

/*
 * Counters the ABI layer keeps for the transport (status, tests); atomic,
 * so nobody needs the model lock to bump or read them.
 */
struct luo_abi_counters {
	atomic_uint_fast64_t calls;    /* every luo_abi_ioctl() */
	atomic_uint_fast64_t refusals; /* calls that failed, -ESHUTDOWN excepted */
};

/* How the frontend reaches the caller: memory, fds, fd hand-over. */
struct luo_abi_peer_ops {
	/* Copy caller memory; -EFAULT if any byte is unreadable/unwritable. */
	int (*read)(struct luo_abi_call *c, uint64_t addr, void *buf, size_t len);
	int (*write)(struct luo_abi_call *c, uint64_t addr, const void *buf, size_t len);
	/* Take a reference to the caller's fd: a new fd of ours, or -errno. */
	int (*get_fd)(struct luo_abi_call *c, int caller_fd);
	/*
	 * Can an fd be handed to this caller at all?  Called where the kernel
	 * allocates the new fd (before the operation runs), without the lock.
	 * 0 or -errno (the CUSE path answers -EPERM: the caller is not
	 * supervised).
	 */
	int (*can_install)(struct luo_abi_call *c);
};

/*
 * Locking: caller memory is never touched with @lock held.  The struct
 * (size, fields, zero tail in bounded chunks) is read and the caller's fd
 * taken (get_fd) before locking; @lock is held only around the model
 * operation; the reply is written after unlocking, and a failed reply
 * re-takes @lock for its undo.  So a caller that blocks in its own memory
 * (a huge zero tail, a FUSE-backed or userfaultfd page) only blocks itself.
 * The peer ops are called without the lock.
 */
struct luo_abi_call {
	struct luo_ctx *ctx;
	struct luo_session *session; /* NULL: the call is on the device fd */
	uint32_t cmd;		     /* the full ioctl command */
	uint64_t arg;		     /* the caller's pointer */
	const struct luo_abi_peer_ops *ops;
	void *peer;			   /* the frontend's caller state */
	pthread_mutex_t *lock;		   /* the model lock; NULL: no locking (unit tests) */
	uid_t caller_uid;		   /* the caller's uid: session owner, quotas, access */
	struct luo_abi_counters *counters; /* may be NULL */
	const char *why;		   /* out: short reason when the call fails */
	struct luo_abi_result result;	   /* out, on success */
};

/*
 * Run one ioctl.  Returns 0 or the negative errno the caller must see.
 * On success of CREATE, RETRIEVE_SESSION and RETRIEVE_FD, c->result says
 * what to install (and c->result.owned_fd must be closed by the caller);
 * on any failure c->result.kind is NONE and nothing is left to undo.  A
 * reply that cannot be written gives -EFAULT with the kernel's semantics
 * (kernel-observed.md, "When copy-out fails"): CREATE destroys the
 * session, RETRIEVE_SESSION finishes it (data gone), PRESERVE_FD and
 * RETRIEVE_FD keep their effect.
 */
int luo_abi_ioctl(struct luo_abi_call *c);

/*
 * The new fd could not be installed (EMFILE, caller gone): make it as if
 * the call had never run.  CREATE: the session is released (name free
 * again); RETRIEVE_SESSION: the session is incoming and retrievable again
 * with all its files; RETRIEVE_FD: if @first, the token is retrievable
 * again as before (no sticky error), else nothing.  Does not close
 * @res->owned_fd.  Safe if the session went away meanwhile (looked up by
 * id for FILE).  During a live update (going down) nothing is undone: the
 * state belongs to the next daemon.  Call with the model lock held.
 */
void luo_abi_undo(struct luo_ctx *ctx, const struct luo_abi_result *res);

/* Name of a LUO command for logs ("CREATE_SESSION", ...), or NULL. */
const char *luo_abi_cmd_name(uint32_t cmd);

#endif
