// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli/join.h"
#include "util.h"

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

/* setns() of a pidfd (5.8+).  A test build defines LUOEMU_JOIN_PROC_ONLY to
 * run the older kernels' path here. */
#ifdef LUOEMU_JOIN_PROC_ONLY
#define setns_pidfd(pidfd, flags) (errno = EINVAL, -1)
#else
#define setns_pidfd(pidfd, flags) setns(pidfd, flags)
#endif

/* The pid a pidfd refers to, as our pid namespace sees it. */
static pid_t pidfd_pid(int pidfd)
{
	__attribute__((cleanup(fclosep))) FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	char path[64];
	size_t len = 0;
	int pid;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &len, f) > 0)
		if (sscanf(line, "Pid: %d", &pid) == 1)
			return pid > 0 ? pid : -ESRCH;
	return -EBADF; /* not a pidfd */
}

static int same_ns(pid_t pid, const char *which)
{
	char path[64];
	struct stat theirs, mine;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, which);
	if (stat(path, &theirs) < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/self/ns/%s", which);
	if (stat(path, &mine) < 0)
		return -errno;
	return theirs.st_dev == mine.st_dev && theirs.st_ino == mine.st_ino;
}

static int explain(int err, pid_t pid, char *why, size_t why_len)
{
	switch (err) {
	case -EPERM:
		return why_err(why, why_len, err,
			       "cannot join the namespaces of luoemud (pid %d): %s: the daemon "
			       "belongs to another user, or this process is chrooted; start your "
			       "own daemon",
			       (int)pid, strerror(-err));
	case -EINVAL:
		return why_err(
			why, why_len, err,
			"cannot join the namespaces of luoemud (pid %d): %s: the caller is "
			"multi-threaded (setns(2) of a user namespace needs a single thread)",
			(int)pid, strerror(-err));
	case -ESRCH:
		return why_err(why, why_len, err, "luoemud (pid %d) has exited", (int)pid);
	default:
		return why_err(why, why_len, err,
			       "cannot join the namespaces of luoemud (pid %d): %s", (int)pid,
			       strerror(-err));
	}
}

/* Before 5.8 setns() takes no pidfd: open /proc/PID/ns/, then check that the
 * pidfd's process is still alive, so the files are not a reused pid's. */
static int join_by_proc(int pidfd, pid_t pid, int flags)
{
	_cleanup_close_ int user_fd = -1, mnt_fd = -1;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	user_fd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	mnt_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (user_fd < 0 || mnt_fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		return -errno;
	if ((flags & CLONE_NEWUSER) && setns(user_fd, CLONE_NEWUSER) < 0)
		return -errno;
	if (setns(mnt_fd, CLONE_NEWNS) < 0)
		return -errno;
	return 0;
}

/* setns() granted every capability in the daemon's namespace: give them back.
 * Raw capset(2): the CLI does not link libcap for this one call. */
static int drop_all_caps(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {0};

	if (syscall(SYS_capset, &hdr, none) < 0)
		return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

int luoemu_join_daemon(int daemon_pidfd, char *why, size_t why_len)
{
	_cleanup_close_ int cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	uid_t uid = getuid();
	gid_t gid = getgid();
	struct stat before, after;
	int r, user_same, mnt_same, flags;
	pid_t pid;

	if (cwd_fd < 0 || !cwd || fstat(cwd_fd, &before) < 0)
		return why_err(why, why_len, -errno, "reading the working directory: %s",
			       strerror(errno));
	pid = pidfd_pid(daemon_pidfd);
	if (pid < 0)
		return why_err(why, why_len, pid, "fd %d is not the pidfd of a live luoemud: %s",
			       daemon_pidfd, strerror(-pid));
	/* ENOENT: the pid has no /proc entry any more. */
	user_same = same_ns(pid, "user");
	mnt_same = same_ns(pid, "mnt");
	if (user_same < 0 || mnt_same < 0) {
		r = user_same < 0 ? user_same : mnt_same;
		return explain(r == -ENOENT ? -ESRCH : r, pid, why, why_len);
	}
	if (user_same && mnt_same)
		return 0; /* e.g. `luoemu run` from a shell it started */

	/* Already in its user namespace (not its mount namespace): setns() of the
	 * same user namespace is EINVAL, and joining the mount namespace needs
	 * capabilities we only have from a fresh join; expect EPERM. */
	flags = (user_same ? 0 : CLONE_NEWUSER) | CLONE_NEWNS;
	if (setns_pidfd(daemon_pidfd, flags) < 0) {
		r = -errno;
		/* EINVAL: a kernel before 5.8 (or a multi-threaded caller: said below). */
		if (r != -EINVAL || (r = join_by_proc(daemon_pidfd, pid, flags)) < 0)
			return explain(r, pid, why, why_len);
	}
	/* Identity map: anything else is not a luoemu namespace. */
	if (getuid() != uid || getgid() != gid)
		return why_err(
			why, why_len, -EPERM,
			"the namespaces of pid %d do not map uid %u and gid %u to themselves: "
			"not a per-user luoemud",
			(int)pid, (unsigned int)uid, (unsigned int)gid);
	/* setns() of a mount namespace moved us to its root: return to the same
	 * directory, by path when the path still leads there (so that ".." stays
	 * inside the namespace), else through the fd (mounted after the daemon
	 * started, hence not in its namespace). */
	if (chdir(cwd) < 0 || stat(".", &after) < 0 || after.st_dev != before.st_dev ||
	    after.st_ino != before.st_ino) {
		if (fchdir(cwd_fd) < 0)
			return why_err(why, why_len, -errno,
				       "returning to %s inside luoemud's namespaces: %s", cwd,
				       strerror(errno));
	}
	r = drop_all_caps();
	if (r < 0)
		return why_err(why, why_len, r, "dropping capabilities: %s", strerror(-r));
	return 0;
}
