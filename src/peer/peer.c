// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Reaching a caller: CUSE and seccomp hand us a thread id, not a process
 * id (session-fds.md §4.5), so every lookup starts from a tid.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "peer/peer.h"
#include "util.h"

/* Raw numbers for libcs without the wrappers (same on every arch). */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* Read a small /proc/<tid>/<file> into @buf, NUL-terminated. */
static int proc_read(pid_t tid, const char *file, char *buf, size_t size)
{
	_cleanup_close_ int fd = -1;
	char path[64];
	size_t n = 0;

	if (tid <= 0 || size == 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)tid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while (n < size - 1) {
		ssize_t k = read(fd, buf + n, size - 1 - n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			/* A thread that exited under us reads as ESRCH. */
			return errno == ESRCH ? -ESRCH : -errno;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	buf[n] = '\0';
	return 0;
}

int peer_tgid(pid_t tid, pid_t *ret)
{
	char buf[4096];
	const char *p;
	char *end;
	long v;
	int r;

	r = proc_read(tid, "status", buf, sizeof(buf));
	if (r < 0)
		return r;
	p = strstr(buf, "\nTgid:");
	if (!p)
		return -EIO;
	p += strlen("\nTgid:");
	errno = 0;
	v = strtol(p, &end, 10);
	if (errno || end == p || v <= 0)
		return -EIO;
	*ret = (pid_t)v;
	return 0;
}

static int sys_pidfd_open(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : (int)fd;
}

/* The value after "\nKEY:" in a /proc status text, parsed in @base. */
static int status_field(const char *status, const char *key, int base, unsigned long long *ret)
{
	char needle[32];
	const char *p;
	char *end;

	snprintf(needle, sizeof(needle), "\n%s:", key);
	p = strstr(status, needle);
	if (!p)
		return -EIO;
	p += strlen(needle);
	errno = 0;
	*ret = strtoull(p, &end, base);
	if (errno || end == p)
		return -EIO;
	return 0;
}

int peer_creds(pid_t tid, struct peer_creds *ret)
{
	unsigned long long uid, euid, cap;
	char buf[4096], path[64];
	struct stat theirs, ours;
	const char *p;
	int r;

	r = proc_read(tid, "status", buf, sizeof(buf));
	if (r < 0)
		return r;
	/* "Uid:\treal\teffective\tsaved\tfs" */
	r = status_field(buf, "Uid", 10, &uid);
	if (r < 0)
		return r;
	p = strstr(buf, "\nUid:");
	if (sscanf(p + strlen("\nUid:"), "%*u %llu", &euid) != 1)
		return -EIO;
	r = status_field(buf, "CapEff", 16, &cap);
	if (r < 0)
		return r;
	/* Reading the namespace link needs ptrace read access, as pidfd_getfd does. */
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)tid);
	if (stat(path, &theirs) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	if (stat("/proc/self/ns/user", &ours) < 0)
		return -errno;
	*ret = (struct peer_creds){
		.uid = (uid_t)uid,
		.euid = (uid_t)euid,
		.cap_eff = cap,
		.same_userns = theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino,
	};
	return 0;
}

int peer_pidfd_open(pid_t tid)
{
	pid_t tgid;
	int fd, r;

	fd = sys_pidfd_open(tid);
	/* Non-leader threads: EINVAL before 6.9, ENOENT after. */
	if (fd != -EINVAL && fd != -ENOENT)
		return fd;
	r = peer_tgid(tid, &tgid);
	if (r < 0)
		return r;
	if (tgid == tid)
		return fd;
	return sys_pidfd_open(tgid);
}

int peer_getfd(int pidfd, int fd)
{
	long r;

	/* The new fd is O_CLOEXEC already. O_PATH fds pass: the core refuses them. */
	r = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (r < 0)
		return -errno;
	return (int)r;
}

/* Reject ranges that wrap: they cannot be caller memory. */
static bool range_ok(uint64_t addr, size_t len)
{
	return addr <= UINTPTR_MAX && len <= UINTPTR_MAX - addr;
}

static int peer_copy(pid_t tid, uint64_t addr, void *buf, size_t len, bool write)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	ssize_t n;

	if (len == 0)
		return 0;
	if (!range_ok(addr, len))
		return -EFAULT;
	n = write ? process_vm_writev(tid, &local, 1, &remote, 1, 0)
		  : process_vm_readv(tid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	/* Short: the range ran into an unmapped, unreadable or read-only page. */
	return (size_t)n == len ? 0 : -EFAULT;
}

int peer_read(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	return peer_copy(tid, addr, buf, len, false);
}

int peer_write(pid_t tid, uint64_t addr, const void *buf, size_t len)
{
	return peer_copy(tid, addr, (void *)buf, len, true);
}

void peer_comm(pid_t tid, char *buf, size_t size)
{
	char comm[64];
	size_t n;

	if (size == 0)
		return;
	if (proc_read(tid, "comm", comm, sizeof(comm)) < 0 || comm[0] == '\0') {
		snprintf(buf, size, "?");
		return;
	}
	n = strcspn(comm, "\n");
	comm[n] = '\0';
	snprintf(buf, size, "%s", comm);
}

bool peer_is_self(pid_t tid)
{
	char path[64];

	/* Our own /proc/self/task lists exactly our threads: no parsing, one lookup. */
	snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tid);
	return access(path, F_OK) == 0;
}
