// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The objects behind opens of the emulated device, shared by every
 * transport.  Caller memory is reached with process_vm_readv/writev by
 * thread id (src/peer): one round trip per ioctl, whatever the transport.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi/abi.h"
#include "fault/fault.h"
#include "frontend/courier-protocol.h"
#include "frontend/frontend.h"
#include "peer/peer.h"
#include "state/luo.h"
#include "util.h"

enum fe_open_kind {
	FE_OPEN_DEVICE,	 /* a client's open of the device */
	FE_OPEN_SPARE,	 /* a courier's open, not bound yet */
	FE_OPEN_SESSION, /* a session fd: a courier's open, bound */
	FE_OPEN_DEAD,	 /* a spare whose session was undone */
};

struct fe_open {
	enum fe_open_kind kind;
	bool flushed; /* closed by someone, not used since: maybe on its way out */
	struct luo_session *session;
	uint64_t spare_id;
	struct fe_open *next_spare;
	uint32_t bound_cmd; /* the command that bound this spare */
	/* Every open, until its RELEASE: what is left at shutdown is freed by fe_fini(). */
	struct fe_open *all_prev, *all_next;
};

/* What the ABI layer's peer ops need to know about one request. */
struct fe_peer {
	struct luo_frontend *fe;
	pid_t tid;    /* the thread whose memory and fds we use */
	int pidfd;    /* opened on demand */
	bool courier; /* the call came through the courier */
	struct luoemu_courier_call *call;
};

static void count(unsigned long long *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

static bool from_courier(const struct luo_frontend *fe, pid_t tid)
{
	/* The courier is single-threaded (seccomp/courier.c): its only tid is its pid. */
	return fe->courier_pid > 0 && tid == fe->courier_pid;
}

static struct fe_open **find_spare(struct luo_frontend *fe, uint64_t id)
{
	struct fe_open **p;

	for (p = &fe->spares; *p; p = &(*p)->next_spare)
		if ((*p)->spare_id == id)
			return p;
	return NULL;
}

static void unlink_spare(struct luo_frontend *fe, struct fe_open *o)
{
	struct fe_open **p = find_spare(fe, o->spare_id);

	if (p)
		*p = o->next_spare;
	o->next_spare = NULL;
}

/* Under the lock: @o is released. */
static void unlink_all(struct luo_frontend *fe, struct fe_open *o)
{
	if (o->all_prev)
		o->all_prev->all_next = o->all_next;
	else
		fe->all = o->all_next;
	if (o->all_next)
		o->all_next->all_prev = o->all_prev;
	o->all_prev = o->all_next = NULL;
}

/* ---- the ABI layer's view of the caller ---- */

static int peer_op_read(struct luo_abi_call *c, uint64_t addr, void *buf, size_t len)
{
	struct fe_peer *p = c->peer;
	int r = luo_faults_hook(p->fe->faults, LUO_FP_CUSE_READ_ARG);

	return r < 0 ? r : peer_read(p->tid, addr, buf, len);
}

static int peer_op_write(struct luo_abi_call *c, uint64_t addr, const void *buf, size_t len)
{
	struct fe_peer *p = c->peer;

	return peer_write(p->tid, addr, buf, len);
}

static int peer_op_get_fd(struct luo_abi_call *c, int caller_fd)
{
	struct fe_peer *p = c->peer;
	int r = luo_faults_hook(p->fe->faults, LUO_FP_CUSE_GETFD);

	/* A failure goes to the core as the fd, so errors keep the kernel's order. */
	if (r < 0)
		return r;
	if (caller_fd < 0)
		return -EBADF;
	if (p->pidfd < 0) {
		p->pidfd = peer_pidfd_open(p->tid);
		if (p->pidfd < 0)
			return p->pidfd;
	}
	return peer_getfd(p->pidfd, caller_fd);
}

/* Where the kernel allocates the new fd: only a supervised caller, with a spare ready, has one. */
static int peer_op_can_install(struct luo_abi_call *c)
{
	struct fe_peer *p = c->peer;
	uint32_t nr = c->cmd & 0xff;

	if (!p->courier) {
		c->why = "the caller is not supervised; run it as `luoemu run -- PROGRAM` so the "
			 "new fd can be installed";
		return -EPERM;
	}
	/* A session needs the spare it will be bound to (the courier keeps one ready). */
	if (nr < LIVEUPDATE_CMD_SESSION_BASE) {
		bool found;

		pthread_mutex_lock(p->fe->lock);
		found = find_spare(p->fe, p->call->spare_id);
		pthread_mutex_unlock(p->fe->lock);
		if (!found) {
			c->why = "courier: no such spare open";
			return -EAGAIN;
		}
	}
	return 0;
}

/*
 * Under the lock, after a successful CREATE/RETRIEVE_SESSION or RETRIEVE_FD
 * for the courier: bind the new session to the courier's spare, or name the
 * retrieved file for it to take.  On failure the call is undone.
 */
static int hand_over(struct luo_frontend *fe, struct luo_abi_call *c, struct fe_peer *p)
{
	struct luo_abi_result *res = &c->result;
	struct fe_open **sp, *spare;
	struct stat st;
	int r = luo_faults_hook(fe->faults, LUO_FP_COURIER_ADDFD);

	if (r == 0 && res->kind == LUO_ABI_RESULT_SESSION) {
		sp = find_spare(fe, p->call->spare_id);
		if (!sp) {
			r = -EAGAIN;
		} else {
			spare = *sp;
			unlink_spare(fe, spare);
			spare->kind = FE_OPEN_SESSION;
			spare->session = res->session;
			spare->bound_cmd = c->cmd;
			p->call->kind = LUOEMU_COURIER_SESSION;
			return 0;
		}
	} else if (r == 0 && res->kind == LUO_ABI_RESULT_FILE) {
		if (fstat(res->owned_fd, &st) < 0) {
			r = -errno;
		} else {
			/* Ours until the courier has taken it (its next call, at the latest). */
			if (fe->courier_fd >= 0)
				close(fe->courier_fd);
			fe->courier_fd = res->owned_fd;
			res->owned_fd = -1;
			p->call->kind = LUOEMU_COURIER_FILE;
			p->call->server_fd = fe->courier_fd;
			p->call->dev = st.st_dev;
			p->call->ino = st.st_ino;
			p->call->token = res->token;
			p->call->first = res->first;
			return 0;
		}
	} else if (r == 0) {
		r = -EIO;
	}
	luo_abi_undo(fe->luo, res);
	return r;
}

static const struct luo_abi_peer_ops fe_peer_ops = {
	.read = peer_op_read,
	.write = peer_op_write,
	.get_fd = peer_op_get_fd,
	.can_install = peer_op_can_install,
};

/* ---- logging ---- */

static void log_refused(struct luo_frontend *fe, pid_t tid, uint32_t cmd, int err, const char *why)
{
	char comm[32], line[512];
	const char *name = luo_abi_cmd_name(cmd);

	count(&fe->refusals);
	if (!fe->log_refusal)
		return;
	peer_comm(tid, comm, sizeof(comm));
	if (name)
		snprintf(line, sizeof(line), "pid %d (%s): %s on %s: %s%s%s", tid, comm, name,
			 fe->dev_path, strerror(-err), why ? ": " : "", why ?: "");
	else
		snprintf(line, sizeof(line), "pid %d (%s): ioctl 0x%x on %s: %s%s%s", tid, comm,
			 cmd, fe->dev_path, strerror(-err), why ? ": " : "", why ?: "");
	fe->log_refusal(fe->log_data, line);
}

/* ---- opens ---- */

/* Longest wait for the RELEASE of a flushed open (FUSE sends it in the background). */
#define FE_RELEASE_WAIT_MS 500

void fe_init(struct luo_frontend *fe)
{
	pthread_condattr_t attr;

	fe->courier_fd = -1;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&fe->released, &attr);
	pthread_condattr_destroy(&attr);
}

