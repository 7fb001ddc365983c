/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Process hardening at start-up: what a daemon that starts as root and
 * serves every local user owes them.
 */
#ifndef LUOEMU_DAEMON_HARDENING_H
#define LUOEMU_DAEMON_HARDENING_H

#include <stdbool.h>
#include <stddef.h>

#define HARDENING_DEFAULT_USER "luoemu"

/*
 * Open /dev/null on each of fds 0-2 that is closed, so that no file of
 * ours (a preserved memfd, the state blob) can ever become stdout or
 * stderr and receive log lines.  Call first thing in main().
 */
int hardening_stdio(void);

/*
 * Become @user (uid, gid, no supplementary groups), keeping as ambient,
 * permitted, effective and inheritable capabilities exactly
 * CAP_SYS_PTRACE and CAP_KILL, plus CAP_CHOWN when @keep_chown (taking
 * the kernel's root-owned device node, and setting its group); lock
 * SECBIT_NOROOT and SECBIT_NO_SETUID_FIXUP so that uid 0 never means
 * privilege again, not even across the exec of a handover (ambient
 * capabilities survive execve()), and set no_new_privs.  Verifies the
 * result.
 *
 * Needs CAP_SETUID, CAP_SETGID and CAP_SETPCAP, and a single-threaded
 * process (capabilities are per thread).  Not root: returns 0, nothing
 * changed (per-user mode, or the re-executed daemon of a handover).
 * -ENOENT: no such user; -EINVAL: the user is root.
 */
int hardening_drop_to_user(const char *user, bool keep_chown, char *why, size_t why_len);

/*
 * Is this the system daemon after hardening_drop_to_user(), typically
 * re-executed by an exec handover: not root, SECBIT_NOROOT locked, and
 * CAP_SYS_PTRACE and CAP_KILL ambient?  Such a process skips the steps
 * that need root and keeps serving in system mode.
 */
bool hardening_is_dropped(void);

/* Does @user exist?  (The default user is used only when it does.) */
bool hardening_user_exists(const char *user);

#endif
