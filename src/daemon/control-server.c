// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The daemon's side of the control protocol (control/control.h).  The
 * connection engine (control/server.h) serves every connection at once
 * from one thread, with a deadline and per-uid quotas; this file decides
 * who may ask what (the verb table) and does it.  Authorization comes from
 * the kernel-proved credentials of the connection at request time
 * (SO_PEERCRED, and a pidfd of the very process that connected), never
 * from a pid remembered from before.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "control/control.h"
#include "control/peercred.h"
#include "control/request.h"
#include "control/server.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/status.h"
#include "util.h"

#define ATTACH_PER_UID 1024 /* generous: one VMM attaches a handful of processes */

struct control_server {
	struct daemon *d;
	struct luoemu_server *srv;
	unsigned int attach_per_uid;
	/* The live update runs in its own thread, off the other connections' path. */
	pthread_t kexec_thread;
	bool kexec_started; /* only the control thread and control_server_stop() read it */
	bool kexec_done;    /* atomic: the thread has replied; a refused one may be retried */
	bool stopping;	    /* atomic: control_server_stop() began; no new live update */
};

/* Who may ask for a verb, from the requester's own credentials. */
enum who {
	ANYONE,
	OWNER,	 /* root or the daemon's own uid (in per-user mode: its user) */
	SYS_BOOT /* CAP_SYS_BOOT, as the kernel's kexec_file_load/reboot; or the owner */
};

struct verb {
	const char *name;
	enum who who;
	void (*handle)(struct control_server *cs, struct luoemu_request *req, char *args);
};

static bool is_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* May the process behind @pidfd (of uid @uid) end userspace with a kexec? */
static int may_kexec(int pidfd, uid_t uid)
{
	uint64_t caps;
	uid_t euid;
	int r;

	if (is_owner(uid))
		return 0;
	if (pidfd < 0)
		return -ESRCH;
	r = luoemu_pidfd_creds(pidfd, &caps, &euid);
	if (r < 0)
		return r;
	return caps & (1ull << CAP_SYS_BOOT) ? 0 : -EPERM;
}

/* ---- attach ---- */

static unsigned int attached_by(struct daemon *d, uid_t uid)
{
	unsigned int n = 0;

	for (const struct client *c = d->clients; c; c = c->next) {
		struct pollfd p = {.fd = c->pidfd, .events = POLLIN};

		/* An exited process (readable pidfd) no longer counts, pruned or not. */
		n += c->uid == uid && poll(&p, 1, 0) == 0;
	}
	return n;
}

/*
 * A supervised process hands over its seccomp listener.  It can register
 * only itself: the peer's pidfd (not its pid) goes on the list of
 * processes the emulated kexec ends, so a dead or reused pid is never hit.
 */
