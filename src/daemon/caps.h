/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef LUOEMU_DAEMON_CAPS_H
#define LUOEMU_DAEMON_CAPS_H

#include <stdbool.h>

/*
 * Keep only what the daemon uses, in every set and in the bounding set (so
 * the re-executed daemon of an exec handover cannot regain more):
 *   CAP_SYS_PTRACE  pidfd_getfd() and process_vm_* on clients of any uid;
 *   CAP_KILL        ending supervised clients at the emulated kexec;
 *   CAP_CHOWN       only when a device group was requested;
 *   CAP_SYS_ADMIN   only for the FUSE frontend in system mode, which mounts
 *                   its filesystem and binds it over /dev/NAME (again after
 *                   every exec handover).
 * Opening /dev/cuse needs no capability for its owner (root).
 */
int caps_drop_to_minimum(bool keep_chown, bool keep_mount);

#endif
