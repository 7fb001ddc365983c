/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated kernel's kexec state: which images are "loaded", with what
 * command line, by whom.  The courier validates the trapped kexec_load,
 * kexec_file_load and reboot(KEXEC) calls and relays them here with the
 * caller's credentials (seccomp/kexec-request.h); the daemon decides.
 * Nothing of an image is kept: an emulated update restarts the daemon,
 * which starts with nothing loaded, as a new kernel does.
 */
#ifndef LUOEMU_DAEMON_KEXEC_IMAGE_H
#define LUOEMU_DAEMON_KEXEC_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>

#include "peer/peer.h"
#include "seccomp/kexec-request.h"

struct daemon;
struct daemon_config;

struct kexec_slot {
	bool loaded;
	bool file; /* by kexec_file_load (else kexec_load) */
	uid_t uid; /* who loaded it (as seen from the daemon's user namespace) */
	pid_t pid;
	time_t when;
};

/* In struct daemon, zero-initialised; under the daemon's lock. */
struct kexec_image {
	struct kexec_slot normal, crash;
	char cmdline[KEXEC_CMDLINE_MAX + 1]; /* the normal image's; kexec_file_load only */
};

/* kexec_image_request(): the caller must now run the emulated update (no reply sent yet). */
#define KEXEC_IMAGE_RUN_UPDATE 1

/*
 * Serve a control request whose verb starts with "kexec-" from the peer
 * @pid/@uid: kexec-load and kexec-reboot from the courier only,
 * kexec-status from anyone.  Replies on @conn and returns 0, or returns
 * KEXEC_IMAGE_RUN_UPDATE without replying after emptying *args (the update
 * then runs with the daemon's default handover).
 */
int kexec_image_request(struct daemon *d, int conn, const char *verb, char **args, pid_t pid,
			uid_t uid);

/*
 * System mode: write the state into SOCKETDIR/sys/kexec_loaded and
 * kexec_crash_loaded, which `luoemu run` binds over /sys/kernel/ for
 * root's programs (kexec-tools reads them before `kexec -e`).  Per-user
 * mode serves them from its FUSE filesystem instead.  Under the lock.
 */
void kexec_image_publish(struct daemon *d);
/* That directory (SOCKETDIR/sys) for @cfg. */
int kexec_image_dir(const struct daemon_config *cfg, char *buf, size_t size);

/*
 * The contents of the emulated /sys/kernel/@name for "kexec_loaded" and
 * "kexec_crash_loaded" ("0\n" or "1\n"): the length written, or -ENOENT
 * for another name, -ENOBUFS when @size is too small.
 */
int kexec_image_attr(struct daemon *d, const char *name, char *buf, size_t size);

/*
 * Lines for `luoemu status`: "kexec_loaded N\nkexec_crash_loaded N\n
 * kexec_cmdline TEXT" (TEXT with C escapes for anything but printable
 * ASCII; "-" when there is none); the cmdline only when @show_cmdline.
 * Returns the length or -ENOBUFS.
 */
int kexec_image_status(struct daemon *d, bool show_cmdline, char *buf, size_t size);

/*
 * The permission rule, kept apart to be tested.  The kernel wants
 * CAP_SYS_BOOT in the initial user namespace for kexec_load,
 * kexec_file_load and reboot.  System mode (the daemon in the initial user
 * namespace): the same rule, the caller's effective capabilities counting
 * only when it is in the daemon's user namespace.  Per-user mode (the
 * daemon in a user namespace of its own, owned by its user): the daemon
 * stands in for that user's kernel, so its owner -- the caller whose
 * effective uid equals the daemon's own, as both are seen from the
 * daemon's namespace -- holds every right, like CAP_SYS_BOOT there.
 */
bool kexec_may_boot(const struct peer_creds *c, bool per_user, uid_t owner);

#endif
