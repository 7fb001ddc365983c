// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The yardstick for every per-call figure of the FUSE frontend: the least a
 * FUSE ioctl round trip can cost.  A low-level server with one regular file
 * whose ioctl handler does what any emulated LUO call must do at least (one
 * process_vm_readv of 4 bytes from the caller, at the raw argument pointer
 * that FUSE passes unchecked for _IO commands) and replies 0.  A forked
 * client times N ioctls on an open of that file.
 *
 * It mounts itself in a private mount namespace: directly as root, inside a
 * new user namespace (mapped to root, like `unshare -Urm`) otherwise.
 *
 * Usage: bare-fuse [--loop mt|st] [N]
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "latency.h"

#define BARE_PING _IO(0xBA, 0x43)
#define BARE_STOP _IO(0xBA, 0x44)
#define FILE_INO  2
#define FILE_NAME "liveupdate"
#define WARMUP	  200
#define TIMEOUT_S 240

static void bare_attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_nlink = 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_mode = ino == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0600;
}

static void bare_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = {.ino = FILE_INO, .attr_timeout = 3600, .entry_timeout = 3600};

	if (parent != FUSE_ROOT_ID || strcmp(name, FILE_NAME) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	bare_attr(FILE_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void bare_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	bare_attr(ino, &st);
	fuse_reply_attr(req, &st, 3600);
}

static void bare_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FILE_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->nonseekable = 1;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

/* The one thing every emulated call does: read the caller's struct. */
static void bare_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		       struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		       size_t in_bufsz, size_t out_bufsz)
{
	uint32_t word;
	struct iovec local = {.iov_base = &word, .iov_len = sizeof(word)};
	struct iovec remote = {.iov_base = arg, .iov_len = sizeof(word)};

	(void)ino, (void)fi, (void)in_buf, (void)in_bufsz, (void)out_bufsz;
	if (flags & FUSE_IOCTL_COMPAT) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (cmd == BARE_STOP) {
		struct fuse_session **se = fuse_req_userdata(req);

		fuse_session_exit(*se);
		fuse_reply_ioctl(req, 0, NULL, 0);
		return;
	}
	if (cmd != BARE_PING) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	if (process_vm_readv(fuse_req_ctx(req)->pid, &local, 1, &remote, 1, 0) != sizeof(word)) {
		fuse_reply_err(req, errno);
		return;
	}
	fuse_reply_ioctl(req, 0, NULL, 0);
}

static const struct fuse_lowlevel_ops bare_ops = {
	.lookup = bare_lookup,
	.getattr = bare_getattr,
	.open = bare_open,
	.ioctl = bare_ioctl,
};

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = write(fd, text, strlen(text));
		close(fd);
	}
	return n == (ssize_t)strlen(text) ? 0 : -errno;
}

/* A private mount namespace; a user namespace too unless we are root. */
static int enter_namespaces(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64];

	if (geteuid() != 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
			return -errno;
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		if (write_file("/proc/self/setgroups", "deny") < 0 ||
		    write_file("/proc/self/uid_map", map) < 0)
			return -errno;
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		if (write_file("/proc/self/gid_map", map) < 0)
			return -errno;
	} else if (unshare(CLONE_NEWNS) < 0) {
		return -errno;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	return 0;
}

static int client(const char *mnt, long n)
{
	char path[4096];
	double *lat = calloc(n, sizeof(*lat));
	uint32_t word = 0x4c554f21;
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", mnt, FILE_NAME);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || !lat) {
		fprintf(stderr, "bare-fuse: open %s: %m\n", path);
		return 1;
	}
	for (long i = 0; i < WARMUP + n; i++) {
		double t = now_us();

		if (ioctl(fd, BARE_PING, &word) < 0) {
			fprintf(stderr, "bare-fuse: ioctl: %m\n");
			r = 1;
			break;
		}
		if (i >= WARMUP)
			lat[i - WARMUP] = now_us() - t;
	}
	if (r == 0)
		latency_report(getenv("BARE_LABEL") ?: "bare-fuse", lat, n);
	ioctl(fd, BARE_STOP, &word);
	return r;
}

int main(int argc, char *argv[])
{
	char *fargv[] = {argv[0], NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, fargv);
	char mnt[] = "/tmp/bare-fuse.XXXXXX";
	struct fuse_session *se;
	int mt = 1, status = 1, r;
	long n = 2000;
	pid_t pid;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--loop") == 0 && i + 1 < argc)
			mt = strcmp(argv[++i], "st") != 0;
		else
			n = strtol(argv[i], NULL, 0);
	}
	if (n <= 0) {
		fprintf(stderr, "usage: bare-fuse [--loop mt|st] [N]\n");
		return 2;
	}
	r = enter_namespaces();
	if (r < 0) {
		fprintf(stderr,
			"bare-fuse: user/mount namespace: %s (unprivileged user namespaces "
			"disabled? see user.max_user_namespaces)\n",
			strerror(-r));
		return 1;
	}
	if (!mkdtemp(mnt)) {
		perror("bare-fuse: mkdtemp");
		return 1;
	}
	se = fuse_session_new(&args, &bare_ops, sizeof(bare_ops), &se);
	if (!se || fuse_session_mount(se, mnt) != 0) {
		fprintf(stderr,
			"bare-fuse: cannot mount FUSE on %s (is /dev/fuse there and "
			"read-writable by you?)\n",
			mnt);
		rmdir(mnt);
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		close(fuse_session_fd(se));
		_exit(client(mnt, n));
	}
	alarm(TIMEOUT_S); /* a client that dies before BARE_STOP must not hang the bench */
	if (pid > 0)
		r = mt ? fuse_session_loop_mt(se, NULL) : fuse_session_loop(se);
	/* Unmount first: the client's last close waits for a FLUSH nobody serves. */
	fuse_session_unmount(se);
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		status = WEXITSTATUS(status);
	fuse_session_destroy(se);
	rmdir(mnt);
	return pid > 0 && r == 0 ? status : 1;
}
