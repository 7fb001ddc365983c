// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "control/peercred.h"
#include "util.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

uint64_t luoemu_boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A pidfd becomes readable when its process exits (zombie or reaped). */
static bool pidfd_exited(int pidfd)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};

	return poll(&p, 1, 0) != 0;
}

/* Read a small /proc file into @buf (NUL-terminated). */
static int read_small(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int luoemu_pidfd_pid(int pidfd)
{
	char path[64], buf[1024];
	const char *line;
	long pid;
	int r;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	r = read_small(path, buf, sizeof(buf));
	if (r < 0)
		return r == -ENOENT ? -EBADF : r;
	line = strstr(buf, "\nPid:\t");
	if (!line)
		return -EBADF;
	pid = strtol(line + 6, NULL, 10);
	/* -1: exited and reaped; 0: not in our pid namespace. */
	if (pid <= 0 || pidfd_exited(pidfd))
		return -ESRCH;
	return (int)pid;
}

/* The process's start time in ns of CLOCK_BOOTTIME (truncated to a clock tick). */
static int start_time_ns(pid_t pid, uint64_t *ret)
{
	char path[64], buf[1024], *p;
	unsigned long long ticks;
	long hz = sysconf(_SC_CLK_TCK);
	int r;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	r = read_small(path, buf, sizeof(buf));
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || hz <= 0)
		return -EIO;
	/* state is field 3, starttime field 22: skip 19 fields after state. */
	if (sscanf(p + 2,
		   "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
		   "%*s %*s %llu",
		   &ticks) != 1)
		return -EIO;
	*ret = ticks * (1000000000ull / (uint64_t)hz);
	return 0;
}

static int peer_cred(int conn, struct ucred *cred)
{
	socklen_t len = sizeof(*cred);

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, cred, &len) < 0)
		return -errno;
	return 0;
}

int luoemu_peer_get_fallback(int conn, uint64_t accepted_ns, struct luoemu_peer *p)
{
	struct ucred again;
	uint64_t started;
	int r;

	if (p->pidfd < 0)
		p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (p->pidfd < 0)
		return 0; /* ESRCH: gone */
	/*
	 * The pid could have been reused since connect(): the process it now
	 * names must have started before the connection was accepted, and
	 * still run once pinned.  (Start times have clock-tick resolution:
	 * only a reuse within the same tick as accept() escapes this.)
	 */
	r = peer_cred(conn, &again);
	if (r < 0)
		return r;
	if (again.pid != p->pid || start_time_ns(p->pid, &started) < 0 ||
	    started > (accepted_ns ?: luoemu_boottime_ns()) || pidfd_exited(p->pidfd)) {
		close(p->pidfd);
		p->pidfd = -1;
		return 0;
	}
	p->alive = true;
	return 0;
}

int luoemu_peer_get(int conn, uint64_t accepted_ns, struct luoemu_peer *p)
{
	struct ucred cred;
	socklen_t len = sizeof(int);
	int r;

	*p = (struct luoemu_peer){.pidfd = -1};
	r = peer_cred(conn, &cred);
	if (r < 0)
		return r;
	p->pid = cred.pid;
	p->uid = cred.uid;
	p->gid = cred.gid;
	if (getsockopt(conn, SOL_SOCKET, SO_PEERPIDFD, &p->pidfd, &len) < 0) {
		p->pidfd = -1;
		if (errno == ENOPROTOOPT)
			return luoemu_peer_get_fallback(conn, accepted_ns, p);
		return 0; /* ESRCH (before 6.16: the peer was reaped): gone */
	}
	/* The pidfd pins the very process that connected: it may have exited. */
	p->alive = luoemu_pidfd_pid(p->pidfd) > 0;
	return 0;
}

void luoemu_peer_release(struct luoemu_peer *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
	p->alive = false;
}

/* One "Key:\tVALUE" field of /proc/PID/status. */
static const char *status_field(const char *buf, const char *key)
{
	size_t klen = strlen(key);

	for (const char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, key, klen) == 0 && l[klen] == ':')
			return l + klen + 1;
	return NULL;
}

static bool same_user_ns(pid_t pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	return stat(path, &a) == 0 && stat("/proc/self/ns/user", &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

int luoemu_pidfd_creds(int pidfd, uint64_t *ret_caps, uid_t *ret_euid)
{
	char path[64], buf[4096];
	const char *cap, *uid;
	unsigned long long caps;
	unsigned long ruid, euid;
	bool same_ns;
	int pid, r;

	pid = luoemu_pidfd_pid(pidfd);
	if (pid < 0)
		return pid;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	r = read_small(path, buf, sizeof(buf));
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	same_ns = same_user_ns(pid);
	/* Still alive now: the pid was not reused, what we read was this process. */
	if (pidfd_exited(pidfd))
		return -ESRCH;
	cap = status_field(buf, "CapEff");
	uid = status_field(buf, "Uid");
	if (!cap || !uid || sscanf(cap, " %llx", &caps) != 1 ||
	    sscanf(uid, " %lu %lu", &ruid, &euid) != 2)
		return -EIO;
	*ret_caps = same_ns ? caps : 0;
	*ret_euid = (uid_t)euid;
	return 0;
}

int luoemu_fd_is_seccomp_listener(int fd)
{
	static const char want[] = "anon_inode:seccomp notify";
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	return strcmp(target, want) == 0;
}
