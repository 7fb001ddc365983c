/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * System mode with the FUSE frontend: the emulated device is a FUSE
 * regular file, made visible at /dev/NAME with a bind mount over an empty
 * regular file there (a device node cannot be the mount point of a file).
 */
#ifndef LUOEMU_DAEMON_DEVICE_NODE_H
#define LUOEMU_DAEMON_DEVICE_NODE_H

#include <stddef.h>

/*
 * Detach every mount stacked on @path (a previous daemon's binds; after an
 * exec handover its FUSE mount is dead).  Mounts that are not ours to
 * detach (a user namespace's locked ones) stay.
 */
void mount_detach_all(const char *path);
/* Bind @src over @dst, replacing a stale bind left by a previous daemon. */
int device_node_bind(const char *src, const char *dst, char *why, size_t why_len);
/* Undo it: detach the bind and remove the placeholder file. */
void device_node_unbind(const char *dst);

#endif
