/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `luoemu run` of a per-user daemon: enter the daemon's user and mount
 * namespaces, where /dev/liveupdate is the daemon's FUSE file.
 *
 * The daemon's user namespace maps only its own uid and gid to themselves,
 * so the joined process keeps its uid, gid and supplementary groups (the
 * groups not mapped read as the overflow gid 65534 inside, but still grant
 * access).  setns() gives it every capability in that namespace; this
 * function drops them all again before returning, so the process and the
 * program it executes have none (inheritable and ambient sets are empty).
 */
#ifndef LUOEMU_CLI_JOIN_H
#define LUOEMU_CLI_JOIN_H

#include <stddef.h>

/*
 * Join the daemon's user and mount namespaces; keep the cwd.  The caller must
 * be single-threaded (setns(2) rule for user namespaces).  Nothing to do when
 * already inside both.  -errno + @why on failure; a failure after the join
 * (cwd, capabilities) leaves the process inside: the caller should exit.
 */
int luoemu_join_daemon(int daemon_pidfd, char *why, size_t why_len);

#endif
