// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The ABI layer against the real core.  "Caller memory" is an mmap'd
 * region of this process with real holes in it, reached through
 * process_vm_readv/writev, so every EFAULT below is a real fault:
 *
 *   page 0  RW     (structs that run off its end hit page 1)
 *   page 1  NONE   guard
 *   page 2  RW     (structs whose tail runs into page 3 stay readable)
 *   page 3  RO
 *   page 4  NONE   guard
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "abi/abi.h"
#include "luo-test.h"
#include "util.h"

#define MAX_PARKED 16

struct t {
	struct luo_ctx *ctx;
	enum luo_compat compat;
	uint8_t *mem;
	size_t ps;
	/* What the fake frontend does. */
	int install_err; /* can_install's answer */
	int addfd_err;	 /* installing the result fails after the call (EMFILE) */
	uid_t uid;	 /* the caller's */
	/* The model lock: peer ops must run without it, the model with it. */
	pthread_mutex_t lock;
	bool in_abi;
	unsigned int model_steps; /* fault points reached, all under the lock */
	struct luo_abi_counters counters;
	unsigned int get_fd_calls;
	/* Parked results. */
	struct luo_session *sessions[MAX_PARKED];
	unsigned int nr_sessions;
	int fds[MAX_PARKED];
	unsigned int nr_fds;
	const char *why;
};

/* ---- the fake frontend: this process is the caller ---- */

static int self_copy(bool write, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	ssize_t n;

	if (len == 0)
		return 0;
	n = write ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0)
		  : process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	return n == (ssize_t)len ? 0 : -EFAULT;
}

/* Caller memory and fds are reached only without the model lock (issue 9). */
static void assert_unlocked(struct t *t)
{
	ck_assert_int_eq(pthread_mutex_trylock(&t->lock), 0);
	pthread_mutex_unlock(&t->lock);
}

/* The model runs only with it: every core fault point checks. */
static int fault_check_locked(void *data, const char *point)
{
	struct t *t = data;

	(void)point;
	if (t->in_abi) {
		ck_assert_int_eq(pthread_mutex_trylock(&t->lock), EBUSY);
		t->model_steps++;
	}
	return 0;
}

static int fake_read(struct luo_abi_call *c, uint64_t addr, void *buf, size_t len)
{
	assert_unlocked(c->peer);
	return self_copy(false, addr, buf, len);
}

static int fake_write(struct luo_abi_call *c, uint64_t addr, const void *buf, size_t len)
{
	assert_unlocked(c->peer);
	return self_copy(true, addr, (void *)buf, len);
}

