/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fault injection: a registry of named points (slash-separated, stable)
 * with the kernel's fault_attr knobs, a client filter and crash actions.
 * The core, the blob writer and the frontends call luo_faults_hook() at
 * each point; it decides, counts and logs.  User documentation: FAULTS.md.
 *
 * One object, no globals but the per-thread client (see
 * luo_faults_set_client()).  Every function takes the registry's own
 * mutex, so the hook may be called from any thread.  Functions return 0 or
 * a negative errno.
 */
#ifndef LUOEMU_FAULT_FAULT_H
#define LUOEMU_FAULT_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum luo_fault_action {
	LUO_FAULT_NONE = 0,
	LUO_FAULT_ERRNO, /* the hook returns -errno (the default) */
	LUO_FAULT_ABORT, /* the hook logs, then abort()s the daemon */
	/* Blob damage: only on "blob/write", see luo_faults_blob_action(). */
	LUO_FAULT_TORN,	      /* the second half of the blob holds other bytes */
	LUO_FAULT_TRUNCATE,   /* only the first half of the blob is written */
	LUO_FAULT_BADVERSION, /* a well-sealed blob that needs a newer reader */
};

/* Frontend and daemon points (the core's are in state/fault-points.h). */
#define LUO_FP_BLOB_OPEN	  "blob/open"
#define LUO_FP_BLOB_WRITE	  "blob/write"
#define LUO_FP_BLOB_FSYNC	  "blob/fsync"
#define LUO_FP_BLOB_RENAME	  "blob/rename"
#define LUO_FP_CUSE_READ_ARG	  "cuse/read-arg"
#define LUO_FP_CUSE_GETFD	  "cuse/getfd"
#define LUO_FP_COURIER_ADDFD	  "courier/addfd"
#define LUO_FP_HANDOVER_SERIALIZE "handover/serialize"
#define LUO_FP_HANDOVER_EXEC	  "handover/exec"
#define LUO_FP_HANDOVER_LOAD	  "handover/load"

/* Largest luo_faults_list() output; fits a control datagram. */
#define LUO_FAULTS_LIST_MAX 8192

struct luo_faults;

int luo_faults_new(struct luo_faults **ret);
void luo_faults_free(struct luo_faults *f);

/*
 * Every injection is logged through @log (may be NULL: silent, except that
 * an abort always explains itself on stderr).  The sink is called without
 * the registry's mutex held.
 */
void luo_faults_set_logger(struct luo_faults *f, void (*log)(void *data, int prio, const char *msg),
			   void *data);

/* The known points, in listing order: i < luo_faults_nr_points(). */
size_t luo_faults_nr_points(void);
const char *luo_faults_point(size_t i, const char **description);

/*
 * Arm one point: "POINT key=value ...", keys separated by blanks:
 *   errno=NAME|N        error to return, ENOMEM or 12 (default ENOMEM)
 *   probability=0..100  percent of eligible calls that fail (default 100)
 *   interval=N          only every Nth eligible call may fail (default 1)
 *   times=N|-1          failures before the point goes quiet (default 1)
 *   space=N             the first N calls are never eligible (default 0)
 *   nth=N               fail exactly the Nth eligible call, then go quiet;
 *                       excludes probability, interval and times
 *   pid=N, comm=NAME    only calls made for that client
 *   action=errno|abort|torn|truncate|badversion (the last three: blob/write)
 *   seed=N              PRNG seed for probability (default 0): reproducible
 * Re-arming a point replaces all its knobs and restarts its eligibility
 * count; the calls and injections counters are kept.  Errors: -ENOENT for
 * an unknown point, -EINVAL for anything else; @why says which and why.
 */
int luo_faults_set(struct luo_faults *f, const char *spec, char *why, size_t why_len);

/* ';'-separated specs (--fault, $LUOEMU_FAULTS): all are armed or none. */
int luo_faults_set_many(struct luo_faults *f, const char *specs, char *why, size_t why_len);

/* Disarm one point, or all of them for NULL or "all"; -ENOENT if unknown. */
int luo_faults_clear(struct luo_faults *f, const char *point);

/*
 * One line per known point:
 *   "POINT calls=N injected=N off|KNOBS [spent]  # description\n"
 * -ENOBUFS if @size is too small (the output is then cut, NUL-terminated).
 */
int luo_faults_list(struct luo_faults *f, char *buf, size_t size);

/* The counters of one point, since the registry was made. */
int luo_faults_counts(struct luo_faults *f, const char *point, unsigned long *calls,
		      unsigned long *injected);

/*
 * The hook: a luo_fault_fn and a luo_blob_fault_fn, @data being the
 * registry.  Returns 0 or the armed -errno; action=abort logs and aborts.
 * A point armed with a blob damage action always returns 0 here: the
 * writer asks luo_faults_blob_action() instead.  Unknown points pass.
 */
int luo_faults_hook(void *data, const char *point);

/*
 * The client the calling thread is working for, matched by pid= and comm=
 * filters and named in log lines.  It lives in a thread-local variable
 * (shared by every registry) because the CUSE frontend serves requests on
 * several worker threads at once: set it at the start of each request, on
 * that request's thread.  @pid is the process (thread group) id; 0 clears.
 * A NULL @comm is read from /proc/PID/comm when first needed.  Calls made
 * with no client never match a filter.  @f is unused, for symmetry.
 */
void luo_faults_set_client(struct luo_faults *f, pid_t pid, const char *comm);

/*
 * Whether any armed point filters by pid or comm: frontends only need to
 * work out the client (a /proc read per request) when this is true.
 */
bool luo_faults_filtering(struct luo_faults *f);

/*
 * For the blob writer, once per blob, before writing: if "blob/write" is
 * armed with torn, truncate or badversion and this call is selected by its
 * knobs, returns that action (counted and logged as an injection); else
 * LUO_FAULT_NONE.
 */
enum luo_fault_action luo_faults_blob_action(struct luo_faults *f);

/*
 * Apply a damage action to an encoded blob in place: TORN inverts every
 * byte of the second half, TRUNCATE halves *@len, BADVERSION raises version
 * and min_reader_version past this reader and re-seals the header (the
 * decoder then says -EPROTONOSUPPORT, not corruption).  -EINVAL for any
 * other action or a buffer too short to hold a header.
 */
int luo_faults_damage_blob(enum luo_fault_action action, void *buf, size_t *len);

#endif
