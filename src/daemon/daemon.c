// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * luoemud: the CUSE server process plus its fd courier.  The courier is a
 * separate process, forked before the CUSE device exists, so the server
 * never waits on its own device (a daemon killed while it did would hang
 * in D state forever: notes/session-fds.md §4.3).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/magic.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control/control.h"
#include "cuse/cuse.h"
#include "daemon/caps.h"
#include "daemon/daemon.h"
#include "daemon/device-node.h"
#include "daemon/hardening.h"
#include "daemon/log.h"
#include "daemon/state-pin.h"
#include "daemon/userns.h"
#include "frontend/transport.h"
#include "fuse/fuse.h"
#include "daemon/notify.h"
#include "seccomp/courier.h"
#include "util.h"

static int mkdir_mode(const char *path, mode_t mode)
{
	char buf[4096];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	/* A directory that exists is the administrator's: its mode stays. */
	if (mkdir(buf, mode) < 0)
		return errno == EEXIST ? 0 : -errno;
	return chmod(buf, mode) < 0 ? -errno : 0;
}

static int parent_dir_of(const char *path, char *buf, size_t size)
{
	char *slash;

	if (snprintf(buf, size, "%s", path) >= (int)size)
		return -ENAMETOOLONG;
	slash = strrchr(buf, '/');
	if (!slash || slash == buf)
		return -EINVAL;
	*slash = '\0';
	return 0;
}

static int courier_start(struct daemon *d)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		struct courier_config cc = {
			.listener_sock = sv[1],
			.device_path = d->dev_path,
			.server_pid = getppid(),
			.control_socket = d->cfg.control_socket,
			.verbose = d->cfg.verbose,
		};

		close(sv[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != cc.server_pid)
			_exit(0);
		/*
		 * Keep only stdio and our end of the socket: the files inherited
		 * from the previous daemon (and every other fd of the server) are
		 * not the courier's to hold.
		 */
		if (sv[1] != 3 && dup2(sv[1], 3) < 0)
			_exit(1);
		close_range(4, ~0U, 0);
		cc.listener_sock = 3;
		log_setup("luoemu-courier", d->cfg.verbose);
		_exit(courier_main(&cc) < 0 ? 1 : 0);
	}
	close(sv[1]);
	d->courier_pid = pid;
	d->courier_sock = sv[0];
	return 0;
}

static void announce_ready(struct daemon *d, const struct stat *st)
{
	pthread_mutex_lock(&d->lock);
	d->ready = true;
	pthread_mutex_unlock(&d->lock);
	if (S_ISCHR(st->st_mode))
		log_msg(LOG_INFO, "%s ready (%u:%u, mode %04o), control socket %s", d->dev_path,
			major(st->st_rdev), minor(st->st_rdev), d->cfg.dev_mode,
			d->cfg.control_socket);
	else
		log_msg(LOG_INFO, "%s ready (FUSE file on %s, mode %04o), control socket %s",
			d->dev_path, d->fuse_dir, d->cfg.dev_mode, d->cfg.control_socket);
	notify_send("READY=1\nSTATUS=serving %s", d->dev_path);
}

/* CUSE: the node appears only after CUSE_INIT completes: wait, then set it up. */
static void *cuse_ready_main(void *data)
{
	struct daemon *d = data;
	struct stat st;
	uid_t owner;

	for (int i = 0; i < 1000; i++) {
		if (stat(d->dev_path, &st) == 0 && S_ISCHR(st.st_mode))
			break;
		usleep(10000);
	}
	if (stat(d->dev_path, &st) < 0) {
		log_msg(LOG_ERR, "%s did not appear: %m", d->dev_path);
		return NULL;
	}
	/*
	 * The kernel's node is root's: a daemon that dropped to its user takes
	 * it (its courier opens it for the clients); root leaves the owner.
	 */
	owner = geteuid() != 0 ? geteuid() : (uid_t)-1;
	if ((owner != (uid_t)-1 || d->cfg.dev_gid != (gid_t)-1) &&
	    chown(d->dev_path, owner, d->cfg.dev_gid) < 0)
		log_msg(LOG_WARNING, "chown %s: %m", d->dev_path);
	if (chmod(d->dev_path, d->cfg.dev_mode) < 0)
		log_msg(LOG_WARNING, "chmod %s: %m", d->dev_path);
	announce_ready(d, &st);
	return NULL;
}