static int fake_get_fd(struct luo_abi_call *c, int caller_fd)
{
	struct t *t = c->peer;
	int fd;

	assert_unlocked(t);
	t->get_fd_calls++;
	/* Like pidfd_getfd(): any open fd, O_PATH included. */
	if (caller_fd < 0)
		return -EBADF;
	fd = fcntl(caller_fd, F_DUPFD_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

static int fake_can_install(struct luo_abi_call *c)
{
	struct t *t = c->peer;

	assert_unlocked(t);
	return t->install_err;
}

static const struct luo_abi_peer_ops fake_ops = {
	.read = fake_read,
	.write = fake_write,
	.get_fd = fake_get_fd,
	.can_install = fake_can_install,
};

/* ---- fixture ---- */

/* _i of the loop tests: 0 = 7.3 (default), 1 = 7.2, 2 = 6.19. */
static const enum luo_compat compat_of[] = {LUO_COMPAT_7_3, LUO_COMPAT_7_2, LUO_COMPAT_6_19};

static void t_init(struct t *t, int compat)
{
	struct luo_config cfg = {.compat = compat_of[compat], .fault = fault_check_locked};
	pthread_mutexattr_t attr;

	memset(t, 0, sizeof(*t));
	t->compat = cfg.compat;
	cfg.fault_data = t;
	ck_assert_int_eq(pthread_mutexattr_init(&attr), 0);
	ck_assert_int_eq(pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK), 0);
	ck_assert_int_eq(pthread_mutex_init(&t->lock, &attr), 0);
	pthread_mutexattr_destroy(&attr);
	ck_assert_int_eq(luo_ctx_new(&cfg, &t->ctx), 0);
	t->ps = (size_t)sysconf(_SC_PAGESIZE);
	t->mem = mmap(NULL, 5 * t->ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(t->mem, MAP_FAILED);
	ck_assert_int_eq(mprotect(t->mem + t->ps, t->ps, PROT_NONE), 0);
	ck_assert_int_eq(mprotect(t->mem + 3 * t->ps, t->ps, PROT_READ), 0);
	ck_assert_int_eq(mprotect(t->mem + 4 * t->ps, t->ps, PROT_NONE), 0);
}

static void t_fini(struct t *t)
{
	for (unsigned int i = t->nr_sessions; i-- > 0;)
		if (t->sessions[i])
			luo_session_release(t->sessions[i]);
	for (unsigned int i = 0; i < t->nr_fds; i++)
		close(t->fds[i]);
	luo_ctx_free(t->ctx);
	munmap(t->mem, 5 * t->ps);
	pthread_mutex_destroy(&t->lock);
}

/* Addresses in the caller memory. */
static uint8_t *rw_a(struct t *t)
{
	return t->mem;
}

static uint8_t *guard_a(struct t *t)
{
	return t->mem + t->ps;
}

static uint8_t *rw_b(struct t *t)
{
	return t->mem + 2 * t->ps;
}

static uint8_t *ro(struct t *t)
{
	return t->mem + 3 * t->ps;
}

/* Copy @len bytes to @dst, which may be in the read-only page. */
static void *t_put(struct t *t, void *dst, const void *src, size_t len)
{
	uint8_t *d = dst;
	bool in_ro = d + len > ro(t) && d < ro(t) + t->ps;

	if (in_ro)
		ck_assert_int_eq(mprotect(ro(t), t->ps, PROT_READ | PROT_WRITE), 0);
	memcpy(dst, src, len);
	if (in_ro)
		ck_assert_int_eq(mprotect(ro(t), t->ps, PROT_READ), 0);
	return dst;
}

/*
 * One call, as a transport makes it: the ABI layer runs it, then the
 * result is installed (here: kept in t), or, when t->addfd_err says the
 * install fails (EMFILE), undone under the lock.
 */
static int t_ioctl_ops(struct t *t, struct luo_session *s, uint32_t cmd, const void *arg,
		       const struct luo_abi_peer_ops *ops)
{
	struct luo_abi_call c = {
		.ctx = t->ctx,
		.session = s,
		.cmd = cmd,
		.arg = (uintptr_t)arg,
		.ops = ops,
		.peer = t,
		.lock = &t->lock,
		.caller_uid = t->uid,
		.counters = &t->counters,
	};
	struct luo_abi_result *res = &c.result;
	int r;

	t->in_abi = true;
	r = luo_abi_ioctl(&c);
	t->in_abi = false;
	assert_unlocked(t);
	t->why = c.why;
	/* Every refusal says why, and leaves nothing to install or undo. */
	if (r < 0) {
		ck_assert_msg(c.why && *c.why, "no reason for %d", r);
		ck_assert_int_eq(res->kind, LUO_ABI_RESULT_NONE);
		ck_assert_int_eq(res->owned_fd, -1);
		return r;
	}
	ck_assert_ptr_null(c.why);
	switch (cmd) {
	case LIVEUPDATE_IOCTL_CREATE_SESSION:
	case LIVEUPDATE_IOCTL_RETRIEVE_SESSION:
		ck_assert_int_eq(res->kind, LUO_ABI_RESULT_SESSION);
		ck_assert_ptr_nonnull(res->session);
		ck_assert_int_eq(res->owned_fd, -1);
		break;
	case LIVEUPDATE_SESSION_RETRIEVE_FD:
		ck_assert_int_eq(res->kind, LUO_ABI_RESULT_FILE);
		ck_assert_ptr_eq(res->session, s);
		ck_assert_int_ge(res->owned_fd, 3);
		ck_assert(same_inode(res->owned_fd, res->fd));
		break;
	default:
		ck_assert_int_eq(res->kind, LUO_ABI_RESULT_NONE);
		return 0;
	}
	ck_assert_uint_eq(res->cmd, cmd);
	if (t->addfd_err) {
		pthread_mutex_lock(&t->lock);
		luo_abi_undo(t->ctx, res);
		pthread_mutex_unlock(&t->lock);
		if (res->owned_fd >= 0)
			close(res->owned_fd);
		t->why = "install failed";
		return t->addfd_err;
	}
	if (res->kind == LUO_ABI_RESULT_SESSION) {
		ck_assert_uint_lt(t->nr_sessions, MAX_PARKED);
		t->sessions[t->nr_sessions++] = res->session;
	} else {
		ck_assert_uint_lt(t->nr_fds, MAX_PARKED);
		t->fds[t->nr_fds++] = res->owned_fd;
	}
	return 0;
}

static int t_ioctl(struct t *t, struct luo_session *s, uint32_t cmd, const void *arg)
{
	return t_ioctl_ops(t, s, cmd, arg, &fake_ops);
}

static struct liveupdate_ioctl_create_session mk_create(const char *name)
{
	struct liveupdate_ioctl_create_session a = {.size = sizeof(a), .fd = -7};

	/* A 64-byte name stays unterminated on purpose. */
	memcpy(a.name, name, strnlen(name, sizeof(a.name)));
	return a;
}

static struct liveupdate_session_preserve_fd mk_preserve(int fd, uint64_t token)
{
	return (struct liveupdate_session_preserve_fd){.size = 16, .fd = fd, .token = token};
}

static struct liveupdate_session_retrieve_fd mk_retrieve_fd(uint64_t token)
{
	return (struct liveupdate_session_retrieve_fd){.size = 16, .fd = -7, .token = token};
}

/* CREATE (or RETRIEVE) through the ABI at the start of page 0. */
static int t_session_cmd(struct t *t, uint32_t cmd, const char *name, struct luo_session **ret)
{
	struct liveupdate_ioctl_create_session a = mk_create(name);
	unsigned int n = t->nr_sessions;
	int r;

	t_put(t, rw_a(t), &a, sizeof(a));
	r = t_ioctl(t, NULL, cmd, rw_a(t));
	if (r == 0) {
		ck_assert_uint_eq(t->nr_sessions, n + 1);
		/* The fd field is the courier's: the bytes go back unchanged. */
		ck_assert_int_eq(memcmp(rw_a(t), &a, sizeof(a)), 0);
		if (ret)
			*ret = t->sessions[n];
	} else {
		ck_assert_uint_eq(t->nr_sessions, n);
	}
	return r;
}

static struct luo_session *t_create(struct t *t, const char *name)
{
	struct luo_session *s = NULL;

	ck_assert_int_eq(t_session_cmd(t, LIVEUPDATE_IOCTL_CREATE_SESSION, name, &s), 0);
	return s;
}

static struct luo_session *t_retrieve(struct t *t, const char *name)
{
	struct luo_session *s = NULL;

	ck_assert_int_eq(t_session_cmd(t, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, name, &s), 0);
	return s;
}

/* The caller closes its last fd of a parked session. */
static void t_close(struct t *t, struct luo_session *s)
{
	for (unsigned int i = 0; i < t->nr_sessions; i++)
		if (t->sessions[i] == s) {
			luo_session_release(s);
			t->sessions[i] = NULL;
			return;
		}
	ck_abort_msg("session not parked");
}

static int new_memfd(const char *data)
{
	int fd = memfd_create("abi-test", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	return fd;
}

static struct luo_stats t_stats(struct t *t)
{
	struct luo_stats st;

	luo_ctx_stats(t->ctx, &st);
	return st;
}

static unsigned int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/*
 * An incoming session @name holding @token: preserve a memfd in a second
 * context, freeze it for the record, and load that into ours.
 */
static void t_add_incoming(struct t *t, const char *name, uint64_t token, const char *data)
{
	struct luo_config cfg = {.compat = t->compat};
	uint8_t raw[LUO_NAME_LEN] = {0};
	struct luo_ctx *prev = NULL;
	struct luo_session *s = NULL, *in = NULL;
	struct luo_file *f;
	const void *rec;
	size_t len = 0;
	int fd;

	ck_assert_int_eq(luo_ctx_new(&cfg, &prev), 0);
	memcpy(raw, name, strnlen(name, sizeof(raw) - 1));
	ck_assert_int_eq(luo_session_create(prev, raw, &s), 0);
	ck_assert_int_eq(luo_session_preserve_fd(s, token, new_memfd(data)), 0);
	ck_assert_int_eq(luo_freeze(prev), 0);
	ck_assert_ptr_eq(luo_outgoing_first(prev), s);
	f = luo_file_first(s);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(luo_file_token(f), token);
	rec = luo_file_record(f, &len);
	ck_assert_ptr_nonnull(rec);

	ck_assert_int_eq(luo_incoming_add_session(t->ctx, name, &in), 0);
	/* The data holder: a memfd with the same contents. */
	fd = new_memfd(data);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(luo_incoming_add_file(in, token, luo_file_compatible(f), rec, len, fd), 0);
	luo_unfreeze(prev);
	luo_ctx_free(prev);
}

/*
 * An incoming session @name owned by @owner holding @n patterned memfds of
 * @size bytes (token k+1 has seed k+1), handed over as in exec mode: each
 * data holder is a dup of the preserved file.
 */
static void t_add_incoming_n(struct t *t, const char *name, unsigned int n, size_t size,
			     uid_t owner)
{
	struct luo_config cfg = {.compat = t->compat};
	uint8_t raw[LUO_NAME_LEN] = {0};
	struct luo_ctx *prev = NULL;
	struct luo_session *s = NULL, *in = NULL;

	ck_assert_int_eq(luo_ctx_new(&cfg, &prev), 0);
	memcpy(raw, name, strnlen(name, sizeof(raw) - 1));
	ck_assert_int_eq(luo_session_create(prev, raw, &s), 0);
	for (unsigned int k = 0; k < n; k++)
		ck_assert_int_eq(luo_session_preserve_fd(s, k + 1, memfd_new_flags(size, k + 1, 0)),
				 0);
	ck_assert_int_eq(luo_freeze(prev), 0);
	ck_assert_int_eq(luo_incoming_add_session_owned(t->ctx, name, owner, &in), 0);
	for (struct luo_file *f = luo_file_first(s); f; f = luo_file_next(f)) {
		size_t len = 0;
		const void *rec = luo_file_record(f, &len);
		int fd = fcntl(luo_file_fd(f), F_DUPFD_CLOEXEC, 0);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(luo_incoming_add_file(in, luo_file_token(f),
						       luo_file_compatible(f), rec, len, fd),
				 0);
	}
	luo_unfreeze(prev);
	luo_ctx_free(prev);
}

static int t_retrieve_fd(struct t *t, struct luo_session *s, uint64_t token)
{
	struct liveupdate_session_retrieve_fd r = mk_retrieve_fd(token);

	t_put(t, rw_b(t), &r, sizeof(r));
	return t_ioctl(t, s, LIVEUPDATE_SESSION_RETRIEVE_FD, rw_b(t));
}

/* ---- device fd dispatch ---- */

START_TEST(test_dev_nr_range)
{
	static const uint32_t cmds[] = {
		_IO(0xBA, 2),	 _IO(0xBA, 0x40), _IO(0xBA, 0x41),	 _IO(0xBA, 0x43),
		_IO(0xBA, 0xFF), FIONREAD,	  _IOWR(0xBA, 0x40, 16),
	};
	struct t t;

	t_init(&t, _i);
	/* EINVAL before anything is read: the argument points into a guard page. */
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		ck_assert_int_eq(t_ioctl(&t, NULL, cmds[i], guard_a(&t)), -EINVAL);
		ck_assert_int_eq(t_ioctl(&t, NULL, cmds[i], NULL), -EINVAL);
		ck_assert_str_eq(t.why, "nr out of range");
	}
	t_fini(&t);
}
END_TEST

START_TEST(test_dev_size_unreadable)
{
	struct t t;

	t_init(&t, _i);
	ck_assert_int_eq(t_ioctl(&t, NULL, LIVEUPDATE_IOCTL_CREATE_SESSION, guard_a(&t)), -EFAULT);
	ck_assert_int_eq(t_ioctl(&t, NULL, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, NULL), -EFAULT);
	/* Two of the four size bytes are in the guard page. */
	ck_assert_int_eq(t_ioctl(&t, NULL, LIVEUPDATE_IOCTL_CREATE_SESSION, guard_a(&t) - 2),
			 -EFAULT);
	/* EFAULT comes before the encoding check. */
	ck_assert_int_eq(t_ioctl(&t, NULL, _IOWR(0xBA, 0, 72), guard_a(&t)), -EFAULT);
	ck_assert_uint_eq(t_stats(&t).outgoing, 0);
	t_fini(&t);
}
END_TEST

START_TEST(test_dev_enotty)
{
	static const uint32_t cmds[] = {
		_IOWR(0xBA, 0, 72), _IOR(0xBA, 1, 72), _IOW(0xBA, 0, 8),
		_IO(0xBB, 0),	    _IO(0xBB, 1),      _IO('T', 0),
	};
	struct liveupdate_ioctl_create_session a = mk_create("x");
	struct t t;

	t_init(&t, _i);
	t_put(&t, rw_a(&t), &a, sizeof(a));
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		ck_assert_int_eq(t_ioctl(&t, NULL, cmds[i], rw_a(&t)), -ENOTTY);
		ck_assert_str_eq(t.why, "bad ioctl encoding");
	}
	/* ENOTTY comes before the size check. */
	a.size = 1;
	t_put(&t, rw_a(&t), &a, sizeof(a));
	ck_assert_int_eq(t_ioctl(&t, NULL, _IOWR(0xBA, 0, 72), rw_a(&t)), -ENOTTY);
	ck_assert_uint_eq(t_stats(&t).outgoing, 0);
	t_fini(&t);
}
END_TEST

START_TEST(test_dev_size_small)
{
	static const uint32_t sizes[] = {0, 4, 8, 16, 71};
	static const uint32_t cmds[] = {
		LIVEUPDATE_IOCTL_CREATE_SESSION,
		LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
	};
	struct liveupdate_ioctl_create_session a = mk_create("x");
	struct t t;

	t_init(&t, _i);
	t_add_incoming(&t, "x", 1, "data");
	for (size_t c = 0; c < ARRAY_SIZE(cmds); c++)
		for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
			a.size = sizes[i];
			t_put(&t, rw_a(&t), &a, sizeof(a));
			ck_assert_int_eq(t_ioctl(&t, NULL, cmds[c], rw_a(&t)), -EINVAL);
			/* Before the struct is read: only the size is readable. */
			t_put(&t, guard_a(&t) - 4, &a.size, 4);
			ck_assert_int_eq(t_ioctl(&t, NULL, cmds[c], guard_a(&t) - 4), -EINVAL);
		}
	ck_assert_uint_eq(t_stats(&t).outgoing, 0);
	/* Nothing was retrieved. */
	t_retrieve(&t, "x");
	t_fini(&t);
}
END_TEST

