// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kexec-harness: run one command under the real launcher filter, the real
 * courier and the daemon's real kexec decision (daemon/kexec-image.c),
 * on a host without CUSE, where luoemud cannot start.  It stands in for
 * the daemon's transport only: the control socket, and the emulated
 * /sys/kernel/kexec_loaded and kexec_crash_loaded as plain files
 * rewritten after every change, bind-mounted in the command's own mount
 * namespace (--sysfs, root only; the command also gets a network namespace
 * of its own, as kexec -e takes every interface down).  An update (reboot(KEXEC) with an image
 * loaded) is recorded, the command is killed as the daemon kills its
 * clients, and the state starts empty again, as in the next daemon.
 *
 * usage: kexec-harness [--sysfs] [--uid UID] [--stuck] [--verbose] DIR -- CMD [ARGS...]
 * --stuck: the control socket accepts connections but never answers.
 * DIR: an empty directory for the socket and the files.  Prints
 * "harness: updates N" and "harness: status ..." lines at the end; exits
 * with the command's status (128+signal when killed).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control/control.h"
#include "daemon/daemon.h"
#include "daemon/kexec-image.h"
#include "daemon/log.h"
#include "seccomp/courier.h"
#include "seccomp/filter.h"
#include "util.h"

struct harness {
	struct daemon d;
	const char *dir;
	char sock_path[512], sys_dir[512];
	pid_t child;
	unsigned int updates;
	bool stopping;
	bool stuck; /* never answer: a daemon that hangs */
};

static int write_attr(struct harness *h, const char *name)
{
	char path[600], buf[8];
	_cleanup_close_ int fd = -1;
	int n = kexec_image_attr(&h->d, name, buf, sizeof(buf));

	if (n < 0)
		return n;
	snprintf(path, sizeof(path), "%s/%s", h->sys_dir, name);
	/* In place (same inode): the bind mount shows the new contents. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, n) != n)
		return -errno;
	return 0;
}

static void publish(struct harness *h)
{
	write_attr(h, "kexec_loaded");
	write_attr(h, "kexec_crash_loaded");
}

/*
 * The daemon answers through an inner socketpair: the files are rewritten
 * before the caller hears back, as a file served from the state would
 * already read the new value.
 */
static void serve(struct harness *h, int conn)
{
	char buf[LUOEMU_CONTROL_MAX], *verb, *args;
	int sv[2], r;
	ssize_t n;
	pid_t pid;
	uid_t uid;

	if (luoemu_control_recv(conn, buf, sizeof(buf), NULL, &pid, &uid) <= 0)
		return;
	verb = strtok_r(buf, " ", &args);
	if (!verb || strncmp(verb, "kexec-", 6)) {
		luoemu_control_reply(conn, EOPNOTSUPP, "the harness serves kexec-* only");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		luoemu_control_reply(conn, errno, "socketpair");
		return;
	}
	r = kexec_image_request(&h->d, sv[0], verb, &args, pid, uid);
	if (r == KEXEC_IMAGE_RUN_UPDATE) {
		/* What handle_kexec() does, minus the handover: end the client, start empty. */
		h->updates++;
		fprintf(stderr, "harness: emulated live update #%u\n", h->updates);
		kill(h->child, SIGKILL); /* before the reply, as kill_clients() */
		pthread_mutex_lock(&h->d.lock);
		memset(&h->d.kexec_image, 0, sizeof(h->d.kexec_image));
		pthread_mutex_unlock(&h->d.lock);
		luoemu_control_reply(sv[0], 0, "liveupdate_count %u\ninstance 0", h->updates);
	}
	publish(h);
	n = recv(sv[1], buf, sizeof(buf), 0);
	if (n > 0)
		send(conn, buf, n, MSG_NOSIGNAL);
	close(sv[0]);
	close(sv[1]);
}

static void *control_main(void *data)
{
	struct harness *h = data;

	while (!__atomic_load_n(&h->stopping, __ATOMIC_ACQUIRE)) {
		struct pollfd p = {.fd = h->d.control_fd, .events = POLLIN};
		int conn;

		if (poll(&p, 1, 200) <= 0 || h->stuck)
			continue;
		conn = accept4(h->d.control_fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0)
			continue;
		serve(h, conn);
		close(conn);
	}
	return NULL;
}

static int start_courier(struct harness *h)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		struct courier_config cc = {
			.listener_sock = sv[1],
			.device_path = "/nonexistent/liveupdate",
			.server_pid = getppid(),
			.control_socket = h->sock_path,
			.verbose = h->d.cfg.verbose,
		};

		close(sv[0]);
		_exit(courier_main(&cc) < 0 ? 1 : 0);
	}
	close(sv[1]);
	h->d.courier_pid = pid;
	h->d.courier_sock = sv[0];
	return 0;
}

