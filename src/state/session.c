// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Sessions: named containers of preserved files.  Outgoing sessions are
 * created here and cross the next live update; incoming ones came from the
 * previous one.  The two sets are separate namespaces.
 */
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "state/fault-points.h"
#include "state/internal.h"

static int cmp_name(const void *a, const void *b)
{
	const struct luo_session *x = a, *y = b;

	return strncmp(x->name, y->name, LUO_NAME_LEN);
}

static struct luo_session *list_find(const struct luo_session_list *l, const char *name)
{
	struct luo_session key;
	void *node;

	memcpy(key.name, name, LUO_NAME_LEN);
	node = tfind(&key, &l->by_name, cmp_name);
	return node ? *(struct luo_session **)node : NULL;
}

static int list_add(struct luo_session_list *l, struct luo_session *s)
{
	if (!tsearch(s, &l->by_name, cmp_name))
		return -ENOMEM;
	s->prev = l->last;
	s->next = NULL;
	if (l->last)
		l->last->next = s;
	else
		l->first = s;
	l->last = s;
	l->count++;
	return 0;
}

static void list_del(struct luo_session_list *l, struct luo_session *s)
{
	tdelete(s, &l->by_name, cmp_name);
	if (s->prev)
		s->prev->next = s->next;
	else
		l->first = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		l->last = s->prev;
	l->count--;
}

static struct luo_session_list *session_list(struct luo_session *s)
{
	return s->incoming ? &s->ctx->incoming : &s->ctx->outgoing;
}

static int session_alloc(struct luo_ctx *ctx, const char name[LUO_NAME_LEN], bool incoming,
			 struct luo_session **ret)
{
	struct luo_session *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->ctx = ctx;
	memcpy(s->name, name, LUO_NAME_LEN);
	s->name[LUO_NAME_LEN - 1] = '\0';
	s->incoming = incoming;
	s->id = ctx->next_session_id++;
	*ret = s;
	return 0;
}

static void session_free(struct luo_session *s, bool unpreserve)
{
	for (unsigned int i = s->nr_files; i-- > 0;)
		luo_file_destroy(s->files[i], unpreserve);
	if (s->charged)
		luo_quota_uncharge_session(s->ctx, s->owner);
	tdestroy(s->by_token, NOOP_FREE);
	free(s->files);
	free(s);
}

/* A new session in the outgoing or incoming set; names are unique per set. */
static int session_insert(struct luo_ctx *ctx, const char name[LUO_NAME_LEN], bool incoming,
			  struct luo_session **ret)
{
	struct luo_session_list *l = incoming ? &ctx->incoming : &ctx->outgoing;
	struct luo_session *s;
	int r;

	if (list_find(l, name))
		return -EEXIST;
	r = session_alloc(ctx, name, incoming, &s);
	if (r < 0)
		return r;
	r = list_add(l, s);
	if (r < 0) {
		session_free(s, false);
		return r;
	}
	*ret = s;
	return 0;
}

/* Normalise the caller's 64 bytes to a stored name, per compat level. */
static int session_name(const struct luo_ctx *ctx, const uint8_t raw[LUO_NAME_LEN],
			char name[LUO_NAME_LEN])
{
	size_t len = strnlen((const char *)raw, LUO_NAME_LEN);

	/* 7.2+ rejects empty and unterminated names; 6.19 truncated them. */
	if (ctx->cfg.compat != LUO_COMPAT_6_19 && (len == 0 || len == LUO_NAME_LEN))
		return -EINVAL;
	memset(name, 0, LUO_NAME_LEN);
	memcpy(name, raw, MIN(len, (size_t)LUO_NAME_LEN - 1));
	return 0;
}

int luo_session_create(struct luo_ctx *ctx, const uint8_t raw[LUO_NAME_LEN],
		       struct luo_session **ret)
{
	return luo_session_create_as(ctx, raw, 0, ret);
}

int luo_session_create_as(struct luo_ctx *ctx, const uint8_t raw[LUO_NAME_LEN], uid_t uid,
			  struct luo_session **ret)
{
	struct luo_session *s;
	char name[LUO_NAME_LEN];
	int r;

	if (ctx->going_down)
		return -ESHUTDOWN;
	r = session_name(ctx, raw, name);
	if (r < 0)
		return r;
	r = luo_fault(ctx, LUO_FP_SESSION_CREATE);
	if (r < 0)
		return r;
	/* The kernel grows its table before it looks for a duplicate. */
	if (ctx->outgoing.count >= ctx->max_sessions)
		return ctx->cfg.compat == LUO_COMPAT_6_19 ? -ENOMEM : -ENOSPC;
	/* The owner's quota is the same kind of exhaustion, so it comes here too. */
	r = luo_quota_charge_session(ctx, uid);
	if (r < 0)
		return r;
	r = session_insert(ctx, name, false, &s);
	if (r < 0) {
		luo_quota_uncharge_session(ctx, uid);
		return r;
	}
	s->owner = uid;
	s->charged = true;
	*ret = s;
	return 0;
}

int luo_session_retrieve(struct luo_ctx *ctx, const uint8_t raw[LUO_NAME_LEN],
			 struct luo_session **ret)
{
	return luo_session_retrieve_as(ctx, raw, 0, ret);
}