/*
 * Every preserved file is an fd of ours (two once retrieved), and an exec
 * handover briefly needs both the inherited and the re-homed copy: raise
 * the fd limit as far as the kernel allows while we still may.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl = {0};
	unsigned long nr_open = 1 << 20;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 1 << 20;
		fclose(f);
	}
	rl.rlim_cur = rl.rlim_max = nr_open;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * The blob is "pinned" like KHO memory: RAM only, never swapped.  System
 * mode mounts a noswap tmpfs there; per-user mode cannot mount outside its
 * namespace (a mount inside would die with a crashed daemon, and copy mode
 * must survive that), so it says what it has.
 */
static int pin_state_dir(struct daemon *d)
{
	const char *dir = d->cfg.state_dir;
	char *note = d->state_pin_note;
	size_t len = sizeof(d->state_pin_note);
	struct statfs sfs;
	int r;

	if (d->cfg.pin != LUO_PIN_OFF && d->cfg.scope == LUOEMU_SCOPE_SYSTEM) {
		r = state_dir_pin(dir, d->cfg.pin == LUO_PIN_ON, note, len);
		if (r < 0) {
			log_msg(LOG_ERR, "state directory %s: %s (--pin=on)", dir, note);
			return r;
		}
	} else if (statfs(dir, &sfs) == 0 &&
		   (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC)) {
		snprintf(note, len, "not pinned: %s",
			 d->cfg.pin == LUO_PIN_OFF ? "--pin=off"
						   : "per-user mode: a tmpfs that can swap");
	} else {
		snprintf(note, len,
			 "not pinned: not on a tmpfs, handover state may reach the disk");
	}
	log_msg(strncmp(note, "pinned", 6) == 0 ? LOG_INFO : LOG_WARNING, "state directory %s: %s",
		dir, note);
	return 0;
}

/* Where we were started from: a newer binary there is what a handover runs. */
static int self_exe(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);
	const char *deleted = " (deleted)";
	size_t dl = strlen(deleted);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if ((size_t)n > dl && strcmp(buf + n - dl, deleted) == 0)
		buf[n - dl] = '\0';
	return 0;
}

/*
 * Per-user mode: our own 0700 run directory, then our own user and mount
 * namespaces (after an exec handover we are in them already).
 */
static int user_scope_enter(struct daemon *d)
{
	struct userns_config uc = {.rundir = d->cfg.rundir};
	char why[512] = "";
	int r;

	if (d->cfg.rundir_fallback)
		log_msg(LOG_WARNING,
			"$XDG_RUNTIME_DIR is unset or unusable: using %s (log in with a "
			"systemd session, or set XDG_RUNTIME_DIR, to keep state in /run/user)",
			d->cfg.rundir);
	if (!userns_is_ours()) {
		r = mkdir_mode(d->cfg.rundir, 0700);
		if (r < 0) {
			log_msg(LOG_ERR,
				"run directory %s: %s (it must be creatable by uid %u; set "
				"XDG_RUNTIME_DIR or --rundir)",
				d->cfg.rundir, strerror(-r), (unsigned int)geteuid());
			return r;
		}
	}
	r = userns_create(&uc, why, sizeof(why));
	if (r < 0) {
		log_msg(LOG_ERR, "%s", why);
		return r;
	}
	return 0;
}

