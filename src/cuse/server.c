// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * CUSE transport.  _IO commands carry no size, so the device runs in
 * unrestricted-ioctl mode and the caller's struct is read and written with
 * process_vm_readv/writev (one round trip).  The dispatch itself is the
 * transport-neutral ABI layer; this file only knows who is calling.
 */
#define FUSE_USE_VERSION 312
#include <cuse_lowlevel.h>
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi/abi.h"
#include "cuse/priv.h"
#include "cuse/server.h"
#include "daemon/log.h"
#include "fault/fault.h"
#include "peer/peer.h"
#include "util.h"

enum open_kind {
	OPEN_DEVICE,  /* a client's open of the device */
	OPEN_SESSION, /* a session fd: an open made by the courier, bound */
};

struct open_obj {
	enum open_kind kind;
	struct luo_session *session;
};

/* What the ABI layer's peer ops need to know about one request. */
struct cuse_peer {
	struct cuse_server *cs;
	pid_t tid;    /* the thread whose memory and fds we use */
	int pidfd;    /* opened on demand */
	bool courier; /* the call came through the courier */
	struct luoemu_priv_call *priv;
};

static struct cuse_server *server_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static int peer_op_read(struct luo_abi_call *c, uint64_t addr, void *buf, size_t len)
{
	struct cuse_peer *p = c->peer;
	int r = luo_faults_hook(p->cs->faults, LUO_FP_CUSE_READ_ARG);

	return r < 0 ? r : peer_read(p->tid, addr, buf, len);
}

static int peer_op_write(struct luo_abi_call *c, uint64_t addr, const void *buf, size_t len)
{
	struct cuse_peer *p = c->peer;

	return peer_write(p->tid, addr, buf, len);
}

