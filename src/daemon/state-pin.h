/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The handover state lives in memory that is never swapped, as the
 * kernel's serialized LUO state does (KHO memory): in system mode the
 * daemon mounts a tmpfs of its own on the state directory, with `noswap`
 * where the kernel has it (6.4+).  The mount outlives the daemon, so a
 * restarted daemon (copy mode) finds the blob there.
 */
#ifndef LUOEMU_DAEMON_STATE_PIN_H
#define LUOEMU_DAEMON_STATE_PIN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Pin @dir (which exists).  Needs CAP_SYS_ADMIN; without it, or when @dir
 * already holds files that are not on our tmpfs (they would be hidden), it
 * leaves @dir as it is.  Either way @note says, for the log and `status`,
 * what the state directory is now ("pinned: tmpfs, noswap", "not pinned:
 * ...").  Returns 0, or -errno when @required and @dir could not be pinned.
 */
int state_dir_pin(const char *dir, bool required, char *note, size_t note_len);

#endif
