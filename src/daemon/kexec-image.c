// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The emulated kexec state and its authorization (kexec-image.h).  The
 * courier did the argument checks the kernel does after CAP_SYS_BOOT; this
 * file checks CAP_SYS_BOOT first, then applies the courier's verdict, in
 * the kernel's order, and changes the state under the daemon's lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/capability.h>
#include <unistd.h>

#include "control/control.h"
#include "daemon/daemon.h"
#include "daemon/kexec-image.h"
#include "daemon/log.h"
#include "util.h"

bool kexec_may_boot(const struct peer_creds *c, bool per_user, uid_t owner)
{
	if (per_user && c->euid == owner)
		return true;
	return c->same_userns && (c->cap_eff & (UINT64_C(1) << CAP_SYS_BOOT));
}

/* Are we in the initial user namespace?  Its uid_map is the identity over all uids. */
static bool in_initial_userns(void)
{
	_cleanup_close_ int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
	unsigned long inside, outside, count;
	char buf[256];
	ssize_t n;

	if (fd < 0)
		return true; /* no /proc: assume the strict rule, caps only */
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	if (sscanf(buf, "%lu %lu %lu", &inside, &outside, &count) != 3)
		return true;
	return inside == 0 && outside == 0 && count == 4294967295UL;
}

static const char *call_name(const struct kexec_request *r)
{
	if (r->op == KEXEC_OP_REBOOT)
		return "reboot(KEXEC)";
	return r->file ? "kexec_file_load" : "kexec_load";
}

static void slot_set(struct kexec_slot *s, const struct kexec_request *r)
{
	*s = (struct kexec_slot){
		.loaded = true,
		.file = r->file,
		.uid = r->creds.euid,
		.pid = r->pid,
		.when = time(NULL),
	};
}

/* A load or unload the courier found well-formed (or refused with r->err). */
static int apply_load(struct daemon *d, const struct kexec_request *r)
{
	struct kexec_image *img = &d->kexec_image;
	struct kexec_slot *slot = r->crash ? &img->crash : &img->normal;

	if (r->err) {
		/* The kernel frees the old crash image before it looks at the new one. */
		if (r->crash && r->drop_crash)
			*slot = (struct kexec_slot){0};
		return -r->err;
	}
	if (r->op == KEXEC_OP_UNLOAD) {
		*slot = (struct kexec_slot){0};
		if (!r->crash)
			img->cmdline[0] = '\0';
		return 0;
	}
	slot_set(slot, r);
	if (!r->crash)
		snprintf(img->cmdline, sizeof(img->cmdline), "%s", r->cmdline ?: "");
	return 0;
}

static int attr_locked(const struct kexec_image *img, const char *name, char *buf, size_t size);

int kexec_image_dir(const struct daemon_config *cfg, char *buf, size_t size)
{
	char *slash;

	/* Beside the control socket: the one place `luoemu run` knows of the daemon. */
	if (snprintf(buf, size, "%s", cfg->control_socket) >= (int)size - 4)
		return -ENAMETOOLONG;
	slash = strrchr(buf, '/');
	if (!slash)
		return -EINVAL;
	strcpy(slash, "/sys");
	return 0;
}

void kexec_image_publish(struct daemon *d)
{
	static const char *const names[] = {"kexec_loaded", "kexec_crash_loaded"};
	char dir[PATH_MAX], path[PATH_MAX + 32], buf[8];

	if (d->cfg.scope != LUOEMU_SCOPE_SYSTEM)
		return; /* per-user mode: the daemon's FUSE filesystem serves them live */
	if (kexec_image_dir(&d->cfg, dir, sizeof(dir)) < 0)
		return;
	snprintf(path, sizeof(path), "%s", dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		goto fail;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_close_ int fd = -1;
		int n = attr_locked(&d->kexec_image, names[i], buf, sizeof(buf));

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		/* In place: supervised programs see this inode through a bind mount. */
		if (n < 0 || fd < 0 || pwrite(fd, buf, (size_t)n, 0) != n || ftruncate(fd, n) < 0)
			goto fail;
	}
	return;
fail:
	log_msg(LOG_WARNING, "publishing the emulated kexec state in %s: %m", path);
}

