// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The per-user daemon's namespaces, for real, as an unprivileged user: a
 * "daemon" creates the user + mount namespaces, mounts a tiny libfuse3
 * file system in its run directory, builds the private /dev; a process that
 * was forked BEFORE that joins from outside with luoemu_join_daemon() and
 * executes a checker.  Also: the exec handover (ambient capabilities survive,
 * no second unshare, binds replaced) and every refusal that can be provoked.
 *
 * Run as root, it re-executes itself as the user "luotest" (or skips); it
 * skips (77) with the reason when user namespaces or /dev/fuse are unusable.
 * `test-userns --bench N` prints the median time of userns_create() and
 * private_dev_setup() over N fresh processes; `test-userns --demo CMD...`
 * runs CMD joined to such a daemon, to look around.
 */
#define FUSE_USE_VERSION 312
#include <check.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/join.h"
#include "daemon/userns.h"
#include "util.h"

#define LUO_PING   _IO(0xBA, 0)
#define KEXEC_TEXT "1\n"       /* what our FUSE serves for kexec_loaded; not the host's */
#define PING_TOKEN 0x4c554f21U /* the ioctl argument points to it */

/* In forked children Check's assertions cannot report: print and exit 1. */
#define EXPECT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: expected %s (errno: %s)\n", __FILE__, __LINE__,    \
				#cond, strerror(errno));                                           \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

static const char *self_exe;

/* ---- a FUSE file system with three regular files ---- */

enum { INO_LIVEUPDATE = 2, INO_KEXEC_LOADED, INO_KEXEC_CRASH_LOADED, INO_END };
static const char *const fs_names[] = {
	[INO_LIVEUPDATE] = "liveupdate",
	[INO_KEXEC_LOADED] = "kexec_loaded",
	[INO_KEXEC_CRASH_LOADED] = "kexec_crash_loaded",
};

struct tiny_fs {
	struct fuse_session *se;
	pthread_t thread;
	int magic; /* what LUO_PING returns: tells two servers apart */
	int pings;
};

static void fs_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | (ino == INO_LIVEUPDATE ? 0600 : 0444);
		st->st_nlink = 1;
		st->st_size = ino == INO_LIVEUPDATE ? 0 : (off_t)strlen(KEXEC_TEXT);
	}
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = {0};

	for (fuse_ino_t ino = INO_LIVEUPDATE; parent == FUSE_ROOT_ID && ino < INO_END; ino++) {
		if (strcmp(name, fs_names[ino]) == 0) {
			e.ino = ino;
			fs_stat(ino, &e.attr);
			fuse_reply_entry(req, &e);
			return;
		}
	}
	fuse_reply_err(req, ENOENT);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID && (ino < INO_LIVEUPDATE || ino >= INO_END)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fs_stat(ino, &st);
	fuse_reply_attr(req, &st, 0);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fi->direct_io = 1;
	fi->nonseekable = ino == INO_LIVEUPDATE;
	fuse_reply_open(req, fi);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	size_t len = strlen(KEXEC_TEXT);

	(void)fi;
	if (ino == INO_LIVEUPDATE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, KEXEC_TEXT + off, MIN(size, len - (size_t)off));
}

static void fs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		     struct fuse_file_info *fi, unsigned int flags, const void *in, size_t in_size,
		     size_t out_size)
{
	struct tiny_fs *fs = fuse_req_userdata(req);
	uint32_t token = 0;
	struct iovec local = {&token, sizeof(token)}, remote = {arg, sizeof(token)};

	(void)fi, (void)flags, (void)in, (void)in_size, (void)out_size;
	if (ino != INO_LIVEUPDATE || cmd != LUO_PING) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	/* The daemon's real path: read the caller's struct through its raw pointer. */
	if (process_vm_readv(fuse_req_ctx(req)->pid, &local, 1, &remote, 1, 0) != sizeof(token) ||
	    token != PING_TOKEN) {
		fuse_reply_err(req, EFAULT);
		return;
	}
	__atomic_add_fetch(&fs->pings, 1, __ATOMIC_SEQ_CST);
	fuse_reply_ioctl(req, fs->magic, NULL, 0);
}

