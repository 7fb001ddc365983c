/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The per-user daemon's namespaces: a user namespace with an identity map
 * (uid U -> U, gid G -> G, setgroups denied, so programs run under it keep
 * their own uid and are not root inside) and a private mount namespace in
 * which /dev is a copy of the host's /dev made of bind mounts, plus
 * /dev/liveupdate bound to the FUSE file the daemon serves.
 *
 * Capabilities: as the namespace's creator the daemon has every capability
 * in it.  userns_create() keeps only these two, in the permitted,
 * effective, inheritable and ambient sets, so that they survive the daemon's
 * own execve() (the exec handover; uid U is not root inside, so an execve
 * would otherwise clear them):
 *   CAP_SYS_ADMIN   mount the FUSE file system and the /dev binds, again
 *                   after every exec handover;
 *   CAP_SYS_PTRACE  pidfd_getfd() and process_vm_*() on clients that are
 *                   not dumpable or are guarded by Yama (clients exec inside
 *                   the namespace, so their mm belongs to it).
 * Not kept: CAP_KILL (every client has the daemon's uid, kill(2) needs no
 * capability), CAP_SETPCAP (nothing to drop from the bounding set: these
 * capabilities only reach objects owned by this user namespace).
 *
 * Order of calls in the daemon:
 *   userns_create()        while still single-threaded (unshare(2) rule);
 *   mount and serve FUSE   the lookup of the bind sources goes to the FUSE
 *                          server, so it must be served by ANOTHER thread
 *                          or process while private_dev_setup() runs;
 *   private_dev_setup()    after every start, including after an exec
 *                          handover (then it only replaces the binds).
 * After an exec handover the old FUSE mount is dead: umount2(its mount
 * point, MNT_DETACH) before mounting the new one there.  The ambient set
 * survives execve() only of a binary without file capabilities or set-id.
 */
#ifndef LUOEMU_DAEMON_USERNS_H
#define LUOEMU_DAEMON_USERNS_H

#include <stdbool.h>
#include <stddef.h>

/* Set by userns_create() in our environment: "USERNS_INO:MNTNS_INO".  An
 * exec handover that builds its own envp must pass it on. */
#define USERNS_ENV "LUOEMU_USERNS"

struct userns_config {
	const char *rundir;   /* per-user run directory (exists, 0700, ours) for staging */
	const char *fuse_dev; /* NULL: "/dev/fuse"; the device checked before unsharing */
	const char *dev_name; /* NULL: "liveupdate"; the node under the private /dev */
};

struct userns_bind {
	const char *src, *dst;
};

/*
 * Are we already inside a luoemu user namespace set up by a previous exec of
 * ours?  True when $LUOEMU_USERNS names the user and mount namespaces we are
 * in now (a stale value, e.g. inherited by an unrelated process, does not).
 */
bool userns_is_ours(void);

/*
 * Create the user+mount namespaces (identity map), make / recursively
 * private, keep the capabilities above ambient.  No-op returning 0 when
 * userns_is_ours() (then -EPERM if the kept capabilities were lost).
 * Checks the run directory and the FUSE device first.  On refusal: -errno
 * and a one-line @why naming the cause and the remedy.
 */
int userns_create(const struct userns_config *cfg, char *why, size_t why_len);

/*
 * Build the private /dev with liveupdate bound from @liveupdate_src, and bind
 * each sys_binds[i].src over sys_binds[i].dst (e.g. /sys/kernel/kexec_loaded;
 * when dst does not exist, its directory is replaced by a copy made of bind
 * mounts that has it).  Idempotent: called again after an exec handover it
 * only replaces the binds of the given sources (the old ones are detached).
 * Host entries that appear in /dev after the first call are not seen.
 */
int private_dev_setup(const struct userns_config *cfg, const char *liveupdate_src,
		      const struct userns_bind *sys_binds, size_t n_sys_binds, char *why,
		      size_t why_len);

/*
 * What the kernel knobs that gate unprivileged user namespaces say (-1: the
 * knob does not exist on this kernel).  Read once before unsharing, so that a
 * failure can name the knob that caused it.
 */
struct userns_knobs {
	long max_user_namespaces;	/* user.max_user_namespaces */
	long unprivileged_userns_clone; /* Debian: kernel.unprivileged_userns_clone */
	long apparmor_restrict;		/* Ubuntu: kernel.apparmor_restrict_unprivileged_userns */
};

void userns_knobs_read(struct userns_knobs *k);

/* Turn a failure @err of step @step ("unshare", "uid_map", ...) into a
 * one-line cause + remedy.  Returns @err.  Pure: exposed for the tests. */
int userns_explain(int err, const char *step, const struct userns_knobs *k, char *why,
		   size_t why_len);

#endif
