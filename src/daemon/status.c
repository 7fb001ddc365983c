// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The status reply: `key value` lines first (scripts parse `ready 1`,
 * `instance N`, `liveupdate_count N`), then one line per session and file:
 *
 *   session id=N direction=outgoing|incoming state=S nr_files=N name=NAME
 *   file session=N token=N handler=COMPATIBLE size=N retrieved=0|1
 *
 * NAME runs to the end of the line, with '\\', control and non-ASCII bytes
 * as \xNN.  New keys may be added to any line; readers skip unknown ones.
 * A reply that would not fit one datagram ends with `truncated 1`.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control/control.h"
#include "daemon/daemon.h"
#include "daemon/status.h"
#include "state/report.h"

struct reply_buf {
	char *buf;
	size_t size, len;
	bool full;
};

/* Append a whole line or nothing, so a full buffer never ends mid-line. */
__attribute__((format(printf, 2, 3))) static int put(struct reply_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return -ENOBUFS;
	va_start(ap, fmt);
	n = vsnprintf(b->buf + b->len, b->size - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->size - b->len) {
		b->buf[b->len] = '\0';
		b->full = true;
		return -ENOBUFS;
	}
	b->len += (size_t)n;
	return 0;
}

static void escape_name(const char *name, char *out, size_t size)
{
	size_t n = 0;

	for (const unsigned char *s = (const unsigned char *)name; *s && n + 5 < size; s++) {
		if (*s < 0x20 || *s >= 0x7f || *s == '\\')
			n += (size_t)snprintf(out + n, size - n, "\\x%02x", *s);
		else
			out[n++] = (char)*s;
	}
	out[n] = '\0';
}

struct walk {
	struct reply_buf *b;
	uint64_t session_id;
	/* A non-root caller sees only its own sessions (and their files). */
	bool see_all, skipping;
	uid_t viewer;
};

static int put_session(void *data, const struct luo_report_session *s)
{
	struct walk *w = data;
	char name[4 * LUO_NAME_LEN + 1];

	w->skipping = !w->see_all && s->owner != w->viewer;
	if (w->skipping)
		return 0;
	escape_name(s->name, name, sizeof(name));
	w->session_id = s->id;
	return put(w->b, "\nsession id=%llu direction=%s state=%s nr_files=%u owner=%u name=%s",
		   (unsigned long long)s->id, s->incoming ? "incoming" : "outgoing", s->state,
		   s->nr_files, (unsigned int)s->owner, name);
}

static int put_file(void *data, const struct luo_report_file *f)
{
	struct walk *w = data;

	if (w->skipping)
		return 0;
	return put(w->b, "\nfile session=%llu token=%llu handler=%s size=%lld retrieved=%d",
		   (unsigned long long)w->session_id, (unsigned long long)f->token, f->handler,
		   (long long)f->size, f->retrieved);
}

static void put_counters(struct daemon *d, struct reply_buf *b)
{
	struct luo_stats st;

	luo_ctx_stats(d->luo, &st);
	put(b,
	    "device %s\ncompat %s\nliveupdate_count %llu\n"
	    "device_open %d\noutgoing_sessions %u\nincoming_sessions %u\n"
	    "files %u\ngoing_down %d\nrequests %llu\nrefusals %llu\n"
	    "courier_pid %d\nready %d\nincoming_error %d\ninstance %llu\n"
	    "handover_mode %s\nversion %s",
	    d->dev_path, luo_compat_name(d->cfg.compat),
	    (unsigned long long)luo_ctx_liveupdate_count(d->luo), st.device_open, st.outgoing,
	    st.incoming, st.files, st.going_down,
	    __atomic_load_n(&d->fe.requests, __ATOMIC_RELAXED),
	    __atomic_load_n(&d->fe.refusals, __ATOMIC_RELAXED), d->courier_pid, d->ready,
	    -luo_ctx_incoming_error(d->luo), (unsigned long long)d->instance,
	    d->cfg.handover_mode == HANDOVER_COPY ? "copy" : "exec", PACKAGE_VERSION);
	/* Pinning, as the kernel pins: what is locked in RAM, and what could not be. */
	put(b,
	    "\nfrontend %s\nscope %s\npin %s\nbytes_pinned %llu\nbytes_not_pinned %llu\nstate_dir "
	    "%s",
	    d->cfg.frontend == FRONTEND_FUSE ? "fuse" : "cuse",
	    d->cfg.scope == LUOEMU_SCOPE_USER ? "user" : "system", luo_pin_name(d->cfg.pin),
	    (unsigned long long)st.bytes_pinned, (unsigned long long)st.bytes_not_pinned,
	    d->state_pin_note);
}

static void put_progress(struct daemon *d, struct reply_buf *b)
{
	put(b, "\nhandover_bytes_done %llu\nhandover_bytes_total %llu",
	    (unsigned long long)__atomic_load_n(&d->progress.done, __ATOMIC_RELAXED),
	    (unsigned long long)__atomic_load_n(&d->progress.total, __ATOMIC_ACQUIRE));
}

void status_reply(struct daemon *d, int conn, uid_t caller_uid)
{
	char kexec[1024];
	int n;

	static const size_t room = LUOEMU_CONTROL_MAX - 64; /* "ok " and `truncated 1` */
	char buf[LUOEMU_CONTROL_MAX];
	struct reply_buf b = {.buf = buf, .size = room};
	struct walk w = {
		.b = &b,
		.see_all = caller_uid == 0 || caller_uid == geteuid(),
		.viewer = caller_uid,
	};
	bool copying = __atomic_load_n(&d->progress.total, __ATOMIC_ACQUIRE) != 0;

	buf[0] = '\0';
	/*
	 * A copy-mode handover holds the lock while it copies: answer with
	 * what needs no lock (no `ready` line, so pollers keep waiting).
	 */
	if (!copying) {
		pthread_mutex_lock(&d->lock);
	} else if (pthread_mutex_trylock(&d->lock) != 0) {
		put(&b, "instance %llu\nliveupdate_in_progress 1", (unsigned long long)d->instance);
		put_progress(d, &b);
		luoemu_control_reply(conn, 0, "%s", buf);
		return;
	}
	put_counters(d, &b);
	put_progress(d, &b);
	luo_report_walk(d->luo, put_session, put_file, &w);
	pthread_mutex_unlock(&d->lock);
	/* The emulated kexec image (it takes the lock itself); its cmdline is the owner's to see.
	 */
	n = kexec_image_status(d, caller_uid == 0 || caller_uid == geteuid(), kexec, sizeof(kexec));
	if (n > 0)
		put(&b, "\n%s", kexec);
	if (b.full)
		snprintf(buf + b.len, sizeof(buf) - b.len, "\ntruncated 1");
	luoemu_control_reply(conn, 0, "%s", buf);
}
