// SPDX-License-Identifier: LGPL-2.1-or-later
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/handover.h"
#include "daemon/log.h"
#include "serialize/blob.h"
#include "util.h"

#define HANDOVER_MAX_COPY (1ull << 40) /* sanity bound on one file's contents */

/*
 * Every file of the state directory: never a link, never a wait (a FIFO
 * or a device planted there opens without blocking and is then refused
 * as not regular), never inherited.
 */
#define STATE_FILE_FLAGS (O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC)
#define STATE_DIR_FLAGS	 (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* An fd of the state directory that is not a regular file is refused. */
static int check_regular(int fd, struct stat *st)
{
	if (fstat(fd, st) < 0)
		return -errno;
	return S_ISREG(st->st_mode) ? 0 : -EBADMSG;
}

int handover_parse_mode(const char *s, enum handover_mode *ret)
{
	if (strcmp(s, "exec") == 0)
		*ret = HANDOVER_EXEC;
	else if (strcmp(s, "copy") == 0)
		*ret = HANDOVER_COPY;
	else
		return -EINVAL;
	return 0;
}

/* Copy @size bytes from @in (from offset 0, its position untouched) to @out. */
static int copy_contents(int in, int out, uint64_t size, struct handover_progress *progress)
{
	off_t off = 0;

	while ((uint64_t)off < size) {
		/* 64 MiB steps: `status` shows the progress of a large copy. */
		ssize_t n = sendfile(out, in, &off, MIN(size - (uint64_t)off, (uint64_t)1 << 26));

		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* shrank underneath us */
		handover_progress_add(progress, (uint64_t)n);
	}
	return 0;
}

