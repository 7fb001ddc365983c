/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The LUO model: device, sessions, preserved files and the live-update
 * freeze, with the kernel's rules and errno order.  No I/O to CUSE, seccomp
 * or sockets happens here; frontends translate to and from these calls.
 *
 * Every function returns 0 or a negative errno.  The model is not
 * thread-safe: a frontend serialises all calls on one context (one lock).
 */
#ifndef LUOEMU_STATE_LUO_H
#define LUOEMU_STATE_LUO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "luoemu/liveupdate.h"

#define LUO_NAME_LEN LIVEUPDATE_SESSION_NAME_LENGTH

/*
 * Compat levels: which kernel's observable behaviour to reproduce.
 *   7.3   the default; as 7.2, and FINISH refuses reserved != 0 (EINVAL),
 *         as a 7.3.4 kernel was seen to do (kernel-observed.md).
 *   7.2   the newest merged uAPI read from source: FINISH's reserved field
 *         is not checked.
 *   6.19  the first release: laxer names, tighter limits, no direction
 *         check, no GET_NAME, no double-preserve check.
 * Code asks "is this 6.19" or "does this level check X", never "is this 7.2":
 * each new level starts as its predecessor.
 */
enum luo_compat {
	LUO_COMPAT_7_3 = 0, /* the default (zeroed config) */
	LUO_COMPAT_7_2,
	LUO_COMPAT_6_19,
};

/* "7.3", "7.2", "6.19" -> *@ret; -EINVAL for anything else. */
int luo_compat_parse(const char *s, enum luo_compat *ret);
/* "7.3", "7.2", "6.19"; "?" for a value outside the enum. */
const char *luo_compat_name(enum luo_compat compat);
/* Does FINISH refuse a non-zero reserved field (7.3+)? */
bool luo_compat_finish_checks_reserved(enum luo_compat compat);

/* Kernel limits per compat level (luo-uapi.md §4). */
#define LUO_7_2_MAX_SESSIONS  510000u
#define LUO_7_2_MAX_FILES     510000u
#define LUO_6_19_MAX_SESSIONS 819u
#define LUO_6_19_MAX_FILES    128u

struct luo_ctx;
struct luo_session;
struct luo_file;
struct luo_file_handler;

/*
 * Per-uid quotas, charged to a session's owner (the uid that created it):
 * outgoing sessions, files preserved in them and their bytes (file size at
 * PRESERVE).  0 selects the default; UINT32_MAX / UINT64_MAX is unlimited.
 * Past a quota the call fails with the errno the kernel uses for that
 * exhaustion (sessions: ENOSPC, ENOMEM on 6.19; files: ENOSPC; bytes:
 * ENOMEM) and one line names the uid and the quota in the log.
 * Order: the session quota is checked with the kernel's session limit
 * (before the duplicate-name check); the file and byte quotas after the
 * EBUSY check, just before the handler runs.  Incoming sessions and files
 * are not charged (they were charged in the daemon that preserved them).
 * The defaults fit one large VMM and the kernel selftests' scale runs.
 */
#define LUO_QUOTA_DEFAULT_SESSIONS 16384u
#define LUO_QUOTA_DEFAULT_FILES	   65536u
#define LUO_QUOTA_DEFAULT_BYTES	   (4ull << 40) /* 4 TiB */

struct luo_quota {
	unsigned int sessions;
	unsigned int files;
	uint64_t bytes;
};

/*
 * Pinning of preserved memfds in the daemon's RAM (mlock of a shared
 * mapping), as the kernel pins their folios: from PRESERVE until unpreserve,
 * close or the update; for incoming files from load until FINISH, close or
 * drop.  ON: a file that cannot be locked fails PRESERVE with ENOMEM.
 * AUTO (default): try; on failure log once and carry on unpinned.
 * OFF: nothing is locked.
 */
enum luo_pin {
	LUO_PIN_AUTO = 0,
	LUO_PIN_ON,
	LUO_PIN_OFF,
};

/* "auto", "on", "off" -> *@ret; -EINVAL for anything else. */
int luo_pin_parse(const char *s, enum luo_pin *ret);
const char *luo_pin_name(enum luo_pin pin);