void fe_fini(struct luo_frontend *fe)
{
	/* Opens whose RELEASE never came (the device went away first). */
	for (struct fe_open *o = fe->all, *next; o; o = next) {
		next = o->all_next;
		free(o);
	}
	fe->all = NULL;
	fe->spares = NULL;
	if (fe->courier_fd >= 0)
		close(fe->courier_fd);
	fe->courier_fd = -1;
	pthread_cond_destroy(&fe->released);
}

/*
 * Flush marks are kept with atomics, never the lock: the server itself
 * closes fds of its own filesystem (a client's fd taken for PRESERVE_FD
 * and refused) while it holds the lock, and that close waits for our
 * answer to its FLUSH.
 */
static void mark_flushed(struct luo_frontend *fe, struct fe_open *o)
{
	if (!__atomic_exchange_n(&o->flushed, true, __ATOMIC_ACQ_REL))
		__atomic_add_fetch(&fe->flushed, 1, __ATOMIC_ACQ_REL);
}

/* @o is used again (or gone): its flush was not, or no longer is, pending. */
static bool unflush(struct luo_frontend *fe, struct fe_open *o)
{
	if (!__atomic_exchange_n(&o->flushed, false, __ATOMIC_ACQ_REL))
		return false;
	__atomic_sub_fetch(&fe->flushed, 1, __ATOMIC_ACQ_REL);
	return true;
}

/*
 * Under the lock: wait until no flushed open is left (or the bound passes).
 * True if one was released meanwhile: a conflict may be gone, try again.
 */
