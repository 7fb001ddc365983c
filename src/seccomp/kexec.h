/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The courier's half of the emulated kexec: kexec_load, kexec_file_load
 * and reboot(LINUX_REBOOT_CMD_KEXEC) trapped by the launcher's filter.
 * The arguments are checked here as the kernel checks them, in its order;
 * the verdict travels with the caller's credentials to the daemon
 * (kexec-request.h), which checks CAP_SYS_BOOT first and owns the state
 * (daemon/kexec-image.h).  Nothing ever reaches the host's kexec: these
 * handlers never let a call continue into the kernel.
 */
#ifndef LUOEMU_SECCOMP_KEXEC_H
#define LUOEMU_SECCOMP_KEXEC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/seccomp.h>

struct courier;
struct courier_config;

/* Handlers for handle_notification(): 0 or -errno for the trapped task. */
int kexec_serve_load(struct courier *c, const struct courier_config *cfg, int listener,
		     const struct seccomp_notif *req);
int kexec_serve_file_load(struct courier *c, const struct courier_config *cfg, int listener,
			  const struct seccomp_notif *req);
int kexec_serve_reboot(struct courier *c, const struct courier_config *cfg, int listener,
		       const struct seccomp_notif *req);

/* The courier's rate-limited "pid N (comm): WHAT: WHY[: error]" line (courier.c). */
void notif_log(struct courier *c, const struct seccomp_notif *req, const char *what, int err,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* What the argument checks found, for the daemon to apply after CAP_SYS_BOOT. */
struct kexec_verdict {
	int err;	 /* positive errno, 0: the arguments pass */
	bool crash;	 /* the crash image slot */
	bool unload;	 /* nr_segments == 0 / KEXEC_FILE_UNLOAD */
	bool drop_crash; /* the kernel frees the old crash image before failing */
	char why[128];	 /* for the log line when err */
};

/*
 * kexec_load(entry, nr_segments, segments, flags) of thread @tid, checked
 * as kernel/kexec.c and kexec_core.c's sanity_check_segment_list() do
 * (after CAP_SYS_BOOT): flags, segment count, arch, the segment array
 * (read from @tid), each segment's alignment, limit, overlap and size, the
 * total against RAM, then every buffer must be readable (EFAULT).  The
 * crash kernel region is not checked: the emulated machine has none to
 * compare with.  @ram_pages: the machine's RAM in pages (0: sysinfo()).
 * @cmdline (NULL, or KEXEC_CMDLINE_MAX + 1 bytes): the command line an x86
 * loader left in the image's zero page, for the record ("" if none).
 * Returns 0 with @v filled, or -ENOMEM.
 */
int kexec_load_check(pid_t tid, uint64_t entry, uint64_t nr_segments, uint64_t segments,
		     uint64_t flags, uint64_t ram_pages, struct kexec_verdict *v, char *cmdline);

#endif
