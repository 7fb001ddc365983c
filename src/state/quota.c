// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Per-uid quotas (issue 9): what one owner may make the daemon hold.
 * Charged to the session's owner at CREATE and PRESERVE, given back when
 * the session or file goes.  Limits and errnos: luo.h, struct luo_quota.
 */
#include <errno.h>
#include <inttypes.h>
#include <search.h>
#include <stdlib.h>
#include <syslog.h>

#include "state/internal.h"

static int cmp_uid(const void *a, const void *b)
{
	const struct luo_usage *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static struct luo_usage *usage_of(struct luo_ctx *ctx, uid_t uid, bool create)
{
	struct luo_usage key = {.uid = uid}, *u;
	void *node = tfind(&key, &ctx->usage, cmp_uid);

	if (node)
		return *(struct luo_usage **)node;
	if (!create)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->uid = uid;
	if (!tsearch(u, &ctx->usage, cmp_uid)) {
		free(u);
		return NULL;
	}
	return u;
}

int luo_quota_charge_session(struct luo_ctx *ctx, uid_t uid)
{
	struct luo_usage *u = usage_of(ctx, uid, true);

	if (!u)
		return -ENOMEM;
	if (u->sessions >= ctx->quota.sessions) {
		luo_log(ctx, LOG_WARNING, "uid %u: session quota of %u reached", (unsigned int)uid,
			ctx->quota.sessions);
		return ctx->cfg.compat == LUO_COMPAT_6_19 ? -ENOMEM : -ENOSPC;
	}
	u->sessions++;
	return 0;
}

void luo_quota_uncharge_session(struct luo_ctx *ctx, uid_t uid)
{
	struct luo_usage *u = usage_of(ctx, uid, false);

	if (u && u->sessions)
		u->sessions--;
}

int luo_quota_charge_file(struct luo_ctx *ctx, uid_t uid, uint64_t bytes)
{
	struct luo_usage *u = usage_of(ctx, uid, true);

	if (!u)
		return -ENOMEM;
	if (u->files >= ctx->quota.files) {
		luo_log(ctx, LOG_WARNING, "uid %u: preserved-file quota of %u reached",
			(unsigned int)uid, ctx->quota.files);
		return -ENOSPC;
	}
	if (bytes > ctx->quota.bytes - u->bytes) {
		luo_log(ctx, LOG_WARNING,
			"uid %u: preserved-bytes quota of %" PRIu64 " reached (%" PRIu64
			" held, %" PRIu64 " more asked)",
			(unsigned int)uid, ctx->quota.bytes, u->bytes, bytes);
		return -ENOMEM;
	}
	u->files++;
	u->bytes += bytes;
	return 0;
}

void luo_quota_uncharge_file(struct luo_ctx *ctx, uid_t uid, uint64_t bytes)
{
	struct luo_usage *u = usage_of(ctx, uid, false);

	if (!u)
		return;
	if (u->files)
		u->files--;
	u->bytes -= bytes < u->bytes ? bytes : u->bytes;
}

void luo_quota_free(struct luo_ctx *ctx)
{
	tdestroy(ctx->usage, free);
	ctx->usage = NULL;
}
