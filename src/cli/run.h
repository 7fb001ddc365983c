/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `luoemu run -- CMD`: run a program under the daemon's fd courier. */
#ifndef LUOEMU_CLI_RUN_H
#define LUOEMU_CLI_RUN_H

/*
 * Connect to the daemon at @control_socket, install the seccomp filter,
 * hand the listener over ("attach PID"), then execvp(@argv[0], @argv).
 * Returns only on failure, with the exit status for main(): 1 when the
 * daemon cannot be reached or refuses, 127 when the program cannot be run.
 * Works unprivileged (no_new_privs; setuid bits of @argv[0] are ignored).
 */
int luoemu_run(const char *control_socket, char *const argv[]);

#endif
