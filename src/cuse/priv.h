/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The private ioctl between the fd courier (seccomp supervisor process) and
 * the CUSE server.  CUSE cannot return an fd from an ioctl, so a trapped
 * CREATE_SESSION / RETRIEVE_SESSION / SESSION_RETRIEVE_FD goes like this:
 *
 *  1. courier: pidfd_getfd() the client's fd; if its st_rdev is not our
 *     device, answer SECCOMP_USER_NOTIF_FLAG_CONTINUE (natural errno);
 *  2. courier: ioctl(that fd, LUOEMU_PRIV_CALL, {cmd, client tid, arg}):
 *     the server runs the normal dispatch on the object behind that open
 *     (reading and pre-flight-writing the client's struct itself), and
 *     answers .result; on success it parks the result for the courier;
 *  3. courier, kind SESSION: open(device) -- the server binds that open to
 *     the parked session (it knows the courier by its pid);
 *     kind FILE: pidfd_getfd(server, .server_fd) and check dev/ino;
 *  4. courier: SECCOMP_IOCTL_NOTIF_ADDFD (O_CLOEXEC), close its own copy,
 *     write the new fd number at offset 4 of the client's struct,
 *     NOTIF_ID_VALID, NOTIF_SEND(0).  If 3 or 4 fails the courier closes
 *     its copy: the last close releases the session as the kernel's
 *     EFAULT paths do.
 *
 * The number lies outside both LUO ranges, so a client sending it gets the
 * kernel's EINVAL; the server honours it only from the courier's pid.
 */
#ifndef LUOEMU_CUSE_PRIV_H
#define LUOEMU_CUSE_PRIV_H

#include <linux/ioctl.h>
#include <stdint.h>

#include "luoemu/liveupdate.h"

#define LUOEMU_PRIV_CALL _IO(LIVEUPDATE_IOCTL_TYPE, 0xE0)

enum luoemu_priv_kind {
	LUOEMU_PRIV_NONE = 0,
	LUOEMU_PRIV_SESSION = 1, /* open the device next: it is bound */
	LUOEMU_PRIV_FILE = 2,	 /* pidfd_getfd(server, server_fd) */
};

struct luoemu_priv_call {
	uint32_t size;	    /* sizeof(struct luoemu_priv_call) */
	uint32_t cmd;	    /* in: the client's ioctl command */
	int32_t client_tid; /* in: seccomp_notif.pid (a thread id) */
	int32_t result;	    /* out: 0 or the negative errno for the client */
	uint64_t arg;	    /* in: the client's argument pointer */
	uint32_t kind;	    /* out: enum luoemu_priv_kind */
	int32_t server_fd;  /* out, FILE: the server's fd of the file */
	uint64_t dev;	    /* out, FILE: identity to check after getfd */
	uint64_t ino;
};

#endif
