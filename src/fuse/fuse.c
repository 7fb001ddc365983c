// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * FUSE transport.  A `_IO` ioctl on a FUSE regular file reaches us with the
 * raw argument pointer and the caller's thread id, like CUSE's unrestricted
 * mode, so the frontend serves it the same way.  Unlike CUSE, FUSE lets us
 * mark the file nonseekable: lseek gives ESPIPE, as on the kernel's device.
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/frontend.h"
#include "frontend/transport.h"
#include "fuse/fuse.h"
#include "util.h"

/* The attribute files hold a line of at most a few bytes. */
#define ATTR_MAX 64

enum fuse_ino {
	INO_ROOT = FUSE_ROOT_ID,
	INO_DEVICE,
	INO_KEXEC_LOADED,
	INO_KEXEC_CRASH_LOADED,
	INO_END,
};

static const char *const entry_names[INO_END] = {
	[INO_DEVICE] = "liveupdate",
	[INO_KEXEC_LOADED] = "kexec_loaded",
	[INO_KEXEC_CRASH_LOADED] = "kexec_crash_loaded",
};

struct fuse_transport {
	struct luo_frontend *fe;
	struct fuse_transport_config cfg;
	uid_t uid;
	gid_t gid;
	struct fuse_session *se;
};

static struct fuse_transport *transport_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void fill_attr(const struct fuse_transport *t, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = t->uid;
	st->st_gid = t->gid;
	st->st_nlink = 1;
	if (ino == INO_ROOT) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else if (ino == INO_DEVICE) {
		st->st_mode = S_IFREG | (t->cfg.dev_mode & 07777);
		if (t->cfg.dev_gid != (gid_t)-1)
			st->st_gid = t->cfg.dev_gid;
	} else {
		st->st_mode = S_IFREG | 0444; /* as sysfs shows them */
		st->st_size = 4096;
	}
}

static bool valid_ino(fuse_ino_t ino)
{
	return ino >= INO_ROOT && ino < INO_END;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = {0};

	if (parent != INO_ROOT) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	for (fuse_ino_t ino = INO_DEVICE; ino < INO_END; ino++) {
		if (strcmp(name, entry_names[ino]) != 0)
			continue;
		e.ino = ino;
		/* Attributes never change behind the kernel's back: cache them. */
		e.attr_timeout = e.entry_timeout = 3600;
		fill_attr(transport_of(req), ino, &e.attr);
		fuse_reply_entry(req, &e);
		return;
	}
	fuse_reply_err(req, ENOENT);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	if (!valid_ino(ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(transport_of(req), ino, &st);
	fuse_reply_attr(req, &st, 3600);
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	fuse_reply_err(req, EPERM); /* the daemon owns the mode, as udev would */
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	char buf[1024];
	size_t len = 0;

	if (ino != INO_ROOT) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	for (fuse_ino_t i = INO_DEVICE + (fuse_ino_t)off; i < INO_END; i++) {
		struct stat st = {.st_ino = i, .st_mode = S_IFREG};
		size_t n = fuse_add_direntry(req, buf + len, MIN(size, sizeof(buf)) - len,
					     entry_names[i], &st, (off_t)(i - INO_DEVICE + 1));

		if (len + n > MIN(size, sizeof(buf)))
			break;
		len += n;
	}
	fuse_reply_buf(req, buf, len);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fuse_transport *t = transport_of(req);
	struct fe_open *o;
	int r;

	fi->direct_io = 1; /* no page cache: every read and mmap reaches us */
	if (ino != INO_DEVICE) {
		if (!valid_ino(ino) || ino == INO_ROOT) {
			fuse_reply_err(req, ino == INO_ROOT ? EISDIR : ENOENT);
			return;
		}
		if ((fi->flags & O_ACCMODE) != O_RDONLY) {
			fuse_reply_err(req, EACCES);
			return;
		}
		fi->fh = 0;
		fuse_reply_open(req, fi);
		return;
	}
	r = fe_open(t->fe, fuse_req_ctx(req)->pid, &o);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)o;
	fi->nonseekable = 1; /* lseek: ESPIPE, as the misc device */
	fuse_reply_open(req, fi);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == INO_DEVICE)
		fe_flush(transport_of(req)->fe, (struct fe_open *)(uintptr_t)fi->fh,
			 fuse_req_ctx(req)->pid);
	fuse_reply_err(req, 0);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == INO_DEVICE)
		fe_release(transport_of(req)->fe, (struct fe_open *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_transport *t = transport_of(req);
	char buf[ATTR_MAX];
	int n;

	if (ino == INO_DEVICE || !t->cfg.attr_read) {
		fuse_reply_err(req, EINVAL); /* as both LUO fds */
		return;
	}
	n = t->cfg.attr_read(t->cfg.attr_data, entry_names[ino], buf, sizeof(buf));
	if (n < 0) {
		fuse_reply_err(req, -n);
		return;
	}
	if (off >= n)
		n = (int)off;
	fuse_reply_buf(req, buf + off, MIN(size, (size_t)(n - off)));
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	fuse_reply_err(req, EINVAL);
}

static void fs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		     struct fuse_file_info *fi, unsigned int flags, const void *in_buf,
		     size_t in_bufsz, size_t out_bufsz)
{
	if (ino != INO_DEVICE) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	transport_ioctl(transport_of(req)->fe, req, (struct fe_open *)(uintptr_t)fi->fh, (int)cmd,
			arg, flags & FUSE_IOCTL_COMPAT);
}