/*
 * Fault hook: called at every named point (see fault-points.h).  Returns 0
 * to go on or a negative errno to fail the step as the kernel would.
 */
typedef int (*luo_fault_fn)(void *data, const char *point);

struct luo_config {
	enum luo_compat compat;
	unsigned int max_sessions; /* 0: the compat level's limit */
	unsigned int max_files;	   /* per session; 0: compat limit */
	luo_fault_fn fault;	   /* may be NULL */
	void *fault_data;
	/* Optional log sink for "why" lines (warnings); may be NULL. */
	void (*log)(void *data, int prio, const char *msg);
	void *log_data;
	struct luo_quota quota; /* zeroed: the defaults */
	enum luo_pin pin;	/* zeroed: LUO_PIN_AUTO */
};

int luo_ctx_new(const struct luo_config *cfg, struct luo_ctx **ret);
void luo_ctx_free(struct luo_ctx *ctx);
enum luo_compat luo_ctx_compat(const struct luo_ctx *ctx);

/* Device: one open file description at a time, system-wide. */
int luo_device_open(struct luo_ctx *ctx); /* -EBUSY, -EIO */
void luo_device_release(struct luo_ctx *ctx);

/* After a live update the first open deserializes; a failure sticks. */
void luo_ctx_set_incoming_error(struct luo_ctx *ctx, int err);
int luo_ctx_incoming_error(const struct luo_ctx *ctx);
void luo_ctx_set_liveupdate_count(struct luo_ctx *ctx, uint64_t count);
uint64_t luo_ctx_liveupdate_count(const struct luo_ctx *ctx);

/*
 * Sessions.  @name is the raw 64-byte field from the caller's struct.
 * The returned session lives until luo_session_release() (the last close
 * of its fd) and, for incoming sessions, until it is finished.
 *
 * Sessions have owners: CREATE records the caller's uid, and the blob
 * carries it across the update.  RETRIEVE_SESSION by a uid that is neither
 * 0 nor the owner fails with -ENOENT, exactly as if no such session
 * existed: the kernel's device is root-only so it has no such rule, and
 * luoemu (whose device may be opened by several users) lets a user see
 * nothing of another user's sessions, not even that a name is taken.
 * The _as variants take the caller's uid; the plain ones act as uid 0.
 */
int luo_session_create(struct luo_ctx *ctx, const uint8_t name[LUO_NAME_LEN],
		       struct luo_session **ret);
int luo_session_create_as(struct luo_ctx *ctx, const uint8_t name[LUO_NAME_LEN], uid_t uid,
			  struct luo_session **ret);
int luo_session_retrieve(struct luo_ctx *ctx, const uint8_t name[LUO_NAME_LEN],
			 struct luo_session **ret);
int luo_session_retrieve_as(struct luo_ctx *ctx, const uint8_t name[LUO_NAME_LEN], uid_t uid,
			    struct luo_session **ret);
void luo_session_release(struct luo_session *s);
bool luo_session_is_incoming(const struct luo_session *s);
const char *luo_session_name(const struct luo_session *s);
uint64_t luo_session_id(const struct luo_session *s);
uid_t luo_session_owner(const struct luo_session *s);
/* The live session (either direction) with this id, or NULL. */
struct luo_session *luo_session_by_id(struct luo_ctx *ctx, uint64_t id);

/*
 * Undo of a successful call whose new fd could not be installed (EMFILE,
 * caller gone): as if the call had never run.  Unlike the EFAULT paths
 * (which follow the kernel's fput and finish), nothing is finished.
 *
 * luo_session_unretrieve(): the incoming session is retrievable again,
 * with all its files, none of them retrieved.  -EINVAL if @s is not a
 * retrieved incoming session.
 */
int luo_session_unretrieve(struct luo_session *s);

/*
 * Per-ioctl direction check of 7.2 (EINVAL); 6.19 has none.  @nr is the
 * session ioctl number (0x40..0x43).
 */
int luo_session_check_direction(const struct luo_session *s, unsigned int nr);

