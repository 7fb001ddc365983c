// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The fault registry: a static table of points, per-point knobs modelled on
 * the kernel's fault_attr (lib/fault-inject.c) and counters, all under one
 * mutex.  The decision order is the kernel's: filter, times, space,
 * interval, probability; nth is our addition for systematic sweeps.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "fault/fault.h"
#include "serialize/blob.h"
#include "state/fault-points.h"
#include "util.h"

#define MAX_ERRNO 4095 /* the kernel's largest error number */
#define COMM_LEN  16   /* TASK_COMM_LEN, with the NUL */

static const struct point_desc {
	const char *name;
	const char *desc;
} point_table[] = {
	{LUO_FP_DEVICE_OPEN, "open of the device, after the one-opener EBUSY check"},
	{LUO_FP_SESSION_CREATE, "CREATE_SESSION, after the name check, before the limit"},
	{LUO_FP_SESSION_RETRIEVE, "RETRIEVE_SESSION, once the incoming session is found"},
	{LUO_FP_SESSION_FINISH, "SESSION_FINISH, before the handlers are asked"},
	{LUO_FP_PRESERVE_TOKEN, "PRESERVE_FD, before the duplicate-token check"},
	{LUO_FP_PRESERVE_CAPACITY, "PRESERVE_FD, before the per-session file limit"},
	{LUO_FP_PRESERVE_HANDLER, "PRESERVE_FD, the file handler's preserve step"},
	{LUO_FP_RETRIEVE_FD, "RETRIEVE_FD, the handler's retrieve (a failure is sticky)"},
	{LUO_FP_FREEZE_FILE, "live update: freezing one file (all are unfrozen again)"},
	{LUO_FP_FINISH_CAN_FINISH, "FINISH or last close: one file's can_finish check"},
	{LUO_FP_DESERIALIZE, "next daemon: loading one file of the previous one"},
	{LUO_FP_BLOB_OPEN, "handover: creating the temporary blob file"},
	{LUO_FP_BLOB_WRITE, "handover: writing the blob (or torn|truncate|badversion)"},
	{LUO_FP_BLOB_FSYNC, "handover: fsync of the blob"},
	{LUO_FP_BLOB_RENAME, "handover: renaming the blob into place"},
	{LUO_FP_CUSE_READ_ARG, "CUSE: reading an ioctl argument from the caller"},
	{LUO_FP_CUSE_GETFD, "CUSE: taking the caller's fd for PRESERVE_FD"},
	{LUO_FP_COURIER_ADDFD, "handing a new session or retrieved file to the courier for ADDFD"},
	{LUO_FP_HANDOVER_SERIALIZE, "kexec: turning the frozen sessions into a blob"},
	{LUO_FP_HANDOVER_EXEC, "kexec: re-executing the next daemon"},
	{LUO_FP_HANDOVER_LOAD, "start-up: loading the previous daemon's blob"},
};
#define NR_POINTS ARRAY_SIZE(point_table)

/* Keys, as bits of struct knobs.given. */
enum {
	K_ERRNO = 1u << 0,
	K_PROBABILITY = 1u << 1,
	K_INTERVAL = 1u << 2,
	K_TIMES = 1u << 3,
	K_SPACE = 1u << 4,
	K_NTH = 1u << 5,
	K_PID = 1u << 6,
	K_COMM = 1u << 7,
	K_ACTION = 1u << 8,
	K_SEED = 1u << 9,
};

struct knobs {
	enum luo_fault_action action;
	int err; /* positive */
	unsigned int probability;
	unsigned long interval, space, nth;
	long times;	     /* -1: unlimited */
	pid_t pid;	     /* 0: any */
	char comm[COMM_LEN]; /* "": any */
	uint64_t seed;
	unsigned int given; /* K_* */
};