static const struct fuse_lowlevel_ops fuse_ops = {
	.lookup = fs_lookup,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.flush = fs_flush,
	.release = fs_release,
	.read = fs_read,
	.write = fs_write,
	.ioctl = fs_ioctl,
};

struct fuse_transport *fuse_transport_setup(struct luo_frontend *fe,
					    const struct fuse_transport_config *cfg, char *why,
					    size_t why_len)
{
	char *argv[8];
	int argc = 0;
	struct fuse_args args;
	struct fuse_transport *t;
	struct fuse_session *se;

	t = calloc(1, sizeof(*t));
	if (!t) {
		why_err(why, why_len, -ENOMEM, "out of memory");
		return NULL;
	}
	t->fe = fe;
	t->cfg = *cfg;
	t->uid = geteuid();
	t->gid = getegid();
	argv[argc++] = (char *)"luoemud";
	if (cfg->debug)
		argv[argc++] = (char *)"-d";
	argv[argc++] = (char *)"-o";
	/* The kernel checks the file's mode, as for a device node. */
	argv[argc++] = cfg->allow_other
			       ? (char *)"fsname=luoemu,subtype=luoemu,default_permissions,"
					 "allow_other"
			       : (char *)"fsname=luoemu,subtype=luoemu,default_permissions";
	argv[argc] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	se = fuse_session_new(&args, &fuse_ops, sizeof(fuse_ops), t);
	fuse_opt_free_args(&args); /* the parser reallocated them */
	if (!se) {
		why_err(why, why_len, -EINVAL, "cannot create the FUSE session");
		free(t);
		return NULL;
	}
	if (fuse_session_mount(se, cfg->mountpoint) != 0) {
		why_err(why, why_len, -EPERM,
			"cannot mount the FUSE filesystem on %s (is /dev/fuse accessible?)",
			cfg->mountpoint);
		fuse_session_destroy(se);
		free(t);
		return NULL;
	}
	/* SIGTERM/SIGINT/SIGHUP end the loop, as CUSE's setup arranges for that transport. */
	if (fuse_set_signal_handlers(se) != 0) {
		why_err(why, why_len, -EINVAL, "cannot install the signal handlers");
		fuse_session_unmount(se);
		fuse_session_destroy(se);
		free(t);
		return NULL;
	}
	t->se = se;
	return t;
}

struct fuse_session *fuse_transport_session(struct fuse_transport *t)
{
	return t->se;
}

void fuse_transport_teardown(struct fuse_transport *t)
{
	if (!t)
		return;
	fuse_remove_signal_handlers(t->se);
	fuse_session_unmount(t->se);
	fuse_session_destroy(t->se);
	free(t);
}
