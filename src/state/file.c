// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Preserved files: the per-session token table, the global inode table
 * behind EBUSY, and PRESERVE_FD / RETRIEVE_FD / FINISH in the kernel's
 * order.  What a file *is* stays with its handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "state/fault-points.h"
#include "state/internal.h"

static const struct luo_file_handler *const handlers[] = {
	&luo_memfd_handler,
};

static int cmp_token(const void *a, const void *b)
{
	const struct luo_file *x = a, *y = b;

	return x->token < y->token ? -1 : x->token > y->token;
}

static int cmp_id(const void *a, const void *b)
{
	const struct luo_file *x = a, *y = b;

	if (x->id.dev != y->id.dev)
		return x->id.dev < y->id.dev ? -1 : 1;
	return x->id.ino < y->id.ino ? -1 : x->id.ino > y->id.ino;
}

const struct luo_file_handler *luo_handler_by_compatible(const char *compatible)
{
	for (size_t i = 0; i < ARRAY_SIZE(handlers); i++)
		if (strcmp(handlers[i]->compatible, compatible) == 0)
			return handlers[i];
	return NULL;
}

static const struct luo_file_handler *handler_for(int fd, const struct stat *st)
{
	for (size_t i = 0; i < ARRAY_SIZE(handlers); i++)
		if (handlers[i]->can_preserve(fd, st))
			return handlers[i];
	return NULL;
}

struct luo_file *luo_file_find(const struct luo_session *s, uint64_t token)
{
	struct luo_file key = {.token = token};
	void *node = tfind(&key, &s->by_token, cmp_token);

	return node ? *(struct luo_file **)node : NULL;
}

static bool id_is_held(struct luo_ctx *ctx, const struct luo_file_id *id)
{
	struct luo_file key = {.id = *id};

	return tfind(&key, &ctx->ids, cmp_id) != NULL;
}

/* 7.1+ refuses a file already held anywhere; 6.19 did not look. */
int luo_file_register_id(struct luo_file *f)
{
	struct luo_ctx *ctx = f->session->ctx;

	if (ctx->cfg.compat == LUO_COMPAT_6_19)
		return 0;
	if (!tsearch(f, &ctx->ids, cmp_id))
		return -ENOMEM;
	f->id_registered = true;
	return 0;
}

static struct luo_file *file_new(struct luo_session *s, const struct luo_file_handler *h,
				 uint64_t token, int fd)
{
	struct luo_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->session = s;
	f->handler = h;
	f->token = token;
	f->hf.fd = fd;
	f->hf.retrieved_fd = -1;
	f->hf.ctx = s->ctx;
	return f;
}

/* The retrieved file is another inode (a copy): it is busy too until FINISH. */
static void copy_id_register(struct luo_file *f, int fd)
{
	struct luo_ctx *ctx = f->session->ctx;
	struct luo_file *key;

	if (ctx->cfg.compat == LUO_COMPAT_6_19 || !f->id_registered)
		return;
	key = calloc(1, sizeof(*key));
	if (!key)
		goto fail;
	key->session = f->session;
	if (f->handler->get_id(fd, &key->id) < 0) {
		free(key);
		goto fail;
	}
	if (key->id.dev == f->id.dev && key->id.ino == f->id.ino) {
		free(key); /* the same inode: already registered */
		return;
	}
	if (!tsearch(key, &ctx->ids, cmp_id)) {
		free(key);
		goto fail;
	}
	f->copy_id = key;
	return;
fail:
	luo_log(ctx, LOG_WARNING,
		"session '%s': token %llu: cannot register the retrieved copy; "
		"preserving it again before FINISH will not be refused",
		f->session->name, (unsigned long long)f->token);
}

static void copy_id_unregister(struct luo_file *f)
{
	if (!f->copy_id)
		return;
	tdelete(f->copy_id, &f->session->ctx->ids, cmp_id);
	free(f->copy_id);
	f->copy_id = NULL;
}

/* Drop the model's references; the handler's unpreserve only for outgoing files. */
void luo_file_destroy(struct luo_file *f, bool unpreserve)
{
	struct luo_ctx *ctx = f->session->ctx;

	copy_id_unregister(f);
	if (unpreserve && f->handler->unpreserve)
		f->handler->unpreserve(&f->hf);
	/* Everything goes now, as the kernel frees the memory at once. */
	if (f->handler->release)
		f->handler->release(&f->hf);
	if (f->charged)
		luo_quota_uncharge_file(ctx, f->session->owner, f->charged_bytes);
	if (f->id_registered)
		tdelete(f, &ctx->ids, cmp_id);
	if (f->hf.retrieved_fd >= 0)
		close(f->hf.retrieved_fd);
	if (f->hf.fd >= 0)
		close(f->hf.fd);
	free(f->hf.record);
	ctx->nr_files--;
	free(f);
}

