// SPDX-License-Identifier: LGPL-2.1-or-later
/* Status enumeration: reads the model's private types, changes nothing. */
#include <errno.h>
#include <sys/stat.h>

#include "state/internal.h"
#include "state/report.h"

static const char *session_state(const struct luo_ctx *ctx, const struct luo_session *s)
{
	if (!s->incoming)
		return ctx->going_down ? "frozen" : "open";
	if (s->finished)
		return "finished";
	if (s->released)
		return "closed-unfinished";
	return s->retrieved ? "retrieved" : "waiting";
}

static int walk_list(struct luo_ctx *ctx, const struct luo_session_list *l,
		     int (*session)(void *data, const struct luo_report_session *s),
		     int (*file)(void *data, const struct luo_report_file *f), void *data)
{
	for (const struct luo_session *s = l->first; s; s = s->next) {
		struct luo_report_session rs = {
			.name = s->name,
			.id = s->id,
			.incoming = s->incoming,
			.state = session_state(ctx, s),
			.nr_files = s->nr_files,
			.owner = s->owner,
		};
		int r = session(data, &rs);

		if (r)
			return r;
		for (unsigned int i = 0; i < s->nr_files; i++) {
			const struct luo_file *f = s->files[i];
			struct luo_report_file rf = {
				.token = f->token,
				.handler = f->handler->compatible,
				.retrieved = f->retrieved,
			};
			struct stat st;

			rf.size = fstat(f->hf.fd >= 0 ? f->hf.fd : f->hf.retrieved_fd, &st) == 0
					  ? (int64_t)st.st_size
					  : -errno;
			r = file(data, &rf);
			if (r)
				return r;
		}
	}
	return 0;
}

int luo_report_walk(struct luo_ctx *ctx,
		    int (*session)(void *data, const struct luo_report_session *s),
		    int (*file)(void *data, const struct luo_report_file *f), void *data)
{
	int r = walk_list(ctx, &ctx->outgoing, session, file, data);

	return r ? r : walk_list(ctx, &ctx->incoming, session, file, data);
}
