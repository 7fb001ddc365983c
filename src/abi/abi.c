// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Table-driven ioctl dispatch in the kernel's order (luo_session.c):
 * range check → size → cmd match → direction → min size → tail → struct →
 * handler → respond.  The generic path owns every ABI rule; the handlers
 * only run their operation and decide what a failed response costs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <linux/ioctl.h>

#include "abi/abi.h"
#include "util.h"

/* Tail bytes are checked in page-aligned chunks of at most this size. */
#define ABI_TAIL_CHUNK 4096u

/* The kernel's scratch buffer: one union big enough for any command. */
union luo_abi_buf {
	uint32_t size;
	struct liveupdate_ioctl_create_session create;
	struct liveupdate_ioctl_retrieve_session retrieve;
	struct liveupdate_session_preserve_fd preserve;
	struct liveupdate_session_retrieve_fd retrieve_fd;
	struct liveupdate_session_finish finish;
	struct liveupdate_session_get_name get_name;
};

/* One decoded call: the size as first read, and the struct as read after. */
struct luo_abi_ucmd {
	uint32_t user_size;
	union luo_abi_buf u;
};

struct luo_abi_op {
	uint32_t cmd;
	uint32_t size;	   /* the struct we know */
	uint32_t min_size; /* smallest size the caller may pass */
	const char *name;
	const char *why_small; /* static reason for size < min_size */
	int (*fn)(struct luo_abi_call *c, struct luo_abi_ucmd *uc);
};

/* Copy the (possibly updated) struct back: min(user size, struct size). */
static int abi_respond(struct luo_abi_call *c, const struct luo_abi_ucmd *uc, uint32_t len)
{
	return c->ops->write(c, c->arg, &uc->u, MIN(uc->user_size, len));
}

/* Why a core call failed, per command: one line in the daemon's log. */
struct abi_reason {
	int err; /* negative errno; 0 ends the table: the default */
	const char *why;
};

static const char *reason(const struct abi_reason *t, int err)
{
	/* Every command can meet a live update in progress. */
	if (err == -ESHUTDOWN)
		return "live update in progress";
	for (; t->err; t++)
		if (t->err == err)
			break;
	return t->why;
}

static const struct abi_reason create_reasons[] = {
	{-EINVAL, "bad session name"},
	{-EEXIST, "outgoing session name in use"},
	{-ENOSPC, "too many sessions (limit or the owner's quota)"},
	{-ENOMEM, "too many sessions (limit or the owner's quota)"},
	{0, "session create failed"},
};

static const struct abi_reason retrieve_reasons[] = {
	{-ENOENT, "no such incoming session"},
	{-EINVAL, "session already retrieved"},
	{0, "session retrieve failed"},
};

static const struct abi_reason preserve_reasons[] = {
	{-EEXIST, "token already used in this session"},
	{-ENOSPC, "too many files (session limit or the owner's quota)"},
	{-ENOMEM, "out of memory, or the owner's preserved-bytes quota, or pin=on failed"},
	{-EBADF, "bad fd"},
	{-ENOENT, "no handler for this file"},
	{-EBUSY, "file already preserved"},
	{0, "preserve failed"},
};

static const struct abi_reason retrieve_fd_reasons[] = {
	{-ENOENT, "unknown token or session finished"},
	{0, "retrieve failed"},
};

static const struct abi_reason finish_reasons[] = {
	{-EBUSY, "a handler vetoed finish"},
	{0, "finish failed"},
};

static void abi_lock(struct luo_abi_call *c)
{
	if (c->lock)
		pthread_mutex_lock(c->lock);
}

static void abi_unlock(struct luo_abi_call *c)
{
	if (c->lock)
		pthread_mutex_unlock(c->lock);
}

/*
 * The tail of CREATE and RETRIEVE_SESSION: write the struct back (the fd
 * field is the transport's: the bytes go back as read) and hand the
 * session over in c->result.  If the reply cannot be written the new fd
 * never existed, so the session is released as the kernel's last fput
 * would: CREATE's is destroyed, RETRIEVE's finished (its data gone).
 */
static int hand_over_session(struct luo_abi_call *c, struct luo_abi_ucmd *uc, struct luo_session *s,
			     size_t size, const char *why_fault)
{
	int r = abi_respond(c, uc, size);

	if (r < 0) {
		abi_lock(c);
		luo_session_release(s);
		abi_unlock(c);
		c->why = why_fault;
		return -EFAULT;
	}
	c->result.kind = LUO_ABI_RESULT_SESSION;
	c->result.cmd = c->cmd;
	c->result.session = s;
	c->result.session_id = luo_session_id(s);
	return 0;
}

/* CREATE_SESSION and RETRIEVE_SESSION: the same struct, the same path. */
typedef int (*session_op_fn)(struct luo_ctx *ctx, const uint8_t name[LUO_NAME_LEN], uid_t uid,
			     struct luo_session **ret);

