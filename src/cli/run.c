// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/join.h"
#include "cli/run.h"
#include "control/control.h"
#include "control/paths.h"
#include "control/peercred.h"
#include "seccomp/filter.h"
#include "util.h"

#ifndef LUOEMU_SBINDIR
#define LUOEMU_SBINDIR "/usr/sbin"
#endif

/* How long `luoemu run` waits for a daemon it started to serve. */
#define AUTOSTART_TIMEOUT_MS 15000

/* The luoemud to start: $LUOEMUD, the one beside us (a build tree), or the installed one. */
static int find_daemon(char *buf, size_t size)
{
	const char *env = getenv("LUOEMUD");
	ssize_t n;
	char *slash;

	if (env && *env) {
		snprintf(buf, size, "%s", env);
		return access(buf, X_OK) < 0 ? -errno : 0;
	}
	n = readlink("/proc/self/exe", buf, size - 1);
	if (n > 0) {
		buf[n] = '\0';
		slash = strrchr(buf, '/');
		if (slash && (size_t)(slash - buf) + sizeof("/luoemud") <= size) {
			strcpy(slash, "/luoemud");
			if (access(buf, X_OK) == 0)
				return 0;
		}
	}
	snprintf(buf, size, "%s/luoemud", LUOEMU_SBINDIR);
	return access(buf, X_OK) < 0 ? -errno : 0;
}

static bool daemon_ready(const char *control_socket)
{
	_cleanup_close_ int sock = luoemu_control_connect(control_socket);
	char reply[LUOEMU_CONTROL_MAX];
	const char *text;

	if (sock < 0 || luoemu_control_request(sock, "status", -1, reply, sizeof(reply)) < 0 ||
	    luoemu_control_parse_reply(reply, &text) < 0)
		return false;
	return strstr(text, "\nready 1") != NULL;
}

/*
 * No daemon of ours runs: start `luoemud --user`, detached (its own session,
 * reparented to init), logging to RUNDIR/luoemud.log, and wait until it serves.
 */
static int autostart(const char *control_socket)
{
	struct luoemu_paths paths;
	char daemon[PATH_MAX], log[PATH_MAX + 16];
	pid_t pid;
	int st, r;

	r = luoemu_paths_default(LUOEMU_SCOPE_USER, &paths);
	if (r < 0)
		return r;
	r = find_daemon(daemon, sizeof(daemon));
	if (r < 0) {
		fprintf(stderr, "luoemu run: no luoemud to start (%s: %s); set $LUOEMUD\n", daemon,
			strerror(-r));
		return r;
	}
	if (mkdir(paths.rundir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		fprintf(stderr, "luoemu run: cannot create %s: %s\n", paths.rundir, strerror(-r));
		return r;
	}
	snprintf(log, sizeof(log), "%s/luoemud.log", paths.rundir);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd < 0 || null < 0 || setsid() < 0)
			_exit(1);
		if (fork() != 0)
			_exit(0); /* the daemon is reparented: never our zombie */
		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(daemon, "luoemud", "--user", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	for (int ms = 0; ms < AUTOSTART_TIMEOUT_MS; ms += 20) {
		if (daemon_ready(control_socket)) {
			fprintf(stderr,
				"luoemu run: started a per-user luoemud (%s --user); log: %s\n",
				daemon, log);
			return 0;
		}
		usleep(20000);
	}
	fprintf(stderr, "luoemu run: the per-user luoemud did not come up; see %s\n", log);
	return -ETIMEDOUT;
}

/* Connect, starting the user's own daemon when none runs and no socket was named. */
static int connect_daemon(const char *control_socket, bool may_autostart)
{
	int sock = luoemu_control_connect(control_socket);

	if (sock >= 0 || !may_autostart || (sock != -ENOENT && sock != -ECONNREFUSED))
		return sock;
	if (autostart(control_socket) < 0)
		return sock;
	return luoemu_control_connect(control_socket);
}

/*
 * System mode: root's programs see the emulated kexec state at
 * /sys/kernel/kexec_loaded (kexec-tools reads it before `kexec -e`): in a
 * mount namespace of their own, slave to the host's, the daemon's files
 * (SOCKETDIR/sys/, next to the control socket) are bound over the kernel's.
 * A per-user daemon's namespace has them already.  Best effort: without
 * CAP_SYS_ADMIN (a normal user: it could not kexec anyway) nothing is bound.
 */
static void bind_kexec_state(const char *control_socket)
{
	static const char *const names[] = {"kexec_loaded", "kexec_crash_loaded"};
	char dir[PATH_MAX], src[PATH_MAX + 32], dst[64];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", control_socket);
	slash = strrchr(dir, '/');
	if (geteuid() != 0 || !slash)
		return;
	*slash = '\0';
	snprintf(src, sizeof(src), "%s/sys/kexec_loaded", dir);
	if (access(src, R_OK) < 0 || access("/sys/kernel/kexec_loaded", F_OK) < 0)
		return;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		fprintf(stderr,
			"luoemu run: no mount namespace of its own (%s): kexec-tools will "
			"read the host's /sys/kernel/kexec_loaded\n",
			strerror(errno));
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(src, sizeof(src), "%s/sys/%s", dir, names[i]);
		snprintf(dst, sizeof(dst), "/sys/kernel/%s", names[i]);
		if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
			fprintf(stderr, "luoemu run: binding %s over %s: %s\n", src, dst,
				strerror(errno));
	}
}