static const struct fuse_lowlevel_ops fs_ops = {
	.lookup = fs_lookup,
	.getattr = fs_getattr,
	.open = fs_open,
	.read = fs_read,
	.ioctl = fs_ioctl,
};

static void *fs_serve(void *data)
{
	struct tiny_fs *fs = data;

	fuse_session_loop(fs->se);
	return NULL;
}

/* Mount on @dir and serve from a thread (our own binds look the files up). */
static int tiny_fs_start(struct tiny_fs *fs, const char *dir, int magic)
{
	char *argv[] = {"tiny-fs", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);

	fs->magic = magic;
	fs->pings = 0;
	fs->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	if (!fs->se || fuse_session_mount(fs->se, dir) < 0)
		return -1;
	return pthread_create(&fs->thread, NULL, fs_serve, fs) == 0 ? 0 : -1;
}

/* ---- helpers ---- */

static char *make_rundir(void)
{
	char *dir = strdup("/tmp/luoemu-userns-test-XXXXXX");

	ck_assert_ptr_nonnull(dir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static void remove_rundir(char *dir)
{
	char cmd[PATH_MAX + 16];

	/* Only empty directories and plain files are left outside the namespaces. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(dir);
}

static int wait_exit(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *path_in(const char *dir, const char *leaf)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, leaf) < 0)
		abort();
	return p;
}

/* Mounts whose mount point is @mountpoint (and whose source is @source if given). */
static int count_mounts(const char *mountpoint, const char *source)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], mp[PATH_MAX], src[256];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 || strcmp(mp, mountpoint) != 0)
			continue;
		if (source &&
		    (!sep || sscanf(sep + 3, "%*s %255s", src) != 1 || strcmp(src, source) != 0))
			continue;
		n++;
	}
	fclose(f);
	return n;
}

/* The "CapXxx:" line of /proc/self/status, as a number. */
static unsigned long long cap_line(const char *name)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long v = ~0ULL;
	size_t len = strlen(name);

	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, len) == 0 && line[len] == ':')
			v = strtoull(line + len + 1, NULL, 16);
	fclose(f);
	return v;
}

static void ns_of(const char *which, char *buf, size_t len)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", which);
	EXPECT(stat(path, &st) == 0);
	snprintf(buf, len, "%ju", (uintmax_t)st.st_ino);
}

/* Over files that may be missing (no CONFIG_KEXEC_CORE here) and one that
 * every kernel has, in an order where the existing one comes first. */
#define N_SYS_BINDS 3
static const struct userns_bind *sys_binds_in(const char *fuse_dir, struct userns_bind b[3])
{
	b[0] = (struct userns_bind){path_in(fuse_dir, "kexec_loaded"), "/sys/kernel/uevent_seqnum"};
	b[1] = (struct userns_bind){path_in(fuse_dir, "kexec_loaded"), "/sys/kernel/kexec_loaded"};
	b[2] = (struct userns_bind){path_in(fuse_dir, "kexec_crash_loaded"),
				    "/sys/kernel/kexec_crash_loaded"};
	return b;
}

static void free_sys_binds(struct userns_bind b[3])
{
	for (int i = 0; i < N_SYS_BINDS; i++)
		free((void *)b[i].src);
}