static int write_data_file(int dirfd, const char *name, int fd, struct handover_progress *progress)
{
	_cleanup_close_ int out = -1;
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	/* Whatever was planted under the name goes: we write a new regular file. */
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	out = openat(dirfd, name, STATE_FILE_FLAGS | O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (out < 0)
		return -errno;
	r = copy_contents(fd, out, st.st_size, progress);
	if (r == 0 && fsync(out) < 0)
		r = -errno;
	return r;
}

/* Fill one blob file from a model file; copy mode writes its contents too. */
static int blob_file_from(struct luo_blob_file *bf, struct luo_file *f, enum handover_mode mode,
			  int dirfd, uint64_t generation, unsigned int index,
			  struct handover_progress *progress)
{
	size_t len;
	const void *rec = luo_file_record(f, &len);

	bf->token = luo_file_token(f);
	snprintf(bf->compatible, sizeof(bf->compatible), "%s", luo_file_compatible(f));
	bf->record = malloc(len ?: 1);
	if (!bf->record)
		return -ENOMEM;
	memcpy(bf->record, rec, len);
	bf->record_len = len;
	if (mode == HANDOVER_EXEC) {
		bf->fd_slot = luo_file_fd(f);
		return 0;
	}
	bf->fd_slot = -1;
	snprintf(bf->data_name, sizeof(bf->data_name), "data-%llu-%u",
		 (unsigned long long)generation, index);
	return write_data_file(dirfd, bf->data_name, luo_file_fd(f), progress);
}

/* What a copy-mode handover will write, for the progress `status` shows. */
static uint64_t copy_total(struct daemon *d)
{
	uint64_t total = 0;
	struct stat st;

	for (struct luo_session *s = luo_outgoing_first(d->luo); s; s = luo_session_next(s))
		for (struct luo_file *f = luo_file_first(s); f; f = luo_file_next(f))
			if (fstat(luo_file_fd(f), &st) == 0)
				total += (uint64_t)st.st_size;
	return total;
}

static int blob_build(struct daemon *d, enum handover_mode mode, int dirfd, struct luo_blob **ret)
{
	uint64_t generation = luo_ctx_liveupdate_count(d->luo) + 1;
	struct luo_blob *b = calloc(1, sizeof(*b));
	struct luo_session *s;
	unsigned int n = 0, index = 0;
	int r = 0;

	if (!b)
		return -ENOMEM;
	b->liveupdate_count = luo_ctx_liveupdate_count(d->luo);
	b->mode = mode == HANDOVER_EXEC ? LUO_BLOB_MODE_EXEC : LUO_BLOB_MODE_COPY;
	for (s = luo_outgoing_first(d->luo); s; s = luo_session_next(s))
		n++;
	b->sessions = calloc(n ?: 1, sizeof(*b->sessions));
	if (!b->sessions) {
		free(b);
		return -ENOMEM;
	}
	if (mode == HANDOVER_COPY)
		handover_progress_begin(&d->progress, copy_total(d));
	for (s = luo_outgoing_first(d->luo); s && r == 0; s = luo_session_next(s)) {
		struct luo_blob_session *bs = &b->sessions[b->nr_sessions++];
		unsigned int i = 0;

		snprintf(bs->name, sizeof(bs->name), "%s", luo_session_name(s));
		bs->owner_uid = luo_session_owner(s);
		bs->files = calloc(luo_session_nr_files(s) ?: 1, sizeof(*bs->files));
		if (!bs->files) {
			r = -ENOMEM;
			break;
		}
		for (struct luo_file *f = luo_file_first(s); f && r == 0; f = luo_file_next(f)) {
			r = blob_file_from(&bs->files[i++], f, mode, dirfd, generation, index++,
					   &d->progress);
			bs->nr_files = i;
		}
	}
	handover_progress_end(&d->progress);
	if (r < 0) {
		luo_blob_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

static void unlink_data_files(int dirfd, const struct luo_blob *b)
{
	for (uint32_t i = 0; i < b->nr_sessions; i++)
		for (uint32_t j = 0; j < b->sessions[i].nr_files; j++)
			if (b->sessions[i].files[j].data_name[0])
				unlinkat(dirfd, b->sessions[i].files[j].data_name, 0);
}

/*
 * Copy-mode data files that no loaded blob claims: left by a daemon that
 * died before its blob was committed.  They can be as large as guest RAM.
 */
static void remove_stale_data(const char *state_dir)
{
	DIR *dir = opendir(state_dir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir)))
		if (strncmp(de->d_name, "data-", 5) == 0 &&
		    unlinkat(dirfd(dir), de->d_name, 0) == 0)
			log_msg(LOG_NOTICE, "removed %s/%s: no committed handover claims it",
				state_dir, de->d_name);
	closedir(dir);
}

static int set_cloexec(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		return -errno;
	fl = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
	return fcntl(fd, F_SETFD, fl) < 0 ? -errno : 0;
}

int handover_prepare(struct daemon *d, const struct handover_request *req, char *why,
		     size_t why_len)
{
	_cleanup_close_ int dirfd = -1;
	_cleanup_free_ void *buf = NULL;
	enum luo_fault_action action;
	struct luo_blob *b = NULL;
	size_t len;
	int r;

	dirfd = open(d->cfg.state_dir, STATE_DIR_FLAGS);
	if (dirfd < 0) {
		r = -errno;
		snprintf(why, why_len, "state directory %s: %s", d->cfg.state_dir, strerror(-r));
		return r;
	}
	/* The kernel's order: freeze every file, then serialize. */
	r = luo_freeze(d->luo);
	if (r < 0) {
		snprintf(why, why_len, "freeze failed: %s; every session stays usable",
			 strerror(-r));
		return r;
	}
	r = luo_faults_hook(d->faults, LUO_FP_HANDOVER_SERIALIZE);
	if (r == 0)
		r = blob_build(d, req->mode, dirfd, &b);
	if (r < 0) {
		snprintf(why, why_len, "serializing the sessions: %s", strerror(-r));
		goto fail;
	}
	r = luo_blob_encode(b, &buf, &len);
	if (r < 0) {
		snprintf(why, why_len, "encoding the blob: %s", strerror(-r));
		goto fail;
	}
	action = luo_faults_blob_action(d->faults);
	if (action != LUO_FAULT_NONE)
		luo_faults_damage_blob(action, buf, &len);
	r = luo_blob_write_atomic_fault(dirfd, HANDOVER_BLOB, buf, len, luo_faults_hook, d->faults);
	if (r < 0) {
		snprintf(why, why_len, "writing %s/%s: %s", d->cfg.state_dir, HANDOVER_BLOB,
			 strerror(-r));
		goto fail;
	}
	/* The commit point is behind us: let the files' fds cross execve(). */
	for (uint32_t i = 0; req->mode == HANDOVER_EXEC && i < b->nr_sessions; i++)
		for (uint32_t j = 0; j < b->sessions[i].nr_files; j++)
			set_cloexec(b->sessions[i].files[j].fd_slot, false);
	log_msg(LOG_INFO, "live update #%llu serialized: %u sessions, %zu bytes of blob, %s mode",
		(unsigned long long)luo_ctx_liveupdate_count(d->luo) + 1, b->nr_sessions, len,
		req->mode == HANDOVER_EXEC ? "exec" : "copy");
	luo_blob_free(b);
	return 0;
fail:
	if (b) {
		unlink_data_files(dirfd, b);
		luo_blob_free(b);
	}
	luo_unfreeze(d->luo);
	return r;
}

int handover_exec(struct daemon *d)
{
	const char *binary = d->handover.binary[0] ? d->handover.binary : d->self_exe;

	int r = luo_faults_hook(d->faults, LUO_FP_HANDOVER_EXEC);

	log_msg(LOG_INFO, "handing over to %s", binary);
	if (r < 0) {
		log_msg(LOG_CRIT, "execv %s: %s (injected); the preserved state is lost", binary,
			strerror(-r));
		return r;
	}
	execv(binary, d->argv);
	log_msg(LOG_CRIT, "execv %s: %m; the preserved state is lost", binary);
	return -errno;
}

/* ---- the new daemon's side ---- */

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every fd >= 3 that @keep (sorted) does not name. */
static void close_unclaimed(const int *keep, size_t n)
{
	unsigned int lo = 3;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned int)keep[i] > lo)
			close_range(lo, keep[i] - 1, 0);
		if ((unsigned int)keep[i] >= lo)
			lo = keep[i] + 1;
	}
	close_range(lo, ~0U, 0);
}