/* The emulated files over /sys/kernel's (or over all of /sys/kernel on a kernel without kexec). */
static int bind_sysfs(struct harness *h)
{
	char src[600];

	/*
	 * A network namespace too: kexec -e brings every interface down
	 * (kexec-tools' ifdown) before reboot(), which must not reach the host.
	 */
	if (unshare(CLONE_NEWNS | CLONE_NEWNET) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	if (access("/sys/kernel/kexec_loaded", F_OK) < 0)
		return mount(h->sys_dir, "/sys/kernel", NULL, MS_BIND, NULL) < 0 ? -errno : 0;
	snprintf(src, sizeof(src), "%s/kexec_loaded", h->sys_dir);
	if (mount(src, "/sys/kernel/kexec_loaded", NULL, MS_BIND, NULL) < 0)
		return -errno;
	snprintf(src, sizeof(src), "%s/kexec_crash_loaded", h->sys_dir);
	if (mount(src, "/sys/kernel/kexec_crash_loaded", NULL, MS_BIND, NULL) < 0)
		return -errno;
	return 0;
}

/* The command's side: namespace, uid, filter, listener to the harness, exec. */
static void __attribute__((noreturn))
run_child(struct harness *h, int sock, bool sysfs, long uid, char **cmd)
{
	char reply[64];
	int listener, r;

	if (sysfs && (r = bind_sysfs(h)) < 0) {
		fprintf(stderr, "harness: binding %s over /sys/kernel: %s\n", h->sys_dir,
			strerror(-r));
		_exit(126);
	}
	if (uid >= 0 && (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
			 setresuid(uid, uid, uid) < 0)) {
		perror("harness: dropping to the uid");
		_exit(126);
	}
	listener = luoemu_filter_install();
	if (listener < 0) {
		fprintf(stderr, "harness: filter: %s\n", strerror(-listener));
		_exit(126);
	}
	r = luoemu_control_request(sock, "attach", listener, reply, sizeof(reply));
	if (r < 0) {
		fprintf(stderr, "harness: attach: %s\n", strerror(-r));
		_exit(126);
	}
	close(listener);
	close(sock);
	execvp(cmd[0], cmd);
	perror(cmd[0]);
	_exit(127);
}

int main(int argc, char **argv)
{
	struct harness h = {0};
	bool sysfs = false;
	char buf[64], status[4096];
	long uid = -1;
	int i, sv[2], fd = -1, wstatus, r;
	pthread_t thread;

	for (i = 1; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--sysfs"))
			sysfs = true;
		else if (!strcmp(argv[i], "--stuck"))
			h.stuck = true;
		else if (!strcmp(argv[i], "--verbose"))
			h.d.cfg.verbose = true;
		else if (!strcmp(argv[i], "--uid") && i + 1 < argc)
			uid = strtol(argv[++i], NULL, 10);
		else
			break;
	}
	if (i + 2 >= argc || strcmp(argv[i + 1], "--")) {
		fprintf(stderr,
			"usage: kexec-harness [--sysfs] [--uid UID] [--stuck] [--verbose] DIR -- "
			"CMD [ARGS...]\n");
		return 2;
	}
	h.dir = argv[i];
	log_setup("luoemud", h.d.cfg.verbose);
	snprintf(h.sock_path, sizeof(h.sock_path), "%s/ctl.sock", h.dir);
	snprintf(h.sys_dir, sizeof(h.sys_dir), "%s/sys-kernel", h.dir);
	if (mkdir(h.sys_dir, 0755) < 0 && errno != EEXIST)
		return perror(h.sys_dir), 2;
	pthread_mutex_init(&h.d.lock, NULL);
	publish(&h);
	h.d.control_fd = luoemu_control_listen(h.sock_path, 0666);
	if (h.d.control_fd < 0)
		return fprintf(stderr, "harness: %s: %s\n", h.sock_path, strerror(-h.d.control_fd)),
		       2;
	r = start_courier(&h);
	if (r < 0)
		return fprintf(stderr, "harness: courier: %s\n", strerror(-r)), 2;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return perror("socketpair"), 2;
	h.child = fork();
	if (h.child == 0) {
		close(sv[0]);
		run_child(&h, sv[1], sysfs, uid, argv + i + 2);
	}
	close(sv[1]);
	/* The attach, forwarded as the daemon forwards it. */
	r = luoemu_control_recv(sv[0], buf, sizeof(buf), &fd, NULL, NULL);
	if (r > 0 && fd >= 0) {
		snprintf(buf, sizeof(buf), "attach %d", (int)h.child);
		r = luoemu_control_send(h.d.courier_sock, buf, fd);
		close(fd);
		luoemu_control_reply(sv[0], r < 0 ? -r : 0, NULL);
	}
	close(sv[0]);
	pthread_create(&thread, NULL, control_main, &h);
	while (waitpid(h.child, &wstatus, 0) < 0 && errno == EINTR)
		;
	__atomic_store_n(&h.stopping, true, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
	close(h.d.courier_sock);
	kill(h.d.courier_pid, SIGKILL);
	waitpid(h.d.courier_pid, NULL, 0);
	kexec_image_status(&h.d, true, status, sizeof(status));
	printf("harness: updates %u\n", h.updates);
	for (char *line = strtok(status, "\n"); line; line = strtok(NULL, "\n"))
		printf("harness: status %s\n", line);
	unlink(h.sock_path);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return WEXITSTATUS(wstatus);
}
