/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control protocol between the CLI (luoemu) and the daemon (luoemud).
 * One AF_UNIX SOCK_SEQPACKET socket; one request datagram, one reply
 * datagram.  Requests are text: a verb and space-separated arguments.
 * Replies are "ok[ TEXT]" or "err ERRNO TEXT".  The "attach" request
 * carries a seccomp listener fd as SCM_RIGHTS.  Both sides use this module;
 * the CLI never reaches into daemon internals.
 */
#ifndef LUOEMU_CONTROL_H
#define LUOEMU_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#define LUOEMU_CONTROL_MAX    65536 /* largest datagram, either way */
#define LUOEMU_DEFAULT_RUNDIR "/run/luoemu"
#define LUOEMU_DEFAULT_SOCKET LUOEMU_DEFAULT_RUNDIR "/control.sock"

/* Client side: connect; send a request (optionally with one fd); read the reply. */
int luoemu_control_connect(const char *path);
int luoemu_control_request(int sock, const char *request, int pass_fd, char *reply,
			   size_t reply_size);

/* Server side: listen socket, receive one request (with at most one fd), reply. */
int luoemu_control_listen(const char *path, mode_t mode);
int luoemu_control_recv(int conn, char *buf, size_t size, int *ret_fd, pid_t *ret_pid,
			uid_t *ret_uid);
/* Never blocks: -EAGAIN when the client's queue is full (a reply is one datagram). */
int luoemu_control_reply(int conn, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parse a reply: returns 0 with *text set to the payload, or -errno. */
int luoemu_control_parse_reply(char *reply, const char **text);

/*
 * One datagram (optionally with one fd), no reply expected: server to
 * courier.  Never blocks: -EAGAIN when the receiver's queue is full.
 */
int luoemu_control_send(int sock, const char *msg, int pass_fd);

#endif
