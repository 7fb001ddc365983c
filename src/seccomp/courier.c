// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The fd courier.  One process, one thread, one epoll loop over the
 * server's listener socket and every seccomp listener.  Each notification
 * is served to completion before the next: the order of steps is the one
 * verified in session-fds.md §2 and the contract in
 * frontend/courier-protocol.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abi/abi.h"
#include "control/control.h"
#include "frontend/courier-protocol.h"
#include "luoemu/liveupdate.h"
#include "peer/peer.h"
#include "seccomp/courier.h"
#include "seccomp/filter.h"
#include "seccomp/kexec.h"
#include "util.h"

#define MAX_SIZE(a, b) ((size_t)(a) > (size_t)(b) ? (size_t)(a) : (size_t)(b))

/* A handler's answer besides 0 / -errno: let the call run in the kernel. */
#define ANSWER_CONTINUE 1

/* At most LOG_BURST lines per LOG_WINDOW seconds: a looping client cannot flood. */
#define LOG_BURST  20
#define LOG_WINDOW 5

struct courier {
	const struct courier_config *cfg;
	int epfd;
	int server_pidfd;
	struct seccomp_notif *req; /* zeroed before every RECV, kernel-sized */
	size_t req_size;
	struct seccomp_notif_resp *resp;
	size_t resp_size;
	unsigned int listeners;
	/* The device's identity (st_dev/st_ino, or st_rdev for CUSE) once known. */
	struct stat device;
	bool device_known;
	/* One open of the device the server knows as unbound: the next session fd. */
	int spare_fd;
	uint64_t spare_id;
	time_t log_window;
	unsigned int log_lines, log_suppressed;
};

static bool log_allowed(struct courier *c)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - c->log_window >= LOG_WINDOW) {
		if (c->log_suppressed)
			fprintf(stderr, "luoemu-courier: %u log lines suppressed\n",
				c->log_suppressed);
		c->log_window = now.tv_sec;
		c->log_lines = 0;
		c->log_suppressed = 0;
	}
	if (c->log_lines >= LOG_BURST) {
		if (!c->log_suppressed++)
			fprintf(stderr,
				"luoemu-courier: too many log lines, holding back for %ds\n",
				LOG_WINDOW);
		return false;
	}
	c->log_lines++;
	return true;
}

