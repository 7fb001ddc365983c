// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The daemon's side of the control protocol (control/control.h): one
 * thread, one request at a time.  Only root or the daemon's own uid may
 * ask for anything but "attach" and "status".
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "control/control.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/status.h"
#include "util.h"

static void track_client(struct daemon *d, pid_t pid);

static void handle_attach(struct daemon *d, int conn, const char *args, int fd, pid_t pid)
{
	char msg[64];
	int r;

	if (fd < 0) {
		luoemu_control_reply(conn, EINVAL, "attach needs a seccomp listener fd");
		return;
	}
	/* The courier learns the client's pid from the kernel-checked credentials. */
	snprintf(msg, sizeof(msg), "attach %d", pid);
	r = luoemu_control_send(d->courier_sock, msg, fd);
	if (r < 0) {
		log_msg(LOG_ERR, "forwarding the listener of pid %d to the courier: %s", pid,
			strerror(-r));
		luoemu_control_reply(conn, -r, "the courier is gone");
		return;
	}
	track_client(d, pid);
	log_msg(LOG_DEBUG, "pid %d attached", pid);
	luoemu_control_reply(conn, 0, NULL);
}

/* Remember a launched process by pidfd, so a reused pid is never killed. */
static void track_client(struct daemon *d, pid_t pid)
{
	struct client *c = calloc(1, sizeof(*c));

	if (!c)
		return;
	c->pid = pid;
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (c->pidfd < 0) {
		free(c);
		return;
	}
	pthread_mutex_lock(&d->lock);
	c->next = d->clients;
	d->clients = c;
	pthread_mutex_unlock(&d->lock);
}

/* "Userspace dies at kexec": end every launched process. */
static unsigned int kill_clients(struct daemon *d)
{
	unsigned int n = 0;

	for (struct client *c = d->clients, *next; c; c = next) {
		next = c->next;
		if (syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0) == 0)
			n++;
		close(c->pidfd);
		free(c);
	}
	d->clients = NULL;
	return n;
}

