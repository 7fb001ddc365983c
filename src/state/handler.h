/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * File handlers: the userspace twin of struct liveupdate_file_ops.  The
 * core never knows what a memfd is; a handler says whether it can preserve
 * a file and keeps the per-file record that crosses the live update.
 */
#ifndef LUOEMU_STATE_HANDLER_H
#define LUOEMU_STATE_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct luo_ctx;

/* Identity of a preserved file, for EBUSY on double preservation. */
struct luo_file_id {
	uint64_t dev;
	uint64_t ino;
};

/* What a handler sees of one preserved file. */
struct luo_handler_file {
	int fd;		  /* the model's reference (data holder) */
	int retrieved_fd; /* the OFD handed out on retrieve, or -1 */
	void *record;	  /* handler-owned; serialized as is */
	size_t record_len;
	struct luo_ctx *ctx; /* for logging and policy; NULL in handler-only tests */
	uid_t preserver_uid; /* PRESERVE: the caller's uid */
	void *priv;	     /* handler-owned, never serialized (e.g. the pin) */
};

struct luo_file_handler {
	const char *compatible; /* e.g. "memfd-v2": names the record format */
	bool (*can_preserve)(int fd, const struct stat *st);
	int (*get_id)(int fd, struct luo_file_id *id);
	int (*preserve)(struct luo_handler_file *f);
	void (*unpreserve)(struct luo_handler_file *f);
	int (*freeze)(struct luo_handler_file *f);
	void (*unfreeze)(struct luo_handler_file *f);
	/* Validates a record that came from a blob (hostile input). */
	int (*check_record)(const void *record, size_t len);
	int (*retrieve)(struct luo_handler_file *f, int *ret_fd);
	bool (*can_finish)(struct luo_handler_file *f);
	void (*finish)(struct luo_handler_file *f);
	/* Incoming file loaded into the model (pin it); may be NULL. */
	int (*load)(struct luo_handler_file *f);
	/*
	 * The model lets go of the file (unpreserve, FINISH, close, drop,
	 * teardown): release everything held besides fd/retrieved_fd, which
	 * the core closes.  Always called last; may be NULL.
	 */
	void (*release)(struct luo_handler_file *f);
};

extern const struct luo_file_handler luo_memfd_handler;

/* Log a "why" line through the context's sink. */
void luo_log(struct luo_ctx *ctx, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