/* The "daemon" side, in the current process: namespaces, FUSE, private /dev. */
static void daemon_setup(const char *rundir, struct tiny_fs *fs, int magic)
{
	struct userns_config cfg = {.rundir = rundir};
	_cleanup_free_ char *fuse_dir = path_in(rundir, "fuse");
	_cleanup_free_ char *src = path_in(fuse_dir, "liveupdate");
	struct userns_bind b[N_SYS_BINDS];
	char why[512] = "";
	int r;

	r = userns_create(&cfg, why, sizeof(why));
	if (r < 0)
		fprintf(stderr, "userns_create: %s\n", why);
	EXPECT(r == 0);
	EXPECT(mkdir(fuse_dir, 0700) == 0 || errno == EEXIST);
	EXPECT(tiny_fs_start(fs, fuse_dir, magic) == 0);
	r = private_dev_setup(&cfg, src, sys_binds_in(fuse_dir, b), N_SYS_BINDS, why, sizeof(why));
	if (r < 0)
		fprintf(stderr, "private_dev_setup: %s\n", why);
	EXPECT(r == 0);
	free_sys_binds(b);
}

static void expect_text(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[64];
	ssize_t n;

	EXPECT(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	EXPECT(n == (ssize_t)strlen(text) && memcmp(buf, text, (size_t)n) == 0);
}

static int ping_liveupdate(void)
{
	_cleanup_close_ int fd = open("/dev/liveupdate", O_RDWR | O_CLOEXEC);

	uint32_t token = PING_TOKEN;

	EXPECT(fd >= 0);
	return ioctl(fd, LUO_PING, &token);
}

/* ---- checker: exec'd by the joined process ---- */

static int joined_check(char **argv)
{
	uid_t uid = (uid_t)strtoul(argv[2], NULL, 10);
	gid_t gid = (gid_t)strtoul(argv[3], NULL, 10);
	int magic = atoi(argv[4]);
	const char *cwd = argv[5];
	uint32_t token = PING_TOKEN;
	static const char *const caps[] = {"CapInh", "CapPrm", "CapEff", "CapAmb"};
	char link[PATH_MAX], fd_path[64], here[PATH_MAX];
	_cleanup_close_ int fd = -1, null_fd = -1;
	struct stat st;
	ssize_t n;
	int r;

	EXPECT(getuid() == uid && geteuid() == uid && getgid() == gid && getegid() == gid);
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
		EXPECT(cap_line(caps[i]) == 0);
	EXPECT(getcwd(here, sizeof(here)) && strcmp(here, cwd) == 0);

	fd = open("/dev/liveupdate", O_RDWR | O_CLOEXEC);
	EXPECT(fd >= 0);
	EXPECT(fstat(fd, &st) == 0 && S_ISREG(st.st_mode));
	r = ioctl(fd, LUO_PING, &token);
	EXPECT(r == magic);
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
	n = readlink(fd_path, link, sizeof(link) - 1);
	EXPECT(n > 0);
	link[n] = '\0';
	EXPECT(strcmp(link, "/dev/liveupdate") == 0);
	EXPECT(lseek(fd, 0, SEEK_CUR) < 0 && errno == ESPIPE);

	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	EXPECT(null_fd >= 0 && write(null_fd, "luo", 3) == 3);
	EXPECT(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));

	expect_text("/sys/kernel/kexec_loaded", KEXEC_TEXT);
	expect_text("/sys/kernel/kexec_crash_loaded", KEXEC_TEXT);
	expect_text("/sys/kernel/uevent_seqnum", KEXEC_TEXT);
	EXPECT(access("/sys/kernel/mm", F_OK) == 0); /* the rest of /sys/kernel is still there */

	printf("joined: uid %u gid %u, Cap{Inh,Prm,Eff,Amb} 0, ioctl (arg read by the server "
	       "with process_vm_readv) -> %d, %s -> %s, /dev/null ok\n",
	       (unsigned int)uid, (unsigned int)gid, r, fd_path, link);
	return 0;
}

/* ---- the exec handover: the re-executed daemon ---- */