static void __attribute__((format(printf, 2, 3)))
courier_log(struct courier *c, const char *fmt, ...)
{
	va_list ap;

	if (!log_allowed(c))
		return;
	fputs("luoemu-courier: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "luoemu-courier: pid N (comm): WHAT: WHY[: strerror]" -- one line per refused request. */
void notif_log(struct courier *c, const struct seccomp_notif *req, const char *what, int err,
	       const char *fmt, ...)
{
	char comm[64], why[256];
	va_list ap;

	if (!log_allowed(c))
		return;
	peer_comm(req->pid, comm, sizeof(comm));
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, "luoemu-courier: pid %d (%s): %s: %s: %s\n", (int)req->pid, comm,
			what, why, strerror(-err));
	else
		fprintf(stderr, "luoemu-courier: pid %d (%s): %s: %s\n", (int)req->pid, comm, what,
			why);
}

/*
 * Is @st our device?  CUSE: a character device with our rdev.  FUSE: the
 * regular file of our filesystem (bind mounts keep st_dev and st_ino).
 */
static bool same_device(const struct stat *a, const struct stat *b)
{
	if ((a->st_mode & S_IFMT) != (b->st_mode & S_IFMT))
		return false;
	if (S_ISCHR(a->st_mode))
		return a->st_rdev == b->st_rdev;
	return S_ISREG(a->st_mode) && a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Look the device up (again: a restarted server may get another minor or mount). */
static int learn_device(struct courier *c)
{
	struct stat st;

	if (stat(c->cfg->device_path, &st) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode) && !S_ISREG(st.st_mode))
		return -ENODEV;
	c->device = st;
	c->device_known = true;
	return 0;
}

static bool is_our_device(struct courier *c, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return false;
	if (c->device_known && same_device(&st, &c->device))
		return true;
	return learn_device(c) == 0 && same_device(&st, &c->device);
}

/* Is the notification still pending, i.e. did its task not die or get interrupted? */
static bool id_valid(int listener, uint64_t id)
{
	return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/*
 * Keep one spare open of the device ready, named by the server's id: a new
 * session is bound to it inside the one COURIER_CALL, so no open() sits on
 * the path of a call.
 */
static int ensure_spare(struct courier *c)
{
	struct luoemu_courier_whoami w = {.size = sizeof(w)};
	_cleanup_close_ int fd = -1;

	if (c->spare_fd >= 0)
		return 0;
	fd = open(c->cfg->device_path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!is_our_device(c, fd))
		return -ENODEV;
	if (ioctl(fd, LUOEMU_COURIER_WHOAMI, &w) < 0)
		return -errno;
	c->spare_fd = TAKE_FD(fd);
	c->spare_id = w.id;
	return 0;
}

static void drop_spare(struct courier *c)
{
	if (c->spare_fd >= 0)
		close(c->spare_fd);
	c->spare_fd = -1;
}

/* The fd could not be installed: the call must leave no trace (the kernel checks EMFILE first). */
static void undo(struct courier *c, int fd, const struct luoemu_courier_call *call,
		 const struct seccomp_notif *req, const char *what)
{
	struct luoemu_courier_undo u = {
		.size = sizeof(u),
		.cmd = call->cmd,
		.token = call->token,
		.first = call->first,
	};

	if (ioctl(fd, LUOEMU_COURIER_UNDO, &u) < 0)
		notif_log(c, req, what, -errno, "undoing the call failed");
}

/*
 * ioctl(fd, CREATE_SESSION | RETRIEVE_SESSION | SESSION_RETRIEVE_FD, arg):
 * one COURIER_CALL on the client's own open runs the operation (a new
 * session is bound to our spare), then ADDFD moves the fd into the client.
 */
static int do_ioctl(struct courier *c, int listener, const struct seccomp_notif *req)
{
	const uint32_t cmd = (uint32_t)req->data.args[1];
	const uint64_t arg = req->data.args[2];
	const char *what = luo_abi_cmd_name(cmd);
	_cleanup_close_ int pidfd = -1, cfd = -1, file = -1;
	struct luoemu_courier_call call = {
		.size = sizeof(call),
		.cmd = cmd,
		.client_tid = req->pid,
		.arg = arg,
	};
	struct seccomp_notif_addfd addfd = {0};
	struct peer_creds creds;
	struct stat st;
	int32_t newfd;
	int r;

	if (!what || cmd == LIVEUPDATE_SESSION_PRESERVE_FD || cmd == LIVEUPDATE_SESSION_FINISH ||
	    cmd == LIVEUPDATE_SESSION_GET_NAME)
		return ANSWER_CONTINUE; /* not ours (the filter traps only fd-returning calls) */

	/* Pin the process, then make sure the pidfd is the notifying task's. */
	pidfd = peer_pidfd_open(req->pid);
	if (pidfd < 0) {
		if (id_valid(listener, req->id))
			notif_log(c, req, what, pidfd, "cannot open a pidfd");
		return pidfd;
	}
	if (!id_valid(listener, req->id))
		return ANSWER_CONTINUE; /* it is gone: nobody reads the answer */

	/* Not an fd of our device: the kernel gives the natural errno. */
	cfd = peer_getfd(pidfd, (int)req->data.args[0]);
	if (cfd < 0 && cfd != -EBADF)
		/* EPERM here means the courier lacks ptrace rights over the client. */
		notif_log(c, req, what, cfd, "cannot take fd %d", (int)req->data.args[0]);
	if (cfd < 0 || !is_our_device(c, cfd))
		return ANSWER_CONTINUE;
	/* The session's owner is the trapped task, by its own credentials. */
	r = peer_creds(req->pid, &creds);
	if (r < 0 || !id_valid(listener, req->id))
		return r < 0 ? r : ANSWER_CONTINUE;
	call.client_uid = creds.euid;

	if (cmd != LIVEUPDATE_SESSION_RETRIEVE_FD) {
		r = ensure_spare(c);
		if (r < 0) {
			notif_log(c, req, what, r, "cannot open %s", c->cfg->device_path);
			return r;
		}
		call.spare_id = c->spare_id;
	}
	if (ioctl(cfd, LUOEMU_COURIER_CALL, &call) < 0) {
		r = -errno; /* ENOTCONN: the server is gone */
		notif_log(c, req, what, r, "the server did not take the call");
		return r;
	}
	if (call.result == -EAGAIN && cmd != LIVEUPDATE_SESSION_RETRIEVE_FD) {
		/* Our spare is unknown to the server (a new server): open another, once. */
		drop_spare(c);
		r = ensure_spare(c);
		if (r < 0)
			return r;
		call.spare_id = c->spare_id;
		call.result = 0;
		if (ioctl(cfd, LUOEMU_COURIER_CALL, &call) < 0)
			return -errno;
	}
	if (call.result < 0) {
		/* The emulated kernel's own answer; the server logs its reasons. */
		if (c->cfg->verbose)
			notif_log(c, req, what, call.result, "refused by the server");
		return call.result;
	}

	switch (call.kind) {
	case LUOEMU_COURIER_SESSION:
		addfd.srcfd = c->spare_fd;
		break;
	case LUOEMU_COURIER_FILE:
		file = peer_getfd(c->server_pidfd, call.server_fd);
		/* The fd number alone is not proof: the server may have reused it. */
		if (file < 0 || fstat(file, &st) < 0 || (uint64_t)st.st_dev != call.dev ||
		    (uint64_t)st.st_ino != call.ino) {
			notif_log(c, req, what, -EIO, "server fd %d is not the retrieved file",
				  call.server_fd);
			undo(c, cfd, &call, req, what);
			return -EIO;
		}
		addfd.srcfd = file;
		break;
	default:
		notif_log(c, req, what, -EIO, "the server answered kind %u", call.kind);
		return -EIO;
	}

	/* Irrevocable from here: the fd is in the client's table. */
	addfd.id = req->id;
	addfd.newfd_flags = O_CLOEXEC;
	newfd = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
	if (newfd < 0) {
		r = -errno;
		if (r != -ENOENT && r != -EMFILE)
			notif_log(c, req, what, r, "NOTIF_ADDFD failed");
		undo(c, call.kind == LUOEMU_COURIER_SESSION ? c->spare_fd : cfd, &call, req, what);
		if (call.kind == LUOEMU_COURIER_SESSION)
			drop_spare(c); /* undone: the server forgot it */
		return r;
	}
	if (call.kind == LUOEMU_COURIER_SESSION)
		drop_spare(c); /* the client's copy keeps the session alive */

	/*
	 * The struct's fd member is at offset 4 in all three structs.  By thread
	 * id: the client is blocked in this very call, so the id is its own
	 * unless it was SIGKILLed since ADDFD and the id recycled within
	 * microseconds.  (/proc/PID/mem, bound to the mm, would close even that
	 * window, but opening it needs CAP_DAC_OVERRIDE for clients of other
	 * uids, which the daemon does not keep.)
	 */
	r = peer_write(req->pid, arg + 4, &newfd, sizeof(newfd));
	if (r < 0) {
		/* The server's pre-flight write passed, so the client raced us. */
		notif_log(c, req, what, r,
			  "fd %d installed but not written back (left in the client)", newfd);
		return -EFAULT;
	}
	if (c->cfg->verbose)
		notif_log(c, req, what, 0, "fd %d installed", newfd);
	return 0;
}

static int send_answer(struct courier *c, int listener, uint64_t id, int answer)
{
	memset(c->resp, 0, c->resp_size);
	c->resp->id = id;
	if (answer == ANSWER_CONTINUE)
		c->resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	else
		c->resp->error = answer; /* 0 or -errno; val stays 0 */
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, c->resp) < 0)
		return -errno;
	return 0;
}

