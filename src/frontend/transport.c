// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>

#include "frontend/frontend.h"
#include "frontend/transport.h"

void transport_ioctl(struct luo_frontend *fe, fuse_req_t req, struct fe_open *o, int cmd, void *arg,
		     bool compat)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int r = fe_ioctl(fe, o, ctx->pid, ctx->uid, (uint32_t)cmd, (uintptr_t)arg, compat);

	/*
	 * The model is frozen for a live update that cannot be undone any more
	 * (a failed serialization unfreezes before anyone can see it): like the
	 * kernel, let the caller block.  The request is never answered; the
	 * device going away ends it.
	 */
	if (r == -ESHUTDOWN) {
		__atomic_add_fetch(&fe->held, 1, __ATOMIC_RELAXED);
		return;
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_ioctl(req, 0, NULL, 0);
}

int transport_loop(struct fuse_session *se)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r;

	if (!cfg)
		return -ENOMEM;
	/* SIGTERM ends it: each transport's setup installs libfuse's handlers. */
	r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r < 0 ? r : 0;
}
