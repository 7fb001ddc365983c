/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control server's connection engine: one epoll loop over the listen
 * socket and every accepted connection, all non-blocking, so that nobody
 * stalls anybody:
 *   - a connection has a deadline (from accept() to a complete request);
 *     a silent client is dropped with a log line;
 *   - connections are capped per uid and in total; past the cap a new
 *     connection gets "err EAGAIN" and is closed, with a log line;
 *   - a reply is one datagram sent with MSG_DONTWAIT into the fresh
 *     connection's empty send buffer (sized for the largest reply), so a
 *     client that never reads cannot block the loop.
 * One request per connection, as the protocol (control.h) defines.  The
 * handler runs in the loop thread and must not block; work that takes
 * long takes the connection (req->conn = -1) to a thread of its own.
 */
#ifndef LUOEMU_CONTROL_SERVER_H
#define LUOEMU_CONTROL_SERVER_H

#include <stdint.h>

#include "control/peercred.h"

struct luoemu_server_limits {
	unsigned int per_uid;	  /* concurrent connections of one uid */
	unsigned int total;	  /* concurrent connections of everybody */
	unsigned int deadline_ms; /* from accept() to a complete request */
};

#define LUOEMU_SERVER_PER_UID	  128
#define LUOEMU_SERVER_TOTAL	  1024
#define LUOEMU_SERVER_DEADLINE_MS 5000

/* One request, owned by the engine for the duration of the handler call. */
struct luoemu_request {
	int conn;		 /* non-blocking; set to -1 to take it */
	char *text;		 /* the request, NUL-terminated, writable */
	int fd;			 /* passed with SCM_RIGHTS, or -1; set to -1 to take it */
	struct luoemu_peer peer; /* taken at request time; peer.pidfd may be taken */
};

struct luoemu_server_ops {
	void (*request)(void *data, struct luoemu_request *req);
	void (*tick)(void *data);			    /* optional: about once a second */
	void (*log)(void *data, int prio, const char *msg); /* optional */
};

struct luoemu_server;

/* @listen_fd stays the caller's (made non-blocking); @lim NULL: the defaults. */
int luoemu_server_new(int listen_fd, const struct luoemu_server_limits *lim,
		      const struct luoemu_server_ops *ops, void *data, struct luoemu_server **ret);
/* Serve until luoemu_server_stop() or the listen socket is shut down. */
int luoemu_server_run(struct luoemu_server *s);
/* From any thread (async-signal-safe): make luoemu_server_run() return. */
void luoemu_server_stop(struct luoemu_server *s);
/* Close every connection; the listen fd is left alone. */
void luoemu_server_free(struct luoemu_server *s);

#endif
