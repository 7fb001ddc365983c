// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The emulated kexec, courier side (kexec.h).  Checks follow the kernel
 * (kernel/kexec.c, kexec_file.c, kexec_core.c, kernel/reboot.c) in its
 * order; CAP_SYS_BOOT, which the kernel checks first, is decided by the
 * daemon from the credentials we send along, so a caller that lacks it gets
 * EPERM whatever its arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kexec.h>
#include <linux/reboot.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/control.h"
#include "peer/peer.h"
#include "seccomp/courier.h"
#include "seccomp/kexec-request.h"
#include "seccomp/kexec.h"
#include "util.h"

/* Newer than Debian 12's uAPI header. */
#ifndef KEXEC_UPDATE_ELFCOREHDR
#define KEXEC_UPDATE_ELFCOREHDR 0x00000004
#endif
#ifndef KEXEC_CRASH_HOTPLUG_SUPPORT
#define KEXEC_CRASH_HOTPLUG_SUPPORT 0x00000008
#endif
#ifndef KEXEC_FILE_DEBUG
#define KEXEC_FILE_DEBUG 0x00000008
#endif
#ifndef KEXEC_FILE_NO_CMA
#define KEXEC_FILE_NO_CMA 0x00000010
#endif

/* The kernel's KEXEC_FLAGS (KEXEC_PRESERVE_CONTEXT with CONFIG_KEXEC_JUMP, as distributions have).
 */
#define KEXEC_KNOWN_FLAGS                                                                          \
	(KEXEC_ON_CRASH | KEXEC_PRESERVE_CONTEXT | KEXEC_UPDATE_ELFCOREHDR |                       \
	 KEXEC_CRASH_HOTPLUG_SUPPORT)
#define KEXEC_FILE_KNOWN_FLAGS                                                                     \
	(KEXEC_FILE_UNLOAD | KEXEC_FILE_ON_CRASH | KEXEC_FILE_NO_INITRAMFS | KEXEC_FILE_DEBUG |    \
	 KEXEC_FILE_NO_CMA)

#define KEXEC_PAGE_SIZE 4096ULL
/* x86_64 KEXEC_DESTINATION_MEMORY_LIMIT: MAXMEM - 1 with 4-level paging (46 bits). */
#define KEXEC_DEST_LIMIT ((1ULL << 46) - 1)

/* How long the daemon may take: a load is quick; reboot waits for the serialization. */
#define LOAD_TIMEOUT_SECS   10
#define REBOOT_TIMEOUT_SECS 300

/* struct kexec_segment as the x86_64 kernel reads it. */
struct kexec_segment64 {
	uint64_t buf, bufsz, mem, memsz;
};

