// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * CUSE transport.  _IO commands carry no size, so the device runs in
 * unrestricted-ioctl mode and the frontend reads and writes the caller's
 * struct itself (one round trip).  This file only translates libfuse's
 * CUSE callbacks into src/frontend calls.
 */
#define FUSE_USE_VERSION 312
#include <cuse_lowlevel.h>
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>

#include "cuse/cuse.h"
#include "frontend/frontend.h"
#include "frontend/transport.h"

static struct luo_frontend *frontend_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void cuse_open(fuse_req_t req, struct fuse_file_info *fi)
{
	struct fe_open *o;
	int r = fe_open(frontend_of(req), fuse_req_ctx(req)->pid, &o);

	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)o;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void cuse_release(fuse_req_t req, struct fuse_file_info *fi)
{
	fe_release(frontend_of(req), (struct fe_open *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void cuse_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EINVAL); /* as both LUO fds */
}

static void cuse_write(fuse_req_t req, const char *buf, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	fuse_reply_err(req, EINVAL);
}

static void cuse_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi,
		       unsigned int flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	transport_ioctl(frontend_of(req), req, (struct fe_open *)(uintptr_t)fi->fh, cmd, arg,
			flags & FUSE_IOCTL_COMPAT);
}

static const struct cuse_lowlevel_ops cuse_ops = {
	.open = cuse_open,
	.release = cuse_release,
	.read = cuse_read,
	.write = cuse_write,
	.ioctl = cuse_ioctl,
};

struct fuse_session *cuse_transport_setup(struct luo_frontend *fe, const char *dev_name, bool debug)
{
	char devname_arg[128];
	const char *dev_info[] = {devname_arg};
	struct cuse_info ci = {
		.dev_info_argc = 1,
		.dev_info_argv = dev_info,
		.flags = CUSE_UNRESTRICTED_IOCTL,
	};
	char *argv[] = {(char *)"luoemud", (char *)"-f", (char *)"-d", NULL};
	int multithreaded;

	snprintf(devname_arg, sizeof(devname_arg), "DEVNAME=%s", dev_name);
	return cuse_lowlevel_setup(debug ? 3 : 2, argv, &ci, &cuse_ops, &multithreaded, fe);
}

void cuse_transport_teardown(struct fuse_session *se)
{
	cuse_lowlevel_teardown(se);
}