/* CUSE: open /dev/cuse (as root, or by its group once we are the dedicated user). */
static int cuse_open(struct daemon *d)
{
	d->se = cuse_transport_setup(&d->fe, d->cfg.dev_name, d->cfg.debug_fuse);
	if (!d->se) {
		log_msg(LOG_ERR,
			"cannot create the CUSE device %s: is the cuse module loaded (modprobe "
			"cuse) and may uid %u open /dev/cuse (root, or group %s by the udev rule)? "
			"(--frontend fuse needs neither)",
			d->dev_path, (unsigned int)geteuid(), HARDENING_DEFAULT_USER);
		return -ENODEV;
	}
	return 0;
}

/* @path (never through a link) and what it holds directly become @pw's. */
static int chown_shallow(const char *path, const struct passwd *pw)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dir;
	struct dirent *de;
	int r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fchown(fd, pw->pw_uid, pw->pw_gid) < 0)
		return -errno;
	dir = fdopendir(dup(fd));
	if (!dir)
		return -errno;
	while (r == 0 && (de = readdir(dir)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    fchownat(fd, de->d_name, pw->pw_uid, pw->pw_gid, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	closedir(dir);
	return r;
}

/*
 * The dedicated user must own what it writes: the run and state
 * directories, and the emulated kexec files (SOCKETDIR/sys), which it
 * rewrites in place at every kexec_load.
 */
static int chown_dirs_to(const struct daemon_config *cfg, const struct passwd *pw)
{
	const char *dirs[] = {cfg->rundir, cfg->state_dir};
	char sys[PATH_MAX];
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (chown(dirs[i], pw->pw_uid, pw->pw_gid) == 0 || errno == ENOENT)
			continue;
		log_msg(LOG_ERR, "chown %s to %s: %m", dirs[i], pw->pw_name);
		return -errno;
	}
	r = kexec_image_dir(cfg, sys, sizeof(sys));
	if (r == 0)
		r = chown_shallow(sys, pw);
	if (r < 0)
		log_msg(LOG_ERR, "chown %s to %s: %s", sys, pw->pw_name, strerror(-r));
	return r;
}

/*
 * The control socket is bound after the drop, and again by the daemon an
 * exec handover re-executes: its directory must be writable by @pw.  The
 * run directory is chowned to @pw; any other directory stays as it is.
 */
static bool socket_dir_writable_by(const struct daemon_config *cfg, const struct passwd *pw)
{
	char dir[PATH_MAX];
	struct stat st;

	if (parent_dir_of(cfg->control_socket, dir, sizeof(dir)) < 0 || stat(dir, &st) < 0)
		return false;
	if (strcmp(dir, cfg->rundir) == 0)
		return true;
	if (st.st_uid == pw->pw_uid)
		return st.st_mode & S_IWUSR;
	return st.st_gid == pw->pw_gid ? st.st_mode & S_IWGRP : st.st_mode & S_IWOTH;
}

static int stay_root(const struct daemon_config *cfg)
{
	int r = caps_drop_to_minimum(cfg->dev_gid != (gid_t)-1, cfg->frontend == FRONTEND_FUSE);

	if (r < 0)
		log_msg(LOG_ERR, "dropping capabilities: %s", strerror(-r));
	return r;
}

/*
 * System mode serves every user yet needs only CAP_SYS_PTRACE and CAP_KILL:
 * become the dedicated user with just those, ambient so that an exec
 * handover keeps them, or stay uid 0 with them where that cannot be.  The
 * process must still be single-threaded: capabilities are per thread.
 */
static int system_scope_drop(struct daemon *d)
{
	const struct daemon_config *cfg = &d->cfg;
	const char *user = cfg->user_name ?: HARDENING_DEFAULT_USER;
	bool fuse = cfg->frontend == FRONTEND_FUSE;
	char why[256] = "";
	struct passwd *pw;
	int r;

	if (hardening_is_dropped()) {
		log_msg(LOG_INFO, "running as uid %u with ambient capabilities (exec handover)",
			(unsigned int)geteuid());
		return 0;
	}
	if (fuse || strcmp(user, "root") == 0 || !hardening_user_exists(user)) {
		if (fuse)
			log_msg(LOG_INFO, "FUSE frontend in system mode: staying uid 0 with "
					  "minimal capabilities (its mounts need CAP_SYS_ADMIN)");
		else if (!cfg->user_name)
			log_msg(LOG_WARNING,
				"no user '%s': staying uid 0 with minimal capabilities (create it: "
				"adduser --system --group --no-create-home %s)",
				user, user);
		return stay_root(cfg);
	}
	pw = getpwnam(user);
	if (!pw) {
		log_msg(LOG_ERR, "user %s: %m", user);
		return -ENOENT;
	}
	if (!socket_dir_writable_by(cfg, pw)) {
		/* An explicit --user-name is a promise: fail rather than stay root. */
		log_msg(cfg->user_name ? LOG_ERR : LOG_WARNING,
			"the directory of the control socket %s is not writable by %s%s (put the "
			"socket in the run directory %s)",
			cfg->control_socket, user,
			cfg->user_name ? "" : ": staying uid 0 with minimal capabilities",
			cfg->rundir);
		return cfg->user_name ? -EACCES : stay_root(cfg);
	}
	r = chown_dirs_to(cfg, pw);
	if (r < 0)
		return r;
	/*
	 * The kernel makes every CUSE node root's, 0600, again after each exec
	 * handover: taking it needs CAP_CHOWN (its mode is then the owner's).
	 */
	r = hardening_drop_to_user(user, true, why, sizeof(why));
	if (r < 0) {
		log_msg(LOG_ERR, "becoming user %s: %s", user, why);
		return r;
	}
	log_msg(LOG_INFO,
		"running as %s (uid %u): CAP_SYS_PTRACE, CAP_KILL, CAP_CHOWN, "
		"SECBIT_NOROOT locked",
		user, (unsigned int)pw->pw_uid);
	return 0;
}

/* Transports log refusals through a function they are handed. */
static void log_refusal_sink(void *data, const char *line)
{
	log_refusal("%s", line);
}

static int daemon_init(struct daemon *d, const struct daemon_config *cfg)
{
	struct luo_config lc = {
		.compat = cfg->compat,
		.pin = cfg->pin,
		.quota = cfg->quota,
		.log = log_sink,
		.fault = luo_faults_hook,
	};
	char dir[4096], why[256] = "";
	int r;

	d->cfg = *cfg;
	d->argv = cfg->argv;
	raise_fd_limit();
	if (getrandom(&d->instance, sizeof(d->instance), 0) != sizeof(d->instance))
		d->instance = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
	r = self_exe(d->self_exe, sizeof(d->self_exe));
	if (r < 0)
		return r;
	d->courier_sock = -1;
	d->control_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	snprintf(d->dev_path, sizeof(d->dev_path), "/dev/%s", cfg->dev_name);
	if (snprintf(d->fuse_dir, sizeof(d->fuse_dir), "%s/fs-%s", cfg->rundir, cfg->dev_name) >=
	    (int)sizeof(d->fuse_dir))
		return -ENAMETOOLONG;

	if (cfg->scope == LUOEMU_SCOPE_USER) {
		r = user_scope_enter(d);
		if (r < 0)
			return r;
	}
	r = luo_faults_new(&d->faults);
	if (r < 0)
		return r;
	luo_faults_set_logger(d->faults, log_sink, NULL);
	r = cfg->faults ? luo_faults_set_many(d->faults, cfg->faults, why, sizeof(why)) : 0;
	if (r < 0) {
		log_msg(LOG_ERR, "fault specification: %s", why);
		return r;
	}
	lc.fault_data = d->faults;
	r = luo_ctx_new(&lc, &d->luo);
	if (r < 0)
		return r;
	r = parent_dir_of(cfg->control_socket, dir, sizeof(dir));
	/* Unprivileged clients must reach the socket: the node guards the rest. */
	if (r == 0)
		r = mkdir_mode(dir, 0755);
	if (r < 0) {
		log_msg(LOG_ERR, "control socket directory for %s: %s", cfg->control_socket,
			strerror(-r));
		return r;
	}
	r = mkdir_mode(cfg->state_dir, 0700);
	if (r < 0) {
		log_msg(LOG_ERR, "state directory %s: %s", cfg->state_dir, strerror(-r));
		return r;
	}
	r = pin_state_dir(d);
	if (r < 0)
		return r;
	/* First, before any fd of ours exists: the previous daemon's state. */
	handover_load(d);
	d->fe = (struct luo_frontend){
		.luo = d->luo,
		.lock = &d->lock,
		.dev_path = d->dev_path,
		.faults = d->faults,
		.log_refusal = log_refusal_sink,
	};
	fe_init(&d->fe);
	/* The next "kernel" starts with no kexec image loaded: say so to root's programs. */
	kexec_image_publish(d); /* before the drop: see chown_dirs_to() */
	/*
	 * What needs root comes first, single-threaded: /dev/cuse, then the
	 * drop; the courier and every thread start without root.
	 */
	if (cfg->frontend == FRONTEND_CUSE) {
		r = cuse_open(d);
		if (r < 0)
			return r;
	}
	if (cfg->scope == LUOEMU_SCOPE_SYSTEM) {
		r = system_scope_drop(d);
	} else {
		r = caps_drop_to_minimum(cfg->dev_gid != (gid_t)-1, false);
		if (r < 0)
			log_msg(LOG_ERR, "dropping capabilities: %s", strerror(-r));
	}
	if (r < 0)
		return r;
	r = courier_start(d);
	if (r < 0) {
		log_msg(LOG_ERR, "starting the courier: %s", strerror(-r));
		return r;
	}
	d->fe.courier_pid = d->courier_pid;
	return 0;
}

/* The courier and the control thread: they must be gone before an exec. */
static void stop_helpers(struct daemon *d)
{
	if (d->courier_sock >= 0) {
		close(d->courier_sock); /* EOF ends the courier */
		d->courier_sock = -1;
	}
	if (d->courier_pid > 0) {
		kill(d->courier_pid, SIGKILL);
		waitpid(d->courier_pid, NULL, 0);
		d->courier_pid = 0;
	}
	control_server_stop(d);
}

static void daemon_fini(struct daemon *d)
{
	stop_helpers(d);
	for (struct client *c = d->clients, *next; c; c = next) {
		next = c->next;
		close(c->pidfd);
		free(c);
	}
	d->clients = NULL;
	luo_ctx_free(d->luo);
	luo_faults_free(d->faults);
	fe_fini(&d->fe);
	pthread_mutex_destroy(&d->lock);
}

/* /sys/kernel/kexec_loaded as supervised processes see it: the emulated image state. */
static int attr_read(void *data, const char *name, char *buf, size_t size)
{
	return kexec_image_attr(data, name, buf, size);
}

/* FUSE: once the loop serves, make the file visible at the device path. */
static void *fuse_ready_main(void *data)
{
	struct daemon *d = data;
	char src[PATH_MAX + 16], why[512] = "";
	struct stat st;
	int r;

	snprintf(src, sizeof(src), "%s/liveupdate", d->fuse_dir);
	if (d->cfg.scope == LUOEMU_SCOPE_USER) {
		struct userns_config uc = {.rundir = d->cfg.rundir, .dev_name = d->cfg.dev_name};
		char loaded[PATH_MAX + 16], crash[PATH_MAX + 24];
		const struct userns_bind sys[] = {
			{loaded, "/sys/kernel/kexec_loaded"},
			{crash, "/sys/kernel/kexec_crash_loaded"},
		};

		snprintf(loaded, sizeof(loaded), "%s/kexec_loaded", d->fuse_dir);
		snprintf(crash, sizeof(crash), "%s/kexec_crash_loaded", d->fuse_dir);
		r = private_dev_setup(&uc, src, sys, ARRAY_SIZE(sys), why, sizeof(why));
	} else {
		r = device_node_bind(src, d->dev_path, why, sizeof(why));
	}
	if (r == 0 && stat(d->dev_path, &st) < 0)
		r = why_err(why, sizeof(why), -errno, "stat %s: %s", d->dev_path, strerror(errno));
	if (r < 0) {
		log_msg(LOG_ERR, "%s", why);
		return NULL;
	}
	announce_ready(d, &st);
	return NULL;
}

static int transport_start(struct daemon *d)
{
	struct fuse_transport_config fc = {
		.mountpoint = d->fuse_dir,
		.dev_mode = d->cfg.dev_mode,
		.dev_gid = d->cfg.dev_gid,
		/* System mode serves every user; per-user mode only its owner. */
		.allow_other = d->cfg.scope == LUOEMU_SCOPE_SYSTEM,
		.debug = d->cfg.debug_fuse,
		.attr_read = attr_read,
		.attr_data = d,
	};
	void *(*ready)(void *) = cuse_ready_main;
	char why[512] = "";
	int r;

	if (d->cfg.frontend == FRONTEND_FUSE) {
		/* A previous daemon's mount is dead after an exec handover. */
		mount_detach_all(d->fuse_dir);
		r = mkdir_mode(d->fuse_dir, 0755);
		if (r < 0) {
			log_msg(LOG_ERR, "FUSE mount point %s: %s", d->fuse_dir, strerror(-r));
			return r;
		}
		d->fuse = fuse_transport_setup(&d->fe, &fc, why, sizeof(why));
		if (!d->fuse) {
			log_msg(LOG_ERR, "%s", why);
			return -ENODEV;
		}
		d->se = fuse_transport_session(d->fuse);
		ready = fuse_ready_main;
	}
	r = -pthread_create(&d->ready_thread, NULL, ready, d);
	if (r == 0)
		pthread_detach(d->ready_thread);
	return r;
}

static void transport_stop(struct daemon *d)
{
	if (d->cfg.frontend == FRONTEND_CUSE) {
		if (d->se)
			cuse_transport_teardown(d->se);
	} else if (d->fuse) {
		/* After a handover the next daemon binds again over the stale bind. */
		if (!d->handover.pending && d->cfg.scope == LUOEMU_SCOPE_SYSTEM)
			device_node_unbind(d->dev_path);
		fuse_transport_teardown(d->fuse);
		d->fuse = NULL;
	}
	d->se = NULL;
}

int daemon_run(const struct daemon_config *cfg)
{
	struct daemon d = {0};
	int r;

	r = daemon_init(&d, cfg);
	if (r < 0)
		goto out_teardown;
	r = control_server_start(&d);
	if (r < 0) {
		log_msg(LOG_ERR, "control socket %s: %s", cfg->control_socket, strerror(-r));
		goto out_teardown;
	}
	r = transport_start(&d);
	if (r < 0)
		goto out_teardown;
	r = transport_loop(d.se);
	/*
	 * However the loop ended (the update's own stop, or a SIGTERM from
	 * outside), a live update in flight finishes first: its commit and
	 * `pending` are final once the control server (and its kexec thread)
	 * is gone, so committed state is never lost to a stop.
	 */
	control_server_stop(&d);
	log_msg(LOG_INFO, "%s (%llu requests, %llu refused, %llu blocked by the update)",
		d.handover.pending ? "live update: the old device goes away" : "shutting down",
		__atomic_load_n(&d.fe.requests, __ATOMIC_RELAXED),
		__atomic_load_n(&d.fe.refusals, __ATOMIC_RELAXED),
		__atomic_load_n(&d.fe.held, __ATOMIC_RELAXED));
out_teardown:
	transport_stop(&d);
	if (d.handover.pending) {
		/* Every open of the old device is dead now; become the next "kernel". */
		stop_helpers(&d);
		r = handover_exec(&d);
	}
	daemon_fini(&d);
	return r;
}
