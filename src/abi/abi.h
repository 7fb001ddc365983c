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

#include <stddef.h>
#include <stdint.h>

#include "state/luo.h"

struct luo_abi_call;

/* How the frontend reaches the caller: memory, fds, fd hand-over. */
struct luo_abi_peer_ops {
	/* Copy caller memory; -EFAULT if any byte is unreadable/unwritable. */
	int (*read)(struct luo_abi_call *c, uint64_t addr, void *buf, size_t len);
	int (*write)(struct luo_abi_call *c, uint64_t addr, const void *buf, size_t len);
	/* Take a reference to the caller's fd: a new fd of ours, or -errno. */
	int (*get_fd)(struct luo_abi_call *c, int caller_fd);
	/*
	 * Can an fd be handed to this caller at all?  Called where the kernel
	 * allocates the new fd (before the operation runs).  0 or -errno
	 * (the CUSE path answers -EPERM: the caller is not supervised).
	 */
	int (*can_install)(struct luo_abi_call *c);
	/*
	 * Park the operation's result for hand-over (courier path): a new
	 * session (@s, @fd == -1) or a retrieved file (@s == NULL, @fd the
	 * model's fd).  The fd number the caller sees is filled in later by
	 * the courier, so @fd_out_addr's 4 bytes are not written here.
	 */
	int (*park)(struct luo_abi_call *c, struct luo_session *s, int fd);
};

struct luo_abi_call {
	struct luo_ctx *ctx;
	struct luo_session *session; /* NULL: the call is on the device fd */
	uint32_t cmd;		     /* the full ioctl command */
	uint64_t arg;		     /* the caller's pointer */
	const struct luo_abi_peer_ops *ops;
	void *peer;	 /* the frontend's caller state */
	const char *why; /* out: short reason when the call fails */
};

/*
 * Run one ioctl.  Returns 0 or the negative errno the caller must see.
 * On success of CREATE/RETRIEVE_SESSION the new session was parked (or
 * released again if the response could not be written: -EFAULT, as the
 * kernel does).
 */
int luo_abi_ioctl(struct luo_abi_call *c);

/* Name of a LUO command for logs ("CREATE_SESSION", ...), or NULL. */
const char *luo_abi_cmd_name(uint32_t cmd);

#endif