START_TEST(test_dev_tail_nonzero)
{
	struct liveupdate_ioctl_create_session a = mk_create("x");
	uint8_t one = 1;
	struct t t;

	t_init(&t, _i);
	a.size = 73;
	t_put(&t, rw_a(&t), &a, sizeof(a));
	t_put(&t, rw_a(&t) + 72, &one, 1);
	ck_assert_int_eq(t_ioctl(&t, NULL, LIVEUPDATE_IOCTL_CREATE_SESSION, rw_a(&t)), -E2BIG);
	ck_assert_str_eq(t.why, "non-zero byte past the struct");
	/* The last byte of a tail that spans chunks. */
	t_put(&t, rw_a(&t) + 72, "\0", 1);
	a.size = (uint32_t)t.ps;
	t_put(&t, rw_a(&t), &a, sizeof(a));
	t_put(&t, rw_a(&t) + t.ps - 1, &one, 1);
	ck_assert_int_eq(t_ioctl(&t, NULL, LIVEUPDATE_IOCTL_CREATE_SESSION, rw_a(&t)), -E2BIG);
	ck_assert_int_eq(t_ioctl(&t, NULL, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, rw_a(&t)), -E2BIG);
	ck_assert_uint_eq(t_stats(&t).outgoing, 0);
	t_fini(&t);
}
END_TEST

START_TEST(test_dev_tail_zero)
{
	struct liveupdate_ioctl_create_session a = mk_create("tail");
	uint8_t *at;
	struct t t;

	t_init(&t, _i);
	/*
	 * The struct ends page 2 and its whole tail is the read-only page 3:
	 * readable, and the write-back covers the 72 bytes only.
	 */
	at = ro(&t) - sizeof(a);
	a.size = (uint32_t)(sizeof(a) + t.ps);
	t_put(&t, at, &a, sizeof(a));
	ck_assert_int_eq(t_ioctl(&t, NULL, LIVEUPDATE_IOCTL_CREATE_SESSION, at), 0);
	ck_assert_uint_eq(t.nr_sessions, 1);
	ck_assert_str_eq(luo_session_name(t.sessions[0]), "tail");
	ck_assert_int_eq(memcmp(at, &a, sizeof(a)), 0);
	t_fini(&t);
}
END_TEST

START_TEST(test_dev_tail_guard)
{
	struct liveupdate_ioctl_create_session a = mk_create("x");
	uint8_t *at;
	struct t t;

	t_init(&t, _i);
	/* The tail runs into the guard page after zeros: EFAULT. */
	at = guard_a(&t) - 100;
	a.size = 200;
	t_put(&t, at, &a, sizeof(a));
	memset(at + 72, 0, 28);
	ck_assert_int_eq(t_ioctl(&t, NULL, LIVEUPDATE_IOCTL_CREATE_SESSION, at), -EFAULT);
	ck_assert_str_eq(t.why, "unreadable byte past the struct");
	/* A non-zero byte before the hole is seen first (check_zeroed_user order). */
	at[99] = 5;
	ck_assert_int_eq(t_ioctl(&t, NULL, LIVEUPDATE_IOCTL_CREATE_SESSION, at), -E2BIG);
	/* A size so large the tail wraps nothing but hits the guard at once. */
	at = guard_a(&t) - 72;
	a.size = UINT32_MAX;
	t_put(&t, at, &a, sizeof(a));
	ck_assert_int_eq(t_ioctl(&t, NULL, LIVEUPDATE_IOCTL_CREATE_SESSION, at), -EFAULT);
	ck_assert_uint_eq(t_stats(&t).outgoing, 0);
	t_fini(&t);
}
END_TEST

