// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <syslog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/control.h"
#include "control/server.h"
#include "util.h"

/* Room for the largest reply in a fresh connection's send buffer. */
#define CONN_SNDBUF (2 * (LUOEMU_CONTROL_MAX + 4096))

struct conn {
	struct conn *prev, *next; /* in accept order, hence in deadline order */
	int fd;
	uid_t uid;
	uint64_t accepted_ns, deadline_ns;
};

struct luoemu_server {
	struct luoemu_server_limits lim;
	struct luoemu_server_ops ops;
	void *data;
	int listen_fd, epfd, stopfd;
	struct conn *head, *tail;
	unsigned int nr_conns;
	uint64_t next_tick_ns;
	char *buf; /* one request at a time */
	/*
	 * Quota refusals are logged on a budget of their own, one line a
	 * second: a flood is always seen, and never drowns the log (nor is
	 * drowned by other clients' refusals).
	 */
	time_t quota_logged_at;
	unsigned int quota_unlogged;
};

/* Markers in epoll_event.data.ptr for the two fds that are not connections. */
static char listen_marker, stop_marker;

__attribute__((format(printf, 3, 4))) static void srv_log(struct luoemu_server *s, int prio,
							  const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!s->ops.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->ops.log(s->data, prio, msg);
}

int luoemu_server_new(int listen_fd, const struct luoemu_server_limits *lim,
		      const struct luoemu_server_ops *ops, void *data, struct luoemu_server **ret)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct luoemu_server *s;
	int fl;

	if (listen_fd < 0 || !ops || !ops->request)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lim = lim ? *lim
		     : (struct luoemu_server_limits){LUOEMU_SERVER_PER_UID, LUOEMU_SERVER_TOTAL,
						     LUOEMU_SERVER_DEADLINE_MS};
	s->ops = *ops;
	s->data = data;
	s->listen_fd = listen_fd;
	s->buf = malloc(LUOEMU_CONTROL_MAX + 1);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fl = fcntl(listen_fd, F_GETFL);
	if (!s->buf || s->epfd < 0 || s->stopfd < 0 || fl < 0 ||
	    fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		goto fail;
	ev.data.ptr = &listen_marker;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
		goto fail;
	ev.data.ptr = &stop_marker;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->stopfd, &ev) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	fl = errno ? -errno : -ENOMEM;
	luoemu_server_free(s);
	return fl;
}

static void conn_drop(struct luoemu_server *s, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		s->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		s->tail = c->prev;
	s->nr_conns--;
	if (c->fd >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	free(c);
}

void luoemu_server_free(struct luoemu_server *s)
{
	if (!s)
		return;
	while (s->head)
		conn_drop(s, s->head);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->stopfd >= 0)
		close(s->stopfd);
	free(s->buf);
	free(s);
}

void luoemu_server_stop(struct luoemu_server *s)
{
	uint64_t one = 1;

	/* Nothing to do on failure: the counter is already non-zero. */
	if (write(s->stopfd, &one, sizeof(one)) < 0)
		return;
}

static unsigned int conns_of(const struct luoemu_server *s, uid_t uid)
{
	unsigned int n = 0;

	for (const struct conn *c = s->head; c; c = c->next)
		n += c->uid == uid;
	return n;
}

/* Refuse a connection past a quota: the errno the kernel uses for "try later". */
static void refuse(struct luoemu_server *s, int fd, uid_t uid, const char *which)
{
	time_t now = time(NULL);

	luoemu_control_reply(fd, EAGAIN, "too many control connections (%s)", which);
	if (now != s->quota_logged_at) {
		srv_log(s, LOG_WARNING,
			"control: connection of uid %u refused: %s quota reached (%u more refused "
			"since the last line)",
			(unsigned int)uid, which, s->quota_unlogged);
		s->quota_logged_at = now;
		s->quota_unlogged = 0;
	} else {
		s->quota_unlogged++;
	}
	close(fd);
}