/* Claimed fds of an exec-mode blob, sorted; the decoder made them unique. */
static int claimed_fds(const struct luo_blob *b, int **ret, size_t *ret_n)
{
	size_t n = 0;
	int *fds;

	for (uint32_t i = 0; i < b->nr_sessions; i++)
		n += b->sessions[i].nr_files;
	fds = calloc(n ?: 1, sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	n = 0;
	for (uint32_t i = 0; i < b->nr_sessions; i++)
		for (uint32_t j = 0; j < b->sessions[i].nr_files; j++)
			if (b->sessions[i].files[j].fd_slot >= 3)
				fds[n++] = b->sessions[i].files[j].fd_slot;
	qsort(fds, n, sizeof(*fds), cmp_int);
	*ret = fds;
	*ret_n = n;
	return 0;
}

/* The data holder of one incoming file: the inherited fd, or a rebuilt memfd. */
static int incoming_fd(const struct luo_blob_file *bf, uint32_t mode, int dirfd, char *why,
		       size_t why_len)
{
	_cleanup_close_ int in = -1, mfd = -1;
	struct stat st;
	int r;

	if (mode == LUO_BLOB_MODE_EXEC) {
		/* Never trust a slot: it must be an inherited, unlinked regular file. */
		if (bf->fd_slot < 3 || fstat(bf->fd_slot, &st) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_nlink != 0) {
			snprintf(why, why_len,
				 "token %llu: fd %d is not an inherited preserved file "
				 "(was the daemon restarted without an exec handover?)",
				 (unsigned long long)bf->token, bf->fd_slot);
			return -EBADMSG;
		}
		r = fcntl(bf->fd_slot, F_DUPFD_CLOEXEC, 3);
		return r < 0 ? -errno : r;
	}
	in = openat(dirfd, bf->data_name, STATE_FILE_FLAGS | O_RDONLY);
	r = in < 0 ? -errno : check_regular(in, &st);
	if (r == 0 && (uint64_t)st.st_size > HANDOVER_MAX_COPY)
		r = -EFBIG;
	if (r < 0) {
		snprintf(why, why_len, "token %llu: data file %s: %s",
			 (unsigned long long)bf->token, bf->data_name,
			 r == -EBADMSG ? "not a regular file" : strerror(-r));
		return r;
	}
	/* As the kernel's retrieve does, the file comes back as a new, nameless memfd. */
	mfd = memfd_create("", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	if (ftruncate(mfd, st.st_size) < 0)
		return -errno;
	r = copy_contents(in, mfd, st.st_size, NULL);
	if (r < 0) {
		snprintf(why, why_len, "token %llu: copying %s: %s", (unsigned long long)bf->token,
			 bf->data_name, strerror(-r));
		return r;
	}
	return TAKE_FD(mfd);
}

static int load_blob(struct daemon *d, const struct luo_blob *b, int dirfd, char *why,
		     size_t why_len)
{
	for (uint32_t i = 0; i < b->nr_sessions; i++) {
		const struct luo_blob_session *bs = &b->sessions[i];
		struct luo_session *s;
		int r = luo_incoming_add_session_owned(d->luo, bs->name, bs->owner_uid, &s);

		if (r < 0) {
			snprintf(why, why_len, "session '%s': %s", bs->name, strerror(-r));
			return r;
		}
		for (uint32_t j = 0; j < bs->nr_files; j++) {
			const struct luo_blob_file *bf = &bs->files[j];
			int fd = incoming_fd(bf, b->mode, dirfd, why, why_len);

			if (fd < 0)
				return fd;
			r = luo_incoming_add_file(s, bf->token, bf->compatible, bf->record,
						  bf->record_len, fd);
			if (r < 0) {
				close(fd);
				snprintf(why, why_len, "session '%s', token %llu (%s): %s",
					 bs->name, (unsigned long long)bf->token, bf->compatible,
					 strerror(-r));
				return r;
			}
		}
	}
	return 0;
}

void handover_load(struct daemon *d)
{
	_cleanup_close_ int dirfd = -1;
	_cleanup_free_ void *buf = NULL;
	_cleanup_free_ int *keep = NULL;
	struct luo_blob *b = NULL;
	char why[512] = "", path[PATH_MAX];
	size_t len, nkeep = 0;
	bool closed = false;
	int r;

	/* No fd of ours may exist before the unclaimed ones are closed. */
	snprintf(path, sizeof(path), "%s/%s", d->cfg.state_dir, HANDOVER_BLOB);
	r = luo_blob_read_file(AT_FDCWD, path, &buf, &len);
	if (r == -ENOENT) {
		close_unclaimed(NULL, 0);
		remove_stale_data(d->cfg.state_dir);
		log_msg(LOG_INFO, "cold boot: no handover blob in %s", d->cfg.state_dir);
		return;
	}
	if (r < 0) {
		snprintf(why, sizeof(why), "reading it: %s", strerror(-r));
		goto fail;
	}
	r = luo_faults_hook(d->faults, LUO_FP_HANDOVER_LOAD);
	if (r < 0) {
		snprintf(why, sizeof(why), "injected fault");
		goto fail;
	}
	r = luo_blob_decode_reason(buf, len, &b, why, sizeof(why));
	if (r < 0)
		goto fail;
	r = b->mode == LUO_BLOB_MODE_EXEC ? claimed_fds(b, &keep, &nkeep) : 0;
	if (r < 0)
		goto fail;
	close_unclaimed(keep, nkeep);
	closed = true;
	dirfd = open(d->cfg.state_dir, STATE_DIR_FLAGS);
	if (dirfd < 0) {
		r = -errno;
		snprintf(why, sizeof(why), "state directory: %s", strerror(-r));
		goto fail;
	}
	r = load_blob(d, b, dirfd, why, sizeof(why));
	if (r < 0)
		goto fail;
	luo_ctx_set_liveupdate_count(d->luo, b->liveupdate_count + 1);
	for (size_t i = 0; i < nkeep; i++)
		close(keep[i]); /* the model holds CLOEXEC dups */
	if (renameat(dirfd, HANDOVER_BLOB, dirfd, HANDOVER_BLOB_LOADED) < 0)
		log_msg(LOG_WARNING, "renaming the loaded blob: %m");
	unlink_data_files(dirfd, b);
	remove_stale_data(d->cfg.state_dir);
	log_msg(LOG_INFO, "live update #%llu: %u incoming sessions (%s mode)",
		(unsigned long long)b->liveupdate_count + 1, b->nr_sessions,
		b->mode == LUO_BLOB_MODE_EXEC ? "exec" : "copy");
	luo_blob_free(b);
	return;
fail:
	/* The kernel panics on a corrupt handover; we refuse every open instead. */
	if (!closed)
		close_unclaimed(NULL, 0);
	for (size_t i = 0; i < nkeep; i++)
		close(keep[i]);
	luo_incoming_drop_all(d->luo);
	luo_ctx_set_incoming_error(d->luo, -EIO);
	log_msg(LOG_CRIT,
		"the handover blob %s/%s cannot be loaded: %s (%s); every open of %s fails "
		"with EIO; the blob is kept for inspection (luoemu inspect), remove it for a "
		"cold boot",
		d->cfg.state_dir, HANDOVER_BLOB, why, strerror(-r), d->dev_path);
	luo_blob_free(b);
}
