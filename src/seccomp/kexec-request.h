/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The courier's kexec requests to the daemon, on the control socket: one
 * text datagram each, built and parsed here so both sides agree.
 *
 *   kexec-load   call=kexec_load|kexec_file_load target=normal|crash
 *                op=load|unload err=ERRNO drop=0|1 CREDS [cmdline=REST]
 *   kexec-reboot err=ERRNO CREDS
 *   CREDS = pid=TID uid=UID euid=UID capeff=HEX userns=0|1
 *
 * err is the courier's own verdict on the arguments (0: they pass the
 * kernel's checks); the daemon answers EPERM before it, as the kernel
 * checks CAP_SYS_BOOT first.  drop=1: the kernel had already let go of the
 * crash image when the argument check failed.  cmdline takes the rest of
 * the datagram, whatever it holds.
 */
#ifndef LUOEMU_SECCOMP_KEXEC_REQUEST_H
#define LUOEMU_SECCOMP_KEXEC_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "peer/peer.h"

#define KEXEC_VERB_LOAD	  "kexec-load"
#define KEXEC_VERB_REBOOT "kexec-reboot"
#define KEXEC_VERB_STATUS "kexec-status"

/* x86's COMMAND_LINE_SIZE: the bzImage loader refuses longer lines (EINVAL). */
#define KEXEC_CMDLINE_MAX 2048

enum kexec_op {
	KEXEC_OP_LOAD,
	KEXEC_OP_UNLOAD,
	KEXEC_OP_REBOOT,
};

struct kexec_request {
	enum kexec_op op;
	bool file;  /* kexec_file_load (else kexec_load) */
	bool crash; /* the crash image slot */
	int err;    /* positive errno or 0 */
	bool drop_crash;
	pid_t pid; /* the trapped thread */
	struct peer_creds creds;
	const char *cmdline; /* NULL or NUL-terminated; points into the parsed text */
};

/* The datagram for @r (verb included) into @buf: 0 or -ENOBUFS. */
int kexec_request_format(const struct kexec_request *r, char *buf, size_t size);
/* Parse @verb and its @args (modified; cmdline points into it): 0 or -EINVAL. */
int kexec_request_parse(const char *verb, char *args, struct kexec_request *r);

#endif