/* Accept what is pending; false when the listen socket is shut down. */
static bool accept_all(struct luoemu_server *s)
{
	for (int i = 0; i < 64; i++) {
		struct epoll_event ev = {.events = EPOLLIN};
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int sndbuf = CONN_SNDBUF;
		struct conn *c;
		int fd;

		fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return true;
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS) {
				srv_log(s, LOG_WARNING, "control: accept: %s", strerror(errno));
				return true;
			}
			return false; /* EINVAL: shut down */
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			close(fd);
			continue;
		}
		if (s->nr_conns >= s->lim.total) {
			refuse(s, fd, cred.uid, "total");
			continue;
		}
		if (conns_of(s, cred.uid) >= s->lim.per_uid) {
			refuse(s, fd, cred.uid, "per-uid");
			continue;
		}
		/* Past wmem_max only with CAP_NET_ADMIN: the default already fits a reply. */
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->uid = cred.uid;
		c->accepted_ns = luoemu_boottime_ns();
		c->deadline_ns = c->accepted_ns + (uint64_t)s->lim.deadline_ms * 1000000ull;
		ev.data.ptr = c;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->prev = s->tail;
		if (s->tail)
			s->tail->next = c;
		else
			s->head = c;
		s->tail = c;
		s->nr_conns++;
	}
	return true;
}

/* The connection is readable: its request, or its end. */
static void serve(struct luoemu_server *s, struct conn *c)
{
	struct luoemu_request req = {.conn = c->fd, .text = s->buf, .fd = -1};
	int n, r;

	n = luoemu_control_recv(c->fd, s->buf, LUOEMU_CONTROL_MAX + 1, &req.fd, NULL, NULL);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		if (n < 0 && n != -ECONNRESET)
			srv_log(s, LOG_NOTICE, "control: bad request from uid %u: %s",
				(unsigned int)c->uid, strerror(-n));
		conn_drop(s, c);
		return;
	}
	/* Credentials as of now, from the kernel: never a pid remembered from before. */
	r = luoemu_peer_get(c->fd, c->accepted_ns, &req.peer);
	if (r < 0) {
		luoemu_control_reply(c->fd, -r, "no peer credentials");
	} else {
		s->ops.request(s->data, &req);
		luoemu_peer_release(&req.peer);
	}
	if (req.fd >= 0)
		close(req.fd);
	if (req.conn < 0) {
		/* The handler took it: forget it without closing. */
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		c->fd = -1;
	}
	conn_drop(s, c);
}

/* Drop connections whose request did not come in time; ms until the next deadline. */
static int expire(struct luoemu_server *s, uint64_t now)
{
	while (s->head && s->head->deadline_ns <= now) {
		struct conn *c = s->head;

		srv_log(s, LOG_NOTICE,
			"control: connection of uid %u sent no request within %u ms: dropped",
			(unsigned int)c->uid, s->lim.deadline_ms);
		conn_drop(s, c);
	}
	if (!s->head)
		return 1000;
	return (int)MIN((s->head->deadline_ns - now) / 1000000ull + 1, 1000ull);
}

int luoemu_server_run(struct luoemu_server *s)
{
	struct epoll_event evs[64];

	for (;;) {
		uint64_t now = luoemu_boottime_ns();
		int timeout = expire(s, now), n;

		if (s->ops.tick && now >= s->next_tick_ns) {
			s->ops.tick(s->data);
			s->next_tick_ns = now + 1000000000ull;
		}
		n = epoll_wait(s->epfd, evs, ARRAY_SIZE(evs), timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &stop_marker)
				return 0;
			if (p != &listen_marker)
				continue;
			if ((evs[i].events & (EPOLLHUP | EPOLLERR)) || !accept_all(s))
				return 0; /* the listen socket was shut down */
		}
		/* Connections after the listener: a dropped one is never touched again. */
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p != &stop_marker && p != &listen_marker)
				serve(s, p);
		}
	}
}