static void verb_attach(struct control_server *cs, struct luoemu_request *req, char *args)
{
	struct daemon *d = cs->d;
	const struct luoemu_peer *peer = &req->peer;
	struct client *c;
	char why[128], msg[64];
	pid_t pid;
	int r;

	r = luoemu_parse_attach_args(args, &pid, why, sizeof(why));
	if (r < 0) {
		log_refusal("attach from uid %u refused: %s", (unsigned int)peer->uid, why);
		luoemu_control_reply(req->conn, EINVAL, "%s", why);
		return;
	}
	if (!peer->alive) {
		log_refusal("attach from uid %u refused: the connecting process (pid %d) is gone",
			    (unsigned int)peer->uid, peer->pid);
		luoemu_control_reply(req->conn, ESRCH, "the process that connected is gone");
		return;
	}
	/* A per-user daemon belongs to its user: nobody else is served by it. */
	if (d->cfg.scope == LUOEMU_SCOPE_USER && !is_owner(peer->uid)) {
		log_refusal("attach from pid %d (uid %u) refused: this per-user daemon is uid %u's",
			    peer->pid, (unsigned int)peer->uid, (unsigned int)geteuid());
		luoemu_control_reply(req->conn, EPERM,
				     "this per-user daemon belongs to another user");
		return;
	}
	if (pid && pid != peer->pid) {
		log_refusal("attach from pid %d (uid %u) for pid %d refused: only itself",
			    peer->pid, (unsigned int)peer->uid, pid);
		luoemu_control_reply(req->conn, EPERM, "a process may attach only itself");
		return;
	}
	if (req->fd < 0 || luoemu_fd_is_seccomp_listener(req->fd) != 1) {
		log_refusal("attach from pid %d refused: no seccomp listener fd", peer->pid);
		luoemu_control_reply(req->conn, EINVAL, "attach needs a seccomp listener fd");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		luoemu_control_reply(req->conn, ENOMEM, NULL);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (attached_by(d, peer->uid) >= cs->attach_per_uid) {
		pthread_mutex_unlock(&d->lock);
		free(c);
		log_refusal("attach from pid %d refused: uid %u has %u supervised processes",
			    peer->pid, (unsigned int)peer->uid, cs->attach_per_uid);
		luoemu_control_reply(req->conn, EAGAIN, "too many supervised processes for uid %u",
				     (unsigned int)peer->uid);
		return;
	}
	/* The courier learns the pid from here; it never blocks us (EAGAIN: busy). */
	snprintf(msg, sizeof(msg), "attach %d", peer->pid);
	r = luoemu_control_send(d->courier_sock, msg, req->fd);
	if (r < 0) {
		pthread_mutex_unlock(&d->lock);
		free(c);
		log_msg(LOG_ERR, "forwarding the listener of pid %d to the courier: %s", peer->pid,
			strerror(-r));
		luoemu_control_reply(req->conn, r == -EAGAIN ? EAGAIN : -r,
				     r == -EAGAIN ? "the courier is busy" : "the courier is gone");
		return;
	}
	c->pid = peer->pid;
	c->uid = peer->uid;
	c->pidfd = TAKE_FD(req->peer.pidfd);
	c->next = d->clients;
	d->clients = c;
	pthread_mutex_unlock(&d->lock);
	log_msg(LOG_DEBUG, "pid %d (uid %u) attached", c->pid, (unsigned int)c->uid);
	luoemu_control_reply(req->conn, 0, NULL);
}

/* ---- kexec ---- */

/* "Userspace dies at kexec": end every launched process.  Under d->lock. */
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

struct kexec_job {
	struct control_server *cs;
	int conn;
	struct handover_request req;
	char binary[PATH_MAX];
};

/*
 * The emulated reboot(LINUX_REBOOT_CMD_KEXEC): serialize, end userspace,
 * then make the main loop exit so the CUSE device goes away and we exec.
 */
static void *kexec_main(void *data)
{
	struct kexec_job *job = data;
	struct control_server *cs = job->cs;
	struct daemon *d = cs->d;
	char why[512] = "";
	unsigned int killed = 0;
	uint64_t next;
	int r;

	if (job->binary[0])
		job->req.binary = job->binary;
	pthread_mutex_lock(&d->lock);
	if (d->handover.pending) {
		r = -EBUSY;
		snprintf(why, sizeof(why), "a live update is already in progress");
	} else if (__atomic_load_n(&cs->stopping, __ATOMIC_ACQUIRE)) {
		/* The stop came first: nothing is committed, nothing is lost. */
		r = -ESHUTDOWN;
		snprintf(why, sizeof(why), "the daemon is stopping");
	} else {
		r = handover_prepare(d, &job->req, why, sizeof(why));
	}
	if (r == 0) {
		d->handover.pending = true;
		snprintf(d->handover.binary, sizeof(d->handover.binary), "%s", job->binary);
		if (!job->req.keep_clients)
			killed = kill_clients(d);
	}
	next = luo_ctx_liveupdate_count(d->luo) + 1;
	pthread_mutex_unlock(&d->lock);
	if (r < 0) {
		log_msg(LOG_ERR, "live update refused: %s", why);
		luoemu_control_reply(job->conn, -r, "%s", why);
	} else {
		log_msg(LOG_INFO, "live update #%llu: %u supervised processes ended; restarting",
			(unsigned long long)next, killed);
		luoemu_control_reply(job->conn, 0, "liveupdate_count %llu\ninstance %llu",
				     (unsigned long long)next, (unsigned long long)d->instance);
	}
	close(job->conn);
	free(job);
	__atomic_store_n(&cs->kexec_done, true, __ATOMIC_RELEASE);
	/*
	 * libfuse ends its loop on SIGTERM; main() then sees handover.pending.
	 * It must stop the control server (control_server_stop() waits for this
	 * thread) before it looks at handover.pending, so that a SIGTERM from
	 * outside during the serialization never loses committed state.
	 */
	if (r == 0 && !__atomic_load_n(&cs->stopping, __ATOMIC_ACQUIRE))
		kill(getpid(), SIGTERM);
	return NULL;
}

/* Whose kexec is it?  The peer's own, or the trapped task the courier relays. */
static int kexec_authorize(struct control_server *cs, struct luoemu_request *req,
			   const struct luoemu_kexec_args *ka, char *why, size_t why_len)
{
	const struct luoemu_peer *peer = &req->peer;
	int r, subject;

	if (!ka->on_behalf) {
		r = may_kexec(peer->alive ? peer->pidfd : -1, peer->uid);
		return r < 0 ? why_err(why, why_len, -EPERM, "kexec needs CAP_SYS_BOOT") : 0;
	}
	/* Only our courier relays, and it names the task with a pidfd. */
	if (!peer->alive || peer->pid != cs->d->courier_pid || peer->uid != geteuid())
		return why_err(why, why_len, -EPERM, "only the courier relays a kexec");
	subject = req->fd >= 0 ? luoemu_pidfd_pid(req->fd) : -EBADF;
	if (subject < 0)
		return why_err(why, why_len, subject == -ESRCH ? -ESRCH : -EINVAL,
			       "on-behalf needs the trapped task's pidfd");
	{
		uint64_t caps;
		uid_t euid;

		r = luoemu_pidfd_creds(req->fd, &caps, &euid);
		if (r < 0)
			return why_err(why, why_len, r, "the trapped task %d is gone", subject);
		if (!is_owner(euid) && !(caps & (1ull << CAP_SYS_BOOT)))
			return why_err(why, why_len, -EPERM, "pid %d (uid %u) lacks CAP_SYS_BOOT",
				       subject, (unsigned int)euid);
	}
	return 0;
}

static void verb_kexec(struct control_server *cs, struct luoemu_request *req, char *args)
{
	struct daemon *d = cs->d;
	struct luoemu_kexec_args ka;
	struct kexec_job *job;
	char why[256] = "";
	int r;

	r = luoemu_parse_kexec_args(args, &ka, why, sizeof(why));
	if (r == 0)
		r = kexec_authorize(cs, req, &ka, why, sizeof(why));
	if (r == 0 && ka.binary && access(ka.binary, X_OK) < 0)
		r = why_err(why, sizeof(why), -errno, "%.200s is not executable", ka.binary);
	if (r == 0 && cs->kexec_started && __atomic_load_n(&cs->kexec_done, __ATOMIC_ACQUIRE)) {
		pthread_join(cs->kexec_thread, NULL); /* it failed: it has returned by now */
		cs->kexec_started = false;
	}
	if (r == 0 && cs->kexec_started)
		r = why_err(why, sizeof(why), -EBUSY, "a live update is already in progress");
	if (r < 0) {
		log_refusal("kexec from pid %d (uid %u) refused: %s", req->peer.pid,
			    (unsigned int)req->peer.uid, why);
		luoemu_control_reply(req->conn, -r, "%s", why);
		return;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		luoemu_control_reply(req->conn, ENOMEM, NULL);
		return;
	}
	job->cs = cs;
	job->req = (struct handover_request){
		.mode = ka.mode == LUOEMU_KEXEC_MODE_EXEC   ? HANDOVER_EXEC
			: ka.mode == LUOEMU_KEXEC_MODE_COPY ? HANDOVER_COPY
							    : d->cfg.handover_mode,
		.keep_clients = ka.keep_clients,
	};
	snprintf(job->binary, sizeof(job->binary), "%s", ka.binary ?: "");
	job->conn = req->conn;
	__atomic_store_n(&cs->kexec_done, false, __ATOMIC_RELEASE);
	r = -pthread_create(&cs->kexec_thread, NULL, kexec_main, job);
	if (r < 0) {
		free(job);
		luoemu_control_reply(req->conn, -r, "cannot start the live update");
		return;
	}
	cs->kexec_started = true;
	req->conn = -1; /* the kexec thread replies and closes it */
}

/* ---- status, fault ---- */

/* @uid: the caller's; the command line of a loaded kexec image is the owner's to see. */
static void handle_status(struct daemon *d, int conn, uid_t uid)
{
	status_reply(d, conn, uid);
}

static void verb_status(struct control_server *cs, struct luoemu_request *req, char *args)
{
	(void)args;
	handle_status(cs->d, req->conn, req->peer.uid);
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

static void verb_fault(struct control_server *cs, struct luoemu_request *req, char *args)
{
	handle_fault(cs->d, req->conn, args);
}

/*
 * The emulated kexec image (daemon/kexec-image.c): loads and the reboot
 * come from the courier only, with the trapped task's credentials, and the
 * image state decides; a granted reboot runs the update as `kexec` does.
 */
static void kexec_image_verb(struct control_server *cs, struct luoemu_request *req,
			     const char *verb, char *args)
{
	if (kexec_image_request(cs->d, req->conn, verb, &args, req->peer.pid, req->peer.uid) ==
	    KEXEC_IMAGE_RUN_UPDATE)
		verb_kexec(cs, req, args);
}

static void verb_kexec_load(struct control_server *cs, struct luoemu_request *req, char *args)
{
	kexec_image_verb(cs, req, "kexec-load", args);
}

static void verb_kexec_reboot(struct control_server *cs, struct luoemu_request *req, char *args)
{
	kexec_image_verb(cs, req, "kexec-reboot", args);
}

static void verb_kexec_status(struct control_server *cs, struct luoemu_request *req, char *args)
{
	kexec_image_verb(cs, req, "kexec-status", args);
}

/* ---- dispatch ---- */

static const struct verb verbs[] = {
	{"status", ANYONE, verb_status},
	{"attach", ANYONE, verb_attach},
	{"fault", OWNER, verb_fault},	 /* the kernel's fault_attr is root's */
	{"kexec", SYS_BOOT, verb_kexec}, /* checked in kexec_authorize(): it may relay */
	/* kexec_image_request() admits only the courier for load and reboot. */
	{"kexec-load", ANYONE, verb_kexec_load},
	{"kexec-reboot", ANYONE, verb_kexec_reboot},
	{"kexec-status", ANYONE, verb_kexec_status},
};

static void on_request(void *data, struct luoemu_request *req)
{
	struct control_server *cs = data;
	const struct verb *v = NULL;
	char *verb, *args;

	if (luoemu_request_split(req->text, &verb, &args) < 0) {
		luoemu_control_reply(req->conn, EINVAL, "empty request");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(verbs) && !v; i++)
		if (strcmp(verbs[i].name, verb) == 0)
			v = &verbs[i];
	if (!v) {
		luoemu_control_reply(req->conn, EOPNOTSUPP, "unknown request '%.64s'", verb);
		return;
	}
	if (v->who == OWNER && !is_owner(req->peer.uid)) {
		log_refusal("'%s' from uid %u refused: it needs root", v->name,
			    (unsigned int)req->peer.uid);
		luoemu_control_reply(req->conn, EPERM, "'%s' needs root", v->name);
		return;
	}
	v->handle(cs, req, args);
}

/* Forget launched processes that have exited (their pidfd is readable). */
static void prune_clients(void *data)
{
	struct daemon *d = ((struct control_server *)data)->d;

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

static void engine_log(void *data, int prio, const char *msg)
{
	(void)data;
	if (prio >= LOG_NOTICE)
		log_refusal("%s", msg); /* a client's doing: rate-limited */
	else
		log_msg(prio, "%s", msg);
}

static void *control_main(void *data)
{
	struct control_server *cs = data;
	int r = luoemu_server_run(cs->srv);

	if (r < 0)
		log_msg(LOG_ERR, "control server: %s", strerror(-r));
	return NULL;
}

/* LUOEMU_ATTACH_QUOTA: the per-uid attach quota (tests; the default suits a VMM). */
static unsigned int attach_quota(void)
{
	const char *s = getenv("LUOEMU_ATTACH_QUOTA");
	char *end;
	unsigned long v;

	if (!s || !*s)
		return ATTACH_PER_UID;
	v = strtoul(s, &end, 10);
	if (*end || v == 0 || v > 1u << 20) {
		log_msg(LOG_WARNING, "ignoring LUOEMU_ATTACH_QUOTA=%s", s);
		return ATTACH_PER_UID;
	}
	return (unsigned int)v;
}

int control_server_start(struct daemon *d)
{
	static const struct luoemu_server_ops ops = {
		.request = on_request,
		.tick = prune_clients,
		.log = engine_log,
	};
	struct control_server *cs;
	int r;

	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	cs->d = d;
	cs->attach_per_uid = attach_quota();
	/* Anyone may connect: every verb checks its caller (the verb table). */
	d->control_fd = luoemu_control_listen(d->cfg.control_socket, 0666);
	if (d->control_fd < 0) {
		r = d->control_fd;
		free(cs);
		return r;
	}
	r = luoemu_server_new(d->control_fd, NULL, &ops, cs, &cs->srv);
	if (r == 0)
		r = -pthread_create(&d->control_thread, NULL, control_main, cs);
	if (r < 0) {
		luoemu_server_free(cs->srv);
		free(cs);
		close(d->control_fd);
		d->control_fd = -1;
		return r;
	}
	d->control = cs;
	return 0;
}

/*
 * Stop serving; wait for a live update in flight.  After this returns,
 * d->handover.pending is final: main() decides on the exec only then.
 */
void control_server_stop(struct daemon *d)
{
	struct control_server *cs = d->control;

	if (!cs)
		return;
	__atomic_store_n(&cs->stopping, true, __ATOMIC_RELEASE);
	luoemu_server_stop(cs->srv);
	pthread_join(d->control_thread, NULL);
	if (cs->kexec_started)
		pthread_join(cs->kexec_thread, NULL);
	luoemu_server_free(cs->srv);
	free(cs);
	d->control = NULL;
	close(d->control_fd);
	d->control_fd = -1;
	unlink(d->cfg.control_socket);
}