static int peer_op_get_fd(struct luo_abi_call *c, int caller_fd)
{
	struct cuse_peer *p = c->peer;

	int r = luo_faults_hook(p->cs->faults, LUO_FP_CUSE_GETFD);

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

static int peer_op_can_install(struct luo_abi_call *c)
{
	struct cuse_peer *p = c->peer;

	if (p->courier)
		return 0;
	c->why = "the caller is not supervised; run it as `luoemu run -- PROGRAM` so the new fd "
		 "can be installed";
	return -EPERM;
}

static int peer_op_park(struct luo_abi_call *c, struct luo_session *s, int fd)
{
	struct cuse_peer *p = c->peer;
	struct cuse_server *cs = p->cs;
	struct stat st;
	int r;

	if (!p->courier)
		return -EPERM;
	r = luo_faults_hook(cs->faults, LUO_FP_COURIER_ADDFD);
	if (r < 0)
		return r;
	if (s) {
		/* One courier, one call at a time: a stale slot is a dead courier's. */
		if (cs->parked_session)
			luo_session_release(cs->parked_session);
		cs->parked_session = s;
		p->priv->kind = LUOEMU_PRIV_SESSION;
		return 0;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	p->priv->kind = LUOEMU_PRIV_FILE;
	p->priv->server_fd = fd;
	p->priv->dev = st.st_dev;
	p->priv->ino = st.st_ino;
	return 0;
}

static const struct luo_abi_peer_ops cuse_peer_ops = {
	.read = peer_op_read,
	.write = peer_op_write,
	.get_fd = peer_op_get_fd,
	.can_install = peer_op_can_install,
	.park = peer_op_park,
};

/* The courier is single-threaded (seccomp/courier.c): its only tid is its pid. */
static bool from_courier(struct cuse_server *cs, pid_t tid)
{
	return cs->courier_pid > 0 && tid == cs->courier_pid;
}

static void log_refused(struct cuse_server *cs, pid_t tid, uint32_t cmd, int err, const char *why)
{
	char comm[32];
	const char *name = luo_abi_cmd_name(cmd);

	cs->refusals++;
	peer_comm(tid, comm, sizeof(comm));
	if (name)
		log_refusal("pid %d (%s): %s on /dev/%s: %s%s%s", tid, comm, name, cs->dev_name,
			    strerror(-err), why ? ": " : "", why ?: "");
	else
		log_refusal("pid %d (%s): ioctl 0x%x on /dev/%s: %s%s%s", tid, comm, cmd,
			    cs->dev_name, strerror(-err), why ? ": " : "", why ?: "");
}

/* Run one LUO ioctl for @tid against the object behind an open. */
static int dispatch(struct cuse_server *cs, struct open_obj *o, struct cuse_peer *p, uint32_t cmd,
		    uint64_t arg)
{
	struct luo_abi_call c = {
		.ctx = cs->luo,
		.session = o->kind == OPEN_SESSION ? o->session : NULL,
		.cmd = cmd,
		.arg = arg,
		.ops = &cuse_peer_ops,
		.peer = p,
	};
	pid_t tgid;
	int r;

	/* Filters name processes; FUSE gives thread ids (mapping costs a /proc read). */
	if (!luo_faults_filtering(cs->faults))
		luo_faults_set_client(cs->faults, 0, NULL);
	else if (peer_tgid(p->tid, &tgid) == 0)
		luo_faults_set_client(cs->faults, tgid, NULL);
	pthread_mutex_lock(cs->lock);
	cs->requests++;
	r = luo_abi_ioctl(&c);
	pthread_mutex_unlock(cs->lock);
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (r < 0 && r != -ESHUTDOWN)
		log_refused(cs, p->tid, cmd, r, c.why);
	return r;
}

/*
 * LUOEMU_PRIV_CALL from the courier: the fd it was sent on is the client's
 * own open (fetched with pidfd_getfd), so fi->fh names the client's object.
 */
static int priv_call(struct cuse_server *cs, struct open_obj *o, pid_t courier_tid, uint64_t arg)
{
	struct luoemu_priv_call call;
	struct cuse_peer p = {.cs = cs, .pidfd = -1, .courier = true, .priv = &call};
	int r;

	r = peer_read(courier_tid, arg, &call, sizeof(call));
	if (r < 0)
		return r;
	if (call.size != sizeof(call))
		return -EINVAL;
	call.kind = LUOEMU_PRIV_NONE;
	call.server_fd = -1;
	p.tid = call.client_tid;
	call.result = dispatch(cs, o, &p, call.cmd, call.arg);
	if (call.result == -ESHUTDOWN)
		return -ESHUTDOWN; /* hold the courier, and so its client, as well */
	return peer_write(courier_tid, arg, &call, sizeof(call));
}

static void luo_open(fuse_req_t req, struct fuse_file_info *fi)
{
	struct cuse_server *cs = server_of(req);
	pid_t tid = fuse_req_ctx(req)->pid;
	struct open_obj *o = calloc(1, sizeof(*o));
	int r = 0;

	if (!o) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(cs->lock);
	if (from_courier(cs, tid)) {
		/* The courier opens right after parking a session: bind it. */
		o->kind = OPEN_SESSION;
		o->session = cs->parked_session;
		cs->parked_session = NULL;
		if (!o->session)
			r = -EINVAL;
	} else {
		o->kind = OPEN_DEVICE;
		r = luo_device_open(cs->luo);
	}
	pthread_mutex_unlock(cs->lock);
	if (r < 0) {
		if (r != -EINVAL)
			log_refused(cs, tid, 0, r,
				    r == -EBUSY ? "open: the device is already open" : "open");
		free(o);
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)o;
	fi->nonseekable = 1;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void luo_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct cuse_server *cs = server_of(req);
	struct open_obj *o = (struct open_obj *)(uintptr_t)fi->fh;

	pthread_mutex_lock(cs->lock);
	if (o->kind == OPEN_DEVICE)
		luo_device_release(cs->luo);
	else if (!luo_ctx_going_down(cs->luo))
		luo_session_release(o->session);
	/* else: serialized already; the state belongs to the next daemon. */
	pthread_mutex_unlock(cs->lock);
	free(o);
	fuse_reply_err(req, 0);
}

static void luo_rw(fuse_req_t req)
{
	/* Both LUO fds answer read and write with EINVAL. */
	fuse_reply_err(req, EINVAL);
}

static void luo_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	luo_rw(req);
}

static void luo_write(fuse_req_t req, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	luo_rw(req);
}

static void luo_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi,
		      unsigned int flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	struct cuse_server *cs = server_of(req);
	struct open_obj *o = (struct open_obj *)(uintptr_t)fi->fh;
	pid_t tid = fuse_req_ctx(req)->pid;
	uint32_t ucmd = (uint32_t)cmd;
	int r;

	if (flags & FUSE_IOCTL_COMPAT) {
		log_refused(cs, tid, ucmd, -EINVAL, "32-bit callers are not supported");
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (ucmd == LUOEMU_PRIV_CALL && from_courier(cs, tid)) {
		r = priv_call(cs, o, tid, (uintptr_t)arg);
	} else {
		struct cuse_peer p = {.cs = cs, .tid = tid, .pidfd = -1};

		r = dispatch(cs, o, &p, ucmd, (uintptr_t)arg);
	}
	/*
	 * The model is frozen for a live update that cannot be undone any more
	 * (a failed serialization unfreezes before anyone can see it): like the
	 * kernel, let the caller block.  The request is never answered; the
	 * device going away ends it.
	 */
	if (r == -ESHUTDOWN) {
		__atomic_add_fetch(&cs->held, 1, __ATOMIC_RELAXED);
		return;
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_ioctl(req, 0, NULL, 0);
}

static const struct cuse_lowlevel_ops luo_cuse_ops = {
	.open = luo_open,
	.release = luo_release,
	.read = luo_read,
	.write = luo_write,
	.ioctl = luo_ioctl,
};

struct fuse_session *cuse_server_setup(struct cuse_server *cs, bool debug)
{
	char devname_arg[128];
	const char *dev_info[] = {devname_arg};
	struct cuse_info ci = {
		.dev_info_argc = 1,
		.dev_info_argv = dev_info,
		.flags = CUSE_UNRESTRICTED_IOCTL,
	};
	char *argv[] = {(char *)"luoemud", (char *)"-f", (char *)"-d", NULL};
	int multithreaded;

	snprintf(devname_arg, sizeof(devname_arg), "DEVNAME=%s", cs->dev_name);
	return cuse_lowlevel_setup(debug ? 3 : 2, argv, &ci, &luo_cuse_ops, &multithreaded, cs);
}

int cuse_server_run(struct cuse_server *cs, struct fuse_session *se)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r;

	if (!cfg)
		return -ENOMEM;
	r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r < 0 ? r : 0;
}

void cuse_server_teardown(struct fuse_session *se)
{
	cuse_lowlevel_teardown(se);
}