START_TEST(test_dev_struct_guard)
{
	struct liveupdate_ioctl_create_session a = mk_create("x");
	uint8_t *at;
	struct t t;

	t_init(&t, _i);
	/* size readable, name runs into the guard page. */
	at = guard_a(&t) - 40;
	t_put(&t, at, &a, 40);
	ck_assert_int_eq(t_ioctl(&t, NULL, LIVEUPDATE_IOCTL_CREATE_SESSION, at), -EFAULT);
	ck_assert_str_eq(t.why, "struct unreadable");
	ck_assert_int_eq(t_ioctl(&t, NULL, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, at), -EFAULT);
	ck_assert_uint_eq(t_stats(&t).outgoing, 0);
	t_fini(&t);
}
END_TEST

/* ---- device handlers ---- */

START_TEST(test_create_ok)
{
	struct luo_session *s;
	struct t t;

	t_init(&t, _i);
	s = t_create(&t, "alpha");
	ck_assert(!luo_session_is_incoming(s));
	ck_assert_str_eq(luo_session_name(s), "alpha");
	/* Duplicate outgoing name: the core's EEXIST, as is. */
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_CREATE_SESSION, "alpha", NULL),
			 -EEXIST);
	/* 7.2 refuses an empty name; 6.19 took it. */
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_CREATE_SESSION, "", NULL),
			 t.compat != LUO_COMPAT_6_19 ? -EINVAL : 0);
	t_fini(&t);
}
END_TEST

START_TEST(test_create_readonly)
{
	struct liveupdate_ioctl_create_session a = mk_create("ro");
	struct t t;

	t_init(&t, _i);
	t_put(&t, ro(&t), &a, sizeof(a));
	ck_assert_int_eq(t_ioctl(&t, NULL, LIVEUPDATE_IOCTL_CREATE_SESSION, ro(&t)), -EFAULT);
	/* The session was destroyed again: nothing parked, the name is free. */
	ck_assert_uint_eq(t.nr_sessions, 0);
	ck_assert_uint_eq(t_stats(&t).outgoing, 0);
	t_create(&t, "ro");
	t_fini(&t);
}
END_TEST

START_TEST(test_retrieve_ok)
{
	struct luo_session *s;
	struct t t;

	t_init(&t, _i);
	t_add_incoming(&t, "in", 3, "payload");
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, "nope", NULL),
			 -ENOENT);
	s = t_retrieve(&t, "in");
	ck_assert(luo_session_is_incoming(s));
	/* Retrieved already: EINVAL. */
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, "in", NULL), -EINVAL);
	/* An outgoing session of the same name is another namespace. */
	t_create(&t, "in");
	t_fini(&t);
}
END_TEST

START_TEST(test_retrieve_readonly)
{
	struct liveupdate_ioctl_retrieve_session a = {.size = 72};
	struct t t;

	t_init(&t, _i);
	t_add_incoming(&t, "in", 3, "payload");
	memcpy(a.name, "in", 3);
	t_put(&t, ro(&t), &a, sizeof(a));
	ck_assert_int_eq(t_ioctl(&t, NULL, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, ro(&t)), -EFAULT);
	/* Implicit FINISH: the session and its data are gone. */
	ck_assert_uint_eq(t.nr_sessions, 0);
	ck_assert_uint_eq(t_stats(&t).incoming, 0);
	ck_assert_uint_eq(t_stats(&t).files, 0);
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, "in", NULL), -ENOENT);
	t_fini(&t);
}
END_TEST

START_TEST(test_can_install_fails)
{
	struct t t;

	t_init(&t, _i);
	t_add_incoming(&t, "in", 3, "payload");
	t.install_err = -EMFILE;
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_CREATE_SESSION, "a", NULL), -EMFILE);
	/* The fd is allocated first: EMFILE wins over a bad name. */
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_CREATE_SESSION, "", NULL), -EMFILE);
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, "in", NULL), -EMFILE);
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, "nope", NULL),
			 -EMFILE);
	t.install_err = -EPERM;
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_CREATE_SESSION, "a", NULL), -EPERM);
	ck_assert_uint_eq(t_stats(&t).outgoing, 0);
	t.install_err = 0;
	/* Nothing was created or retrieved meanwhile. */
	t_create(&t, "a");
	t_retrieve(&t, "in");
	t_fini(&t);
}
END_TEST

START_TEST(test_shutdown_passthrough)
{
	struct liveupdate_session_get_name g = {.size = 72};
	struct luo_session *s;
	struct t t;

	t_init(&t, _i);
	s = t_create(&t, "s");
	ck_assert_int_eq(luo_freeze(t.ctx), 0);
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_CREATE_SESSION, "b", NULL), -ESHUTDOWN);
	t_put(&t, rw_b(&t), &g, sizeof(g));
	if (t.compat != LUO_COMPAT_6_19)
		ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_GET_NAME, rw_b(&t)), -ESHUTDOWN);
	luo_unfreeze(t.ctx);
	t_create(&t, "b");
	t_fini(&t);
}
END_TEST

/* ---- EMFILE: the new fd cannot be installed; undo leaves no trace ---- */

#define UNDO_FILES 4
#define UNDO_SIZE  (64 * 1024)

START_TEST(test_undo_create)
{
	struct t t;

	t_init(&t, _i);
	t.addfd_err = -EMFILE;
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_CREATE_SESSION, "a", NULL), -EMFILE);
	ck_assert_uint_eq(t_stats(&t).outgoing, 0);
	t.addfd_err = 0;
	/* The name is free: the session never existed. */
	t_create(&t, "a");
	ck_assert_uint_eq(t_stats(&t).outgoing, 1);
	t_fini(&t);
}
END_TEST

START_TEST(test_undo_retrieve_session)
{
	struct luo_session *s;
	struct t t;

	t_init(&t, _i);
	t_add_incoming_n(&t, "in", UNDO_FILES, UNDO_SIZE, 0);
	t.addfd_err = -EMFILE;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, "in", NULL),
				 -EMFILE);
	ck_assert_uint_eq(t_stats(&t).incoming, 1);
	ck_assert_uint_eq(t_stats(&t).files, UNDO_FILES);
	t.addfd_err = 0;
	/* Retrieved normally afterwards, with every file intact. */
	s = t_retrieve(&t, "in");
	for (unsigned int k = 0; k < UNDO_FILES; k++) {
		ck_assert_int_eq(t_retrieve_fd(&t, s, k + 1), 0);
		check_content(t.fds[t.nr_fds - 1], UNDO_SIZE, k + 1);
	}
	t_fini(&t);
}
END_TEST

