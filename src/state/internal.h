/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private types of the core model: shared by ctx.c, session.c and file.c. */
#ifndef LUOEMU_STATE_INTERNAL_H
#define LUOEMU_STATE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "state/handler.h"
#include "state/luo.h"
#include "util.h"

/* tdestroy() callback for trees that do not own their nodes. */
static inline void luo_noop_free(void *p)
{
	(void)p;
}
#define NOOP_FREE luo_noop_free

struct luo_file {
	struct luo_session *session;
	const struct luo_file_handler *handler;
	struct luo_handler_file hf;
	uint64_t token;
	unsigned int index; /* position in session->files */
	struct luo_file_id id;
	bool id_registered; /* counted in ctx->ids (7.2 double-preserve rule) */
	bool frozen;
	bool retrieved;
	int retrieve_err;	/* sticky: a failed retrieve repeats its errno */
	unsigned int handouts;	/* successful RETRIEVE_FDs since the first */
	bool charged;		/* counted in the owner's quota usage */
	uint64_t charged_bytes; /* bytes charged at PRESERVE */
	/*
	 * Retrieved as a copy (another inode): a key-only entry in ctx->ids,
	 * so the copy is EBUSY until FINISH, as the kernel's restored file.
	 */
	struct luo_file *copy_id;
};

struct luo_session_list {
	struct luo_session *first, *last;
	unsigned int count;
	void *by_name; /* tsearch root, keyed by name */
};

struct luo_session {
	struct luo_ctx *ctx;
	struct luo_session *prev, *next;
	char name[LUO_NAME_LEN]; /* NUL-terminated, NUL-padded */
	uint64_t id;
	uid_t owner;  /* the creating uid (incoming: as carried by the blob) */
	bool charged; /* counted in the owner's session quota */
	bool incoming;
	bool retrieved; /* incoming: handed to userspace once */
	bool finished;
	bool released;		 /* userspace closed it; kept only if finish failed */
	struct luo_file **files; /* in preservation order */
	unsigned int nr_files, files_cap;
	void *by_token; /* tsearch root of struct luo_file */
};

struct luo_ctx {
	struct luo_config cfg;
	unsigned int max_sessions, max_files;
	bool device_open;
	bool going_down;
	int incoming_err;
	uint64_t liveupdate_count;
	uint64_t next_session_id;
	struct luo_session_list outgoing, incoming;
	void *ids; /* tsearch root: every file held, by inode */
	unsigned int nr_files;
	struct luo_quota quota; /* resolved: no zeros */
	void *usage;		/* tsearch root of struct luo_usage, by uid */
	uint64_t bytes_pinned, bytes_not_pinned;
	bool pin_warned; /* AUTO: the one log line was written */
};

/* What one uid holds, for the quotas. */
struct luo_usage {
	uid_t uid;
	unsigned int sessions, files;
	uint64_t bytes;
};

int luo_fault(struct luo_ctx *ctx, const char *point);

/* quota.c: charge or refuse (with one log line); uncharge never fails. */
int luo_quota_charge_session(struct luo_ctx *ctx, uid_t uid);
void luo_quota_uncharge_session(struct luo_ctx *ctx, uid_t uid);
int luo_quota_charge_file(struct luo_ctx *ctx, uid_t uid, uint64_t bytes);
void luo_quota_uncharge_file(struct luo_ctx *ctx, uid_t uid, uint64_t bytes);
void luo_quota_free(struct luo_ctx *ctx);

/* file.c */
void luo_file_destroy(struct luo_file *f, bool unpreserve);
int luo_file_register_id(struct luo_file *f);
struct luo_file *luo_file_find(const struct luo_session *s, uint64_t token);
const struct luo_file_handler *luo_handler_by_compatible(const char *compatible);
int luo_session_add_file(struct luo_session *s, struct luo_file *f);
int luo_session_finish_files(struct luo_session *s);

/* session.c */
void luo_session_list_drop(struct luo_session_list *l, bool held_too);

#endif