static int reexec_daemon(char **argv)
{
	const char *rundir = argv[2], *marker = argv[3];
	struct userns_config cfg = {.rundir = rundir};
	_cleanup_free_ char *fuse_dir = path_in(rundir, "fuse");
	_cleanup_free_ char *src = path_in(fuse_dir, "liveupdate");
	unsigned long long want = (1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_SYS_PTRACE);
	char user[32], mnt[32], now[80], why[512] = "";
	struct userns_bind b[N_SYS_BINDS];
	struct tiny_fs fs;
	int r;

	EXPECT(userns_is_ours());
	EXPECT(cap_line("CapEff") == want && cap_line("CapPrm") == want);
	EXPECT(cap_line("CapAmb") == want && cap_line("CapInh") == want);
	r = userns_create(&cfg, why, sizeof(why));
	EXPECT(r == 0);
	ns_of("user", user, sizeof(user));
	ns_of("mnt", mnt, sizeof(mnt));
	snprintf(now, sizeof(now), "%s:%s", user, mnt);
	EXPECT(strcmp(now, marker) == 0); /* no second unshare */

	/* The old FUSE server died with the exec: mount a new one, re-bind. */
	EXPECT(umount2(fuse_dir, MNT_DETACH) == 0);
	EXPECT(tiny_fs_start(&fs, fuse_dir, 2) == 0);
	r = private_dev_setup(&cfg, src, sys_binds_in(fuse_dir, b), N_SYS_BINDS, why, sizeof(why));
	if (r < 0)
		fprintf(stderr, "private_dev_setup after exec: %s\n", why);
	EXPECT(r == 0);
	EXPECT(ping_liveupdate() == 2);
	EXPECT(count_mounts("/dev", "luoemu") == 1);
	EXPECT(count_mounts("/dev/liveupdate", NULL) == 1);
	EXPECT(count_mounts("/sys/kernel/kexec_loaded", NULL) == 1);
	EXPECT(count_mounts("/sys/kernel/uevent_seqnum", NULL) == 1);
	EXPECT(count_mounts("/sys/kernel", "luoemu") <= 1);
	expect_text("/sys/kernel/uevent_seqnum", KEXEC_TEXT);
	free_sys_binds(b);
	printf("re-executed daemon: same namespaces (%s), CapEff=CapAmb=%llx, new FUSE bound\n",
	       now, want);
	fflush(stdout);
	_exit(0); /* the FUSE thread is still serving */
}

/* ---- tests ---- */

static void *sleeper(void *unused)
{
	(void)unused;
	pause();
	return NULL;
}

START_TEST(test_join_from_outside)
{
	char *rundir = make_rundir();
	_cleanup_free_ char *work = path_in(rundir, "work");
	int ready[2];
	pid_t daemon;

	ck_assert_int_eq(mkdir(work, 0700), 0);
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	daemon = fork();
	ck_assert_int_ge(daemon, 0);
	if (daemon == 0) {
		struct tiny_fs fs;
		char byte = 'x';
		pid_t joiner = fork();

		EXPECT(joiner >= 0);
		if (joiner == 0) {
			char why[512] = "", uid[16], gid[16];
			int pidfd;
			pid_t threaded;

			close(ready[1]);
			EXPECT(read(ready[0], &byte, 1) == 1);
			pidfd = (int)syscall(SYS_pidfd_open, getppid(), 0);
			EXPECT(pidfd >= 0);
			EXPECT(chdir(work) == 0);

			/* A multi-threaded caller is refused with the reason. */
			threaded = fork();
			EXPECT(threaded >= 0);
			if (threaded == 0) {
				pthread_t t;

				EXPECT(pthread_create(&t, NULL, sleeper, NULL) == 0);
				EXPECT(luoemu_join_daemon(pidfd, why, sizeof(why)) == -EINVAL);
				EXPECT(strstr(why, "multi-threaded"));
				_exit(0);
			}
			EXPECT(wait_exit(threaded) == 0);

			if (luoemu_join_daemon(pidfd, why, sizeof(why)) < 0) {
				fprintf(stderr, "luoemu_join_daemon: %s\n", why);
				_exit(1);
			}
			/* No capability left even before the exec. */
			EXPECT(cap_line("CapEff") == 0 && cap_line("CapPrm") == 0);
			snprintf(uid, sizeof(uid), "%u", (unsigned int)getuid());
			snprintf(gid, sizeof(gid), "%u", (unsigned int)getgid());
			execl(self_exe, self_exe, "--joined-check", uid, gid, "1", work, NULL);
			_exit(127);
		}
		close(ready[0]);
		daemon_setup(rundir, &fs, 1);
		EXPECT(ping_liveupdate() == 1);
		EXPECT(write(ready[1], &byte, 1) == 1);
		EXPECT(wait_exit(joiner) == 0);
		EXPECT(__atomic_load_n(&fs.pings, __ATOMIC_SEQ_CST) == 2);
		_exit(0);
	}
	close(ready[0]);
	close(ready[1]);
	ck_assert_int_eq(wait_exit(daemon), 0);
	remove_rundir(rundir);
}
END_TEST

