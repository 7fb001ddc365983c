/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The FUSE transport: the emulated device as a regular file of a small
 * FUSE filesystem, for hosts without CUSE and for the per-user daemon
 * (FUSE mounts in a user namespace; CUSE does not).  Its root holds:
 *
 *   liveupdate           the device (a thin adapter over src/frontend)
 *   kexec_loaded         what /sys/kernel/kexec_loaded reads for
 *   kexec_crash_loaded   supervised processes (bind-mounted there)
 *
 * Differences from the kernel's misc device are in the README.
 */
#ifndef LUOEMU_FUSE_H
#define LUOEMU_FUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct luo_frontend;
struct fuse_session;
struct fuse_transport;

struct fuse_transport_config {
	const char *mountpoint; /* an empty directory */
	mode_t dev_mode;	/* the liveupdate file's mode (0600: the kernel's) */
	gid_t dev_gid;		/* its group; (gid_t)-1: ours */
	bool allow_other;	/* system mode: other users reach the file */
	bool debug;
	/* Contents of the attribute files ("0\n"): length or -errno. */
	int (*attr_read)(void *data, const char *name, char *buf, size_t size);
	void *attr_data;
};

/* Mount the filesystem.  Returns the transport, or NULL with @why set. */
struct fuse_transport *fuse_transport_setup(struct luo_frontend *fe,
					    const struct fuse_transport_config *cfg, char *why,
					    size_t why_len);
struct fuse_session *fuse_transport_session(struct fuse_transport *t);
/* Unmount and free. */
void fuse_transport_teardown(struct fuse_transport *t);

#endif
