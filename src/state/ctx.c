// SPDX-License-Identifier: LGPL-2.1-or-later
/* The context: device open rule, limits, counters, logging and faults. */
#include <errno.h>
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "state/fault-points.h"
#include "state/internal.h"

static const char *const compat_names[] = {
	[LUO_COMPAT_7_3] = "7.3",
	[LUO_COMPAT_7_2] = "7.2",
	[LUO_COMPAT_6_19] = "6.19",
};

static const char *const pin_names[] = {
	[LUO_PIN_AUTO] = "auto",
	[LUO_PIN_ON] = "on",
	[LUO_PIN_OFF] = "off",
};

static int parse_name(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -EINVAL;
}

int luo_compat_parse(const char *s, enum luo_compat *ret)
{
	int i = parse_name(compat_names, ARRAY_SIZE(compat_names), s);

	if (i < 0)
		return i;
	*ret = (enum luo_compat)i;
	return 0;
}

const char *luo_compat_name(enum luo_compat compat)
{
	return (unsigned int)compat < ARRAY_SIZE(compat_names) ? compat_names[compat] : "?";
}

bool luo_compat_finish_checks_reserved(enum luo_compat compat)
{
	return compat == LUO_COMPAT_7_3;
}

int luo_pin_parse(const char *s, enum luo_pin *ret)
{
	int i = parse_name(pin_names, ARRAY_SIZE(pin_names), s);

	if (i < 0)
		return i;
	*ret = (enum luo_pin)i;
	return 0;
}

const char *luo_pin_name(enum luo_pin pin)
{
	return (unsigned int)pin < ARRAY_SIZE(pin_names) ? pin_names[pin] : "?";
}

int luo_ctx_new(const struct luo_config *cfg, struct luo_ctx **ret)
{
	struct luo_ctx *ctx = calloc(1, sizeof(*ctx));
	bool v619;

	if (!ctx)
		return -ENOMEM;
	if (cfg)
		ctx->cfg = *cfg;
	if ((unsigned int)ctx->cfg.compat >= ARRAY_SIZE(compat_names) ||
	    (unsigned int)ctx->cfg.pin >= ARRAY_SIZE(pin_names)) {
		free(ctx);
		return -EINVAL;
	}
	v619 = ctx->cfg.compat == LUO_COMPAT_6_19;
	ctx->max_sessions =
		ctx->cfg.max_sessions ?: (v619 ? LUO_6_19_MAX_SESSIONS : LUO_7_2_MAX_SESSIONS);
	ctx->max_files = ctx->cfg.max_files ?: (v619 ? LUO_6_19_MAX_FILES : LUO_7_2_MAX_FILES);
	ctx->quota = (struct luo_quota){
		.sessions = ctx->cfg.quota.sessions ?: LUO_QUOTA_DEFAULT_SESSIONS,
		.files = ctx->cfg.quota.files ?: LUO_QUOTA_DEFAULT_FILES,
		.bytes = ctx->cfg.quota.bytes ?: LUO_QUOTA_DEFAULT_BYTES,
	};
	ctx->next_session_id = 1;
	*ret = ctx;
	return 0;
}

void luo_ctx_free(struct luo_ctx *ctx)
{
	if (!ctx)
		return;
	luo_session_list_drop(&ctx->outgoing, true);
	luo_session_list_drop(&ctx->incoming, true);
	luo_quota_free(ctx);
	free(ctx);
}

enum luo_compat luo_ctx_compat(const struct luo_ctx *ctx)
{
	return ctx->cfg.compat;
}

int luo_fault(struct luo_ctx *ctx, const char *point)
{
	int r;

	if (!ctx->cfg.fault)
		return 0;
	r = ctx->cfg.fault(ctx->cfg.fault_data, point);
	return r > 0 ? -r : r;
}

void luo_log(struct luo_ctx *ctx, int prio, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!ctx || !ctx->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->cfg.log(ctx->cfg.log_data, prio, msg);
}

int luo_device_open(struct luo_ctx *ctx)
{
	int r;

	/* A failed deserialization poisons every open, as in luo_core.c. */
	if (ctx->incoming_err)
		return -EIO;
	if (ctx->device_open)
		return -EBUSY;
	r = luo_fault(ctx, LUO_FP_DEVICE_OPEN);
	if (r < 0)
		return r;
	ctx->device_open = true;
	return 0;
}

void luo_device_release(struct luo_ctx *ctx)
{
	/* Closing the device does nothing to sessions. */
	ctx->device_open = false;
}

void luo_ctx_set_incoming_error(struct luo_ctx *ctx, int err)
{
	ctx->incoming_err = err > 0 ? -err : err;
}

int luo_ctx_incoming_error(const struct luo_ctx *ctx)
{
	return ctx->incoming_err;
}

void luo_ctx_set_liveupdate_count(struct luo_ctx *ctx, uint64_t count)
{
	ctx->liveupdate_count = count;
}

uint64_t luo_ctx_liveupdate_count(const struct luo_ctx *ctx)
{
	return ctx->liveupdate_count;
}

bool luo_ctx_going_down(const struct luo_ctx *ctx)
{
	return ctx->going_down;
}

void luo_ctx_stats(const struct luo_ctx *ctx, struct luo_stats *st)
{
	*st = (struct luo_stats){
		.outgoing = ctx->outgoing.count,
		.incoming = ctx->incoming.count,
		.files = ctx->nr_files,
		.device_open = ctx->device_open,
		.going_down = ctx->going_down,
		.bytes_pinned = ctx->bytes_pinned,
		.bytes_not_pinned = ctx->bytes_not_pinned,
	};
}

/* Freeze in creation order, files in preservation order; undo in reverse. */
static void unfreeze_all(struct luo_ctx *ctx)
{
	for (struct luo_session *s = ctx->outgoing.last; s; s = s->prev)
		for (unsigned int i = s->nr_files; i-- > 0;) {
			struct luo_file *f = s->files[i];

			if (!f->frozen)
				continue;
			if (f->handler->unfreeze)
				f->handler->unfreeze(&f->hf);
			f->frozen = false;
		}
}

int luo_freeze(struct luo_ctx *ctx)
{
	if (ctx->going_down)
		return -EBUSY;
	for (struct luo_session *s = ctx->outgoing.first; s; s = s->next)
		for (unsigned int i = 0; i < s->nr_files; i++) {
			struct luo_file *f = s->files[i];
			int r = luo_fault(ctx, LUO_FP_FREEZE_FILE);

			if (r == 0 && f->handler->freeze)
				r = f->handler->freeze(&f->hf);
			if (r < 0) {
				luo_log(ctx, LOG_WARNING,
					"session '%s': freeze of token %llu failed (%d); "
					"unfreezing everything",
					s->name, (unsigned long long)f->token, r);
				unfreeze_all(ctx);
				return r;
			}
			f->frozen = true;
		}
	ctx->going_down = true;
	return 0;
}

void luo_unfreeze(struct luo_ctx *ctx)
{
	unfreeze_all(ctx);
	ctx->going_down = false;
}