/*
 * PRESERVE_FD.  @fd is the daemon's own reference to the caller's file, or
 * a negative errno if the caller's fd could not be taken (-EBADF), so the
 * errors come out in the kernel's order.  On success the model owns @fd;
 * on failure the caller still does.  @uid (the _as variant) is the
 * preserving caller's: the handler uses it to never widen access (see
 * memfd.c); the plain variant acts as uid 0.
 */
int luo_session_preserve_fd(struct luo_session *s, uint64_t token, int fd);
int luo_session_preserve_fd_as(struct luo_session *s, uint64_t token, int fd, uid_t uid);

/*
 * RETRIEVE_FD.  *@fd is the model's fd for the retrieved open file
 * description (the same one on every repeat); it stays owned by the model,
 * so the frontend must dup or install it while it still holds the lock.
 * The _first variant also says whether this call did the token's first
 * retrieval (*@first), for luo_session_unretrieve_fd().
 */
int luo_session_retrieve_fd(struct luo_session *s, uint64_t token, int *fd);
int luo_session_retrieve_fd_first(struct luo_session *s, uint64_t token, int *fd, bool *first);
/*
 * Undo of a first retrieval whose fd could not be installed: the token is
 * retrievable again as before (a new open file description next time, no
 * sticky error).  Does nothing if the session is finished, or if the file
 * was handed out again since (someone else holds that fd now).
 */
void luo_session_unretrieve_fd(struct luo_session *s, uint64_t token);
int luo_session_finish(struct luo_session *s);
int luo_session_get_name(const struct luo_session *s, uint8_t name[LUO_NAME_LEN]);

/*
 * The live update, serialization side.  luo_freeze() freezes every outgoing
 * session in creation order and every file in preservation order; on the
 * first failure it unfreezes what was frozen in reverse and returns the
 * error, leaving every session usable.  After success the context is
 * "going down": every session operation fails with -ESHUTDOWN (the kernel
 * blocks instead; frontends may hold the caller) until luo_unfreeze().
 */
int luo_freeze(struct luo_ctx *ctx);
void luo_unfreeze(struct luo_ctx *ctx);
bool luo_ctx_going_down(const struct luo_ctx *ctx);

/* Walking the outgoing state (for serialization), in kernel order. */
struct luo_session *luo_outgoing_first(struct luo_ctx *ctx);
struct luo_session *luo_session_next(struct luo_session *s);
unsigned int luo_session_nr_files(const struct luo_session *s);
struct luo_file *luo_file_first(struct luo_session *s);
struct luo_file *luo_file_next(struct luo_file *f);
uint64_t luo_file_token(const struct luo_file *f);
int luo_file_fd(const struct luo_file *f);
const char *luo_file_compatible(const struct luo_file *f);
/* The handler's record: what the next "kernel" needs besides the fd. */
const void *luo_file_record(const struct luo_file *f, size_t *len);

/*
 * Loading the incoming state (deserialization side).  The model takes
 * ownership of @fd (the data holder: an inherited fd or a rebuilt memfd)
 * on success.  Unknown @compatible strings give -ENOENT.
 */
int luo_incoming_add_session(struct luo_ctx *ctx, const char *name, struct luo_session **ret);
/* The owner carried by the blob (0 for blobs that predate owners). */
int luo_incoming_add_session_owned(struct luo_ctx *ctx, const char *name, uid_t owner,
				   struct luo_session **ret);
int luo_incoming_add_file(struct luo_session *s, uint64_t token, const char *compatible,
			  const void *record, size_t record_len, int fd);
/* Drop all incoming sessions (a fresh update replaces them). */
void luo_incoming_drop_all(struct luo_ctx *ctx);

/* Counters, for status output and leak checks. */
struct luo_stats {
	unsigned int outgoing;
	unsigned int incoming;
	unsigned int files; /* files held, both directions */
	bool device_open;
	bool going_down;
	uint64_t bytes_pinned;	   /* preserved/incoming memfd bytes locked in RAM */
	uint64_t bytes_not_pinned; /* ... that could not be locked (or pin=off) */
};
void luo_ctx_stats(const struct luo_ctx *ctx, struct luo_stats *st);

#endif
