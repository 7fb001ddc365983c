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
#include <linux/kexec.h>
#include <linux/reboot.h>
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
#include "util.h"

#ifndef KEXEC_FILE_DEBUG
#define KEXEC_FILE_DEBUG 0x00000008
#endif
#define KEXEC_FILE_KNOWN_FLAGS                                                                     \
	(KEXEC_FILE_UNLOAD | KEXEC_FILE_ON_CRASH | KEXEC_FILE_NO_INITRAMFS | KEXEC_FILE_DEBUG)
/* Our own bound on the command line; the kernel's x86 limit is 2048. */
#define KEXEC_CMDLINE_MAX 65536

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
	bool image_loaded; /* an emulated kexec_file_load succeeded */
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
static void __attribute__((format(printf, 5, 6)))
notif_log(struct courier *c, const struct seccomp_notif *req, const char *what, int err,
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

/* A kexec image fd: open for reading, a non-empty regular file (as kernel_read_file). */
static int check_image_fd(int pidfd, int fd)
{
	_cleanup_close_ int own = peer_getfd(pidfd, fd);
	struct stat st;
	int fl;

	if (own < 0)
		return -EBADF;
	fl = fcntl(own, F_GETFL);
	if (fl < 0 || (fl & O_PATH) || (fl & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	if (fstat(own, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
		return -EINVAL;
	return 0;
}

/*
 * kexec_file_load(kernel_fd, initrd_fd, cmdline_len, cmdline, flags):
 * checked like the kernel, remembered, never loaded.  No CAP_SYS_BOOT is
 * required: running as a normal user is the point of the emulator.
 */
static int do_kexec_file_load(struct courier *c, int listener, const struct seccomp_notif *req)
{
	static const char what[] = "kexec_file_load";
	const unsigned long flags = req->data.args[4];
	const uint64_t cmdline_len = req->data.args[2];
	_cleanup_close_ int pidfd = -1;
	_cleanup_free_ char *cmdline = NULL;
	int r;

	if (flags & ~(unsigned long)KEXEC_FILE_KNOWN_FLAGS) {
		notif_log(c, req, what, -EINVAL, "unknown flags %#lx", flags);
		return -EINVAL;
	}
	pidfd = peer_pidfd_open(req->pid);
	if (pidfd < 0) {
		if (id_valid(listener, req->id))
			notif_log(c, req, what, pidfd, "cannot open a pidfd");
		return pidfd;
	}
	if (!id_valid(listener, req->id))
		return ANSWER_CONTINUE; /* gone */

	if (flags & KEXEC_FILE_UNLOAD) {
		/* A crash image is never used by the emulation: only track the normal one. */
		if (!(flags & KEXEC_FILE_ON_CRASH))
			c->image_loaded = false;
		if (c->cfg->verbose)
			notif_log(c, req, what, 0, "image unloaded");
		return 0;
	}

	r = check_image_fd(pidfd, (int)req->data.args[0]);
	if (r < 0) {
		notif_log(c, req, what, r, "bad kernel fd %d", (int)req->data.args[0]);
		return r;
	}
	if (!(flags & KEXEC_FILE_NO_INITRAMFS)) {
		r = check_image_fd(pidfd, (int)req->data.args[1]);
		if (r < 0) {
			notif_log(c, req, what, r, "bad initrd fd %d", (int)req->data.args[1]);
			return r;
		}
	}
	if (cmdline_len) {
		if (cmdline_len > KEXEC_CMDLINE_MAX) {
			notif_log(c, req, what, -EINVAL, "command line of %llu bytes",
				  (unsigned long long)cmdline_len);
			return -EINVAL;
		}
		cmdline = malloc(cmdline_len);
		if (!cmdline)
			return -ENOMEM;
		r = peer_read(req->pid, req->data.args[3], cmdline, cmdline_len);
		if (r < 0) {
			notif_log(c, req, what, r, "cannot read the command line");
			return -EFAULT;
		}
		/* The kernel wants the terminating NUL counted in cmdline_len. */
		if (cmdline[cmdline_len - 1]) {
			notif_log(c, req, what, -EINVAL, "command line not NUL-terminated");
			return -EINVAL;
		}
	}
	/* What we read belongs to the notifying task only if it is still pending. */
	if (!id_valid(listener, req->id))
		return ANSWER_CONTINUE;
	if (!(flags & KEXEC_FILE_ON_CRASH))
		c->image_loaded = true;
	if (c->cfg->verbose)
		notif_log(c, req, what, 0,
			  "%s image accepted (emulated; nothing is loaded), cmdline '%s'",
			  flags & KEXEC_FILE_ON_CRASH ? "crash" : "kexec", cmdline ? cmdline : "");
	return 0;
}

/* reboot(magic1, magic2, LINUX_REBOOT_CMD_KEXEC, arg): ask the daemon for the live update. */
static int do_reboot(struct courier *c, int listener, const struct seccomp_notif *req)
{
	static const char what[] = "reboot(KEXEC)";
	const uint32_t magic1 = (uint32_t)req->data.args[0];
	const uint32_t magic2 = (uint32_t)req->data.args[1];
	_cleanup_close_ int sock = -1;
	const char *text;
	char reply[4096];
	int r;

	/* The kernel's checks, in its order (minus CAP_SYS_BOOT). */
	if (magic1 != LINUX_REBOOT_MAGIC1 ||
	    (magic2 != LINUX_REBOOT_MAGIC2 && magic2 != LINUX_REBOOT_MAGIC2A &&
	     magic2 != LINUX_REBOOT_MAGIC2B && magic2 != LINUX_REBOOT_MAGIC2C))
		return -EINVAL;
	if (!c->image_loaded) {
		notif_log(c, req, what, -EINVAL, "no kexec image loaded (kexec_file_load first)");
		return -EINVAL;
	}
	/* A live update has effects: act only for a task still waiting. */
	if (!id_valid(listener, req->id))
		return ANSWER_CONTINUE;

	sock = luoemu_control_connect(c->cfg->control_socket);
	if (sock < 0) {
		notif_log(c, req, what, sock, "cannot reach the daemon at %s",
			  c->cfg->control_socket);
		return sock;
	}
	r = luoemu_control_request(sock, "kexec", -1, reply, sizeof(reply));
	if (r < 0) {
		notif_log(c, req, what, r, "no answer from the daemon");
		return r;
	}
	r = luoemu_control_parse_reply(reply, &text);
	if (r < 0) {
		notif_log(c, req, what, r, "refused by the daemon: %s", text);
		return r;
	}
	c->image_loaded = false; /* the "new kernel" starts with no image */
	if (c->cfg->verbose)
		notif_log(c, req, what, 0, "live update done");
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
		answer = do_kexec_file_load(c, listener, req);
	else if (req->data.nr == __NR_reboot &&
		 (uint32_t)req->data.args[2] == LUOEMU_REBOOT_CMD_KEXEC)
		answer = do_reboot(c, listener, req);
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
