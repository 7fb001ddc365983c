/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libfuse glue that the CUSE and FUSE transports share: answering an
 * ioctl from a frontend result, and running the request loop.
 */
#ifndef LUOEMU_FRONTEND_TRANSPORT_H
#define LUOEMU_FRONTEND_TRANSPORT_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdbool.h>

struct luo_frontend;
struct fe_open;

/* Run fe_ioctl() for @req and reply; a call frozen by a live update is left unanswered. */
void transport_ioctl(struct luo_frontend *fe, fuse_req_t req, struct fe_open *o, int cmd, void *arg,
		     bool compat);
/* Serve @se (multi-threaded) until fuse_session_exit() or a signal. 0 or -errno. */
int transport_loop(struct fuse_session *se);

#endif