static int session_call(struct luo_abi_call *c, struct luo_abi_ucmd *uc, session_op_fn op,
			const struct abi_reason *reasons, const char *why_fault)
{
	struct luo_session *s = NULL;
	int r;

	/* The kernel allocates the fd first: EMFILE beats any name error. */
	r = c->ops->can_install(c);
	if (r < 0) {
		c->why = c->why ?: "cannot install an fd in the caller";
		return r;
	}
	abi_lock(c);
	r = op(c->ctx, uc->u.create.name, c->caller_uid, &s);
	abi_unlock(c);
	if (r < 0) {
		c->why = reason(reasons, r);
		return r;
	}
	return hand_over_session(c, uc, s, sizeof(uc->u.create), why_fault);
}

static int abi_create_session(struct luo_abi_call *c, struct luo_abi_ucmd *uc)
{
	/* Kernel: the new session is destroyed again, the name is free. */
	return session_call(c, uc, luo_session_create_as, create_reasons,
			    "response to user failed, session destroyed");
}

static int abi_retrieve_session(struct luo_abi_call *c, struct luo_abi_ucmd *uc)
{
	/*
	 * Kernel: the fd it just made is dropped: an implicit FINISH, so the
	 * session and its data are gone.
	 */
	_Static_assert(offsetof(struct liveupdate_ioctl_retrieve_session, name) ==
			       offsetof(struct liveupdate_ioctl_create_session, name),
		       "one path for both session structs");
	return session_call(c, uc, luo_session_retrieve_as, retrieve_reasons,
			    "response to user failed, session finished and gone");
}

static int abi_preserve_fd(struct luo_abi_call *c, struct luo_abi_ucmd *uc)
{
	union luo_abi_buf *u = &uc->u;
	int fd, r;

	/*
	 * Taken before the lock (it reaches into the caller); a negative
	 * errno goes to the core as is, which reports it where the kernel
	 * would (after EEXIST and ENOSPC).
	 */
	fd = c->ops->get_fd(c, u->preserve.fd);
	abi_lock(c);
	r = luo_session_preserve_fd_as(c->session, u->preserve.token, fd, c->caller_uid);
	abi_unlock(c);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		c->why = reason(preserve_reasons, r);
		return r;
	}
	/* The model owns fd now; as on the kernel it stays preserved on EFAULT. */
	r = abi_respond(c, uc, sizeof(u->preserve));
	if (r < 0) {
		c->why = "file preserved, but the response to user failed";
		return -EFAULT;
	}
	return 0;
}

static int abi_retrieve_fd(struct luo_abi_call *c, struct luo_abi_ucmd *uc)
{
	union luo_abi_buf *u = &uc->u;
	struct luo_abi_result *res = &c->result;
	bool first = false;
	int fd = -1, owned = -1, r;

	r = c->ops->can_install(c);
	if (r < 0) {
		c->why = c->why ?: "cannot install an fd in the caller";
		return r;
	}
	abi_lock(c);
	r = luo_session_retrieve_fd_first(c->session, u->retrieve_fd.token, &fd, &first);
	/* Ours to install after unlocking; never on stdio. */
	if (r == 0) {
		owned = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (owned < 0) {
			r = -errno;
			if (first)
				luo_session_unretrieve_fd(c->session, u->retrieve_fd.token);
		}
	}
	abi_unlock(c);
	if (r < 0) {
		c->why = owned < 0 && fd >= 0 ? "out of fds in the daemon"
					      : reason(retrieve_fd_reasons, r);
		return r;
	}
	r = abi_respond(c, uc, sizeof(u->retrieve_fd));
	if (r < 0) {
		/* As on the kernel the file counts as retrieved: a retry returns it. */
		if (owned >= 0)
			close(owned);
		c->why = "file retrieved, but the response to user failed";
		return -EFAULT;
	}
	*res = (struct luo_abi_result){
		.kind = LUO_ABI_RESULT_FILE,
		.cmd = c->cmd,
		.session = c->session,
		.fd = fd,
		.token = u->retrieve_fd.token,
		.first = first,
		.owned_fd = owned,
		.session_id = luo_session_id(c->session),
	};
	return 0;
}

static int abi_finish(struct luo_abi_call *c, struct luo_abi_ucmd *uc)
{
	int r;

	/* 7.3 refuses a non-zero reserved field; 7.2 and 6.19 never looked. */
	if (luo_compat_finish_checks_reserved(luo_ctx_compat(c->ctx)) && uc->u.finish.reserved) {
		c->why = "FINISH reserved field is not zero";
		return -EINVAL;
	}
	abi_lock(c);
	r = luo_session_finish(c->session);
	abi_unlock(c);
	if (r < 0) {
		c->why = reason(finish_reasons, r);
		return r;
	}
	r = abi_respond(c, uc, sizeof(uc->u.finish));
	if (r < 0) {
		c->why = "session finished, but the response to user failed";
		return -EFAULT;
	}
	return 0;
}