static int parse_kexec_args(struct daemon *d, char *args, struct handover_request *req, int conn)
{
	char *tok, *save = NULL;

	*req = (struct handover_request){.mode = d->cfg.handover_mode};
	for (tok = strtok_r(args, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (strncmp(tok, "mode=", 5) == 0) {
			if (handover_parse_mode(tok + 5, &req->mode) < 0) {
				luoemu_control_reply(conn, EINVAL, "mode must be exec or copy");
				return -EINVAL;
			}
		} else if (strncmp(tok, "binary=", 7) == 0 && tok[7] == '/') {
			req->binary = tok + 7;
		} else if (strcmp(tok, "keep-clients") == 0) {
			req->keep_clients = true;
		} else {
			luoemu_control_reply(conn, EINVAL, "unknown kexec argument '%s'", tok);
			return -EINVAL;
		}
	}
	if (req->binary && access(req->binary, X_OK) < 0) {
		luoemu_control_reply(conn, errno, "%s is not executable", req->binary);
		return -errno;
	}
	return 0;
}

/*
 * The emulated reboot(LINUX_REBOOT_CMD_KEXEC): serialize, end userspace,
 * then make the main loop exit so the CUSE device goes away and we exec.
 */
static void handle_kexec(struct daemon *d, int conn, char *args)
{
	struct handover_request req;
	char why[512] = "";
	unsigned int killed = 0;
	uint64_t next;
	int r;

	if (parse_kexec_args(d, args, &req, conn) < 0)
		return;
	pthread_mutex_lock(&d->lock);
	if (d->handover.pending) {
		pthread_mutex_unlock(&d->lock);
		luoemu_control_reply(conn, EBUSY, "a live update is already in progress");
		return;
	}
	r = handover_prepare(d, &req, why, sizeof(why));
	if (r == 0) {
		d->handover.pending = true;
		snprintf(d->handover.binary, sizeof(d->handover.binary), "%s", req.binary ?: "");
		if (!req.keep_clients)
			killed = kill_clients(d);
	}
	next = luo_ctx_liveupdate_count(d->luo) + 1;
	pthread_mutex_unlock(&d->lock);
	if (r < 0) {
		log_msg(LOG_ERR, "live update refused: %s", why);
		luoemu_control_reply(conn, -r, "%s", why);
		return;
	}
	log_msg(LOG_INFO, "live update #%llu: %u supervised processes ended; restarting",
		(unsigned long long)next, killed);
	luoemu_control_reply(conn, 0, "liveupdate_count %llu\ninstance %llu",
			     (unsigned long long)next, (unsigned long long)d->instance);
	/* libfuse ends its loop on SIGTERM; main() then sees handover.pending. */
	kill(getpid(), SIGTERM);
}

static void handle_status(struct daemon *d, int conn, uid_t uid)
{
	status_reply(d, conn, uid);
}

/* `luoemu fault set SPEC | clear [POINT|all] | list` */
static void handle_fault(struct daemon *d, int conn, char *args)
{
	_cleanup_free_ char *list = NULL;
	char why[256] = "", *sub, *rest;
	int r;

	sub = strtok_r(args, " ", &rest);
	if (sub && strcmp(sub, "set") == 0) {
		r = luo_faults_set(d->faults, rest ?: "", why, sizeof(why));
		if (r == 0)
			log_msg(LOG_NOTICE, "fault armed: %s", rest);
		luoemu_control_reply(conn, r, "%s", r < 0 ? why : "");
	} else if (sub && strcmp(sub, "clear") == 0) {
		r = luo_faults_clear(d->faults, rest && *rest ? rest : NULL);
		luoemu_control_reply(conn, r, r < 0 ? "unknown fault point" : NULL);
	} else if (!sub || strcmp(sub, "list") == 0) {
		list = malloc(LUO_FAULTS_LIST_MAX);
		if (!list) {
			luoemu_control_reply(conn, ENOMEM, NULL);
			return;
		}
		r = luo_faults_list(d->faults, list, LUO_FAULTS_LIST_MAX);
		luoemu_control_reply(conn, r == -ENOBUFS ? 0 : r, "%s", list);
	} else {
		luoemu_control_reply(
			conn, EINVAL,
			"usage: fault set POINT [key=value...] | clear [POINT|all] | list");
	}
}

void control_server_handle(struct daemon *d, int conn)
{
	char buf[LUOEMU_CONTROL_MAX];
	_cleanup_close_ int fd = -1;
	char *verb, *args;
	pid_t pid;
	uid_t uid;
	int r;

	r = luoemu_control_recv(conn, buf, sizeof(buf), &fd, &pid, &uid);
	if (r < 0) {
		if (r != -ECONNRESET)
			log_msg(LOG_NOTICE, "control: bad request: %s", strerror(-r));
		return;
	}
	verb = strtok_r(buf, " ", &args);
	if (!verb) {
		luoemu_control_reply(conn, EINVAL, "empty request");
		return;
	}
	if (strcmp(verb, "attach") == 0)
		handle_attach(d, conn, args, fd, pid);
	else if (strcmp(verb, "status") == 0)
		handle_status(d, conn, uid);
	else if (strncmp(verb, "kexec-", 6) == 0) {
		if (kexec_image_request(d, conn, verb, &args, pid, uid) == KEXEC_IMAGE_RUN_UPDATE)
			handle_kexec(d, conn, args);
	} else if (uid != 0 && uid != geteuid())
		luoemu_control_reply(conn, EPERM, "'%s' needs root", verb);
	else if (strcmp(verb, "kexec") == 0)
		handle_kexec(d, conn, args);
	else if (strcmp(verb, "fault") == 0)
		handle_fault(d, conn, args);
	else
		luoemu_control_reply(conn, EOPNOTSUPP, "unknown request '%s'", verb);
}

/* Forget launched processes that have exited (their pidfd is readable). */
static void prune_clients(struct daemon *d)
{
	pthread_mutex_lock(&d->lock);
	for (struct client **pc = &d->clients, *c; (c = *pc);) {
		struct pollfd p = {.fd = c->pidfd, .events = POLLIN};

		if (poll(&p, 1, 0) == 1) {
			*pc = c->next;
			close(c->pidfd);
			free(c);
		} else {
			pc = &c->next;
		}
	}
	pthread_mutex_unlock(&d->lock);
}

static void *control_main(void *data)
{
	struct daemon *d = data;

	for (;;) {
		struct pollfd p = {.fd = d->control_fd, .events = POLLIN};
		int conn, n;

		/* Wake up now and then to let go of exited clients' pidfds. */
		n = poll(&p, 1, 1000);
		if ((n < 0 && errno != EINTR) ||
		    __atomic_load_n(&d->control_stopping, __ATOMIC_ACQUIRE))
			break;
		prune_clients(d);
		if (n <= 0)
			continue;
		if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
			break; /* shut down */
		conn = accept4(d->control_fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
				continue;
			break; /* shut down */
		}
		control_server_handle(d, conn);
		close(conn);
	}
	return NULL;
}

int control_server_start(struct daemon *d)
{
	int r;

	/* Anyone may attach (the node's mode is the access control); 0666. */
	d->control_fd = luoemu_control_listen(d->cfg.control_socket, 0666);
	if (d->control_fd < 0)
		return d->control_fd;
	r = -pthread_create(&d->control_thread, NULL, control_main, d);
	if (r < 0) {
		close(d->control_fd);
		d->control_fd = -1;
	}
	return r;
}

void control_server_stop(struct daemon *d)
{
	if (d->control_fd < 0)
		return;
	__atomic_store_n(&d->control_stopping, true, __ATOMIC_RELEASE);
	shutdown(d->control_fd, SHUT_RDWR);
	pthread_join(d->control_thread, NULL);
	close(d->control_fd);
	d->control_fd = -1;
	unlink(d->cfg.control_socket);
}
