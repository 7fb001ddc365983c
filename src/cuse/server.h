/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The CUSE frontend: /dev/liveupdate (or another name) served from the
 * model.  Every open is an object: a client's device open, a session bound
 * to an open made by the courier, or a courier open waiting to be bound.
 */
#ifndef LUOEMU_CUSE_SERVER_H
#define LUOEMU_CUSE_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

struct luo_ctx;
struct luo_session;
struct fuse_session;
struct luo_faults;

struct cuse_server {
	/* Set by the daemon before the loop starts. */
	struct luo_ctx *luo;
	pthread_mutex_t *lock; /* the daemon's one lock over the model */
	pid_t courier_pid;     /* only this process may send LUOEMU_PRIV_CALL */
	const char *dev_name;
	struct luo_faults *faults; /* fault injection registry */

	/* The courier's parked result, between PRIV_CALL and its open(). */
	struct luo_session *parked_session;

	unsigned long long requests, refusals;
	unsigned long long held; /* calls left blocking during a live update */
};

/*
 * Create the CUSE device (opens /dev/cuse: needs root), unrestricted
 * ioctls, named @cs->dev_name.  Returns the fuse session, or NULL.
 */
struct fuse_session *cuse_server_setup(struct cuse_server *cs, bool debug);
/* Run the loop (multi-threaded) until SIGTERM/SIGINT or fuse_session_exit(). */
int cuse_server_run(struct cuse_server *cs, struct fuse_session *se);
void cuse_server_teardown(struct fuse_session *se);

#endif
