/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The launcher's seccomp filter: USER_NOTIF for the calls luoemu must
 * complete on the caller's behalf (the fd-returning LUO ioctls, the
 * emulated kexec), ALLOW for everything else.
 */
#ifndef LUOEMU_SECCOMP_FILTER_H
#define LUOEMU_SECCOMP_FILTER_H

/* LINUX_REBOOT_CMD_KEXEC, spelt out so no header order matters. */
#define LUOEMU_REBOOT_CMD_KEXEC 0x45584543u

/*
 * Set no_new_privs and install the filter on the calling thread (call it
 * while single-threaded: the filter is not synchronised to other threads).
 * Returns the listener fd (O_CLOEXEC: it must never reach the supervised
 * program) or -errno.
 */
int luoemu_filter_install(void);

#endif
