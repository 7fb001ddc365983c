/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who is on the other end of a control connection, proved by the kernel:
 * SO_PEERCRED for the uid and a pidfd for the process (SO_PEERPIDFD on
 * Linux 6.5+; an exact-liveness fallback elsewhere).  A pid alone is never
 * trusted: it can be dead, or reused by somebody else's process.
 */
#ifndef LUOEMU_CONTROL_PEERCRED_H
#define LUOEMU_CONTROL_PEERCRED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct luoemu_peer {
	pid_t pid; /* as SO_PEERCRED said, at connect() */
	uid_t uid;
	gid_t gid;
	int pidfd;  /* pins the connecting process; -1 when it is gone */
	bool alive; /* the process that connected still runs */
};

/*
 * Fill @p for the connection @conn, accepted at @accepted_ns
 * (CLOCK_BOOTTIME; 0: now).  Returns 0 (check p->alive), or -errno when
 * the socket has no credentials.  Release with luoemu_peer_release().
 */
int luoemu_peer_get(int conn, uint64_t accepted_ns, struct luoemu_peer *p);
/* The same without SO_PEERPIDFD: what an old kernel gets (and tests). */
int luoemu_peer_get_fallback(int conn, uint64_t accepted_ns, struct luoemu_peer *p);
void luoemu_peer_release(struct luoemu_peer *p);

/* CLOCK_BOOTTIME in ns: the clock of a process's start time. */
uint64_t luoemu_boottime_ns(void);

/*
 * The pid (in our pid namespace) of the process @pidfd refers to;
 * -ESRCH when it exited (or lives outside our namespace), -EBADF when
 * @pidfd is not a pidfd.
 */
int luoemu_pidfd_pid(int pidfd);

/*
 * The effective capabilities and effective uid of the process behind
 * @pidfd, read from its /proc entry and valid because the process was
 * still alive after the read.  Capabilities of a process in another user
 * namespace count for nothing here (*ret_caps is 0 for it).
 */
int luoemu_pidfd_creds(int pidfd, uint64_t *ret_caps, uid_t *ret_euid);

/* Is @fd a seccomp user-notification listener?  1, 0, or -errno. */
int luoemu_fd_is_seccomp_listener(int fd);

#endif