/* Receive and answer one notification.  -errno only when the listener is unusable. */
static int handle_notification(struct courier *c, int listener)
{
	const struct seccomp_notif *req = c->req;
	int answer, r;

	memset(c->req, 0, c->req_size); /* the kernel refuses a dirty buffer */
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, c->req) < 0) {
		/* ENOENT: the task left before we got to it. */
		if (errno == EINTR || errno == ENOENT)
			return 0;
		return -errno;
	}

	if (req->data.arch != AUDIT_ARCH_X86_64)
		answer = ANSWER_CONTINUE;
	else if (req->data.nr == __NR_ioctl)
		answer = do_ioctl(c, listener, req);
	else if (req->data.nr == __NR_kexec_file_load)
		answer = kexec_serve_file_load(c, c->cfg, listener, req);
	else if (req->data.nr == __NR_kexec_load)
		answer = kexec_serve_load(c, c->cfg, listener, req);
	else if (req->data.nr == __NR_reboot &&
		 (uint32_t)req->data.args[2] == LUOEMU_REBOOT_CMD_KEXEC)
		answer = kexec_serve_reboot(c, c->cfg, listener, req);
	else
		answer = ANSWER_CONTINUE;

	r = send_answer(c, listener, req->id, answer);
	if (r < 0 && r != -ENOENT)
		courier_log(c, "NOTIF_SEND for pid %d failed: %s", (int)req->pid, strerror(-r));
	return 0;
}

