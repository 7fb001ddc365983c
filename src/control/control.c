// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The control protocol: one AF_UNIX SOCK_SEQPACKET datagram each way.
 * SEQPACKET keeps message boundaries and lets the receiver see truncation
 * (MSG_TRUNC), so a text request never has to be framed or escaped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/control.h"
#include "util.h"

/* Room for a handful of fds: a sender passing more gets them all closed. */
#define CONTROL_MAX_FDS 16

/* A control socket for @path (address in @sa), not yet connected or bound. */
static int control_socket(const char *path, struct sockaddr_un *sa)
{
	size_t len;
	int fd;

	if (!path || !*path)
		return -EINVAL;
	len = strlen(path);
	if (len >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

int luoemu_control_connect(const char *path)
{
	_cleanup_close_ int fd = -1;
	struct sockaddr_un sa;

	fd = control_socket(path, &sa);
	if (fd < 0)
		return fd;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return TAKE_FD(fd);
}

/* Send one datagram, with @pass_fd as SCM_RIGHTS when >= 0. */
static int send_datagram(int sock, const char *buf, size_t len, int pass_fd, int flags)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (len > LUOEMU_CONTROL_MAX)
		return -EMSGSIZE;
	if (pass_fd >= 0) {
		struct cmsghdr *cmsg;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &pass_fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EMSGSIZE; /* cannot happen on SEQPACKET: all or nothing */
	return 0;
}

/* Close every fd carried by @msg except the first one, which is returned (or -1). */
static int collect_fds(struct msghdr *msg, bool keep_first)
{
	int kept = -1;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (keep_first && kept < 0)
				kept = fd;
			else
				close(fd);
		}
	}
	return kept;
}

/*
 * Receive one datagram as a NUL-terminated string.  Returns its length
 * (0: the peer closed the connection, or sent an empty datagram) or -errno;
 * -EMSGSIZE when it did not fit, -EBADMSG when it holds a NUL byte.
 */
static int recv_datagram(int sock, char *buf, size_t size, int *ret_fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(CONTROL_MAX_FDS * sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = size - 1};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	_cleanup_close_ int fd = -1;
	ssize_t n;

	if (ret_fd)
		*ret_fd = -1;
	if (!buf || size < 2)
		return -EINVAL;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	fd = collect_fds(&msg, ret_fd != NULL);
	if (msg.msg_flags & MSG_TRUNC)
		return -EMSGSIZE; /* @fd is closed on the way out */
	if (memchr(buf, 0, n))
		return -EBADMSG;
	buf[n] = 0;
	if (ret_fd)
		*ret_fd = TAKE_FD(fd);
	return (int)n;
}

/* One datagram, no reply expected (the server forwarding a listener to the courier). */
int luoemu_control_send(int sock, const char *msg, int pass_fd)
{
	if (!msg)
		return -EINVAL;
	return send_datagram(sock, msg, strlen(msg), pass_fd, MSG_DONTWAIT);
}

int luoemu_control_request(int sock, const char *request, int pass_fd, char *reply,
			   size_t reply_size)
{
	int r;

	if (!request)
		return -EINVAL;
	r = send_datagram(sock, request, strlen(request), pass_fd, 0);
	if (r < 0)
		return r;
	r = recv_datagram(sock, reply, reply_size, NULL);
	if (r < 0)
		return r;
	if (r == 0)
		return -ECONNRESET; /* the daemon went away without answering */
	return 0;
}

/* Is anything accepting connections on @sa? */
static bool socket_alive(const struct sockaddr_un *sa)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return true; /* cannot tell: do not remove anything */
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return true;
	/* Refused: a socket nobody listens on (stale) or no socket at all. */
	return errno != ECONNREFUSED && errno != ENOENT;
}

int luoemu_control_listen(const char *path, mode_t mode)
{
	_cleanup_close_ int fd = -1;
	struct sockaddr_un sa;
	struct stat st;
	int r;

	fd = control_socket(path, &sa);
	if (fd < 0)
		return fd;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EADDRINUSE)
			return -errno;
		/* Only a dead socket is removed: never a live daemon's, never a file. */
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (socket_alive(&sa))
			return -EADDRINUSE;
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return -errno;
	}
	/* chmod before listen(): until then every connect() is refused. */
	if (chmod(path, mode) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		unlink(path);
		return r;
	}
	return TAKE_FD(fd);
}

int luoemu_control_recv(int conn, char *buf, size_t size, int *ret_fd, pid_t *ret_pid,
			uid_t *ret_uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = -1, n;

	if (ret_fd)
		*ret_fd = -1;
	if (ret_pid || ret_uid) {
		if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
			return -errno;
		if (ret_pid)
			*ret_pid = cred.pid;
		if (ret_uid)
			*ret_uid = cred.uid;
	}
	n = recv_datagram(conn, buf, size, ret_fd ? &fd : NULL);
	if (n < 0)
		return n;
	if (ret_fd)
		*ret_fd = fd;
	return n;
}

int luoemu_control_reply(int conn, int err, const char *fmt, ...)
{
	const size_t cap = LUOEMU_CONTROL_MAX + 1;
	_cleanup_free_ char *buf = malloc(cap);
	int n;

	if (!buf)
		return -ENOMEM;
	if (err < 0)
		err = -err;
	n = err ? snprintf(buf, cap, "err %d", err) : snprintf(buf, cap, "ok");
	if (fmt) {
		va_list ap;

		buf[n] = ' ';
		va_start(ap, fmt);
		vsnprintf(buf + n + 1, cap - n - 1, fmt, ap); /* long text is cut, not refused */
		va_end(ap);
		if (!buf[n + 1])
			buf[n] = 0;
	}
	if (err && !buf[n])
		snprintf(buf + n, cap - n, " %s", strerror(err));
	/* A server never waits on a client that does not read. */
	return send_datagram(conn, buf, strlen(buf), -1, MSG_DONTWAIT);
}

int luoemu_control_parse_reply(char *reply, const char **text)
{
	const char *p;
	size_t len;
	char *end;
	long e;

	if (text)
		*text = "";
	if (!reply)
		return -EINVAL;
	/* Tolerate one trailing newline from hand-written peers (socat). */
	len = strlen(reply);
	if (len && reply[len - 1] == '\n')
		reply[len - 1] = 0;
	if (strcmp(reply, "ok") == 0)
		return 0;
	if (strncmp(reply, "ok ", 3) == 0) {
		if (text)
			*text = reply + 3;
		return 0;
	}
	if (strncmp(reply, "err ", 4) != 0)
		goto bad;
	p = reply + 4;
	if (*p < '1' || *p > '9')
		goto bad;
	errno = 0;
	e = strtol(p, &end, 10);
	if (errno || e <= 0 || e > 4095 || (*end && *end != ' '))
		goto bad;
	if (text)
		*text = *end ? end + 1 : "";
	return (int)-e;
bad:
	if (text)
		*text = reply;
	return -EBADMSG;
}
