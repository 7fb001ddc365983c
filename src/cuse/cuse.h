/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The CUSE transport: /dev/NAME as a character device, for system mode
 * (root, a kernel with cuse.ko).  A thin adapter over src/frontend.
 */
#ifndef LUOEMU_CUSE_H
#define LUOEMU_CUSE_H

#include <stdbool.h>

struct luo_frontend;
struct fuse_session;

/* Create the device (opens /dev/cuse: needs root).  Returns the session, or NULL. */
struct fuse_session *cuse_transport_setup(struct luo_frontend *fe, const char *dev_name,
					  bool debug);
void cuse_transport_teardown(struct fuse_session *se);

#endif