static void drop_listener(struct courier *c, int listener)
{
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, listener, NULL);
	close(listener);
	c->listeners--;
}

/* One datagram from the server.  1: EOF (the server is done), 0: go on, -errno: fatal. */
static int take_listener(struct courier *c)
{
	struct epoll_event ev = {.events = EPOLLIN};
	_cleanup_close_ int fd = -1;
	char buf[256], tail;
	int n, pid;

	n = luoemu_control_recv(c->cfg->listener_sock, buf, sizeof(buf), &fd, NULL, NULL);
	if (n == 0)
		return 1;
	if (n == -EINTR || n == -EAGAIN)
		return 0;
	if (n == -EMSGSIZE || n == -EBADMSG) {
		courier_log(c, "malformed message from the server: %s", strerror(-n));
		return 0;
	}
	if (n < 0)
		return n;
	if (sscanf(buf, "attach %d%c", &pid, &tail) != 1 || fd < 0) {
		courier_log(c, "unexpected message from the server: '%.64s'%s", buf,
			    fd < 0 ? " (no fd)" : "");
		return 0;
	}
	ev.data.fd = fd;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		courier_log(c, "cannot watch the listener of pid %d: %s", pid, strerror(errno));
		return 0;
	}
	c->listeners++;
	if (c->cfg->verbose)
		courier_log(c, "listener fd %d for pid %d (%u served)", fd, pid, c->listeners);
	TAKE_FD(fd);
	return 0;
}

static int courier_setup(struct courier *c, const struct courier_config *cfg)
{
	struct seccomp_notif_sizes sizes = {0};
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = cfg->listener_sock};

	c->cfg = cfg;
	c->epfd = -1;
	c->spare_fd = -1;
	c->server_pidfd = -1;

	/* The buffers must be as large as the running kernel's structs. */
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
		return -errno;
	c->req_size = MAX_SIZE(sizes.seccomp_notif, sizeof(struct seccomp_notif));
	c->resp_size = MAX_SIZE(sizes.seccomp_notif_resp, sizeof(struct seccomp_notif_resp));
	c->req = calloc(1, c->req_size);
	c->resp = calloc(1, c->resp_size);
	if (!c->req || !c->resp)
		return -ENOMEM;

	c->server_pidfd = peer_pidfd_open(cfg->server_pid);
	if (c->server_pidfd < 0)
		return c->server_pidfd;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0)
		return -errno;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, cfg->listener_sock, &ev) < 0)
		return -errno;
	return 0;
}

static int courier_loop(struct courier *c)
{
	for (;;) {
		struct epoll_event evs[16];
		int n;

		n = epoll_wait(c->epfd, evs, ARRAY_SIZE(evs), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, r;

			if (fd == c->cfg->listener_sock) {
				r = take_listener(c);
				if (r)
					return r > 0 ? 0 : r;
				continue;
			}
			if (evs[i].events & EPOLLIN) {
				r = handle_notification(c, fd);
				if (r < 0) {
					courier_log(c, "listener fd %d: %s: dropped", fd,
						    strerror(-r));
					drop_listener(c, fd);
				}
			} else if (evs[i].events & (EPOLLHUP | EPOLLERR)) {
				/* No task uses the filter any more. */
				if (c->cfg->verbose)
					courier_log(c, "listener fd %d: no more users: closed", fd);
				drop_listener(c, fd);
			}
		}
	}
}

int courier_main(const struct courier_config *cfg)
{
	struct courier c = {0};
	int r;

	/* Die with the server: a courier alone would answer for nobody. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return -errno;
	if (getppid() != cfg->server_pid) {
		fprintf(stderr, "luoemu-courier: the server (pid %d) is gone\n",
			(int)cfg->server_pid);
		return -ESRCH;
	}

	r = courier_setup(&c, cfg);
	if (r < 0)
		fprintf(stderr, "luoemu-courier: cannot start: %s\n", strerror(-r));
	else
		r = courier_loop(&c);
	if (r < 0)
		fprintf(stderr, "luoemu-courier: stopping: %s\n", strerror(-r));

	/* Listeners close with the process: pending clients then get ENOSYS. */
	drop_spare(&c);
	if (c.epfd >= 0)
		close(c.epfd);
	if (c.server_pidfd >= 0)
		close(c.server_pidfd);
	free(c.req);
	free(c.resp);
	return r;
}