static int abi_get_name(struct luo_abi_call *c, struct luo_abi_ucmd *uc)
{
	union luo_abi_buf *u = &uc->u;
	int r;

	if (u->get_name.reserved != 0) {
		c->why = "GET_NAME reserved field is not zero";
		return -EINVAL;
	}
	abi_lock(c);
	r = luo_session_get_name(c->session, u->get_name.name);
	abi_unlock(c);
	if (r < 0) {
		c->why = r == -ESHUTDOWN ? "live update in progress" : "get name failed";
		return r;
	}
	r = abi_respond(c, uc, sizeof(u->get_name));
	if (r < 0) {
		c->why = "response to user failed";
		return -EFAULT;
	}
	return 0;
}

/* Indexed by nr - LIVEUPDATE_CMD_BASE. */
static const struct luo_abi_op luo_device_ops[] = {
	{
		.cmd = LIVEUPDATE_IOCTL_CREATE_SESSION,
		.size = sizeof(struct liveupdate_ioctl_create_session),
		.min_size = sizeof(struct liveupdate_ioctl_create_session),
		.name = "CREATE_SESSION",
		.why_small = "size < 72 (CREATE_SESSION)",
		.fn = abi_create_session,
	},
	{
		.cmd = LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
		.size = sizeof(struct liveupdate_ioctl_retrieve_session),
		.min_size = sizeof(struct liveupdate_ioctl_retrieve_session),
		.name = "RETRIEVE_SESSION",
		.why_small = "size < 72 (RETRIEVE_SESSION)",
		.fn = abi_retrieve_session,
	},
};

/* Indexed by nr - LIVEUPDATE_CMD_SESSION_BASE. */
static const struct luo_abi_op luo_session_ops[] = {
	{
		.cmd = LIVEUPDATE_SESSION_PRESERVE_FD,
		.size = sizeof(struct liveupdate_session_preserve_fd),
		.min_size = sizeof(struct liveupdate_session_preserve_fd),
		.name = "PRESERVE_FD",
		.why_small = "size < 16 (PRESERVE_FD)",
		.fn = abi_preserve_fd,
	},
	{
		.cmd = LIVEUPDATE_SESSION_RETRIEVE_FD,
		.size = sizeof(struct liveupdate_session_retrieve_fd),
		.min_size = sizeof(struct liveupdate_session_retrieve_fd),
		.name = "RETRIEVE_FD",
		.why_small = "size < 16 (RETRIEVE_FD)",
		.fn = abi_retrieve_fd,
	},
	{
		.cmd = LIVEUPDATE_SESSION_FINISH,
		.size = sizeof(struct liveupdate_session_finish),
		.min_size = sizeof(struct liveupdate_session_finish),
		.name = "FINISH",
		.why_small = "size < 8 (FINISH)",
		.fn = abi_finish,
	},
	{
		.cmd = LIVEUPDATE_SESSION_GET_NAME,
		.size = sizeof(struct liveupdate_session_get_name),
		.min_size = sizeof(struct liveupdate_session_get_name),
		.name = "GET_NAME",
		.why_small = "size < 72 (GET_NAME)",
		.fn = abi_get_name,
	},
};

_Static_assert(sizeof(union luo_abi_buf) == 72, "scratch buffer fits the largest struct");

/*
 * copy_struct_from_user()'s tail rule: every byte in [from, to) must be
 * zero.  Chunks never cross a 4 KiB boundary, so each one is readable as a
 * whole or not at all, and the first non-zero byte before the first
 * unreadable one wins (E2BIG), as check_zeroed_user() does.  Never
 * allocates the caller's size.
 */
static int abi_check_zeroed(struct luo_abi_call *c, uint64_t from, uint64_t to)
{
	uint8_t chunk[ABI_TAIL_CHUNK];

	/* A range that wraps cannot be user memory (access_ok). */
	if (to < from) {
		c->why = "unreadable byte past the struct";
		return -EFAULT;
	}
	while (from < to) {
		uint64_t next = (from | (ABI_TAIL_CHUNK - 1)) + 1;
		size_t len = (size_t)(MIN(next, to) - from);
		int r;

		r = c->ops->read(c, from, chunk, len);
		if (r < 0) {
			c->why = "unreadable byte past the struct";
			return r; /* -EFAULT, or an injected fault's errno */
		}
		for (size_t i = 0; i < len; i++)
			if (chunk[i]) {
				c->why = "non-zero byte past the struct";
				return -E2BIG;
			}
		from += len;
	}
	return 0;
}