struct point {
	bool armed;
	struct knobs k;
	uint64_t prng;
	long left;		/* failures left, -1: unlimited */
	unsigned long skipped;	/* calls eaten by space since armed */
	unsigned long eligible; /* calls past filter and space since armed */
	unsigned long calls;	/* every call, armed or not */
	unsigned long injected;
};

struct luo_faults {
	pthread_mutex_t lock;
	void (*log)(void *data, int prio, const char *msg);
	void *log_data;
	struct point points[NR_POINTS];
};

/* The client of this thread's current request (see fault.h). */
static __thread struct {
	pid_t pid;
	bool comm_known;
	char comm[COMM_LEN];
} client;

/* ---- errno names ------------------------------------------------------ */

/* clang-format off */
#define E(x) {#x, x}
/* clang-format on */
static const struct {
	const char *name;
	int err;
} errno_table[] = {
	E(EPERM),      E(ENOENT),	E(ESRCH),	 E(EINTR),	     E(EIO),
	E(ENXIO),      E(E2BIG),	E(EBADF),	 E(ECHILD),	     E(EAGAIN),
	E(ENOMEM),     E(EACCES),	E(EFAULT),	 E(EBUSY),	     E(EEXIST),
	E(EXDEV),      E(ENODEV),	E(ENOTDIR),	 E(EISDIR),	     E(EINVAL),
	E(ENFILE),     E(EMFILE),	E(ENOTTY),	 E(EFBIG),	     E(ENOSPC),
	E(ESPIPE),     E(EROFS),	E(EMLINK),	 E(EPIPE),	     E(ERANGE),
	E(EDEADLK),    E(ENAMETOOLONG), E(ENOSYS),	 E(ENOTEMPTY),	     E(ELOOP),
	E(ENODATA),    E(ETIME),	E(ENOLINK),	 E(EPROTO),	     E(EBADMSG),
	E(EOVERFLOW),  E(EILSEQ),	E(EMSGSIZE),	 E(EPROTONOSUPPORT), E(EOPNOTSUPP),
	E(EADDRINUSE), E(ENETDOWN),	E(ECONNRESET),	 E(ENOBUFS),	     E(ESHUTDOWN),
	E(ETIMEDOUT),  E(ECONNREFUSED), E(EHOSTUNREACH), E(EALREADY),	     E(ESTALE),
	E(EDQUOT),     E(ECANCELED),	E(EOWNERDEAD),	 E(EHWPOISON),
};
#undef E

static const char *errno_name(int err, char *buf, size_t size)
{
	for (size_t i = 0; i < ARRAY_SIZE(errno_table); i++)
		if (errno_table[i].err == err)
			return errno_table[i].name;
	snprintf(buf, size, "%d", err);
	return buf;
}

static const char *const action_names[] = {
	[LUO_FAULT_NONE] = "none",	   [LUO_FAULT_ERRNO] = "errno",
	[LUO_FAULT_ABORT] = "abort",	   [LUO_FAULT_TORN] = "torn",
	[LUO_FAULT_TRUNCATE] = "truncate", [LUO_FAULT_BADVERSION] = "badversion",
};

static bool is_damage(enum luo_fault_action a)
{
	return a == LUO_FAULT_TORN || a == LUO_FAULT_TRUNCATE || a == LUO_FAULT_BADVERSION;
}

/* ---- deterministic PRNG (splitmix64): same seed, same failures -------- */

static uint64_t prng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Mix the point's name in, so one seed on two points gives two streams. */
static uint64_t prng_seed(uint64_t seed, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 0x100000001b3ull;
	return seed ^ h;
}

/* ---- parsing ---------------------------------------------------------- */