int luo_session_retrieve_as(struct luo_ctx *ctx, const uint8_t raw[LUO_NAME_LEN], uid_t uid,
			    struct luo_session **ret)
{
	char name[LUO_NAME_LEN];
	struct luo_session *s;
	int r;

	if (ctx->going_down)
		return -ESHUTDOWN;
	/* Retrieve validates nothing: it compares the 64 bytes as given. */
	memcpy(name, raw, LUO_NAME_LEN);
	s = list_find(&ctx->incoming, name);
	/* Another user's session does not exist for this caller (luo.h). */
	if (!s || (uid != 0 && uid != s->owner))
		return -ENOENT;
	if (s->retrieved)
		return -EINVAL;
	r = luo_fault(ctx, LUO_FP_SESSION_RETRIEVE);
	if (r < 0)
		return r;
	s->retrieved = true;
	*ret = s;
	return 0;
}

void luo_session_release(struct luo_session *s)
{
	struct luo_ctx *ctx = s->ctx;

	s->released = true;
	if (s->incoming && !s->finished) {
		/* Implicit FINISH; if it fails the session leaks until the next update. */
		int r = luo_session_finish_files(s);

		if (r < 0) {
			luo_log(ctx, LOG_WARNING,
				"session '%s': implicit finish on close failed (%d); "
				"it stays until the next live update",
				s->name, r);
			return;
		}
	}
	list_del(session_list(s), s);
	/* Closing an outgoing session cancels its preservation. */
	session_free(s, !s->incoming);
}

bool luo_session_is_incoming(const struct luo_session *s)
{
	return s->incoming;
}

const char *luo_session_name(const struct luo_session *s)
{
	return s->name;
}

uint64_t luo_session_id(const struct luo_session *s)
{
	return s->id;
}

uid_t luo_session_owner(const struct luo_session *s)
{
	return s->owner;
}

/* Linear: only the undo of a failed fd install looks sessions up by id. */
struct luo_session *luo_session_by_id(struct luo_ctx *ctx, uint64_t id)
{
	for (struct luo_session *s = ctx->incoming.first; s; s = s->next)
		if (s->id == id)
			return s;
	for (struct luo_session *s = ctx->outgoing.first; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

int luo_session_unretrieve(struct luo_session *s)
{
	if (!s->incoming || !s->retrieved || s->released || s->finished)
		return -EINVAL;
	/* Nobody held its fd, so no file of it can have been retrieved. */
	s->retrieved = false;
	return 0;
}

int luo_session_check_direction(const struct luo_session *s, unsigned int nr)
{
	if (s->ctx->cfg.compat == LUO_COMPAT_6_19)
		return 0;
	switch (nr) {
	case LIVEUPDATE_CMD_SESSION_PRESERVE_FD:
		return s->incoming ? -EINVAL : 0;
	case LIVEUPDATE_CMD_SESSION_RETRIEVE_FD:
	case LIVEUPDATE_CMD_SESSION_FINISH:
		return s->incoming ? 0 : -EINVAL;
	default:
		return 0;
	}
}

int luo_session_finish(struct luo_session *s)
{
	int r;

	if (s->ctx->going_down)
		return -ESHUTDOWN;
	if (!s->incoming)
		return -EINVAL;
	if (s->finished)
		return 0;
	r = luo_fault(s->ctx, LUO_FP_SESSION_FINISH);
	if (r < 0)
		return r;
	return luo_session_finish_files(s);
}

int luo_session_get_name(const struct luo_session *s, uint8_t name[LUO_NAME_LEN])
{
	if (s->ctx->going_down)
		return -ESHUTDOWN;
	memcpy(name, s->name, LUO_NAME_LEN);
	return 0;
}

struct luo_session *luo_outgoing_first(struct luo_ctx *ctx)
{
	return ctx->outgoing.first;
}

struct luo_session *luo_session_next(struct luo_session *s)
{
	return s->next;
}

unsigned int luo_session_nr_files(const struct luo_session *s)
{
	return s->nr_files;
}

int luo_incoming_add_session(struct luo_ctx *ctx, const char *name, struct luo_session **ret)
{
	return luo_incoming_add_session_owned(ctx, name, 0, ret);
}

int luo_incoming_add_session_owned(struct luo_ctx *ctx, const char *name, uid_t owner,
				   struct luo_session **ret)
{
	char buf[LUO_NAME_LEN] = {0};
	size_t len = strnlen(name, LUO_NAME_LEN);
	int r;

	/* 6.19 created empty names, so they must be able to cross too. */
	if ((len == 0 && ctx->cfg.compat != LUO_COMPAT_6_19) || len == LUO_NAME_LEN)
		return -EINVAL;
	memcpy(buf, name, len);
	r = session_insert(ctx, buf, true, ret);
	if (r == 0)
		(*ret)->owner = owner;
	return r;
}

/* Sessions userspace still holds are kept unless @held_too (teardown). */
void luo_session_list_drop(struct luo_session_list *l, bool held_too)
{
	struct luo_session *s = l->first, *next;

	for (; s; s = next) {
		next = s->next;
		if (!held_too && s->retrieved && !s->released)
			continue;
		list_del(l, s);
		session_free(s, !s->incoming);
	}
}

void luo_incoming_drop_all(struct luo_ctx *ctx)
{
	luo_session_list_drop(&ctx->incoming, false);
}