START_TEST(test_exec_handover)
{
	char *rundir = make_rundir();
	pid_t daemon = fork();

	ck_assert_int_ge(daemon, 0);
	if (daemon == 0) {
		struct userns_config cfg = {.rundir = rundir};
		_cleanup_free_ char *src = path_in(rundir, "fuse/liveupdate");
		char user[32], mnt[32], marker[80], why[512];
		struct tiny_fs fs;

		daemon_setup(rundir, &fs, 1);
		EXPECT(ping_liveupdate() == 1);
		/* Called again in the same process: replaces, does not stack. */
		EXPECT(private_dev_setup(&cfg, src, NULL, 0, why, sizeof(why)) == 0);
		EXPECT(ping_liveupdate() == 1);
		EXPECT(count_mounts("/dev", "luoemu") == 1);
		EXPECT(count_mounts("/dev/liveupdate", NULL) == 1);
		/* Nothing bound (the gap of a handover): the placeholder refuses opens. */
		EXPECT(umount2("/dev/liveupdate", MNT_DETACH) == 0);
		EXPECT(open("/dev/liveupdate", O_RDWR) < 0 && errno == EACCES);
		EXPECT(private_dev_setup(&cfg, src, NULL, 0, why, sizeof(why)) == 0);
		EXPECT(ping_liveupdate() == 1);
		ns_of("user", user, sizeof(user));
		ns_of("mnt", mnt, sizeof(mnt));
		snprintf(marker, sizeof(marker), "%s:%s", user, mnt);
		execl(self_exe, self_exe, "--reexec-daemon", rundir, marker, NULL);
		_exit(127);
	}
	ck_assert_int_eq(wait_exit(daemon), 0);
	remove_rundir(rundir);
}
END_TEST

static void expect_refusal(const char *rundir, const char *fuse_dev, int err, const char *remedy)
{
	struct userns_config cfg = {.rundir = rundir, .fuse_dev = fuse_dev};
	char why[512] = "";

	ck_assert_int_eq(userns_create(&cfg, why, sizeof(why)), err);
	ck_assert_msg(strstr(why, remedy), "\"%s\" lacks \"%s\"", why, remedy);
	ck_assert_ptr_null(strchr(why, '\n'));
}

START_TEST(test_refuse_rundir)
{
	char *rundir = make_rundir();
	_cleanup_free_ char *missing = path_in(rundir, "missing");
	_cleanup_free_ char *file = path_in(rundir, "file");
	_cleanup_free_ char *link = path_in(rundir, "link");
	_cleanup_free_ char *open_dir = path_in(rundir, "open");

	expect_refusal(NULL, NULL, -EINVAL, "XDG_RUNTIME_DIR");
	expect_refusal("relative", NULL, -EINVAL, "XDG_RUNTIME_DIR");
	expect_refusal(missing, NULL, -ENOENT, "mkdir -m 0700");
	ck_assert_int_eq(close(open(file, O_CREAT | O_WRONLY, 0600)), 0);
	expect_refusal(file, NULL, -ENOTDIR, "not a directory");
	ck_assert_int_eq(symlink(rundir, link), 0);
	expect_refusal(link, NULL, -ENOTDIR, "not a directory");
	ck_assert_int_eq(mkdir(open_dir, 0755), 0);
	expect_refusal(open_dir, NULL, -EPERM, "chmod 0700");
	expect_refusal("/", NULL, -EPERM, "belongs to uid 0");
	ck_assert(!userns_is_ours());
	remove_rundir(rundir);
}
END_TEST