static int abi_ioctl(struct luo_abi_call *c)
{
	const struct luo_abi_op *op;
	struct luo_abi_ucmd uc;
	unsigned int nr = _IOC_NR(c->cmd);
	uint32_t size;
	int r;

	/* 1. Range, before anything is read (FIONREAD lands here too). */
	if (!c->session) {
		if (nr - LIVEUPDATE_CMD_BASE >= ARRAY_SIZE(luo_device_ops)) {
			c->why = "nr out of range";
			return -EINVAL;
		}
		op = &luo_device_ops[nr - LIVEUPDATE_CMD_BASE];
	} else {
		unsigned int n = ARRAY_SIZE(luo_session_ops);

		/* 6.19 had no GET_NAME. */
		if (luo_ctx_compat(c->ctx) == LUO_COMPAT_6_19)
			n = LIVEUPDATE_CMD_SESSION_GET_NAME - LIVEUPDATE_CMD_SESSION_BASE;
		if (nr < LIVEUPDATE_CMD_SESSION_BASE || nr - LIVEUPDATE_CMD_SESSION_BASE >= n) {
			c->why = "nr out of range";
			return -EINVAL;
		}
		op = &luo_session_ops[nr - LIVEUPDATE_CMD_SESSION_BASE];
	}

	/* 2. The caller's size (get_user). */
	r = c->ops->read(c, c->arg, &size, sizeof(size));
	if (r < 0) {
		c->why = "size unreadable";
		return r; /* -EFAULT, or an injected fault's errno */
	}

	/* 3. Other type byte, direction or size bits. */
	if (c->cmd != op->cmd) {
		c->why = "bad ioctl encoding";
		return -ENOTTY;
	}

	/* 4. 7.2: per-ioctl direction, before the size check. */
	if (c->session) {
		r = luo_session_check_direction(c->session, nr);
		if (r < 0) {
			if (luo_session_is_incoming(c->session))
				c->why = "wrong direction: PRESERVE_FD on an incoming session";
			else if (nr == LIVEUPDATE_CMD_SESSION_FINISH)
				c->why = "wrong direction: FINISH on an outgoing session";
			else
				c->why = "wrong direction: RETRIEVE_FD on an outgoing session";
			return r;
		}
	}

	/* 5. Minimum size. */
	if (size < op->min_size) {
		c->why = op->why_small;
		return -EINVAL;
	}

	/* 6. copy_struct_from_user(): tail first, then the struct. */
	if (size > op->size) {
		r = abi_check_zeroed(c, c->arg + op->size, c->arg + size);
		if (r < 0)
			return r;
	}
	memset(&uc, 0, sizeof(uc));
	uc.user_size = size;
	r = c->ops->read(c, c->arg, &uc.u, op->size);
	if (r < 0) {
		c->why = "struct unreadable";
		return r; /* -EFAULT, or an injected fault's errno */
	}

	/* 7. Run (the handler locks around the model only); the handler responds. */
	return op->fn(c, &uc);
}

int luo_abi_ioctl(struct luo_abi_call *c)
{
	int r;

	c->why = NULL;
	c->result = (struct luo_abi_result){.kind = LUO_ABI_RESULT_NONE, .fd = -1, .owned_fd = -1};
	if (c->counters)
		atomic_fetch_add(&c->counters->calls, 1);
	r = abi_ioctl(c);
	if (r < 0 && r != -ESHUTDOWN && c->counters)
		atomic_fetch_add(&c->counters->refusals, 1);
	return r;
}

void luo_abi_undo(struct luo_ctx *ctx, const struct luo_abi_result *res)
{
	struct luo_session *s;

	if (!res || luo_ctx_going_down(ctx))
		return;
	switch (res->kind) {
	case LUO_ABI_RESULT_SESSION:
		/* Nobody else can reach a session whose fd was never installed. */
		if (res->cmd == LIVEUPDATE_IOCTL_CREATE_SESSION)
			luo_session_release(res->session);
		else
			(void)luo_session_unretrieve(res->session);
		return;
	case LUO_ABI_RESULT_FILE:
		if (!res->first)
			return;
		/* The session fd is the caller's: it may be closed (and freed) by now. */
		s = luo_session_by_id(ctx, res->session_id);
		if (s)
			luo_session_unretrieve_fd(s, res->token);
		return;
	case LUO_ABI_RESULT_NONE:
		return;
	}
}

const char *luo_abi_cmd_name(uint32_t cmd)
{
	for (size_t i = 0; i < ARRAY_SIZE(luo_device_ops); i++)
		if (luo_device_ops[i].cmd == cmd)
			return luo_device_ops[i].name;
	for (size_t i = 0; i < ARRAY_SIZE(luo_session_ops); i++)
		if (luo_session_ops[i].cmd == cmd)
			return luo_session_ops[i].name;
	return NULL;
}