int luoemu_run(const char *control_socket, char *const argv[])
{
	_cleanup_close_ int sock = -1, listener = -1;
	struct luoemu_peer daemon;
	bool may_autostart = !control_socket && !getenv("LUOEMU_SOCKET") &&
			     luoemu_scope_default() == LUOEMU_SCOPE_USER;
	const char *text;
	char req[64], reply[4096], why[512] = "";
	int r;

	if (!argv || !argv[0]) {
		fprintf(stderr, "luoemu run: no program given\n");
		return 1;
	}
	if (!control_socket)
		control_socket = luoemu_default_socket();

	/* Before the filter, so nothing of ours is ever trapped. */
	sock = connect_daemon(control_socket, may_autostart);
	if (sock < 0) {
		fprintf(stderr, "luoemu run: cannot connect to %s: %s (is luoemud running?)\n",
			control_socket, strerror(-sock));
		return 1;
	}
	/*
	 * A per-user daemon of ours (our uid; a system daemon runs as root or
	 * its dedicated user, in the initial namespaces) serves
	 * /dev/liveupdate in its own mount namespace: go there.
	 */
	r = luoemu_peer_get(sock, 0, &daemon);
	if (r < 0 || !daemon.alive) {
		fprintf(stderr, "luoemu run: cannot identify the daemon: %s\n",
			strerror(r < 0 ? -r : ESRCH));
		luoemu_peer_release(&daemon);
		return 1;
	}
	if (geteuid() != 0 && daemon.uid == geteuid())
		r = luoemu_join_daemon(daemon.pidfd, why, sizeof(why));
	luoemu_peer_release(&daemon);
	if (r < 0) {
		fprintf(stderr, "luoemu run: %s\n", why[0] ? why : strerror(-r));
		return 1;
	}
	bind_kexec_state(control_socket); /* only a system daemon publishes them */
	listener = luoemu_filter_install();
	if (listener < 0) {
		fprintf(stderr, "luoemu run: cannot install the seccomp filter: %s%s\n",
			strerror(-listener),
			listener == -EBUSY ? " (already supervised by another seccomp listener)"
					   : "");
		return 1;
	}
	snprintf(req, sizeof(req), "attach %d", (int)getpid());
	r = luoemu_control_request(sock, req, listener, reply, sizeof(reply));
	if (r < 0) {
		fprintf(stderr, "luoemu run: attach failed: %s\n", strerror(-r));
		return 1;
	}
	r = luoemu_control_parse_reply(reply, &text);
	if (r < 0) {
		fprintf(stderr, "luoemu run: the daemon refused: %s%s%s\n", strerror(-r),
			*text ? ": " : "", text);
		return 1;
	}
	/* The program must never hold the listener: a leak hangs it (session-fds §4.4). */
	close(TAKE_FD(listener));
	close(TAKE_FD(sock));

	execvp(argv[0], argv);
	fprintf(stderr, "luoemu run: cannot execute %s: %s\n", argv[0], strerror(errno));
	return 127;
}
