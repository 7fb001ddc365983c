/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reaching a caller process: thread id → thread group, pidfds, the
 * caller's memory and fds.  The only module that touches another process.
 */
#ifndef LUOEMU_PEER_H
#define LUOEMU_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Thread group id of thread @tid, from /proc/<tid>/status. */
int peer_tgid(pid_t tid, pid_t *ret);
/* A pidfd for the process that thread @tid belongs to. */
int peer_pidfd_open(pid_t tid);
/* pidfd_getfd(); -EBADF for a bad fd number, other -errno as the kernel says. */
int peer_getfd(int pidfd, int fd);
/* Whole-or-nothing copies; -EFAULT when any byte cannot be reached. */
int peer_read(pid_t tid, uint64_t addr, void *buf, size_t len);
int peer_write(pid_t tid, uint64_t addr, const void *buf, size_t len);
/* Is thread @tid one of the calling process's own threads? */
bool peer_is_self(pid_t tid);
/*
 * What the kernel's permission checks look at, for thread @tid: its uids
 * and effective capabilities (per thread, from /proc/<tid>/status, as seen
 * from our user namespace), and whether it lives in our user namespace
 * (capabilities count only there).  The caller makes sure @tid is still
 * the task it means (pidfd + seccomp NOTIF_ID_VALID after the read).
 */
struct peer_creds {
	uid_t uid, euid;
	uint64_t cap_eff;
	bool same_userns;
};
int peer_creds(pid_t tid, struct peer_creds *ret);
/* The process name (comm) for log lines; "?" when unknown. */
void peer_comm(pid_t tid, char *buf, size_t size);

#endif