START_TEST(test_refuse_fuse_dev)
{
	char *rundir = make_rundir();
	_cleanup_free_ char *missing = path_in(rundir, "no-fuse");
	_cleanup_free_ char *locked = path_in(rundir, "locked-fuse");

	expect_refusal(rundir, missing, -ENOENT, "modprobe fuse");
	ck_assert_int_eq(close(open(locked, O_CREAT | O_WRONLY, 0)), 0);
	expect_refusal(rundir, locked, -EACCES, "chmod 0666");
	ck_assert(!userns_is_ours());
	remove_rundir(rundir);
}
END_TEST

/* The real knob: in a user namespace of our own, user.max_user_namespaces = 0. */
START_TEST(test_refuse_max_user_namespaces)
{
	char *rundir = make_rundir();
	pid_t child = fork();

	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct userns_config cfg = {.rundir = rundir};
		unsigned int uid = getuid();
		char map[64], why[512] = "";
		int fd;

		EXPECT(unshare(CLONE_NEWUSER) == 0);
		fd = open("/proc/self/setgroups", O_WRONLY);
		EXPECT(fd >= 0 && write(fd, "deny", 4) == 4 && close(fd) == 0);
		snprintf(map, sizeof(map), "%u %u 1", uid, uid);
		fd = open("/proc/self/uid_map", O_WRONLY);
		EXPECT(fd >= 0 && write(fd, map, strlen(map)) == (ssize_t)strlen(map));
		close(fd);
		fd = open("/proc/sys/user/max_user_namespaces", O_WRONLY);
		EXPECT(fd >= 0 && write(fd, "0", 1) == 1 && close(fd) == 0);
		EXPECT(userns_create(&cfg, why, sizeof(why)) == -ENOSPC);
		EXPECT(strstr(why, "user.max_user_namespaces = 0"));
		EXPECT(strstr(why, "sysctl -w user.max_user_namespaces="));
		printf("refusal: %s\n", why);
		fflush(stdout);
		_exit(0);
	}
	ck_assert_int_eq(wait_exit(child), 0);
	remove_rundir(rundir);
}
END_TEST

/* The knobs this kernel lacks (Debian's, Ubuntu's), through the mapping. */
START_TEST(test_explain_table)
{
	static const struct {
		int err;
		struct userns_knobs knobs;
		const char *says;
	} rows[] = {
		{-ENOSPC, {0, -1, -1}, "user.max_user_namespaces = 0"},
		{-EPERM, {0, 0, 1}, "user.max_user_namespaces = 0"},
		{-ENOSPC, {7, -1, -1}, "user.max_user_namespaces = 7 reached"},
		{-EPERM, {1000, 0, -1}, "sysctl -w kernel.unprivileged_userns_clone=1"},
		{-EPERM, {1000, -1, 1}, "apparmor_parser -r /etc/apparmor.d/luoemud"},
		{-EACCES, {1000, -1, 1}, "contrib/apparmor/luoemud"},
		{-EPERM, {1000, 1, 0}, "seccomp"},
		{-EINVAL, {1000, -1, -1}, "multi-threaded"},
		{-ENOMEM, {1000, -1, -1}, "Cannot allocate memory"},
	};
	char why[512];

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		why[0] = '\0';
		ck_assert_int_eq(userns_explain(rows[i].err, "unshare(CLONE_NEWUSER|CLONE_NEWNS)",
						&rows[i].knobs, why, sizeof(why)),
				 rows[i].err);
		ck_assert_msg(strstr(why, rows[i].says), "row %zu: \"%s\" lacks \"%s\"", i, why,
			      rows[i].says);
	}
}
END_TEST