static bool wait_for_releases(struct luo_frontend *fe)
{
	struct timespec deadline;
	bool any = false;

	if (!__atomic_load_n(&fe->flushed, __ATOMIC_ACQUIRE))
		return false;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_nsec += FE_RELEASE_WAIT_MS * 1000000L;
	deadline.tv_sec += deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	while (__atomic_load_n(&fe->flushed, __ATOMIC_ACQUIRE)) {
		unsigned int before = __atomic_load_n(&fe->flushed, __ATOMIC_ACQUIRE);

		if (pthread_cond_timedwait(&fe->released, fe->lock, &deadline) != 0)
			break;
		any |= __atomic_load_n(&fe->flushed, __ATOMIC_ACQUIRE) < before;
	}
	return any || !__atomic_load_n(&fe->flushed, __ATOMIC_ACQUIRE);
}

void fe_flush(struct luo_frontend *fe, struct fe_open *o, pid_t tid)
{
	/*
	 * The courier's own closes of a handed-over spare are never the last;
	 * nor are the server's closes of clients' fds it took.
	 */
	if (from_courier(fe, tid) || peer_is_self(tid))
		return;
	mark_flushed(fe, o);
}

int fe_open(struct luo_frontend *fe, pid_t tid, struct fe_open **ret)
{
	struct fe_open *o = calloc(1, sizeof(*o));
	int r = 0;

	if (!o)
		return -ENOMEM;
	pthread_mutex_lock(fe->lock);
	o->all_next = fe->all;
	if (fe->all)
		fe->all->all_prev = o;
	fe->all = o;
	if (from_courier(fe, tid)) {
		/* A spare for a future session: bound by COURIER_CALL, named by WHOAMI. */
		o->kind = FE_OPEN_SPARE;
		o->spare_id = ++fe->next_spare_id;
		o->next_spare = fe->spares;
		fe->spares = o;
	} else {
		o->kind = FE_OPEN_DEVICE;
		r = luo_device_open(fe->luo);
		/* The previous holder may have closed it with its RELEASE still in flight. */
		if (r == -EBUSY && wait_for_releases(fe))
			r = luo_device_open(fe->luo);
	}
	if (r < 0)
		unlink_all(fe, o);
	pthread_mutex_unlock(fe->lock);
	if (r < 0) {
		log_refused(fe, tid, 0, r,
			    r == -EBUSY ? "open: the device is already open" : "open");
		free(o);
		return r;
	}
	*ret = o;
	return 0;
}

void fe_release(struct luo_frontend *fe, struct fe_open *o)
{
	pthread_mutex_lock(fe->lock);
	if (unflush(fe, o))
		pthread_cond_broadcast(&fe->released);
	switch (o->kind) {
	case FE_OPEN_DEVICE:
		luo_device_release(fe->luo);
		break;
	case FE_OPEN_SPARE:
		unlink_spare(fe, o);
		break;
	case FE_OPEN_SESSION:
		/* Once serialized, the state belongs to the next daemon. */
		if (!luo_ctx_going_down(fe->luo))
			luo_session_release(o->session);
		break;
	case FE_OPEN_DEAD:
		break;
	}
	unlink_all(fe, o);
	pthread_mutex_unlock(fe->lock);
	free(o);
}

/* ---- ioctls ---- */

static int dispatch(struct luo_frontend *fe, struct fe_open *o, struct fe_peer *p, uid_t uid,
		    uint32_t cmd, uint64_t arg)
{
	struct luo_abi_call c = {
		.ctx = fe->luo,
		.session = o->kind == FE_OPEN_SESSION ? o->session : NULL,
		.cmd = cmd,
		.arg = arg,
		.ops = &fe_peer_ops,
		.peer = p,
		/* Caller memory is read and written without it: only the model is locked. */
		.lock = fe->lock,
		.caller_uid = uid,
	};
	bool again;
	pid_t tgid;
	int r;

	if (o->kind == FE_OPEN_SPARE || o->kind == FE_OPEN_DEAD)
		return -EINVAL; /* nobody but the courier holds these */
	/* Filters name processes; the transports give thread ids (mapping costs a /proc read). */
	if (!luo_faults_filtering(fe->faults))
		luo_faults_set_client(fe->faults, 0, NULL);
	else if (peer_tgid(p->tid, &tgid) == 0)
		luo_faults_set_client(fe->faults, tgid, NULL);
	count(&fe->requests);
	unflush(fe, o);
	r = luo_abi_ioctl(&c);
	/*
	 * A name in use, a file preserved elsewhere, a session already
	 * retrieved: the holder may have been closed with its RELEASE still in
	 * flight (FUSE).  The kernel would not see it any more; wait and retry.
	 */
	if (r == -EEXIST || r == -EBUSY || r == -EINVAL) {
		pthread_mutex_lock(fe->lock);
		again = wait_for_releases(fe);
		pthread_mutex_unlock(fe->lock);
		if (again) {
			memset(&c.result, 0, sizeof(c.result));
			c.why = NULL;
			r = luo_abi_ioctl(&c);
		}
	}
	if (r == 0 && c.result.kind != LUO_ABI_RESULT_NONE) {
		pthread_mutex_lock(fe->lock);
		r = p->courier ? hand_over(fe, &c, p) : (luo_abi_undo(fe->luo, &c.result), -EPERM);
		pthread_mutex_unlock(fe->lock);
	}
	if (c.result.kind == LUO_ABI_RESULT_FILE && c.result.owned_fd >= 0)
		close(c.result.owned_fd);
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (r < 0 && r != -ESHUTDOWN && r != -EAGAIN)
		log_refused(fe, p->tid, cmd, r, c.why);
	return r;
}