START_TEST(test_undo_retrieve_fd)
{
	struct luo_session *s;
	struct t t;

	t_init(&t, _i);
	t_add_incoming_n(&t, "in", UNDO_FILES, UNDO_SIZE, 0);
	s = t_retrieve(&t, "in");
	/* First retrieval fails to install: the token is as before (no sticky error). */
	t.addfd_err = -EMFILE;
	ck_assert_int_eq(t_retrieve_fd(&t, s, 1), -EMFILE);
	ck_assert_int_eq(t_retrieve_fd(&t, s, 1), -EMFILE);
	t.addfd_err = 0;
	ck_assert_int_eq(t_retrieve_fd(&t, s, 1), 0);
	ck_assert_uint_eq(t.nr_fds, 1);
	check_content(t.fds[0], UNDO_SIZE, 1);
	ck_assert_int_eq(pos_of(t.fds[0]), 0);
	/* A later retrieval that fails changes nothing: the file stays handed out. */
	t.addfd_err = -EMFILE;
	ck_assert_int_eq(t_retrieve_fd(&t, s, 1), -EMFILE);
	t.addfd_err = 0;
	ck_assert_int_eq(t_retrieve_fd(&t, s, 1), 0);
	ck_assert_int_eq(lseek(t.fds[0], 17, SEEK_SET), 17);
	ck_assert_int_eq(pos_of(t.fds[1]), 17); /* the same open file description */
	for (unsigned int k = 1; k < UNDO_FILES; k++) {
		ck_assert_int_eq(t_retrieve_fd(&t, s, k + 1), 0);
		check_content(t.fds[t.nr_fds - 1], UNDO_SIZE, k + 1);
	}
	ck_assert_uint_eq(t_stats(&t).files, UNDO_FILES);
	t_fini(&t);
}
END_TEST

/* The undo of a file whose session was finished and closed meanwhile is a no-op. */
START_TEST(test_undo_after_session_gone)
{
	struct liveupdate_session_retrieve_fd r = mk_retrieve_fd(1);
	struct luo_abi_call c = {.cmd = LIVEUPDATE_SESSION_RETRIEVE_FD, .ops = &fake_ops};
	struct luo_session *s;
	struct t t;

	t_init(&t, _i);
	t_add_incoming_n(&t, "in", 1, 4096, 0);
	s = t_retrieve(&t, "in");
	t_put(&t, rw_b(&t), &r, sizeof(r));
	c.ctx = t.ctx;
	c.session = s;
	c.arg = (uintptr_t)rw_b(&t);
	c.peer = &t;
	c.lock = &t.lock;
	ck_assert_int_eq(luo_abi_ioctl(&c), 0);
	ck_assert(c.result.first);
	/* The caller's other thread finishes and closes the session. */
	t_close(&t, s);
	ck_assert_uint_eq(t_stats(&t).incoming, 0);
	/* The transport's owned copy is still the file. */
	check_content(c.result.owned_fd, 4096, 1);
	luo_abi_undo(t.ctx, &c.result);
	close(c.result.owned_fd);
	t_fini(&t);
}
END_TEST

/* ---- owners ---- */

START_TEST(test_owner)
{
	uint64_t calls, refusals;
	struct luo_session *s;
	struct t t;

	t_init(&t, _i);
	t.uid = 1000;
	s = t_create(&t, "mine");
	ck_assert_uint_eq(luo_session_owner(s), 1000);
	t_add_incoming_n(&t, "in", 1, 4096, 1000);
	t_add_incoming_n(&t, "root", 1, 4096, 0);
	calls = t.counters.calls;
	refusals = t.counters.refusals;
	/* Another user sees nothing: ENOENT as for a name that does not exist. */
	t.uid = 2000;
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, "in", NULL), -ENOENT);
	ck_assert_str_eq(t.why, "no such incoming session");
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, "root", NULL),
			 -ENOENT);
	ck_assert_uint_eq(t.counters.calls, calls + 2);
	ck_assert_uint_eq(t.counters.refusals, refusals + 2);
	/* The owner retrieves its own; root retrieves anyone's. */
	t.uid = 1000;
	s = t_retrieve(&t, "in");
	ck_assert_uint_eq(luo_session_owner(s), 1000);
	t.uid = 0;
	t_retrieve(&t, "root");
	ck_assert_uint_eq(t.counters.calls, calls + 4);
	ck_assert_uint_eq(t.counters.refusals, refusals + 2);
	t_fini(&t);
}
END_TEST

/* ---- a caller blocked in its own memory blocks only itself ---- */

struct blocked_caller {
	struct t *t;
	int started[2]; /* the caller says it is inside its read */
	int release[2]; /* and waits here, like a FUSE-backed page */
	bool waited;
	struct luo_abi_call c;
	int r;
};

static int blocking_read(struct luo_abi_call *c, uint64_t addr, void *buf, size_t len)
{
	struct blocked_caller *b = c->peer;
	char x = 0;

	assert_unlocked(b->t);
	if (!b->waited) {
		b->waited = true;
		ck_assert_int_eq(write(b->started[1], "s", 1), 1);
		ck_assert_int_eq(read(b->release[0], &x, 1), 1);
	}
	return self_copy(false, addr, buf, len);
}

static int blocked_write(struct luo_abi_call *c, uint64_t addr, const void *buf, size_t len)
{
	struct blocked_caller *b = c->peer;

	assert_unlocked(b->t);
	return self_copy(true, addr, (void *)buf, len);
}

static int blocked_get_fd(struct luo_abi_call *c, int caller_fd)
{
	(void)c;
	(void)caller_fd;
	return -EBADF;
}

static int blocked_can_install(struct luo_abi_call *c)
{
	(void)c;
	return 0;
}

static const struct luo_abi_peer_ops blocking_ops = {
	.read = blocking_read,
	.write = blocked_write,
	.get_fd = blocked_get_fd,
	.can_install = blocked_can_install,
};

static void *blocked_thread(void *data)
{
	struct blocked_caller *b = data;

	b->r = luo_abi_ioctl(&b->c);
	return NULL;
}

/*
 * Caller A blocks inside its own memory (the tail of a huge struct, a
 * userfaultfd page): caller B's calls run to completion meanwhile.  Were
 * the lock held across A's read, B would wait forever (the test would time
 * out); no timing is measured.
 */
START_TEST(test_blocked_caller_blocks_only_itself)
{
	struct liveupdate_ioctl_create_session a = mk_create("a");
	struct blocked_caller b = {0};
	pthread_t th;
	char x;
	struct t t;

	t_init(&t, _i);
	b.t = &t;
	ck_assert_int_eq(pipe2(b.started, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(b.release, O_CLOEXEC), 0);
	t_put(&t, rw_b(&t), &a, sizeof(a));
	b.c = (struct luo_abi_call){
		.ctx = t.ctx,
		.cmd = LIVEUPDATE_IOCTL_CREATE_SESSION,
		.arg = (uintptr_t)rw_b(&t),
		.ops = &blocking_ops,
		.peer = &b,
		.lock = &t.lock,
		.caller_uid = 1000,
	};
	ck_assert_int_eq(pthread_create(&th, NULL, blocked_thread, &b), 0);
	ck_assert_int_eq(read(b.started[0], &x, 1), 1);
	/* A sits in its read; B creates, preserves and reads a name. */
	{
		struct liveupdate_session_preserve_fd pf = mk_preserve(new_memfd("b"), 1);
		struct liveupdate_session_get_name g = {.size = 72};
		struct luo_session *s = t_create(&t, "b");

		t_put(&t, rw_a(&t), &pf, sizeof(pf));
		ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, rw_a(&t)), 0);
		close(pf.fd);
		if (t.compat != LUO_COMPAT_6_19) { /* 6.19 had no GET_NAME */
			t_put(&t, rw_a(&t), &g, sizeof(g));
			ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_GET_NAME, rw_a(&t)), 0);
			ck_assert_str_eq(
				(char *)((struct liveupdate_session_get_name *)rw_a(&t))->name,
				"b");
		}
	}
	ck_assert_int_eq(write(b.release[1], "r", 1), 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(b.r, 0);
	ck_assert_int_eq(b.c.result.kind, LUO_ABI_RESULT_SESSION);
	ck_assert_uint_eq(luo_session_owner(b.c.result.session), 1000);
	ck_assert_uint_eq(t_stats(&t).outgoing, 2);
	luo_session_release(b.c.result.session);
	for (int i = 0; i < 2; i++) {
		close(b.started[i]);
		close(b.release[i]);
	}
	t_fini(&t);
}
END_TEST