START_TEST(test_stale_marker)
{
	setenv(USERNS_ENV, "1:2", 1);
	ck_assert(!userns_is_ours());
	unsetenv(USERNS_ENV);
	ck_assert(!userns_is_ours());
}
END_TEST

START_TEST(test_join_errors)
{
	_cleanup_close_ int not_pidfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
	_cleanup_close_ int gone = -1;
	char why[512] = "", before[PATH_MAX], after[PATH_MAX];
	pid_t child;

	ck_assert_int_lt(luoemu_join_daemon(not_pidfd, why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "not the pidfd"));

	/* Already in both namespaces: nothing to do, cwd kept. */
	ck_assert_ptr_nonnull(getcwd(before, sizeof(before)));
	ck_assert_int_eq(luoemu_join_daemon(self, why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(getcwd(after, sizeof(after)));
	ck_assert_str_eq(before, after);

	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0)
		_exit(0);
	gone = (int)syscall(SYS_pidfd_open, child, 0);
	ck_assert_int_ge(gone, 0);
	ck_assert_int_eq(wait_exit(child), 0);
	ck_assert_int_lt(luoemu_join_daemon(gone, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "exited") || strstr(why, "not the pidfd"), "%s", why);
}
END_TEST

/* ---- set-up: who runs this, and can it run at all ---- */

static void run_as_luotest(char **argv)
{
	struct passwd *pw = getpwnam("luotest");

	if (!pw) {
		printf("SKIP: running as root and there is no user luotest to run as "
		       "(useradd -m luotest)\n");
		exit(77);
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		perror("dropping to luotest");
		exit(99);
	}
	unsetenv("XDG_RUNTIME_DIR");
	/* The build tree may be root's own (CI): the join reopens the cwd. */
	if (chdir("/tmp") < 0) {
		perror("chdir /tmp");
		exit(99);
	}
	execv("/proc/self/exe", argv);
	perror("re-executing as luotest");
	exit(99);
}

/* Skip with the reason when this machine cannot run the namespaces at all. */
static void skip_unless_usable(void)
{
	char why[512] = "";
	int status;
	pid_t child;
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("SKIP: /dev/fuse: %s (as root: chmod 0666 /dev/fuse)\n", strerror(errno));
		exit(77);
	}
	close(fd);
	child = fork();
	if (child == 0) {
		struct userns_knobs k;

		userns_knobs_read(&k);
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
			userns_explain(-errno, "unshare", &k, why, sizeof(why));
			printf("SKIP: %s\n", why);
			_exit(77);
		}
		_exit(0);
	}
	if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		exit(77);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of @runs fresh processes: userns_create(), private_dev_setup(). */