int luo_session_add_file(struct luo_session *s, struct luo_file *f)
{
	if (s->nr_files == s->files_cap) {
		unsigned int cap = s->files_cap ? s->files_cap * 2 : 8;
		struct luo_file **files = reallocarray(s->files, cap, sizeof(*files));

		if (!files)
			return -ENOMEM;
		s->files = files;
		s->files_cap = cap;
	}
	if (!tsearch(f, &s->by_token, cmp_token))
		return -ENOMEM;
	f->index = s->nr_files;
	s->files[s->nr_files++] = f;
	s->ctx->nr_files++;
	return 0;
}

/* Undo luo_session_add_file() for the file added last. */
static void session_drop_last_file(struct luo_session *s, struct luo_file *f)
{
	tdelete(f, &s->by_token, cmp_token);
	s->nr_files--;
}

int luo_session_preserve_fd(struct luo_session *s, uint64_t token, int fd)
{
	return luo_session_preserve_fd_as(s, token, fd, 0);
}

int luo_session_preserve_fd_as(struct luo_session *s, uint64_t token, int fd, uid_t uid)
{
	struct luo_ctx *ctx = s->ctx;
	const struct luo_file_handler *h;
	struct luo_file *f;
	struct stat st;
	int r, fl;

	if (ctx->going_down)
		return -ESHUTDOWN;
	if (s->incoming)
		return -EINVAL;
	/* The kernel's order: token, capacity, fd, handler, identity, handler. */
	r = luo_fault(ctx, LUO_FP_PRESERVE_TOKEN);
	if (r < 0)
		return r;
	if (luo_file_find(s, token))
		return -EEXIST;
	r = luo_fault(ctx, LUO_FP_PRESERVE_CAPACITY);
	if (r < 0)
		return r;
	if (s->nr_files >= ctx->max_files)
		return -ENOSPC;
	if (fd < 0)
		return fd;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_PATH))
		return -EBADF;
	if (fstat(fd, &st) < 0)
		return -EBADF;
	h = handler_for(fd, &st);
	if (!h)
		return -ENOENT;
	f = file_new(s, h, token, -1);
	if (!f)
		return -ENOMEM;
	r = h->get_id(fd, &f->id);
	if (r < 0)
		goto fail;
	if (ctx->cfg.compat != LUO_COMPAT_6_19 && id_is_held(ctx, &f->id)) {
		r = -EBUSY;
		goto fail;
	}
	r = luo_fault(ctx, LUO_FP_PRESERVE_HANDLER);
	if (r < 0)
		goto fail;
	/* Charged to the session's owner, whoever holds the session fd. */
	r = luo_quota_charge_file(ctx, s->owner, (uint64_t)st.st_size);
	if (r < 0)
		goto fail;
	f->charged = true;
	f->charged_bytes = (uint64_t)st.st_size;
	f->hf.fd = fd;
	f->hf.preserver_uid = uid;
	r = h->preserve(&f->hf);
	if (r < 0)
		goto fail_fd;
	r = luo_session_add_file(s, f);
	if (r < 0)
		goto fail_unpreserve;
	r = luo_file_register_id(f);
	if (r < 0)
		goto fail_remove;
	return 0;

fail_remove:
	session_drop_last_file(s, f);
	ctx->nr_files--;
fail_unpreserve:
	if (h->unpreserve)
		h->unpreserve(&f->hf);
	if (h->release)
		h->release(&f->hf);
fail_fd:
	f->hf.fd = -1; /* the caller still owns @fd on failure */
fail:
	if (f->charged)
		luo_quota_uncharge_file(ctx, s->owner, f->charged_bytes);
	free(f->hf.record);
	free(f);
	return r;
}

int luo_session_retrieve_fd(struct luo_session *s, uint64_t token, int *ret_fd)
{
	bool first;

	return luo_session_retrieve_fd_first(s, token, ret_fd, &first);
}

int luo_session_retrieve_fd_first(struct luo_session *s, uint64_t token, int *ret_fd, bool *first)
{
	struct luo_ctx *ctx = s->ctx;
	struct luo_file *f;
	int r, fd = -1;

	*first = false;
	if (ctx->going_down)
		return -ESHUTDOWN;
	if (!s->incoming)
		return -EINVAL;
	if (s->finished)
		return -ENOENT;
	f = luo_file_find(s, token);
	if (!f)
		return -ENOENT;
	if (f->retrieve_err)
		return f->retrieve_err;
	if (!f->retrieved) {
		r = luo_fault(ctx, LUO_FP_RETRIEVE_FD);
		if (r == 0)
			r = f->handler->retrieve(&f->hf, &fd);
		if (r < 0) {
			luo_log(ctx, LOG_WARNING,
				"session '%s': retrieve of token %llu failed (%d); "
				"later attempts fail the same way",
				s->name, (unsigned long long)token, r);
			f->retrieve_err = r;
			return r;
		}
		f->hf.retrieved_fd = fd;
		f->retrieved = true;
		f->handouts = 0;
		*first = true;
		copy_id_register(f, fd);
		/*
		 * One fd per file from now on, as the kernel holds one struct
		 * file: the retrieved open file description serves every later
		 * RETRIEVE_FD, and an undo (luo_session_unretrieve_fd()).
		 */
		if (f->hf.fd >= 0)
			close(f->hf.fd);
		f->hf.fd = -1;
	}
	f->handouts++;
	*ret_fd = f->hf.retrieved_fd;
	return 0;
}

