/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fd courier: a process of its own, forked by the CUSE server before
 * CUSE setup, that serves the seccomp listeners of launched programs.  It
 * completes the trapped fd-returning LUO ioctls with the server's help
 * (frontend/courier-protocol.h) and emulates kexec_file_load + reboot(KEXEC).  Keeping it
 * out of the server means the server never waits on its own device
 * (session-fds.md §4.3).
 */
#ifndef LUOEMU_SECCOMP_COURIER_H
#define LUOEMU_SECCOMP_COURIER_H

#include <stdbool.h>
#include <sys/types.h>

struct courier_config {
	/*
	 * SOCK_SEQPACKET end over which the server forwards listeners: each
	 * datagram is "attach PID" with the listener fd as SCM_RIGHTS.  EOF
	 * ends the courier.
	 */
	int listener_sock;
	/*
	 * e.g. /dev/liveupdate: a CUSE character device or a bind-mounted FUSE
	 * file.  Its identity tells our fds from others; the server forks us
	 * before the node exists, so it is looked up when needed.
	 */
	const char *device_path;
	pid_t server_pid;	    /* for pidfd_getfd of retrieved files */
	const char *control_socket; /* where "kexec" is requested */
	bool verbose;
};

/*
 * Run the courier loop in the calling process (single-threaded).  Sets
 * PR_SET_PDEATHSIG(SIGKILL).  Returns 0 when the server closes
 * listener_sock, -errno on a fatal error; the caller exits with it.
 */
int courier_main(const struct courier_config *cfg);

#endif