static int bench(int runs)
{
	char dir[] = "/tmp/luoemu-userns-bench-XXXXXX";
	double create[100], dev[100];
	_cleanup_free_ char *src = NULL, *kexec = NULL;
	int fd;

	if (runs < 1 || runs > 100 || !mkdtemp(dir))
		return 2;
	src = path_in(dir, "liveupdate-src");
	kexec = path_in(dir, "kexec-src");
	fd = open(src, O_CREAT | O_WRONLY, 0600);
	close(fd);
	fd = open(kexec, O_CREAT | O_WRONLY, 0600);
	close(fd);
	for (int i = 0; i < runs; i++) {
		double t[2];
		int p[2];
		pid_t child;

		if (pipe(p) < 0 || (child = fork()) < 0)
			return 2;
		if (child == 0) {
			struct userns_config cfg = {.rundir = dir};
			struct userns_bind b[] = {{kexec, "/sys/kernel/kexec_loaded"},
						  {kexec, "/sys/kernel/kexec_crash_loaded"}};
			char why[512];
			double t0 = now_us(), t1, t2;

			if (userns_create(&cfg, why, sizeof(why)) < 0) {
				fprintf(stderr, "%s\n", why);
				_exit(1);
			}
			t1 = now_us();
			if (private_dev_setup(&cfg, src, b, ARRAY_SIZE(b), why, sizeof(why)) < 0) {
				fprintf(stderr, "%s\n", why);
				_exit(1);
			}
			t2 = now_us();
			t[0] = t1 - t0;
			t[1] = t2 - t1;
			_exit(write(p[1], t, sizeof(t)) == sizeof(t) ? 0 : 1);
		}
		close(p[1]);
		if (read(p[0], t, sizeof(t)) != sizeof(t) || wait_exit(child) != 0)
			return 1;
		close(p[0]);
		create[i] = t[0];
		dev[i] = t[1];
	}
	qsort(create, runs, sizeof(double), cmp_double);
	qsort(dev, runs, sizeof(double), cmp_double);
	printf("%d runs, median (min..max) in microseconds:\n", runs);
	printf("  userns_create      %8.0f (%.0f..%.0f)\n", create[runs / 2], create[0],
	       create[runs - 1]);
	printf("  private_dev_setup  %8.0f (%.0f..%.0f)\n", dev[runs / 2], dev[0], dev[runs - 1]);
	unlink(src);
	unlink(kexec);
	rmdir(dir);
	return 0;
}

/* Manual look: the daemon's set-up, then CMD joined from outside (not a test). */
static int demo(char **cmd)
{
	char dir[] = "/tmp/luoemu-userns-demo-XXXXXX";
	char byte = 'x', why[512] = "";
	int ready[2], status = 1;
	pid_t daemon, joiner;

	if (!mkdtemp(dir) || pipe2(ready, O_CLOEXEC) < 0)
		return 2;
	daemon = getpid();
	joiner = fork();
	if (joiner == 0) {
		int pidfd;

		if (read(ready[0], &byte, 1) != 1)
			_exit(2);
		pidfd = (int)syscall(SYS_pidfd_open, daemon, 0);
		if (luoemu_join_daemon(pidfd, why, sizeof(why)) < 0) {
			fprintf(stderr, "join: %s\n", why);
			_exit(2);
		}
		execvp(cmd[0], cmd);
		_exit(127);
	} else if (joiner > 0) {
		struct tiny_fs fs;

		daemon_setup(dir, &fs, 1);
		if (write(ready[1], &byte, 1) == 1)
			status = wait_exit(joiner);
	}
	return status;
}

int main(int argc, char **argv)
{
	Suite *s = suite_create("userns");
	TCase *tc = tcase_create("userns");
	SRunner *sr;
	int failed;

	self_exe = "/proc/self/exe";
	if (argc == 6 && strcmp(argv[1], "--joined-check") == 0)
		return joined_check(argv);
	if (argc == 4 && strcmp(argv[1], "--reexec-daemon") == 0)
		return reexec_daemon(argv);
	if (geteuid() == 0)
		run_as_luotest(argv);
	skip_unless_usable();
	if (argc >= 3 && strcmp(argv[1], "--demo") == 0)
		return demo(argv + 2);
	if (argc == 3 && strcmp(argv[1], "--bench") == 0)
		return bench(atoi(argv[2]));

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_refuse_rundir);
	tcase_add_test(tc, test_refuse_fuse_dev);
	tcase_add_test(tc, test_explain_table);
	tcase_add_test(tc, test_stale_marker);
	tcase_add_test(tc, test_join_errors);
	tcase_add_test(tc, test_refuse_max_user_namespaces);
	tcase_add_test(tc, test_join_from_outside);
	tcase_add_test(tc, test_exec_handover);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