void luo_session_unretrieve_fd(struct luo_session *s, uint64_t token)
{
	struct luo_file *f;

	if (!s->incoming || s->finished)
		return;
	f = luo_file_find(s, token);
	/* Handed out again since: that caller holds the open file now. */
	if (!f || !f->retrieved || f->handouts != 1)
		return;
	copy_id_unregister(f);
	/* The retrieved file, never handed out, is what a new retrieve starts from. */
	if (f->hf.fd < 0)
		f->hf.fd = f->hf.retrieved_fd;
	else
		close(f->hf.retrieved_fd);
	f->hf.retrieved_fd = -1;
	f->retrieved = false;
	f->handouts = 0;
}

/* FINISH: every handler may veto first; then all of LUO's references go. */
int luo_session_finish_files(struct luo_session *s)
{
	for (unsigned int i = 0; i < s->nr_files; i++) {
		struct luo_file *f = s->files[i];
		int r = luo_fault(s->ctx, LUO_FP_FINISH_CAN_FINISH);

		if (r < 0)
			return r;
		if (f->handler->can_finish && !f->handler->can_finish(&f->hf))
			return -EBUSY;
	}
	for (unsigned int i = s->nr_files; i-- > 0;) {
		struct luo_file *f = s->files[i];

		if (f->handler->finish)
			f->handler->finish(&f->hf);
		tdelete(f, &s->by_token, cmp_token);
		luo_file_destroy(f, false);
	}
	s->nr_files = 0;
	s->finished = true;
	return 0;
}

int luo_incoming_add_file(struct luo_session *s, uint64_t token, const char *compatible,
			  const void *record, size_t record_len, int fd)
{
	struct luo_ctx *ctx = s->ctx;
	const struct luo_file_handler *h = luo_handler_by_compatible(compatible);
	struct luo_file *f;
	int r;

	if (!s->incoming)
		return -EINVAL;
	if (!h)
		return -ENOENT;
	if (fd < 0)
		return -EBADF;
	r = h->check_record(record, record_len);
	if (r < 0)
		return r;
	if (luo_file_find(s, token))
		return -EEXIST;
	r = luo_fault(ctx, LUO_FP_DESERIALIZE);
	if (r < 0)
		return r;
	f = file_new(s, h, token, -1);
	if (!f)
		return -ENOMEM;
	r = h->get_id(fd, &f->id);
	if (r < 0)
		goto fail;
	r = -ENOMEM;
	f->hf.record = malloc(record_len ?: 1);
	if (!f->hf.record)
		goto fail;
	memcpy(f->hf.record, record, record_len);
	f->hf.record_len = record_len;
	r = luo_session_add_file(s, f);
	if (r < 0)
		goto fail;
	r = luo_file_register_id(f);
	if (r < 0) {
		session_drop_last_file(s, f);
		ctx->nr_files--;
		goto fail;
	}
	f->hf.fd = fd;
	if (h->load) {
		r = h->load(&f->hf);
		if (r < 0) {
			/* The caller keeps @fd on failure. */
			f->hf.fd = -1;
			if (f->id_registered)
				tdelete(f, &ctx->ids, cmp_id);
			session_drop_last_file(s, f);
			ctx->nr_files--;
			goto fail;
		}
	}
	return 0;
fail:
	free(f->hf.record);
	free(f);
	return r;
}

struct luo_file *luo_file_first(struct luo_session *s)
{
	return s->nr_files ? s->files[0] : NULL;
}

struct luo_file *luo_file_next(struct luo_file *f)
{
	struct luo_session *s = f->session;

	return f->index + 1 < s->nr_files ? s->files[f->index + 1] : NULL;
}

uint64_t luo_file_token(const struct luo_file *f)
{
	return f->token;
}

int luo_file_fd(const struct luo_file *f)
{
	return f->hf.fd;
}

const char *luo_file_compatible(const struct luo_file *f)
{
	return f->handler->compatible;
}

const void *luo_file_record(const struct luo_file *f, size_t *len)
{
	*len = f->hf.record_len;
	return f->hf.record;
}
