// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The per-user daemon's user + mount namespaces and its private /dev.
 * See userns.h for the order of calls and the capabilities kept.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/device-node.h"
#include "daemon/userns.h"
#include "util.h"

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

/* Source name of the tmpfs that replaces a directory: how we recognise our own. */
#define SHADOW_SOURCE "luoemu"

static const cap_value_t kept_caps[] = {CAP_SYS_ADMIN, CAP_SYS_PTRACE};

static void cap_freep(cap_t *c)
{
	if (*c)
		cap_free(*c);
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static long read_knob(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[32];
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

void userns_knobs_read(struct userns_knobs *k)
{
	k->max_user_namespaces = read_knob("/proc/sys/user/max_user_namespaces");
	k->unprivileged_userns_clone = read_knob("/proc/sys/kernel/unprivileged_userns_clone");
	k->apparmor_restrict = read_knob("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
}

int userns_explain(int err, const char *step, const struct userns_knobs *k, char *why,
		   size_t why_len)
{
	bool denied = err == -EPERM || err == -EACCES;

	if (k->max_user_namespaces == 0)
		return why_err(
			why, why_len, err,
			"%s: %s: user namespaces are disabled (user.max_user_namespaces = 0): "
			"as root, run 'sysctl -w user.max_user_namespaces=15000' (and persist "
			"it in /etc/sysctl.d/), or run luoemud as root with CUSE",
			step, strerror(-err));
	if (err == -ENOSPC)
		return why_err(why, why_len, err,
			       "%s: too many user namespaces (user.max_user_namespaces = %ld "
			       "reached): end unused ones, or as root raise that sysctl",
			       step, k->max_user_namespaces);
	if (denied && k->unprivileged_userns_clone == 0)
		return why_err(why, why_len, err,
			       "%s: %s: unprivileged user namespaces are disabled "
			       "(kernel.unprivileged_userns_clone = 0): as root, run 'sysctl -w "
			       "kernel.unprivileged_userns_clone=1' (and persist it in "
			       "/etc/sysctl.d/), or run luoemud as root with CUSE",
			       step, strerror(-err));
	if (denied && k->apparmor_restrict == 1)
		return why_err(
			why, why_len, err,
			"%s: %s: AppArmor restricts unprivileged user namespaces "
			"(kernel.apparmor_restrict_unprivileged_userns = 1): as root, install "
			"luoemu's profile: 'cp contrib/apparmor/luoemud /etc/apparmor.d/ && "
			"apparmor_parser -r /etc/apparmor.d/luoemud'",
			step, strerror(-err));
	if (err == -EINVAL && strncmp(step, "unshare", 7) == 0)
		return why_err(why, why_len, err,
			       "%s: %s: the process is multi-threaded; create the namespaces "
			       "before starting any thread",
			       step, strerror(-err));
	if (denied)
		return why_err(
			why, why_len, err,
			"%s: %s: user namespaces are forbidden here (a container's seccomp "
			"profile, a security module or a chroot): allow them (e.g. docker "
			"--security-opt seccomp=unconfined), or run luoemud as root with CUSE",
			step, strerror(-err));
	return why_err(why, why_len, err, "%s: %s", step, strerror(-err));
}

static int check_rundir(const char *rundir, char *why, size_t why_len)
{
	struct stat st;

	if (!rundir || rundir[0] != '/')
		return why_err(why, why_len, -EINVAL,
			       "run directory '%s' is not an absolute path: set XDG_RUNTIME_DIR to "
			       "a directory of yours with mode 0700",
			       rundir ?: "");
	if (lstat(rundir, &st) < 0) {
		int r = -errno;

		return why_err(why, why_len, r,
			       "run directory %s: %s: create it with 'mkdir -m 0700 %s', or set "
			       "XDG_RUNTIME_DIR to a directory of yours with mode 0700",
			       rundir, strerror(-r), rundir);
	}
	if (!S_ISDIR(st.st_mode))
		return why_err(why, why_len, -ENOTDIR,
			       "run directory %s is not a directory (a symlink or a file): remove "
			       "it, or set XDG_RUNTIME_DIR to a directory of yours with mode 0700",
			       rundir);
	if (st.st_uid != geteuid())
		return why_err(
			why, why_len, -EPERM,
			"run directory %s belongs to uid %u, not to you (uid %u): remove it, "
			"or set XDG_RUNTIME_DIR to a directory of yours with mode 0700",
			rundir, (unsigned int)st.st_uid, (unsigned int)geteuid());
	if (st.st_mode & 0077)
		return why_err(why, why_len, -EPERM,
			       "run directory %s has mode %04o, others could reach the daemon's "
			       "state: run 'chmod 0700 %s'",
			       rundir, (unsigned int)(st.st_mode & 07777), rundir);
	if (faccessat(AT_FDCWD, rundir, W_OK | X_OK, AT_EACCESS) < 0) {
		int r = -errno;

		return why_err(why, why_len, r,
			       "run directory %s is not writable (%s): run 'chmod 0700 %s'", rundir,
			       strerror(-r), rundir);
	}
	return 0;
}

static int check_fuse_dev(const char *dev, char *why, size_t why_len)
{
	_cleanup_close_ int fd = open(dev, O_RDWR | O_CLOEXEC | O_NOCTTY);
	int r = -errno;

	if (fd >= 0)
		return 0;
	switch (r) {
	case -ENOENT:
		return why_err(why, why_len, r,
			       "%s is missing: as root, run 'modprobe fuse' (a container needs "
			       "--device /dev/fuse), or run luoemud as root with CUSE",
			       dev);
	case -EACCES:
	case -EPERM:
		return why_err(
			why, why_len, r,
			"%s is not accessible to uid %u: as root, run 'chmod 0666 %s' (udev's "
			"default rule, 50-udev-default.rules, makes it 0666; install udev or add "
			"that rule to make it last)",
			dev, (unsigned int)geteuid(), dev);
	case -ENODEV:
	case -ENXIO:
		return why_err(why, why_len, r,
			       "%s: no FUSE driver in this kernel: as root, run 'modprobe fuse'",
			       dev);
	default:
		return why_err(why, why_len, r, "%s: %s", dev, strerror(-r));
	}
}

/* "USER_INO:MNT_INO" of the namespaces we are in now. */
static int ns_marker(char *buf, size_t len)
{
	struct stat user, mnt;

	if (stat("/proc/self/ns/user", &user) < 0 || stat("/proc/self/ns/mnt", &mnt) < 0)
		return -errno;
	snprintf(buf, len, "%ju:%ju", (uintmax_t)user.st_ino, (uintmax_t)mnt.st_ino);
	return 0;
}

bool userns_is_ours(void)
{
	const char *env = getenv(USERNS_ENV);
	char now[64];

	return env && ns_marker(now, sizeof(now)) == 0 && strcmp(env, now) == 0;
}

static bool have_kept_caps(void)
{
	__attribute__((cleanup(cap_freep))) cap_t caps = cap_get_proc();

	if (!caps)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(kept_caps); i++) {
		cap_flag_value_t v = CAP_CLEAR;

		if (cap_get_flag(caps, kept_caps[i], CAP_EFFECTIVE, &v) < 0 || v != CAP_SET)
			return false;
	}
	return true;
}

/* Keep only kept_caps, and make them ambient so that our own execve() keeps them. */
static int keep_caps(void)
{
	__attribute__((cleanup(cap_freep))) cap_t caps = cap_init();
	int n = (int)ARRAY_SIZE(kept_caps);

	if (!caps)
		return -errno;
	if (cap_set_flag(caps, CAP_PERMITTED, n, kept_caps, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, n, kept_caps, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_INHERITABLE, n, kept_caps, CAP_SET) < 0 ||
	    cap_set_proc(caps) < 0)
		return -errno;
	for (int i = 0; i < n; i++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, kept_caps[i], 0, 0) < 0)
			return -errno;
	return 0;
}

static int write_proc(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		return errno ? -errno : -EIO;
	return 0;
}

int userns_create(const struct userns_config *cfg, char *why, size_t why_len)
{
	unsigned int uid = geteuid(), gid = getegid();
	struct userns_knobs knobs;
	char map[64], marker[64];
	int r;

	if (userns_is_ours()) {
		if (!have_kept_caps())
			return why_err(
				why, why_len, -EPERM,
				"inside luoemu's user namespace without CAP_SYS_ADMIN and "
				"CAP_SYS_PTRACE: the previous daemon's execve() lost its ambient "
				"capabilities; stop every luoemud of this user and start again");
		return 0;
	}
	r = check_rundir(cfg->rundir, why, why_len);
	if (r < 0)
		return r;
	r = check_fuse_dev(cfg->fuse_dev ?: "/dev/fuse", why, why_len);
	if (r < 0)
		return r;

	userns_knobs_read(&knobs);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return userns_explain(-errno, "unshare(CLONE_NEWUSER|CLONE_NEWNS)", &knobs, why,
				      why_len);
	/* Unprivileged gid maps need setgroups denied; we never change groups anyway. */
	r = write_proc("/proc/self/setgroups", "deny");
	if (r < 0)
		return userns_explain(r, "writing /proc/self/setgroups", &knobs, why, why_len);
	snprintf(map, sizeof(map), "%u %u 1\n", uid, uid);
	r = write_proc("/proc/self/uid_map", map);
	if (r < 0)
		return userns_explain(r, "writing /proc/self/uid_map", &knobs, why, why_len);
	snprintf(map, sizeof(map), "%u %u 1\n", gid, gid);
	r = write_proc("/proc/self/gid_map", map);
	if (r < 0)
		return userns_explain(r, "writing /proc/self/gid_map", &knobs, why, why_len);
	/* Nothing we mount may leak to the host, nor host mounts change under us. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return userns_explain(-errno, "making / private", &knobs, why, why_len);
	r = keep_caps();
	if (r < 0)
		return userns_explain(r, "keeping CAP_SYS_ADMIN and CAP_SYS_PTRACE ambient", &knobs,
				      why, why_len);
	r = ns_marker(marker, sizeof(marker));
	if (r < 0 || setenv(USERNS_ENV, marker, 1) < 0)
		return why_err(why, why_len, r < 0 ? r : -errno, "recording the namespaces in $%s",
			       USERNS_ENV);
	return 0;
}

/* Is @dir the root of a tmpfs we mounted to replace it? */
static int is_shadowed(const char *dir, bool *ours)
{
	__attribute__((cleanup(fclosep))) FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	struct statx stx;
	size_t len = 0;

	*ours = false;
	if (statx(AT_FDCWD, dir, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0)
		return -errno;
	if (!(stx.stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS" */
	while (getline(&line, &len, f) > 0) {
		unsigned long long id;
		char fstype[32], source[32];
		const char *sep;

		if (sscanf(line, "%llu", &id) != 1 || id != stx.stx_mnt_id)
			continue;
		sep = strstr(line, " - ");
		*ours = sep && sscanf(sep + 3, "%31s %31s", fstype, source) == 2 &&
			strcmp(fstype, "tmpfs") == 0 && strcmp(source, SHADOW_SOURCE) == 0;
		break;
	}
	return 0;
}

static bool is_listed(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

static int path_join(char *buf, const char *dir, const char *name)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/*
 * Recreate one entry of @dir in the staging directory: symlinks copied,
 * everything else bind-mounted (device nodes stay usable: a tmpfs made in a
 * user namespace is nodev, a bind keeps the flags of the host's mount).
 * Directories are bound recursively: their submounts come along, and a
 * locked mount with children cannot be bound otherwise.
 */
static int stage_entry(int dir_fd, const char *dir, int staging_fd, const char *staging,
		       const char *name)
{
	char src[PATH_MAX], dst[PATH_MAX], target[PATH_MAX];
	_cleanup_close_ int fd = -1;
	unsigned long flags = MS_BIND;
	struct stat st;
	ssize_t n;

	/* Skipped: entries gone meanwhile (udev), and those we could not use
	 * anyway (another user's FUSE mount without allow_other, a dead one). */
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT || errno == EACCES || errno == ENOTCONN ? 0 : -errno;
	if (S_ISLNK(st.st_mode)) {
		n = readlinkat(dir_fd, name, target, sizeof(target) - 1);
		if (n < 0)
			return errno == ENOENT ? 0 : -errno;
		target[n] = '\0';
		return symlinkat(target, staging_fd, name) < 0 ? -errno : 0;
	}
	if (path_join(src, dir, name) < 0 || path_join(dst, staging, name) < 0)
		return -ENAMETOOLONG;
	if (S_ISDIR(st.st_mode)) {
		if (mkdirat(staging_fd, name, st.st_mode & 07777) < 0)
			return -errno;
		flags |= MS_REC;
	} else {
		fd = openat(staging_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
	}
	if (mount(src, dst, NULL, flags, NULL) < 0) {
		int r = -errno;

		if (r != -ENOENT && r != -EACCES && r != -ENOTCONN)
			return r;
		unlinkat(staging_fd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
	}
	return 0;
}

/*
 * Replace @dir by a tmpfs holding a copy of it made of bind mounts, plus an
 * empty mode-0000 file for each of @placeholders (a host entry of that name
 * is not copied): a mount point for a later bind, and EACCES for whoever
 * opens it while nothing is bound there.
 */
static int shadow_dir(const char *rundir, const char *dir, const char *const *placeholders,
		      size_t n_placeholders, char *why, size_t why_len)
{
	__attribute__((cleanup(closedirp))) DIR *d = NULL;
	_cleanup_close_ int staging_fd = -1;
	char staging[PATH_MAX];
	const struct dirent *de;
	struct stat st;
	int r;

	if (snprintf(staging, sizeof(staging), "%s/shadow.XXXXXX", rundir) >= (int)sizeof(staging))
		return why_err(why, why_len, -ENAMETOOLONG, "run directory %s: name too long",
			       rundir);
	if (stat(dir, &st) < 0 || !mkdtemp(staging)) {
		r = -errno;
		return why_err(why, why_len, r, "staging a private %s in %s: %s", dir, rundir,
			       strerror(-r));
	}
	if (mount(SHADOW_SOURCE, staging, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") < 0) {
		r = -errno;
		why_err(why, why_len, r, "mounting a tmpfs on %s: %s", staging, strerror(-r));
		rmdir(staging);
		return r;
	}
	staging_fd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = opendir(dir);
	if (staging_fd < 0 || !d || fchmod(staging_fd, st.st_mode & 07777) < 0) {
		r = -errno;
		why_err(why, why_len, r, "staging a private %s: %s", dir, strerror(-r));
		goto fail;
	}
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    is_listed(de->d_name, placeholders, n_placeholders))
			continue;
		r = stage_entry(dirfd(d), dir, staging_fd, staging, de->d_name);
		if (r < 0) {
			why_err(why, why_len, r, "copying %s/%s into the private %s: %s", dir,
				de->d_name, dir, strerror(-r));
			goto fail;
		}
	}
	if (errno) {
		r = -errno;
		why_err(why, why_len, r, "reading %s: %s", dir, strerror(-r));
		goto fail;
	}
	for (size_t i = 0; i < n_placeholders; i++) {
		_cleanup_close_ int fd = openat(staging_fd, placeholders[i],
						O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);

		if (fd < 0) {
			r = -errno;
			why_err(why, why_len, r, "creating %s/%s: %s", dir, placeholders[i],
				strerror(-r));
			goto fail;
		}
	}
	if (mount(staging, dir, NULL, MS_MOVE, NULL) < 0) {
		r = -errno;
		why_err(why, why_len, r, "moving the private %s over %s: %s", dir, dir,
			strerror(-r));
		goto fail;
	}
	rmdir(staging);
	return 0;
fail:
	umount2(staging, MNT_DETACH);
	rmdir(staging);
	return r;
}

/*
 * Bind @src over @dst, detaching first whatever we bound there before (after
 * an exec handover, the old FUSE mount is dead).  Only our own mounts can go:
 * the host's are locked in a user namespace and umount2() refuses them.
 */
static int rebind(const char *src, const char *dst, char *why, size_t why_len)
{
	int r;

	mount_detach_all(dst);
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0) {
		r = -errno;
		return why_err(why, why_len, r, "binding %s over %s: %s", src, dst, strerror(-r));
	}
	return 0;
}

static int split_path(const char *path, char *parent, const char **base)
{
	const char *slash = strrchr(path, '/');

	if (path[0] != '/' || !slash || !slash[1] || (size_t)(slash - path) >= PATH_MAX)
		return -EINVAL;
	memcpy(parent, path, slash - path);
	parent[slash - path] = '\0';
	if (!parent[0])
		strcpy(parent, "/");
	*base = slash + 1;
	return 0;
}

/* Make sys_binds[i].dst exist: shadow its directory, with a placeholder for
 * every missing dst of the same directory. */
static int make_bind_target(const struct userns_config *cfg, const struct userns_bind *binds,
			    size_t n, size_t i, char *why, size_t why_len)
{
	_cleanup_free_ const char **names = calloc(n, sizeof(*names));
	char parent[PATH_MAX], other[PATH_MAX];
	size_t n_names = 0;
	struct stat st;

	if (!names)
		return why_err(why, why_len, -ENOMEM, "out of memory");
	if (split_path(binds[i].dst, parent, &names[0]) < 0)
		return why_err(why, why_len, -EINVAL, "%s: not an absolute file path",
			       binds[i].dst);
	n_names = 1;
	for (size_t j = i + 1; j < n; j++) {
		const char *base;

		if (split_path(binds[j].dst, other, &base) == 0 && strcmp(other, parent) == 0 &&
		    lstat(binds[j].dst, &st) < 0 && errno == ENOENT)
			names[n_names++] = base;
	}
	return shadow_dir(cfg->rundir, parent, names, n_names, why, why_len);
}

int private_dev_setup(const struct userns_config *cfg, const char *liveupdate_src,
		      const struct userns_bind *sys_binds, size_t n_sys_binds, char *why,
		      size_t why_len)
{
	const char *name = cfg->dev_name ?: "liveupdate";
	const char *const dev_placeholders[] = {name};
	char dev_path[PATH_MAX];
	bool ours = false;
	struct stat st;
	int r;

	r = check_rundir(cfg->rundir, why, why_len);
	if (r < 0)
		return r;
	r = is_shadowed("/dev", &ours);
	if (r < 0)
		return why_err(why, why_len, r, "finding the mount of /dev: %s", strerror(-r));
	if (!ours) {
		r = shadow_dir(cfg->rundir, "/dev", dev_placeholders, ARRAY_SIZE(dev_placeholders),
			       why, why_len);
		if (r < 0)
			return r;
	}
	snprintf(dev_path, sizeof(dev_path), "/dev/%s", name);
	r = rebind(liveupdate_src, dev_path, why, why_len);
	if (r < 0)
		return r;
	/* Detach first: a dead FUSE mount there would fail lstat() with ENOTCONN. */
	for (size_t i = 0; i < n_sys_binds; i++)
		mount_detach_all(sys_binds[i].dst);
	/* Then shadow directories, before any bind that a shadow would copy. */
	for (size_t i = 0; i < n_sys_binds; i++) {
		if (lstat(sys_binds[i].dst, &st) == 0)
			continue;
		if (errno != ENOENT)
			return why_err(why, why_len, -errno, "%s: %s", sys_binds[i].dst,
				       strerror(errno));
		r = make_bind_target(cfg, sys_binds, n_sys_binds, i, why, why_len);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n_sys_binds; i++) {
		r = rebind(sys_binds[i].src, sys_binds[i].dst, why, why_len);
		if (r < 0)
			return r;
	}
	return 0;
}