/* Replies and returns 0, or returns KEXEC_IMAGE_RUN_UPDATE without a reply. */
static int handle_load_or_reboot(struct daemon *d, int conn, const char *verb, char *args)
{
	struct kexec_request r;
	bool loaded;
	int err;

	if (kexec_request_parse(verb, args, &r) < 0) {
		log_msg(LOG_ERR, "courier: malformed %s request", verb);
		luoemu_control_reply(conn, EINVAL, "malformed %s request", verb);
		return 0;
	}
	/* CAP_SYS_BOOT comes first in the kernel, before any argument check. */
	if (!kexec_may_boot(&r.creds, !in_initial_userns(), geteuid())) {
		log_msg(LOG_NOTICE, "pid %d (uid %u): %s refused: no CAP_SYS_BOOT", (int)r.pid,
			(unsigned int)r.creds.euid, call_name(&r));
		luoemu_control_reply(conn, EPERM, "%s needs CAP_SYS_BOOT", call_name(&r));
		return 0;
	}
	if (r.op != KEXEC_OP_REBOOT) {
		pthread_mutex_lock(&d->lock);
		err = apply_load(d, &r);
		kexec_image_publish(d);
		pthread_mutex_unlock(&d->lock);
		if (err == 0)
			log_msg(LOG_INFO, "pid %d (uid %u): %s: %s image %s (emulated)", (int)r.pid,
				(unsigned int)r.creds.euid, call_name(&r),
				r.crash ? "crash" : "kexec",
				r.op == KEXEC_OP_LOAD ? "loaded" : "unloaded");
		luoemu_control_reply(conn, err, err ? "refused by the argument checks" : NULL);
		return 0;
	}
	/* reboot: bad magic is EINVAL, then "nothing loaded" is EINVAL too (kernel_kexec). */
	pthread_mutex_lock(&d->lock);
	loaded = d->kexec_image.normal.loaded;
	pthread_mutex_unlock(&d->lock);
	if (r.err) {
		luoemu_control_reply(conn, r.err, "bad reboot arguments");
		return 0;
	}
	if (!loaded) {
		log_msg(LOG_NOTICE, "pid %d: reboot(KEXEC) with no kexec image loaded", (int)r.pid);
		luoemu_control_reply(conn, EINVAL, "no kexec image loaded");
		return 0;
	}
	log_msg(LOG_INFO, "pid %d (uid %u): reboot(KEXEC): live update", (int)r.pid,
		(unsigned int)r.creds.euid);
	/* The caller runs the update and replies; the next daemon starts with nothing loaded. */
	return KEXEC_IMAGE_RUN_UPDATE;
}

int kexec_image_request(struct daemon *d, int conn, const char *verb, char **args, pid_t pid,
			uid_t uid)
{
	char buf[KEXEC_CMDLINE_MAX * 4 + 128];
	char *empty = (char *)"";
	int n;

	if (!*args)
		*args = empty;
	if (!strcmp(verb, KEXEC_VERB_STATUS)) {
		n = kexec_image_status(d, uid == 0 || uid == geteuid(), buf, sizeof(buf));
		luoemu_control_reply(conn, n < 0 ? -n : 0, "%s", n < 0 ? "" : buf);
		return 0;
	}
	if (strcmp(verb, KEXEC_VERB_LOAD) && strcmp(verb, KEXEC_VERB_REBOOT)) {
		luoemu_control_reply(conn, EOPNOTSUPP, "unknown request '%s'", verb);
		return 0;
	}
	/*
	 * Only our courier relays trapped calls.  It is our child: until we
	 * reap it, its pid cannot name anybody else.
	 */
	if (pid <= 0 || pid != d->courier_pid) {
		log_msg(LOG_NOTICE, "control: '%s' from pid %d, not the courier: refused", verb,
			(int)pid);
		luoemu_control_reply(conn, EPERM, "'%s' is the courier's", verb);
		return 0;
	}
	if (handle_load_or_reboot(d, conn, verb, *args) != KEXEC_IMAGE_RUN_UPDATE)
		return 0;
	*args = empty; /* the update's own arguments: none, the defaults */
	return KEXEC_IMAGE_RUN_UPDATE;
}

/* "0\n" or "1\n" for @name; the caller holds the lock. */
static int attr_locked(const struct kexec_image *img, const char *name, char *buf, size_t size)
{
	const struct kexec_slot *slot;

	if (!strcmp(name, "kexec_loaded"))
		slot = &img->normal;
	else if (!strcmp(name, "kexec_crash_loaded"))
		slot = &img->crash;
	else
		return -ENOENT;
	if (size < 3)
		return -ENOBUFS;
	buf[0] = slot->loaded ? '1' : '0';
	buf[1] = '\n';
	buf[2] = '\0';
	return 2;
}

int kexec_image_attr(struct daemon *d, const char *name, char *buf, size_t size)
{
	int r;

	pthread_mutex_lock(&d->lock);
	r = attr_locked(&d->kexec_image, name, buf, size);
	pthread_mutex_unlock(&d->lock);
	return r;
}

/* @in with C escapes for anything but printable ASCII (so it stays one line). */
static void escape(const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p && o + 5 < size; p++) {
		if (*p == '\\')
			o += snprintf(out + o, size - o, "\\\\");
		else if (*p >= 0x20 && *p < 0x7f)
			out[o++] = (char)*p;
		else
			o += snprintf(out + o, size - o, "\\x%02x", *p);
	}
	out[o] = '\0';
}

int kexec_image_status(struct daemon *d, bool show_cmdline, char *buf, size_t size)
{
	char cmdline[KEXEC_CMDLINE_MAX * 4 + 8];
	bool normal, crash;
	int n;

	pthread_mutex_lock(&d->lock);
	normal = d->kexec_image.normal.loaded;
	crash = d->kexec_image.crash.loaded;
	escape(d->kexec_image.cmdline, cmdline, sizeof(cmdline));
	pthread_mutex_unlock(&d->lock);
	if (!show_cmdline && cmdline[0])
		snprintf(cmdline, sizeof(cmdline), "(root only)");
	n = snprintf(buf, size, "kexec_loaded %d\nkexec_crash_loaded %d\nkexec_cmdline %s", normal,
		     crash, normal && cmdline[0] ? cmdline : "-");
	return n < 0 || (size_t)n >= size ? -ENOBUFS : n;
}
