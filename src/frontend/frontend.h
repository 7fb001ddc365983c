/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every transport of the emulated device shares: the objects behind
 * its opens (a client's device open, a session fd, a courier's spare), the
 * binding of a courier's spare to a new session, the courier protocol
 * (frontend/courier-protocol.h) and the ioctl path into the ABI layer.
 * CUSE (src/cuse) and FUSE (src/fuse) are thin adapters over it: they
 * translate their library's callbacks into these calls and nothing more.
 * No transport includes daemon headers: logging is handed in.
 */
#ifndef LUOEMU_FRONTEND_H
#define LUOEMU_FRONTEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct luo_ctx;
struct luo_faults;
struct fe_open;

struct luo_frontend {
	/* Set by the daemon before the transport starts. */
	struct luo_ctx *luo;
	pthread_mutex_t *lock;	   /* the daemon's one lock over the model */
	pid_t courier_pid;	   /* only this process may use the courier protocol */
	const char *dev_path;	   /* for log lines: "/dev/liveupdate" */
	struct luo_faults *faults; /* fault injection registry */
	/* One rate-limited line per refused request; may be NULL. */
	void (*log_refusal)(void *data, const char *line);
	void *log_data;

	/* Counters, read by the control thread: atomic. */
	unsigned long long requests, refusals, held;

	/* Under *lock: every open, and the courier's unbound ones, by id. */
	struct fe_open *all;
	struct fe_open *spares;
	uint64_t next_spare_id;
	/* The last retrieved file handed to the courier, until it took it. */
	int courier_fd;
	/*
	 * FUSE sends RELEASE asynchronously: close() returns before we hear of
	 * it, while the kernel's last fput releases at once.  Opens that were
	 * flushed (closed by someone) and not used since may be on their way
	 * out; a call that meets a conflict waits for them (see fe_flush()).
	 */
	unsigned int flushed;
	pthread_cond_t released;
};

/* Set up the parts of @fe that are not the daemon's to fill. */
void fe_init(struct luo_frontend *fe);
void fe_fini(struct luo_frontend *fe);

/* An open of the device.  -EBUSY/-EIO as the kernel's misc device. */
int fe_open(struct luo_frontend *fe, pid_t tid, struct fe_open **ret);
/* The last close of that open file description. */
void fe_release(struct luo_frontend *fe, struct fe_open *o);
/*
 * FUSE only: somebody closed an fd of @o.  If it was the last one, a
 * RELEASE follows (asynchronously).  CUSE releases synchronously.
 */
void fe_flush(struct luo_frontend *fe, struct fe_open *o, pid_t tid);
/*
 * One ioctl on an open, from thread @tid of a process with uid @uid.
 * Returns 0 or -errno for the caller; -ESHUTDOWN means "frozen for a live
 * update: never answer" (the caller blocks, as on the kernel).
 */
int fe_ioctl(struct luo_frontend *fe, struct fe_open *o, pid_t tid, uid_t uid, uint32_t cmd,
	     uint64_t arg, bool compat);

#endif