/* Plain decimal (or 0x hex with @hex) up to @max: no sign, no blanks. */
static int parse_u64(const char *s, uint64_t max, bool hex, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (!(*s >= '0' && *s <= '9'))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, hex ? 0 : 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_errno(struct knobs *k, const char *v, char *why, size_t why_len)
{
	uint64_t n;

	for (size_t i = 0; i < ARRAY_SIZE(errno_table); i++)
		if (strcasecmp(v, errno_table[i].name) == 0) {
			k->err = errno_table[i].err;
			return 0;
		}
	if (parse_u64(v, MAX_ERRNO, false, &n) < 0 || n == 0)
		return why_err(why, why_len, -EINVAL,
			       "errno=%s: not an errno name (ENOMEM, EIO, ...) nor 1..%d", v,
			       MAX_ERRNO);
	k->err = (int)n;
	return 0;
}

static int parse_probability(struct knobs *k, const char *v, char *why, size_t why_len)
{
	uint64_t n;

	if (parse_u64(v, 100, false, &n) < 0)
		return why_err(why, why_len, -EINVAL,
			       "probability=%s: must be a percentage, 0..100", v);
	k->probability = (unsigned int)n;
	return 0;
}

static int parse_interval(struct knobs *k, const char *v, char *why, size_t why_len)
{
	uint64_t n;

	if (parse_u64(v, ULONG_MAX, false, &n) < 0 || n == 0)
		return why_err(why, why_len, -EINVAL, "interval=%s: must be a count, 1 or more", v);
	k->interval = n;
	return 0;
}

static int parse_times(struct knobs *k, const char *v, char *why, size_t why_len)
{
	uint64_t n;

	if (strcmp(v, "-1") == 0) {
		k->times = -1;
		return 0;
	}
	if (parse_u64(v, LONG_MAX, false, &n) < 0 || n == 0)
		return why_err(why, why_len, -EINVAL,
			       "times=%s: must be 1 or more, or -1 for no limit", v);
	k->times = (long)n;
	return 0;
}

static int parse_space(struct knobs *k, const char *v, char *why, size_t why_len)
{
	uint64_t n;

	if (parse_u64(v, ULONG_MAX, false, &n) < 0)
		return why_err(why, why_len, -EINVAL,
			       "space=%s: must be a count of calls, 0 or more", v);
	k->space = n;
	return 0;
}

static int parse_nth(struct knobs *k, const char *v, char *why, size_t why_len)
{
	uint64_t n;

	if (parse_u64(v, ULONG_MAX, false, &n) < 0 || n == 0)
		return why_err(why, why_len, -EINVAL, "nth=%s: must be a call number, 1 or more",
			       v);
	k->nth = n;
	return 0;
}

static int parse_pid(struct knobs *k, const char *v, char *why, size_t why_len)
{
	uint64_t n;

	if (parse_u64(v, INT32_MAX, false, &n) < 0 || n == 0)
		return why_err(why, why_len, -EINVAL, "pid=%s: must be a process id, 1 or more", v);
	k->pid = (pid_t)n;
	return 0;
}

static int parse_comm(struct knobs *k, const char *v, char *why, size_t why_len)
{
	size_t len = strlen(v);

	if (len >= COMM_LEN)
		return why_err(why, why_len, -EINVAL,
			       "comm=%s: longer than the kernel's %d-byte command name", v,
			       COMM_LEN - 1);
	memcpy(k->comm, v, len + 1);
	return 0;
}

static int parse_action(struct knobs *k, const char *v, char *why, size_t why_len)
{
	for (size_t i = LUO_FAULT_ERRNO; i < ARRAY_SIZE(action_names); i++)
		if (strcmp(v, action_names[i]) == 0) {
			k->action = (enum luo_fault_action)i;
			return 0;
		}
	return why_err(why, why_len, -EINVAL,
		       "action=%s: must be errno, abort, torn, truncate or badversion", v);
}

static int parse_seed(struct knobs *k, const char *v, char *why, size_t why_len)
{
	if (parse_u64(v, UINT64_MAX, true, &k->seed) < 0)
		return why_err(why, why_len, -EINVAL, "seed=%s: must be an unsigned 64-bit number",
			       v);
	return 0;
}

static const struct key {
	const char *name;
	unsigned int bit;
	int (*parse)(struct knobs *k, const char *v, char *why, size_t why_len);
} keys[] = {
	{"errno", K_ERRNO, parse_errno},
	{"probability", K_PROBABILITY, parse_probability},
	{"interval", K_INTERVAL, parse_interval},
	{"times", K_TIMES, parse_times},
	{"space", K_SPACE, parse_space},
	{"nth", K_NTH, parse_nth},
	{"pid", K_PID, parse_pid},
	{"comm", K_COMM, parse_comm},
	{"action", K_ACTION, parse_action},
	{"seed", K_SEED, parse_seed},
};

static int point_index(const char *name)
{
	for (size_t i = 0; i < NR_POINTS; i++)
		if (strcmp(point_table[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

static const struct key *key_find(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strlen(keys[i].name) == len && strncmp(keys[i].name, name, len) == 0)
			return &keys[i];
	return NULL;
}

/* The combinations no single key can see. */
static int knobs_check(const struct knobs *k, const char *point, char *why, size_t why_len)
{
	if ((k->given & K_NTH) && (k->given & (K_PROBABILITY | K_INTERVAL | K_TIMES)))
		return why_err(why, why_len, -EINVAL,
			       "%s: nth= fails one exact call; it does not mix with probability=, "
			       "interval= or times=",
			       point);
	if (is_damage(k->action) && strcmp(point, LUO_FP_BLOB_WRITE))
		return why_err(why, why_len, -EINVAL, "%s: action=%s only applies to %s", point,
			       action_names[k->action], LUO_FP_BLOB_WRITE);
	if ((k->given & K_ERRNO) && k->action != LUO_FAULT_ERRNO)
		return why_err(why, why_len, -EINVAL, "%s: errno= does not go with action=%s",
			       point, action_names[k->action]);
	return 0;
}

/* One spec into (point, knobs); no registry needed, so nothing is locked. */
static int spec_parse(const char *spec, int *ret_idx, struct knobs *k, char *why, size_t why_len)
{
	_cleanup_free_ char *copy = strdup(spec);
	char *tok, *save = NULL, *point;
	int idx, r;

	if (!copy)
		return -ENOMEM;
	*k = (struct knobs){
		.action = LUO_FAULT_ERRNO,
		.err = ENOMEM,
		.probability = 100,
		.interval = 1,
		.times = 1,
	};
	point = strtok_r(copy, " \t\n", &save);
	if (!point)
		return why_err(why, why_len, -EINVAL,
			       "empty fault spec: expected POINT key=value ...");
	idx = point_index(point);
	if (idx < 0)
		return why_err(why, why_len, -ENOENT,
			       "unknown fault point '%s' (`luoemu fault list` shows them)", point);
	while ((tok = strtok_r(NULL, " \t\n", &save))) {
		char *eq = strchr(tok, '=');
		const struct key *key = eq ? key_find(tok, (size_t)(eq - tok)) : NULL;

		if (!eq)
			return why_err(why, why_len, -EINVAL, "%s: '%s' is not key=value", point,
				       tok);
		if (!key)
			return why_err(
				why, why_len, -EINVAL,
				"%s: unknown key '%.*s' (errno, probability, interval, times, "
				"space, nth, pid, comm, action, seed)",
				point, (int)(eq - tok), tok);
		if (k->given & key->bit)
			return why_err(why, why_len, -EINVAL, "%s: %s= given twice", point,
				       key->name);
		if (!eq[1])
			return why_err(why, why_len, -EINVAL, "%s: %s= needs a value", point,
				       key->name);
		r = key->parse(k, eq + 1, why, why_len);
		if (r < 0)
			return r;
		k->given |= key->bit;
	}
	r = knobs_check(k, point, why, why_len);
	if (r < 0)
		return r;
	*ret_idx = idx;
	return 0;
}

/* ---- the registry ----------------------------------------------------- */

int luo_faults_new(struct luo_faults **ret)
{
	struct luo_faults *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	r = -pthread_mutex_init(&f->lock, NULL);
	if (r < 0) {
		free(f);
		return r;
	}
	*ret = f;
	return 0;
}

void luo_faults_free(struct luo_faults *f)
{
	if (!f)
		return;
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void luo_faults_set_logger(struct luo_faults *f, void (*log)(void *data, int prio, const char *msg),
			   void *data)
{
	pthread_mutex_lock(&f->lock);
	f->log = log;
	f->log_data = data;
	pthread_mutex_unlock(&f->lock);
}

size_t luo_faults_nr_points(void)
{
	return NR_POINTS;
}

const char *luo_faults_point(size_t i, const char **description)
{
	if (i >= NR_POINTS)
		return NULL;
	if (description)
		*description = point_table[i].desc;
	return point_table[i].name;
}

/* Under f->lock. */
static void point_arm(struct point *p, const char *name, const struct knobs *k)
{
	p->armed = true;
	p->k = *k;
	p->prng = prng_seed(k->seed, name);
	p->left = k->nth ? 1 : k->times;
	p->skipped = 0;
	p->eligible = 0;
}

int luo_faults_set(struct luo_faults *f, const char *spec, char *why, size_t why_len)
{
	struct knobs k;
	int idx, r;

	if (why && why_len)
		why[0] = '\0';
	r = spec_parse(spec, &idx, &k, why, why_len);
	if (r < 0)
		return r;
	pthread_mutex_lock(&f->lock);
	point_arm(&f->points[idx], point_table[idx].name, &k);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

int luo_faults_set_many(struct luo_faults *f, const char *specs, char *why, size_t why_len)
{
	_cleanup_free_ char *copy = strdup(specs);
	_cleanup_free_ struct {
		int idx;
		struct knobs k;
	} *todo = NULL;
	size_t n = 0, cap = 0;
	char *spec, *save = NULL;
	int r;

	if (why && why_len)
		why[0] = '\0';
	if (!copy)
		return -ENOMEM;
	/* Parse everything first: a typo in the third spec arms nothing. */
	for (spec = strtok_r(copy, ";", &save); spec; spec = strtok_r(NULL, ";", &save)) {
		if (!spec[strspn(spec, " \t\n")])
			continue;
		if (n == cap) {
			void *p = reallocarray(todo, cap ? cap * 2 : 8, sizeof(*todo));

			if (!p)
				return -ENOMEM;
			todo = p;
			cap = cap ? cap * 2 : 8;
		}
		r = spec_parse(spec, &todo[n].idx, &todo[n].k, why, why_len);
		if (r < 0)
			return r;
		n++;
	}
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < n; i++)
		point_arm(&f->points[todo[i].idx], point_table[todo[i].idx].name, &todo[i].k);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

int luo_faults_clear(struct luo_faults *f, const char *point)
{
	int idx = -1;

	if (point && strcmp(point, "all")) {
		idx = point_index(point);
		if (idx < 0)
			return idx;
	}
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < NR_POINTS; i++)
		if (idx < 0 || (size_t)idx == i)
			f->points[i].armed = false;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* Append to a bounded buffer; remembers overflow in *@pos > @size. */
static void put(char *buf, size_t size, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*pos < size ? buf + *pos : NULL, *pos < size ? size - *pos : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n;
}

static void knobs_format(const struct point *p, char *buf, size_t size, size_t *pos)
{
	const struct knobs *k = &p->k;
	char num[16];

	if (!p->armed) {
		put(buf, size, pos, "off");
		return;
	}
	if (k->action == LUO_FAULT_ERRNO)
		put(buf, size, pos, "errno=%s", errno_name(k->err, num, sizeof(num)));
	else
		put(buf, size, pos, "action=%s", action_names[k->action]);
	if (k->given & K_PROBABILITY)
		put(buf, size, pos, " probability=%u", k->probability);
	if (k->given & K_INTERVAL)
		put(buf, size, pos, " interval=%lu", k->interval);
	if (!k->nth)
		put(buf, size, pos, " times=%ld", k->times);
	if (k->given & K_SPACE)
		put(buf, size, pos, " space=%lu", k->space);
	if (k->nth)
		put(buf, size, pos, " nth=%lu", k->nth);
	if (k->pid)
		put(buf, size, pos, " pid=%d", (int)k->pid);
	if (k->comm[0])
		put(buf, size, pos, " comm=%s", k->comm);
	if (k->given & K_SEED)
		put(buf, size, pos, " seed=%" PRIu64, k->seed);
	if (p->left == 0)
		put(buf, size, pos, " spent");
}

int luo_faults_list(struct luo_faults *f, char *buf, size_t size)
{
	size_t pos = 0;

	if (!buf || !size)
		return -ENOBUFS;
	buf[0] = '\0';
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < NR_POINTS; i++) {
		const struct point *p = &f->points[i];

		put(buf, size, &pos, "%-18s calls=%lu injected=%lu ", point_table[i].name, p->calls,
		    p->injected);
		knobs_format(p, buf, size, &pos);
		put(buf, size, &pos, "  # %s\n", point_table[i].desc);
	}
	pthread_mutex_unlock(&f->lock);
	return pos < size ? 0 : -ENOBUFS;
}

int luo_faults_counts(struct luo_faults *f, const char *point, unsigned long *calls,
		      unsigned long *injected)
{
	int idx = point_index(point);

	if (idx < 0)
		return idx;
	pthread_mutex_lock(&f->lock);
	if (calls)
		*calls = f->points[idx].calls;
	if (injected)
		*injected = f->points[idx].injected;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* ---- the decision ----------------------------------------------------- */

bool luo_faults_filtering(struct luo_faults *f)
{
	bool any = false;

	if (!f)
		return false;
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < NR_POINTS && !any; i++)
		any = f->points[i].armed && (f->points[i].k.pid || f->points[i].k.comm[0]);
	pthread_mutex_unlock(&f->lock);
	return any;
}

void luo_faults_set_client(struct luo_faults *f, pid_t pid, const char *comm)
{
	(void)f; /* the client is per thread, not per registry */
	client.pid = pid > 0 ? pid : 0;
	client.comm[0] = '\0';
	client.comm_known = pid <= 0 || comm;
	if (pid > 0 && comm)
		snprintf(client.comm, sizeof(client.comm), "%s", comm);
}

/* The thread's client comm, read from /proc only when a filter or a log needs it. */
static const char *client_comm(void)
{
	char path[32];
	FILE *fp;

	if (!client.comm_known) {
		client.comm_known = true;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)client.pid);
		fp = fopen(path, "re");
		if (fp) {
			if (fgets(client.comm, sizeof(client.comm), fp))
				client.comm[strcspn(client.comm, "\n")] = '\0';
			fclose(fp);
		}
	}
	return client.comm;
}

static bool client_matches(const struct knobs *k)
{
	if (k->pid && client.pid != k->pid)
		return false;
	if (k->comm[0] && (!client.pid || strcmp(client_comm(), k->comm)))
		return false;
	return true;
}

/* Under f->lock: does this call fail?  Counts an injection if so. */
static bool decide(struct point *p)
{
	const struct knobs *k = &p->k;

	if (!p->armed || p->left == 0 || !client_matches(k))
		return false;
	if (p->skipped < k->space) {
		p->skipped++;
		return false;
	}
	p->eligible++;
	if (k->nth) {
		if (p->eligible != k->nth)
			return false;
	} else {
		if (p->eligible % k->interval)
			return false;
		if (prng_next(&p->prng) % 100 >= k->probability)
			return false;
	}
	if (p->left > 0)
		p->left--;
	p->injected++;
	return true;
}

static void describe(const struct point *p, const char *name, char *msg, size_t size)
{
	char num[16];
	const char *what = p->k.action == LUO_FAULT_ERRNO ? "errno" : "action";
	const char *val = p->k.action == LUO_FAULT_ERRNO ? errno_name(p->k.err, num, sizeof(num))
							 : action_names[p->k.action];

	snprintf(msg, size, "fault injected at %s (call %lu, client pid %d comm %s): %s %s", name,
		 p->calls, (int)client.pid, client.pid ? client_comm() : "-", what, val);
}

int luo_faults_hook(void *data, const char *point)
{
	struct luo_faults *f = data;
	void (*log)(void *, int, const char *);
	enum luo_fault_action a = LUO_FAULT_NONE;
	void *log_data;
	char msg[256];
	struct point *p;
	int idx, err = 0;

	if (!f || !point)
		return 0;
	idx = point_index(point);
	if (idx < 0)
		return 0;
	p = &f->points[idx];
	pthread_mutex_lock(&f->lock);
	p->calls++;
	/* Blob damage is decided by luo_faults_blob_action(), once per blob. */
	if (!is_damage(p->k.action) && decide(p)) {
		a = p->k.action;
		err = p->k.err;
		describe(p, point, msg, sizeof(msg));
	}
	log = f->log;
	log_data = f->log_data;
	pthread_mutex_unlock(&f->lock);
	if (a == LUO_FAULT_NONE)
		return 0;
	if (log)
		log(log_data, a == LUO_FAULT_ABORT ? LOG_CRIT : LOG_NOTICE, msg);
	if (a == LUO_FAULT_ABORT) {
		if (!log)
			fprintf(stderr, "%s\n", msg);
		abort();
	}
	return -err;
}

enum luo_fault_action luo_faults_blob_action(struct luo_faults *f)
{
	struct point *p = &f->points[point_index(LUO_FP_BLOB_WRITE)];
	void (*log)(void *, int, const char *);
	enum luo_fault_action a = LUO_FAULT_NONE;
	void *log_data;
	char msg[256];

	pthread_mutex_lock(&f->lock);
	if (is_damage(p->k.action) && decide(p)) {
		a = p->k.action;
		describe(p, LUO_FP_BLOB_WRITE, msg, sizeof(msg));
	}
	log = f->log;
	log_data = f->log_data;
	pthread_mutex_unlock(&f->lock);
	if (a != LUO_FAULT_NONE && log)
		log(log_data, LOG_NOTICE, msg);
	return a;
}

/* ---- blob damage ------------------------------------------------------ */

/* Header offsets of blob.h's wire format. */
#define OFF_VERSION    8
#define OFF_MIN_READER 12
#define OFF_HEADER_LEN 16
#define OFF_HEADER_CRC 36

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int luo_faults_damage_blob(enum luo_fault_action action, void *buf, size_t *len)
{
	uint8_t *p = buf;
	uint32_t hlen, crc;

	if (!buf || *len < LUO_BLOB_HEADER_LEN)
		return -EINVAL;
	switch (action) {
	case LUO_FAULT_TORN:
		for (size_t i = *len / 2; i < *len; i++)
			p[i] ^= 0xff;
		return 0;
	case LUO_FAULT_TRUNCATE:
		*len /= 2;
		return 0;
	case LUO_FAULT_BADVERSION:
		hlen = get_le32(p + OFF_HEADER_LEN);
		if (hlen < LUO_BLOB_HEADER_LEN || hlen > *len)
			return -EINVAL;
		put_le32(p + OFF_VERSION, LUO_BLOB_VERSION + 1);
		put_le32(p + OFF_MIN_READER, LUO_BLOB_VERSION + 1);
		/* Re-sealed, so the reader sees a future blob rather than corruption. */
		crc = luo_crc32c(0, p, OFF_HEADER_CRC);
		crc = luo_crc32c(crc, p + LUO_BLOB_HEADER_LEN, hlen - LUO_BLOB_HEADER_LEN);
		put_le32(p + OFF_HEADER_CRC, crc);
		return 0;
	default:
		return -EINVAL;
	}
}