/* COURIER_CALL: the fd it came on is the client's own open, so @o is the client's object. */
static int courier_call(struct luo_frontend *fe, struct fe_open *o, pid_t courier_tid, uint64_t arg)
{
	struct luoemu_courier_call call;
	struct fe_peer p = {.fe = fe, .pidfd = -1, .courier = true, .call = &call};

	int r = peer_read(courier_tid, arg, &call, sizeof(call));

	if (r < 0)
		return r;
	if (call.size != sizeof(call))
		return -EINVAL;
	call.kind = LUOEMU_COURIER_NONE;
	call.server_fd = -1;
	p.tid = call.client_tid;
	call.result = dispatch(fe, o, &p, call.client_uid, call.cmd, call.arg);
	if (call.result == -ESHUTDOWN)
		return -ESHUTDOWN; /* hold the courier, and so its client, as well */
	return peer_write(courier_tid, arg, &call, sizeof(call));
}

static int courier_whoami(struct luo_frontend *fe, struct fe_open *o, pid_t courier_tid,
			  uint64_t arg)
{
	struct luoemu_courier_whoami w = {.size = sizeof(w)};

	if (o->kind != FE_OPEN_SPARE)
		return -EINVAL;
	w.id = o->spare_id;
	return peer_write(courier_tid, arg, &w, sizeof(w));
}

/*
 * COURIER_UNDO: the new fd could not be installed.  Make it as if the call
 * had never run (EMFILE comes first in the kernel, before any change).
 */
static int courier_undo(struct luo_frontend *fe, struct fe_open *o, pid_t courier_tid, uint64_t arg)
{
	struct luoemu_courier_undo u;
	int r = peer_read(courier_tid, arg, &u, sizeof(u));

	if (r < 0)
		return r;
	if (u.size != sizeof(u))
		return -EINVAL;
	pthread_mutex_lock(fe->lock);
	if (o->kind != FE_OPEN_SESSION) {
		r = -EINVAL;
	} else if (u.cmd == LIVEUPDATE_SESSION_RETRIEVE_FD) {
		/* Sent on the client's session fd: the session is alive while the courier holds it.
		 */
		struct luo_abi_result res = {
			.kind = LUO_ABI_RESULT_FILE,
			.cmd = u.cmd,
			.session = o->session,
			.token = u.token,
			.first = u.first,
			.owned_fd = -1,
			.session_id = luo_session_id(o->session),
		};

		luo_abi_undo(fe->luo, &res);
	} else if (u.cmd == o->bound_cmd) {
		/* Sent on the spare the session was bound to: nobody else holds it. */
		struct luo_abi_result res = {
			.kind = LUO_ABI_RESULT_SESSION,
			.cmd = u.cmd,
			.session = o->session,
			.owned_fd = -1,
		};

		o->kind = FE_OPEN_DEAD;
		o->session = NULL;
		luo_abi_undo(fe->luo, &res);
	} else {
		r = -EINVAL;
	}
	pthread_mutex_unlock(fe->lock);
	return r;
}

int fe_ioctl(struct luo_frontend *fe, struct fe_open *o, pid_t tid, uid_t uid, uint32_t cmd,
	     uint64_t arg, bool compat)
{
	struct fe_peer p = {.fe = fe, .tid = tid, .pidfd = -1};

	if (compat) {
		log_refused(fe, tid, cmd, -EINVAL, "32-bit callers are not supported");
		return -EINVAL;
	}
	if (from_courier(fe, tid)) {
		switch (cmd) {
		case LUOEMU_COURIER_CALL:
			return courier_call(fe, o, tid, arg);
		case LUOEMU_COURIER_WHOAMI:
			return courier_whoami(fe, o, tid, arg);
		case LUOEMU_COURIER_UNDO:
			return courier_undo(fe, o, tid, arg);
		}
	}
	return dispatch(fe, o, &p, uid, cmd, arg);
}