/* ---- session fd dispatch ---- */

START_TEST(test_sess_nr_range)
{
	static const uint32_t cmds[] = {
		_IO(0xBA, 0x3F), _IO(0xBA, 0x44), _IO(0xBA, 0xFF),
		_IO(0xBA, 0),	 _IO(0xBA, 1),	  FIONREAD,
	};
	struct liveupdate_session_get_name g = {.size = 72};
	struct luo_session *s;
	struct t t;

	t_init(&t, _i);
	s = t_create(&t, "s");
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		ck_assert_int_eq(t_ioctl(&t, s, cmds[i], guard_a(&t)), -EINVAL);
		ck_assert_str_eq(t.why, "nr out of range");
	}
	/* GET_NAME is 7.2+: 6.19 answers EINVAL before reading. */
	if (t.compat == LUO_COMPAT_6_19) {
		ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_GET_NAME, guard_a(&t)), -EINVAL);
	} else {
		ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_GET_NAME, guard_a(&t)), -EFAULT);
		t_put(&t, rw_a(&t), &g, sizeof(g));
		ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_GET_NAME, rw_a(&t)), 0);
	}
	t_fini(&t);
}
END_TEST

START_TEST(test_sess_size_unreadable_and_enotty)
{
	struct liveupdate_session_preserve_fd p = mk_preserve(-1, 1);
	struct luo_session *s;
	struct t t;

	t_init(&t, _i);
	s = t_create(&t, "s");
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, guard_a(&t)), -EFAULT);
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_FINISH, guard_a(&t) - 3), -EFAULT);
	t_put(&t, rw_a(&t), &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s, _IOWR(0xBA, 0x40, 16), rw_a(&t)), -ENOTTY);
	ck_assert_int_eq(t_ioctl(&t, s, _IO(0xBB, 0x40), rw_a(&t)), -ENOTTY);
	/* ENOTTY before the direction check: RETRIEVE_FD encoding on an outgoing session. */
	ck_assert_int_eq(t_ioctl(&t, s, _IOR(0xBA, 0x41, 16), rw_a(&t)), -ENOTTY);
	ck_assert_uint_eq(t.get_fd_calls, 0);
	t_fini(&t);
}
END_TEST

START_TEST(test_sess_direction)
{
	struct liveupdate_session_retrieve_fd r = mk_retrieve_fd(1);
	struct liveupdate_session_preserve_fd p;
	struct liveupdate_session_finish f = {.size = 8};
	uint8_t one = 1;
	struct luo_session *out, *in;
	_cleanup_close_ int mfd = new_memfd("x");
	struct t t;

	t_init(&t, _i);
	t_add_incoming(&t, "in", 1, "data");
	out = t_create(&t, "out");
	in = t_retrieve(&t, "in");

	/* size 0 and a non-zero tail: the direction check decides first. */
	r.size = 0;
	t_put(&t, rw_a(&t), &r, sizeof(r));
	r.size = 32;
	t_put(&t, rw_b(&t), &r, sizeof(r));
	t_put(&t, rw_b(&t) + 31, &one, 1);
	f.size = 64;
	t_put(&t, rw_b(&t) + 512, &f, sizeof(f));
	t_put(&t, rw_b(&t) + 512 + 63, &one, 1);
	p = mk_preserve(mfd, 9);
	p.size = 32;
	t_put(&t, rw_b(&t) + 1024, &p, sizeof(p));
	t_put(&t, rw_b(&t) + 1024 + 31, &one, 1);

	if (t.compat != LUO_COMPAT_6_19) {
		ck_assert_int_eq(t_ioctl(&t, out, LIVEUPDATE_SESSION_RETRIEVE_FD, rw_a(&t)),
				 -EINVAL);
		ck_assert_str_eq(t.why, "wrong direction: RETRIEVE_FD on an outgoing session");
		ck_assert_int_eq(t_ioctl(&t, out, LIVEUPDATE_SESSION_RETRIEVE_FD, rw_b(&t)),
				 -EINVAL);
		ck_assert_int_eq(t_ioctl(&t, out, LIVEUPDATE_SESSION_FINISH, rw_b(&t) + 512),
				 -EINVAL);
		ck_assert_int_eq(t_ioctl(&t, in, LIVEUPDATE_SESSION_PRESERVE_FD, rw_b(&t) + 1024),
				 -EINVAL);
	} else {
		/* 6.19 has no direction check: the ABI rules speak first. */
		ck_assert_int_eq(t_ioctl(&t, out, LIVEUPDATE_SESSION_RETRIEVE_FD, rw_a(&t)),
				 -EINVAL);
		ck_assert_str_eq(t.why, "size < 16 (RETRIEVE_FD)");
		ck_assert_int_eq(t_ioctl(&t, out, LIVEUPDATE_SESSION_RETRIEVE_FD, rw_b(&t)),
				 -E2BIG);
		ck_assert_int_eq(t_ioctl(&t, out, LIVEUPDATE_SESSION_FINISH, rw_b(&t) + 512),
				 -E2BIG);
		ck_assert_int_eq(t_ioctl(&t, in, LIVEUPDATE_SESSION_PRESERVE_FD, rw_b(&t) + 1024),
				 -E2BIG);
	}
	ck_assert_uint_eq(t.get_fd_calls, 0);
	t_fini(&t);
}
END_TEST

START_TEST(test_sess_size_small)
{
	struct {
		uint32_t cmd, min;
		bool incoming;
	} rows[] = {
		{LIVEUPDATE_SESSION_PRESERVE_FD, 16, false},
		{LIVEUPDATE_SESSION_RETRIEVE_FD, 16, true},
		{LIVEUPDATE_SESSION_FINISH, 8, true},
		{LIVEUPDATE_SESSION_GET_NAME, 72, false},
		{LIVEUPDATE_SESSION_GET_NAME, 72, true},
	};
	struct luo_session *out, *in;
	struct t t;

	t_init(&t, _i);
	t_add_incoming(&t, "in", 1, "data");
	out = t_create(&t, "out");
	in = t_retrieve(&t, "in");
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		uint32_t sizes[] = {0, 4, rows[i].min - 1};

		if (rows[i].cmd == LIVEUPDATE_SESSION_GET_NAME && t.compat == LUO_COMPAT_6_19)
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
			/* Only the size is readable: EINVAL comes before the struct read. */
			t_put(&t, guard_a(&t) - 4, &sizes[k], 4);
			ck_assert_int_eq(t_ioctl(&t, rows[i].incoming ? in : out, rows[i].cmd,
						 guard_a(&t) - 4),
					 -EINVAL);
		}
	}
	ck_assert_uint_eq(t.get_fd_calls, 0);
	t_fini(&t);
}
END_TEST

