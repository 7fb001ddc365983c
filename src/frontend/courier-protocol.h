/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The contract between the fd courier (the seccomp supervisor process) and
 * the server, whatever the transport (CUSE or FUSE).  Neither CUSE nor FUSE
 * can return an fd from an ioctl, so a trapped CREATE_SESSION,
 * RETRIEVE_SESSION or SESSION_RETRIEVE_FD crosses each process once:
 *
 *   client --seccomp--> courier --ioctl--> server
 *
 *  0. Ahead of time (off every call's path) the courier keeps one SPARE:
 *     an open of the device that the server knows as unbound, and whose
 *     id it learned with COURIER_WHOAMI.
 *  1. courier: pidfd_getfd() the client's fd; if it is not an open of our
 *     device, answer SECCOMP_USER_NOTIF_FLAG_CONTINUE (natural errno).
 *  2. courier: ioctl(that fd, COURIER_CALL, {cmd, client tid, arg, spare}):
 *     the server runs the normal dispatch on the object behind the
 *     client's open (reading and pre-flight-writing the client's struct
 *     itself).  A new session is bound to the spare right there; a
 *     retrieved file is named by the server's fd number and identity.
 *  3. courier: SECCOMP_IOCTL_NOTIF_ADDFD (O_CLOEXEC) of the spare or of the
 *     file (pidfd_getfd from the server), write the fd number at offset 4
 *     of the client's struct, NOTIF_SEND.  The client runs again.
 *  4. If the fd cannot be installed (EMFILE, the client died), the courier
 *     sends COURIER_UNDO on the same fd it sent the call on (a session: on
 *     the spare) and the call leaves no trace, as the kernel's
 *     get_unused_fd() failing first would.
 *  5. The courier opens the next spare after answering.
 *
 * The numbers lie outside both LUO ranges, so a client sending them gets
 * the kernel's EINVAL; the server honours them only from the courier.
 */
#ifndef LUOEMU_FRONTEND_COURIER_PROTOCOL_H
#define LUOEMU_FRONTEND_COURIER_PROTOCOL_H

#include <linux/ioctl.h>
#include <stdint.h>

#include "luoemu/liveupdate.h"

#define LUOEMU_COURIER_CALL   _IO(LIVEUPDATE_IOCTL_TYPE, 0xE0)
#define LUOEMU_COURIER_WHOAMI _IO(LIVEUPDATE_IOCTL_TYPE, 0xE1)
#define LUOEMU_COURIER_UNDO   _IO(LIVEUPDATE_IOCTL_TYPE, 0xE2)

enum luoemu_courier_kind {
	LUOEMU_COURIER_NONE = 0,
	LUOEMU_COURIER_SESSION = 1, /* bound to the spare named in the call */
	LUOEMU_COURIER_FILE = 2,    /* pidfd_getfd(server, server_fd) */
};

struct luoemu_courier_call {
	uint32_t size;	     /* sizeof(struct luoemu_courier_call) */
	uint32_t cmd;	     /* in: the client's ioctl command */
	int32_t client_tid;  /* in: seccomp_notif.pid (a thread id) */
	int32_t result;	     /* out: 0 or the negative errno for the client */
	uint64_t arg;	     /* in: the client's argument pointer */
	uint64_t spare_id;   /* in: the spare a new session is bound to */
	uint32_t client_uid; /* in: the trapped task's uid (its own credentials) */
	uint32_t kind;	     /* out: enum luoemu_courier_kind */
	int32_t server_fd;   /* out, FILE: the server's fd of the file */
	uint32_t first;	     /* out, FILE: this call was the token's first retrieval */
	uint64_t token;	     /* out, FILE: the token (for UNDO) */
	uint64_t dev;	     /* out, FILE: identity to check after getfd */
	uint64_t ino;
};

/* COURIER_WHOAMI on a spare: the server's id of that open. */
struct luoemu_courier_whoami {
	uint32_t size;
	uint32_t pad;
	uint64_t id; /* out */
};

/* COURIER_UNDO: on the spare (session) or on the client's fd (file). */
struct luoemu_courier_undo {
	uint32_t size;
	uint32_t cmd;	/* the command being undone */
	uint64_t token; /* FILE */
	uint32_t first; /* FILE */
	uint32_t pad;
};

#endif