static bool notif_pending(int listener, uint64_t id)
{
	return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static int verdict(struct kexec_verdict *v, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int verdict(struct kexec_verdict *v, int err, const char *fmt, ...)
{
	va_list ap;

	v->err = err;
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	return 0;
}

/* kimage_load_segment() copies every buffer from the caller: unreadable is EFAULT. */
static int buffers_readable(pid_t tid, const struct kexec_segment64 *seg, uint64_t n, int *bad)
{
	const size_t chunk = 1 << 20;
	_cleanup_free_ char *scratch = malloc(chunk);

	if (!scratch)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		for (uint64_t off = 0; off < seg[i].bufsz; off += chunk) {
			size_t len = MIN(chunk, seg[i].bufsz - off);

			if (peer_read(tid, seg[i].buf + off, scratch, len) < 0) {
				*bad = (int)i;
				return 0;
			}
		}
	*bad = -1;
	return 0;
}

/* x86 boot protocol: where a loader leaves the command line in the zero page. */
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_HEADER	    0x202 /* "HdrS" */
#define BP_CMD_LINE_PTR	    0x228
#define BP_SIZE		    0x230

static uint32_t le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * kexec_load has no command line argument: an x86 loader (kexec-tools)
 * puts it in the image's zero page.  Find a segment holding a boot
 * protocol header, follow its cmd_line_ptr into the segment that holds
 * that address, and copy the string -- for the record only; nothing found
 * leaves @out empty.
 */
static void find_cmdline(pid_t tid, const struct kexec_segment64 *seg, uint64_t n, char *out)
{
	unsigned char bp[BP_SIZE];

	out[0] = '\0';
	for (uint64_t i = 0; i < n; i++) {
		uint64_t ptr;

		if (seg[i].bufsz < BP_SIZE || peer_read(tid, seg[i].buf, bp, sizeof(bp)) < 0 ||
		    memcmp(bp + BP_HEADER, "HdrS", 4))
			continue;
		ptr = le32(bp + BP_CMD_LINE_PTR) | (uint64_t)le32(bp + BP_EXT_CMD_LINE_PTR) << 32;
		for (uint64_t j = 0; j < n; j++) {
			uint64_t off = ptr - seg[j].mem, len;

			if (ptr < seg[j].mem || off >= seg[j].bufsz)
				continue;
			len = MIN(seg[j].bufsz - off, (uint64_t)KEXEC_CMDLINE_MAX);
			if (peer_read(tid, seg[j].buf + off, out, len) < 0)
				len = 0;
			out[len] = '\0';
			return;
		}
	}
}

int kexec_load_check(pid_t tid, uint64_t entry, uint64_t nr_segments, uint64_t segments,
		     uint64_t flags, uint64_t ram_pages, struct kexec_verdict *v, char *cmdline)
{
	struct kexec_segment64 seg[KEXEC_SEGMENT_MAX];
	const uint64_t arch = flags & KEXEC_ARCH_MASK;
	uint64_t total = 0;
	int bad, r;

	(void)entry; /* checked only against the crash region, which we do not have */
	*v = (struct kexec_verdict){.crash = flags & KEXEC_ON_CRASH};

	/* kexec_load_check() */
	if ((flags & KEXEC_KNOWN_FLAGS) != (flags & ~(uint64_t)KEXEC_ARCH_MASK))
		return verdict(v, EINVAL, "unknown flags %#llx", (unsigned long long)flags);
	if (nr_segments > KEXEC_SEGMENT_MAX)
		return verdict(v, EINVAL, "%llu segments (at most %d)",
			       (unsigned long long)nr_segments, KEXEC_SEGMENT_MAX);
	/* sys_kexec_load() */
	if (arch != KEXEC_ARCH_DEFAULT && arch != KEXEC_ARCH_X86_64)
		return verdict(v, EINVAL, "image for arch %llu", (unsigned long long)(arch >> 16));
	if (nr_segments && peer_read(tid, segments, seg, nr_segments * sizeof(seg[0])) < 0)
		return verdict(v, EFAULT, "cannot read the segment list");

	/* do_kexec_load() */
	if (nr_segments == 0) {
		v->unload = true;
		return 0;
	}
	v->drop_crash = v->crash; /* the old crash image is gone from here on */

	/* sanity_check_segment_list(): addresses, overlap, sizes, RAM. */
	for (uint64_t i = 0; i < nr_segments; i++) {
		uint64_t mstart = seg[i].mem, mend = mstart + seg[i].memsz;

		if (mstart > mend)
			return verdict(v, EADDRNOTAVAIL, "segment %llu wraps around",
				       (unsigned long long)i);
		if ((mstart | mend) & (KEXEC_PAGE_SIZE - 1))
			return verdict(v, EADDRNOTAVAIL, "segment %llu is not page-aligned",
				       (unsigned long long)i);
		if (mend >= KEXEC_DEST_LIMIT)
			return verdict(v, EADDRNOTAVAIL,
				       "segment %llu ends beyond the memory limit",
				       (unsigned long long)i);
	}
	for (uint64_t i = 0; i < nr_segments; i++)
		for (uint64_t j = 0; j < i; j++)
			if (seg[i].mem + seg[i].memsz > seg[j].mem &&
			    seg[i].mem < seg[j].mem + seg[j].memsz)
				return verdict(v, EINVAL, "segments %llu and %llu overlap",
					       (unsigned long long)j, (unsigned long long)i);
	for (uint64_t i = 0; i < nr_segments; i++)
		if (seg[i].bufsz > seg[i].memsz)
			return verdict(v, EINVAL, "segment %llu: bufsz > memsz",
				       (unsigned long long)i);
	if (!ram_pages) {
		struct sysinfo si;

		if (sysinfo(&si) < 0)
			return -errno;
		ram_pages = (uint64_t)si.totalram * si.mem_unit / KEXEC_PAGE_SIZE;
	}
	for (uint64_t i = 0; i < nr_segments; i++) {
		uint64_t pages = (seg[i].memsz + KEXEC_PAGE_SIZE - 1) / KEXEC_PAGE_SIZE;

		if (pages > ram_pages / 2)
			return verdict(v, EINVAL, "segment %llu is larger than half the RAM",
				       (unsigned long long)i);
		total += pages;
	}
	if (total > ram_pages / 2)
		return verdict(v, EINVAL, "the segments need more than half the RAM");

	/* kimage_load_segment() */
	r = buffers_readable(tid, seg, nr_segments, &bad);
	if (r < 0)
		return r;
	if (bad >= 0)
		return verdict(v, EFAULT, "cannot read the buffer of segment %d", bad);
	if (cmdline)
		find_cmdline(tid, seg, nr_segments, cmdline);
	return 0;
}

/* A kexec image fd: open for reading, a non-empty regular file (kernel_read_file()). */
static int check_image_fd(int pidfd, int fd)
{
	_cleanup_close_ int own = peer_getfd(pidfd, fd);
	struct stat st;
	int fl;

	if (own < 0)
		return -EBADF;
	fl = fcntl(own, F_GETFL);
	if (fl < 0 || (fl & O_PATH) || (fl & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	if (fstat(own, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
		return -EINVAL;
	return 0;
}

/*
 * kexec_file_load(kernel_fd, initrd_fd, cmdline_len, cmdline, flags), after
 * CAP_SYS_BOOT: flags, unload, then (the old crash image gone) the kernel
 * fd, the initrd fd, the command line.  The image is not parsed (the
 * kernel's probe would refuse a file that is no bzImage with ENOEXEC).
 */
static int kexec_file_check(pid_t tid, int pidfd, const __u64 *args, struct kexec_verdict *v,
			    char *cmdline)
{
	const uint64_t flags = args[4], cmdline_len = args[2];
	int r;

	*v = (struct kexec_verdict){.crash = flags & KEXEC_FILE_ON_CRASH};
	if (flags != (flags & KEXEC_FILE_KNOWN_FLAGS))
		return verdict(v, EINVAL, "unknown flags %#llx", (unsigned long long)flags);
	if (flags & KEXEC_FILE_UNLOAD) {
		v->unload = true;
		return 0;
	}
	v->drop_crash = v->crash;
	r = check_image_fd(pidfd, (int)args[0]);
	if (r < 0)
		return verdict(v, -r, "bad kernel fd %d", (int)args[0]);
	if (!(flags & KEXEC_FILE_NO_INITRAMFS)) {
		r = check_image_fd(pidfd, (int)args[1]);
		if (r < 0)
			return verdict(v, -r, "bad initrd fd %d", (int)args[1]);
	}
	if (!cmdline_len)
		return 0;
	if (cmdline_len > KEXEC_CMDLINE_MAX)
		return verdict(v, EINVAL, "command line of %llu bytes",
			       (unsigned long long)cmdline_len);
	if (peer_read(tid, args[3], cmdline, cmdline_len) < 0)
		return verdict(v, EFAULT, "cannot read the command line");
	/* The kernel wants the terminating NUL counted in cmdline_len. */
	if (cmdline[cmdline_len - 1])
		return verdict(v, EINVAL, "command line not NUL-terminated");
	return 0;
}

/*
 * A control connection whose connect, send and receive all give up after
 * @timeout seconds: the timeouts are set before connect(), which waits on
 * a full backlog (a stuck daemon) as long as SO_SNDTIMEO allows.
 */
static int connect_bounded(const char *path, int timeout)
{
	const struct timeval tv = {.tv_sec = timeout};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
	return TAKE_FD(fd);
}

/* Send @kr to the daemon, bounded by @timeout seconds, and return its answer: 0 or -errno. */
static int relay(struct courier *c, const struct courier_config *cfg,
		 const struct seccomp_notif *req, const char *what, const struct kexec_request *kr,
		 int timeout)
{
	char msg[KEXEC_CMDLINE_MAX + 512], reply[4096];
	_cleanup_close_ int sock = -1;
	const char *text;
	int r;

	r = kexec_request_format(kr, msg, sizeof(msg));
	if (r < 0)
		return r;
	sock = connect_bounded(cfg->control_socket, timeout);
	if (sock < 0) {
		notif_log(c, req, what, sock, "cannot reach the daemon at %s", cfg->control_socket);
		return sock;
	}
	r = luoemu_control_request(sock, msg, -1, reply, sizeof(reply));
	if (r == -EAGAIN) {
		notif_log(c, req, what, -ETIMEDOUT, "no answer from the daemon within %d s",
			  timeout);
		return -ETIMEDOUT;
	}
	if (r < 0) {
		notif_log(c, req, what, r, "no answer from the daemon");
		return r;
	}
	r = luoemu_control_parse_reply(reply, &text);
	if (r < 0 && cfg->verbose)
		notif_log(c, req, what, r, "refused by the daemon: %s", text);
	return r;
}

/*
 * The credentials of the trapped thread, read while a pidfd pins its
 * process and confirmed by NOTIF_ID_VALID afterwards (the tid was still
 * the caller's while we read).  -ESRCH: the caller is gone.
 */
static int caller_creds(struct courier *c, int listener, const struct seccomp_notif *req,
			const char *what, int *pidfd, struct kexec_request *kr)
{
	int r;

	*pidfd = peer_pidfd_open(req->pid);
	if (*pidfd < 0) {
		if (notif_pending(listener, req->id))
			notif_log(c, req, what, *pidfd, "cannot open a pidfd");
		return *pidfd;
	}
	r = peer_creds(req->pid, &kr->creds);
	if (!notif_pending(listener, req->id))
		return -ESRCH;
	if (r < 0) {
		notif_log(c, req, what, r, "cannot read the caller's credentials");
		return r;
	}
	kr->pid = req->pid;
	return 0;
}

static void fill_request(struct kexec_request *kr, const struct kexec_verdict *v)
{
	kr->op = v->unload ? KEXEC_OP_UNLOAD : KEXEC_OP_LOAD;
	kr->crash = v->crash;
	kr->err = v->err;
	kr->drop_crash = v->drop_crash;
}

/*
 * A load the argument checks judged (@v): hand it to the daemon, which
 * decides (CAP_SYS_BOOT first, as the kernel) and keeps the image state.
 */
static int relay_verdict(struct courier *c, const struct courier_config *cfg, int listener,
			 const struct seccomp_notif *req, const char *what,
			 struct kexec_request *kr, const struct kexec_verdict *v,
			 const char *cmdline)
{
	int r;

	/* What we read belongs to the caller only if it still waits. */
	if (!notif_pending(listener, req->id))
		return -ESRCH;
	fill_request(kr, v);
	kr->cmdline = cmdline;
	r = relay(c, cfg, req, what, kr, LOAD_TIMEOUT_SECS);
	if (r < 0 && v->err && r == -v->err)
		notif_log(c, req, what, r, "%s", v->why);
	else if (r == 0 && cfg->verbose)
		notif_log(
			c, req, what, 0, "%s image %s (emulated; nothing is loaded), cmdline '%s'",
			v->crash ? "crash" : "kexec", v->unload ? "unloaded" : "accepted", cmdline);
	return r;
}

int kexec_serve_load(struct courier *c, const struct courier_config *cfg, int listener,
		     const struct seccomp_notif *req)
{
	static const char what[] = "kexec_load";
	const __u64 *a = req->data.args;
	char cmdline[KEXEC_CMDLINE_MAX + 1] = "";
	_cleanup_close_ int pidfd = -1;
	struct kexec_request kr = {.file = false};
	struct kexec_verdict v;
	int r;

	r = caller_creds(c, listener, req, what, &pidfd, &kr);
	if (r < 0)
		return r;
	r = kexec_load_check(req->pid, a[0], a[1], a[2], a[3], 0, &v, cmdline);
	if (r < 0)
		return r;
	return relay_verdict(c, cfg, listener, req, what, &kr, &v, cmdline);
}

int kexec_serve_file_load(struct courier *c, const struct courier_config *cfg, int listener,
			  const struct seccomp_notif *req)
{
	static const char what[] = "kexec_file_load";
	char cmdline[KEXEC_CMDLINE_MAX + 1] = "";
	_cleanup_close_ int pidfd = -1;
	struct kexec_request kr = {.file = true};
	struct kexec_verdict v;
	int r;

	r = caller_creds(c, listener, req, what, &pidfd, &kr);
	if (r < 0)
		return r;
	r = kexec_file_check(req->pid, pidfd, req->data.args, &v, cmdline);
	if (r < 0)
		return r;
	return relay_verdict(c, cfg, listener, req, what, &kr, &v, cmdline);
}

/* reboot(magic1, magic2, LINUX_REBOOT_CMD_KEXEC, arg): the daemon runs the live update. */
int kexec_serve_reboot(struct courier *c, const struct courier_config *cfg, int listener,
		       const struct seccomp_notif *req)
{
	static const char what[] = "reboot(KEXEC)";
	const uint32_t magic1 = (uint32_t)req->data.args[0];
	const uint32_t magic2 = (uint32_t)req->data.args[1];
	_cleanup_close_ int pidfd = -1;
	struct kexec_request kr = {.op = KEXEC_OP_REBOOT};
	int r;

	r = caller_creds(c, listener, req, what, &pidfd, &kr);
	if (r < 0)
		return r;
	/* The magic numbers, checked right after CAP_SYS_BOOT. */
	if (magic1 != LINUX_REBOOT_MAGIC1 ||
	    (magic2 != LINUX_REBOOT_MAGIC2 && magic2 != LINUX_REBOOT_MAGIC2A &&
	     magic2 != LINUX_REBOOT_MAGIC2B && magic2 != LINUX_REBOOT_MAGIC2C))
		kr.err = EINVAL;
	r = relay(c, cfg, req, what, &kr, REBOOT_TIMEOUT_SECS);
	if (r == -EINVAL && !kr.err)
		notif_log(c, req, what, r, "no kexec image loaded (kexec_file_load first)");
	else if (r == 0 && cfg->verbose)
		notif_log(c, req, what, 0, "live update done");
	return r;
}