START_TEST(test_sess_tail)
{
	struct liveupdate_session_preserve_fd p;
	_cleanup_close_ int mfd = new_memfd("x");
	struct luo_session *s;
	uint8_t *at;
	struct t t;

	t_init(&t, _i);
	s = t_create(&t, "s");
	p = mk_preserve(mfd, 5);
	p.size = 24;
	t_put(&t, rw_a(&t), &p, sizeof(p));
	t_put(&t, rw_a(&t) + 23, "\x80", 1);
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, rw_a(&t)), -E2BIG);
	ck_assert_uint_eq(t.get_fd_calls, 0);
	/* Tail through the guard page. */
	at = guard_a(&t) - 16;
	t_put(&t, at, &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, at), -EFAULT);
	/* Struct through the guard page. */
	at = guard_a(&t) - 8;
	t_put(&t, at, &p, 8);
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, at), -EFAULT);
	ck_assert_int_eq(luo_session_nr_files(s), 0);
	/* Zero tail, in the read-only page: fine, only 16 bytes go back. */
	at = ro(&t) - 16;
	t_put(&t, at, &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, at), 0);
	ck_assert_int_eq(memcmp(at, &p, sizeof(p)), 0);
	ck_assert_int_eq(luo_session_nr_files(s), 1);
	t_fini(&t);
}
END_TEST

/* ---- session handlers ---- */

START_TEST(test_preserve_ok_and_order)
{
	struct liveupdate_session_preserve_fd p;
	_cleanup_close_ int mfd = new_memfd("x");
	_cleanup_close_ int opath = open("/", O_PATH | O_CLOEXEC);
	_cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	struct luo_session *s, *s2;
	unsigned int nfds;
	struct t t;

	t_init(&t, _i);
	s = t_create(&t, "s");
	s2 = t_create(&t, "s2");
	nfds = open_fds();
	p = mk_preserve(mfd, 1);
	t_put(&t, rw_a(&t), &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, rw_a(&t)), 0);
	/* Struct back unchanged; the model holds one fd of its own. */
	ck_assert_int_eq(memcmp(rw_a(&t), &p, sizeof(p)), 0);
	ck_assert_uint_eq(open_fds(), nfds + 1);

	/* A used token beats a bad fd: EEXIST even for fd -1. */
	p = mk_preserve(-1, 1);
	t_put(&t, rw_a(&t), &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, rw_a(&t)), -EEXIST);
	p = mk_preserve(-1, 2);
	t_put(&t, rw_a(&t), &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, rw_a(&t)), -EBADF);
	p = mk_preserve(4000, 2);
	t_put(&t, rw_a(&t), &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, rw_a(&t)), -EBADF);
	/* O_PATH: get_fd takes it, the core refuses it. */
	p = mk_preserve(opath, 2);
	t_put(&t, rw_a(&t), &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, rw_a(&t)), -EBADF);
	p = mk_preserve(devnull, 2);
	t_put(&t, rw_a(&t), &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, rw_a(&t)), -ENOENT);
	/* The same memfd in another session: EBUSY on 7.1+. */
	p = mk_preserve(mfd, 2);
	t_put(&t, rw_a(&t), &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s2, LIVEUPDATE_SESSION_PRESERVE_FD, rw_a(&t)),
			 t.compat != LUO_COMPAT_6_19 ? -EBUSY : 0);
	/* Refused fds were all closed again. */
	ck_assert_uint_eq(open_fds(), nfds + (t.compat != LUO_COMPAT_6_19 ? 1 : 2));
	/* Tokens are any u64. */
	p = mk_preserve(new_memfd("y"), UINT64_MAX);
	t_put(&t, rw_a(&t), &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, rw_a(&t)), 0);
	close(p.fd);
	ck_assert_uint_eq(luo_session_nr_files(s), 2);
	t_fini(&t);
}
END_TEST

START_TEST(test_preserve_readonly)
{
	struct liveupdate_session_preserve_fd p;
	_cleanup_close_ int mfd = new_memfd("x");
	struct luo_session *s;
	struct t t;

	t_init(&t, _i);
	s = t_create(&t, "s");
	p = mk_preserve(mfd, 42);
	t_put(&t, ro(&t), &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, ro(&t)), -EFAULT);
	ck_assert_str_eq(t.why, "file preserved, but the response to user failed");
	/* It stays preserved: a retry is EEXIST. */
	ck_assert_uint_eq(luo_session_nr_files(s), 1);
	t_put(&t, rw_a(&t), &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, rw_a(&t)), -EEXIST);
	t_fini(&t);
}
END_TEST

START_TEST(test_retrieve_fd)
{
	struct liveupdate_session_retrieve_fd r = mk_retrieve_fd(7);
	struct luo_session *s;
	char buf[16] = {0};
	struct t t;

	t_init(&t, _i);
	t_add_incoming(&t, "in", 7, "hello");
	s = t_retrieve(&t, "in");

	r.token = 8;
	t_put(&t, rw_a(&t), &r, sizeof(r));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_RETRIEVE_FD, rw_a(&t)), -ENOENT);

	/* can_install first, before the token is looked at. */
	t.install_err = -EMFILE;
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_RETRIEVE_FD, rw_a(&t)), -EMFILE);
	t.install_err = 0;

	/* Read-only: EFAULT, but the file counts as retrieved. */
	r.token = 7;
	t_put(&t, ro(&t), &r, sizeof(r));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_RETRIEVE_FD, ro(&t)), -EFAULT);
	ck_assert_uint_eq(t.nr_fds, 0);

	t_put(&t, rw_a(&t), &r, sizeof(r));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_RETRIEVE_FD, rw_a(&t)), 0);
	ck_assert_int_eq(memcmp(rw_a(&t), &r, sizeof(r)), 0);
	ck_assert_uint_eq(t.nr_fds, 1);
	ck_assert_int_eq(pread(t.fds[0], buf, sizeof(buf) - 1, 0), 5);
	ck_assert_str_eq(buf, "hello");

	/* Again: the same open file description (shared offset). */
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_RETRIEVE_FD, rw_a(&t)), 0);
	ck_assert_uint_eq(t.nr_fds, 2);
	ck_assert_int_eq(lseek(t.fds[0], 3, SEEK_SET), 3);
	ck_assert_int_eq(lseek(t.fds[1], 0, SEEK_CUR), 3);
	t_fini(&t);
}
END_TEST

START_TEST(test_finish)
{
	struct liveupdate_session_finish f = {.size = 8, .reserved = 0xdead};
	struct liveupdate_session_retrieve_fd r = mk_retrieve_fd(7);
	struct luo_session *s;
	struct t t;

	t_init(&t, _i);
	t_add_incoming(&t, "in", 7, "hello");
	t_add_incoming(&t, "in2", 7, "hello");
	s = t_retrieve(&t, "in");
	/* 7.3 refuses a non-zero reserved field and finishes nothing; 7.2 and 6.19 never looked. */
	t_put(&t, rw_a(&t), &f, sizeof(f));
	t_put(&t, rw_b(&t), &r, sizeof(r));
	if (t.compat == LUO_COMPAT_7_3) {
		ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_FINISH, rw_a(&t)), -EINVAL);
		ck_assert_str_eq(t.why, "FINISH reserved field is not zero");
		ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_RETRIEVE_FD, rw_b(&t)), 0);
		f.reserved = 0;
		t_put(&t, rw_a(&t), &f, sizeof(f));
	}
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_FINISH, rw_a(&t)), 0);
	ck_assert_int_eq(memcmp(rw_a(&t), &f, sizeof(f)), 0);
	/* Idempotent. */
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_FINISH, rw_a(&t)), 0);
	t_put(&t, rw_b(&t), &r, sizeof(r));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_RETRIEVE_FD, rw_b(&t)), -ENOENT);

	/* Read-only: EFAULT after the finish happened. */
	s = t_retrieve(&t, "in2");
	t_put(&t, ro(&t), &f, sizeof(f));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_FINISH, ro(&t)), -EFAULT);
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_RETRIEVE_FD, rw_b(&t)), -ENOENT);
	t_close(&t, s);
	ck_assert_int_eq(t_session_cmd(&t, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, "in2", NULL),
			 -ENOENT);
	t_fini(&t);
}
END_TEST

START_TEST(test_get_name)
{
	struct liveupdate_session_get_name g = {.size = 72};
	struct luo_session *out, *in;
	uint8_t *at;
	struct t t;

	t_init(&t, 0);
	t_add_incoming(&t, "incoming-name", 7, "hello");
	out = t_create(&t, "outgoing-name");
	in = t_retrieve(&t, "incoming-name");

	memset(g.name, 'Z', sizeof(g.name));
	t_put(&t, rw_a(&t), &g, sizeof(g));
	ck_assert_int_eq(t_ioctl(&t, out, LIVEUPDATE_SESSION_GET_NAME, rw_a(&t)), 0);
	ck_assert_str_eq((char *)rw_a(&t) + 8, "outgoing-name");
	/* The whole field is written, NUL-padded. */
	ck_assert_int_eq(rw_a(&t)[71], 0);
	ck_assert_int_eq(t_ioctl(&t, in, LIVEUPDATE_SESSION_GET_NAME, rw_a(&t)), 0);
	ck_assert_str_eq((char *)rw_a(&t) + 8, "incoming-name");

	g.reserved = 1;
	t_put(&t, rw_a(&t), &g, sizeof(g));
	ck_assert_int_eq(t_ioctl(&t, out, LIVEUPDATE_SESSION_GET_NAME, rw_a(&t)), -EINVAL);
	ck_assert_int_eq(rw_a(&t)[8], 'Z');

	/* Read-only answer. */
	g.reserved = 0;
	t_put(&t, ro(&t) + 512, &g, sizeof(g));
	ck_assert_int_eq(t_ioctl(&t, out, LIVEUPDATE_SESSION_GET_NAME, ro(&t) + 512), -EFAULT);
	/* Larger size, zero tail in the read-only page: 72 bytes go back. */
	at = ro(&t) - 72;
	g.size = 100;
	t_put(&t, at, &g, sizeof(g));
	ck_assert_int_eq(t_ioctl(&t, out, LIVEUPDATE_SESSION_GET_NAME, at), 0);
	ck_assert_uint_eq(*(uint32_t *)at, 100);
	ck_assert_str_eq((char *)at + 8, "outgoing-name");
	t_fini(&t);
}
END_TEST

START_TEST(test_close_outgoing_frees_name)
{
	struct liveupdate_session_preserve_fd p;
	_cleanup_close_ int mfd = new_memfd("x");
	struct luo_session *s;
	struct t t;

	t_init(&t, _i);
	s = t_create(&t, "s");
	p = mk_preserve(mfd, 1);
	t_put(&t, rw_a(&t), &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, rw_a(&t)), 0);
	t_close(&t, s);
	s = t_create(&t, "s");
	/* Unpreserved with the old session: the memfd is free again. */
	t_put(&t, rw_a(&t), &p, sizeof(p));
	ck_assert_int_eq(t_ioctl(&t, s, LIVEUPDATE_SESSION_PRESERVE_FD, rw_a(&t)), 0);
	t_fini(&t);
}
END_TEST

START_TEST(test_cmd_name)
{
	ck_assert_str_eq(luo_abi_cmd_name(LIVEUPDATE_IOCTL_CREATE_SESSION), "CREATE_SESSION");
	ck_assert_str_eq(luo_abi_cmd_name(LIVEUPDATE_IOCTL_RETRIEVE_SESSION), "RETRIEVE_SESSION");
	ck_assert_str_eq(luo_abi_cmd_name(LIVEUPDATE_SESSION_PRESERVE_FD), "PRESERVE_FD");
	ck_assert_str_eq(luo_abi_cmd_name(LIVEUPDATE_SESSION_RETRIEVE_FD), "RETRIEVE_FD");
	ck_assert_str_eq(luo_abi_cmd_name(LIVEUPDATE_SESSION_FINISH), "FINISH");
	ck_assert_str_eq(luo_abi_cmd_name(LIVEUPDATE_SESSION_GET_NAME), "GET_NAME");
	ck_assert_ptr_null(luo_abi_cmd_name(_IOWR(0xBA, 0, 72)));
	ck_assert_ptr_null(luo_abi_cmd_name(FIONREAD));
	ck_assert_ptr_null(luo_abi_cmd_name(_IO(0xBA, 2)));
}
END_TEST

static Suite *abi_suite(void)
{
	Suite *s = suite_create("abi");
	TCase *dev = tcase_create("device");
	TCase *sess = tcase_create("session");
	TCase *misc = tcase_create("misc");

	/* Slow under sanitizers: checksums of every byte. */
	tcase_set_timeout(dev, 60);

	/* _i: 0 = 7.3, 1 = 7.2, 2 = 6.19 (compat_of). */
	tcase_add_loop_test(dev, test_dev_nr_range, 0, 3);
	tcase_add_loop_test(dev, test_dev_size_unreadable, 0, 3);
	tcase_add_loop_test(dev, test_dev_enotty, 0, 3);
	tcase_add_loop_test(dev, test_dev_size_small, 0, 3);
	tcase_add_loop_test(dev, test_dev_tail_nonzero, 0, 3);
	tcase_add_loop_test(dev, test_dev_tail_zero, 0, 3);
	tcase_add_loop_test(dev, test_dev_tail_guard, 0, 3);
	tcase_add_loop_test(dev, test_dev_struct_guard, 0, 3);
	tcase_add_loop_test(dev, test_create_ok, 0, 3);
	tcase_add_loop_test(dev, test_create_readonly, 0, 3);
	tcase_add_loop_test(dev, test_retrieve_ok, 0, 3);
	tcase_add_loop_test(dev, test_retrieve_readonly, 0, 3);
	tcase_add_loop_test(dev, test_can_install_fails, 0, 3);
	tcase_add_loop_test(dev, test_shutdown_passthrough, 0, 3);
	tcase_add_loop_test(dev, test_undo_create, 0, 3);
	tcase_add_loop_test(dev, test_undo_retrieve_session, 0, 3);
	tcase_add_loop_test(dev, test_undo_retrieve_fd, 0, 3);
	tcase_add_loop_test(dev, test_undo_after_session_gone, 0, 3);
	tcase_add_loop_test(dev, test_owner, 0, 3);
	tcase_add_loop_test(dev, test_blocked_caller_blocks_only_itself, 0, 3);
	suite_add_tcase(s, dev);

	tcase_add_loop_test(sess, test_sess_nr_range, 0, 3);
	tcase_add_loop_test(sess, test_sess_size_unreadable_and_enotty, 0, 3);
	tcase_add_loop_test(sess, test_sess_direction, 0, 3);
	tcase_add_loop_test(sess, test_sess_size_small, 0, 3);
	tcase_add_loop_test(sess, test_sess_tail, 0, 3);
	tcase_add_loop_test(sess, test_preserve_ok_and_order, 0, 3);
	tcase_add_loop_test(sess, test_preserve_readonly, 0, 3);
	tcase_add_loop_test(sess, test_retrieve_fd, 0, 3);
	tcase_add_loop_test(sess, test_finish, 0, 3);
	tcase_add_test(sess, test_get_name);
	tcase_add_loop_test(sess, test_close_outgoing_frees_name, 0, 3);
	suite_add_tcase(s, sess);

	tcase_add_test(misc, test_cmd_name);
	suite_add_tcase(s, misc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(abi_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
