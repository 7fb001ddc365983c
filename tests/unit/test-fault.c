// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests of the fault registry (src/fault/fault.h): spec parsing, every
 * knob, the per-thread client filter, counters and listing, the abort and
 * blob damage actions, and the registry driving the real core and blob
 * writer.  The core sweep arms every core point at every call a standard
 * live-update sequence makes of it and checks that the step fails with
 * exactly the armed errno, changes nothing, and succeeds once cleared.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "fault/fault.h"
#include "serialize/blob.h"
#include "state/fault-points.h"
#include "state/luo.h"
#include "util.h"

static const char *const core_points[] = {
	LUO_FP_DEVICE_OPEN,	  LUO_FP_SESSION_CREATE, LUO_FP_SESSION_RETRIEVE,
	LUO_FP_SESSION_FINISH,	  LUO_FP_PRESERVE_TOKEN, LUO_FP_PRESERVE_CAPACITY,
	LUO_FP_PRESERVE_HANDLER,  LUO_FP_RETRIEVE_FD,	 LUO_FP_FREEZE_FILE,
	LUO_FP_FINISH_CAN_FINISH, LUO_FP_DESERIALIZE,
};

static const char *const other_points[] = {
	LUO_FP_BLOB_OPEN,     LUO_FP_BLOB_WRITE,    LUO_FP_BLOB_FSYNC,	  LUO_FP_BLOB_RENAME,
	LUO_FP_CUSE_READ_ARG, LUO_FP_CUSE_GETFD,    LUO_FP_COURIER_ADDFD, LUO_FP_HANDOVER_SERIALIZE,
	LUO_FP_HANDOVER_EXEC, LUO_FP_HANDOVER_LOAD,
};

/* ---- helpers ------------------------------------------------------------ */

static struct luo_faults *faults_new(void)
{
	struct luo_faults *f = NULL;

	ck_assert_int_eq(luo_faults_new(&f), 0);
	ck_assert_ptr_nonnull(f);
	return f;
}

static void arm(struct luo_faults *f, const char *spec)
{
	char why[256] = "x";
	int r = luo_faults_set(f, spec, why, sizeof(why));

	ck_assert_msg(r == 0, "'%s': %d %s", spec, r, why);
	ck_assert_str_eq(why, "");
}

/* The outcome of @n hook calls at @point as a string of '.' and 'x'. */
static const char *pattern(struct luo_faults *f, const char *point, unsigned int n)
{
	static char buf[256];

	ck_assert_uint_lt(n, sizeof(buf));
	for (unsigned int i = 0; i < n; i++) {
		int r = luo_faults_hook(f, point);

		ck_assert(r == 0 || r < 0);
		buf[i] = r ? 'x' : '.';
	}
	buf[n] = '\0';
	return buf;
}

static unsigned long injected(struct luo_faults *f, const char *point)
{
	unsigned long calls, inj;

	ck_assert_int_eq(luo_faults_counts(f, point, &calls, &inj), 0);
	return inj;
}

static unsigned long calls_of(struct luo_faults *f, const char *point)
{
	unsigned long calls, inj;

	ck_assert_int_eq(luo_faults_counts(f, point, &calls, &inj), 0);
	return calls;
}

/* The listing line of @point (static buffer). */
static const char *list_line(struct luo_faults *f, const char *point)
{
	static char buf[LUO_FAULTS_LIST_MAX];
	static char line[512];
	size_t n = strlen(point);

	ck_assert_int_eq(luo_faults_list(f, buf, sizeof(buf)), 0);
	for (char *l = buf; *l;) {
		char *nl = strchr(l, '\n');

		ck_assert_ptr_nonnull(nl);
		if (strncmp(l, point, n) == 0 && l[n] == ' ') {
			ck_assert_uint_lt((size_t)(nl - l), sizeof(line));
			memcpy(line, l, (size_t)(nl - l));
			line[nl - l] = '\0';
			return line;
		}
		l = nl + 1;
	}
	ck_abort_msg("%s not listed", point);
	return NULL;
}

static int memfd_new(size_t size)
{
	int fd = memfd_create("test-fault", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void name64(uint8_t out[LUO_NAME_LEN], const char *s)
{
	memset(out, 0, LUO_NAME_LEN);
	memcpy(out, s, strlen(s));
}

struct logbuf {
	unsigned int n;
	int prio;
	char last[512];
};

static void log_capture(void *data, int prio, const char *msg)
{
	struct logbuf *lb = data;

	lb->n++;
	lb->prio = prio;
	snprintf(lb->last, sizeof(lb->last), "%s", msg);
}

/* ---- the table and parsing ---------------------------------------------- */

START_TEST(test_points_known)
{
	struct luo_faults *f = faults_new();
	char why[256];
	size_t n = luo_faults_nr_points();

	ck_assert_uint_eq(n, ARRAY_SIZE(core_points) + ARRAY_SIZE(other_points));
	for (size_t i = 0; i < ARRAY_SIZE(core_points); i++)
		arm(f, core_points[i]);
	for (size_t i = 0; i < ARRAY_SIZE(other_points); i++)
		arm(f, other_points[i]);
	for (size_t i = 0; i < n; i++) {
		const char *desc = NULL, *name = luo_faults_point(i, &desc);

		ck_assert_ptr_nonnull(name);
		ck_assert_ptr_nonnull(desc);
		ck_assert(strchr(name, '/'));
		ck_assert_uint_gt(strlen(desc), 10);
		ck_assert_ptr_nonnull(strstr(list_line(f, name), desc));
	}
	ck_assert_ptr_null(luo_faults_point(n, NULL));

	ck_assert_int_eq(luo_faults_set(f, "no/such-point errno=EIO", why, sizeof(why)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(why, "unknown fault point 'no/such-point'"));
	ck_assert_int_eq(luo_faults_clear(f, "no/such"), -ENOENT);
	/* Unknown points pass through the hook untouched. */
	ck_assert_int_eq(luo_faults_hook(f, "no/such"), 0);
	ck_assert_int_eq(luo_faults_hook(NULL, LUO_FP_DEVICE_OPEN), 0);
	luo_faults_free(f);
}
END_TEST

START_TEST(test_parse_every_key)
{
	struct luo_faults *f = faults_new();
	const char *l;

	arm(f, "preserve/handler errno=EIO probability=50 interval=2 times=-1 space=3 "
	       "pid=42 comm=qemu-kvm seed=0x10");
	l = list_line(f, "preserve/handler");
	ck_assert_ptr_nonnull(strstr(l, "calls=0 injected=0 errno=EIO probability=50 interval=2 "
					"times=-1 space=3 pid=42 comm=qemu-kvm seed=16"));
	arm(f, "\tsession/create   nth=7\t errno=28 ");
	ck_assert_ptr_nonnull(strstr(list_line(f, "session/create"), "errno=ENOSPC nth=7"));
	arm(f, "device/open action=abort");
	ck_assert_ptr_nonnull(strstr(list_line(f, "device/open"), "action=abort times=1"));
	arm(f, "blob/write action=torn");
	arm(f, "blob/write action=truncate times=2");
	arm(f, "blob/write action=badversion");
	arm(f, "retrieve/fd action=errno errno=eagain probability=0");
	ck_assert_ptr_nonnull(strstr(list_line(f, "retrieve/fd"), "errno=EAGAIN probability=0"));
	/* Defaults: ENOMEM, once. */
	arm(f, "freeze/file");
	ck_assert_ptr_nonnull(strstr(list_line(f, "freeze/file"), "errno=ENOMEM times=1  #"));
	ck_assert_ptr_nonnull(strstr(list_line(f, "deserialize/file"), "injected=0 off  #"));
	luo_faults_free(f);
}
END_TEST

static const struct {
	const char *spec;
	int err;
	const char *why; /* substring of the reason */
} bad_specs[] = {
	{"", -EINVAL, "empty fault spec"},
	{"   ", -EINVAL, "empty fault spec"},
	{"device", -ENOENT, "unknown fault point"},
	{"device/open errno", -EINVAL, "'errno' is not key=value"},
	{"device/open errno=", -EINVAL, "errno= needs a value"},
	{"device/open errno=ENOTANERRNO", -EINVAL, "not an errno name"},
	{"device/open errno=0", -EINVAL, "1..4095"},
	{"device/open errno=4096", -EINVAL, "1..4095"},
	{"device/open errno=-5", -EINVAL, "not an errno name"},
	{"device/open errno=12x", -EINVAL, "not an errno name"},
	{"device/open probability=101", -EINVAL, "0..100"},
	{"device/open probability=-1", -EINVAL, "0..100"},
	{"device/open probability=5.5", -EINVAL, "0..100"},
	{"device/open interval=0", -EINVAL, "interval=0"},
	{"device/open interval=x", -EINVAL, "interval=x"},
	{"device/open times=0", -EINVAL, "-1 for no limit"},
	{"device/open times=-2", -EINVAL, "-1 for no limit"},
	{"device/open space=-1", -EINVAL, "space=-1"},
	{"device/open space=99999999999999999999999", -EINVAL, "space="},
	{"device/open nth=0", -EINVAL, "nth=0"},
	{"device/open pid=0", -EINVAL, "pid=0"},
	{"device/open pid=+5", -EINVAL, "pid=+5"},
	{"device/open pid=2147483648", -EINVAL, "process id"},
	{"device/open comm=abcdefghijklmnop", -EINVAL, "15-byte"},
	{"device/open action=explode", -EINVAL, "action=explode"},
	{"device/open action=none", -EINVAL, "action=none"},
	{"device/open seed=-1", -EINVAL, "seed=-1"},
	{"device/open colour=red", -EINVAL, "unknown key 'colour'"},
	{"device/open =1", -EINVAL, "unknown key ''"},
	{"device/open times=2 times=3", -EINVAL, "times= given twice"},
	{"device/open nth=2 times=3", -EINVAL, "does not mix"},
	{"device/open nth=2 interval=3", -EINVAL, "does not mix"},
	{"device/open nth=2 probability=3", -EINVAL, "does not mix"},
	{"device/open action=torn", -EINVAL, "only applies to blob/write"},
	{"blob/fsync action=truncate", -EINVAL, "only applies to blob/write"},
	{"device/open action=abort errno=EIO", -EINVAL, "does not go with action=abort"},
};

START_TEST(test_parse_bad)
{
	struct luo_faults *f = faults_new();
	char why[256];
	int r;

	why[0] = '\0';
	r = luo_faults_set(f, bad_specs[_i].spec, why, sizeof(why));
	ck_assert_msg(r == bad_specs[_i].err, "'%s': %d, want %d", bad_specs[_i].spec, r,
		      bad_specs[_i].err);
	ck_assert_msg(strstr(why, bad_specs[_i].why), "'%s': why '%s' lacks '%s'",
		      bad_specs[_i].spec, why, bad_specs[_i].why);
	/* Nothing got armed: every point still passes. */
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_DEVICE_OPEN), 0);
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_BLOB_FSYNC), 0);
	ck_assert_int_eq(luo_faults_blob_action(f), LUO_FAULT_NONE);
	/* A NULL or empty why buffer is fine. */
	ck_assert_int_eq(luo_faults_set(f, bad_specs[_i].spec, NULL, 0), bad_specs[_i].err);
	luo_faults_free(f);
}
END_TEST

START_TEST(test_errno_names)
{
	static const struct {
		const char *v;
		int err;
	} cases[] = {
		{"ENOMEM", ENOMEM},
		{"EIO", EIO},
		{"eio", EIO},
		{"5", EIO},
		{"ENOSPC", ENOSPC},
		{"EBUSY", EBUSY},
		{"EOPNOTSUPP", EOPNOTSUPP},
		{"ESHUTDOWN", ESHUTDOWN},
		{"4095", 4095},
		{"EHWPOISON", EHWPOISON},
	};
	struct luo_faults *f = faults_new();
	char spec[64];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(spec, sizeof(spec), "session/create errno=%s", cases[i].v);
		arm(f, spec);
		ck_assert_int_eq(luo_faults_hook(f, LUO_FP_SESSION_CREATE), -cases[i].err);
	}
	ck_assert_ptr_nonnull(strstr(list_line(f, "session/create"), "errno=EHWPOISON"));
	arm(f, "session/create errno=4095");
	ck_assert_ptr_nonnull(strstr(list_line(f, "session/create"), "errno=4095 "));
	luo_faults_free(f);
}
END_TEST

/* ---- knobs -------------------------------------------------------------- */

START_TEST(test_probability)
{
	struct luo_faults *f = faults_new(), *g = faults_new();
	char a[256], b[256];
	unsigned int hits = 0;

	arm(f, "preserve/token probability=0 times=-1");
	ck_assert_uint_eq(strspn(pattern(f, "preserve/token", 200), "."), 200);
	ck_assert_uint_eq(injected(f, "preserve/token"), 0);
	ck_assert_uint_eq(calls_of(f, "preserve/token"), 200);

	arm(f, "preserve/token probability=100 times=-1");
	ck_assert_uint_eq(strspn(pattern(f, "preserve/token", 200), "x"), 200);

	/* Same seed, same sequence, in another registry too; another seed differs. */
	arm(f, "preserve/token probability=30 times=-1 seed=7");
	arm(g, "preserve/token probability=30 times=-1 seed=7");
	snprintf(a, sizeof(a), "%s", pattern(f, "preserve/token", 200));
	snprintf(b, sizeof(b), "%s", pattern(g, "preserve/token", 200));
	ck_assert_str_eq(a, b);
	for (const char *c = a; *c; c++)
		hits += *c == 'x';
	ck_assert_uint_gt(hits, 30);
	ck_assert_uint_lt(hits, 95);
	/* Re-arming restarts the stream. */
	arm(f, "preserve/token probability=30 times=-1 seed=7");
	ck_assert_str_eq(pattern(f, "preserve/token", 200), a);
	arm(g, "preserve/token probability=30 times=-1 seed=8");
	ck_assert_str_ne(pattern(g, "preserve/token", 200), a);
	/* The default seed is fixed too. */
	arm(f, "preserve/token probability=50 times=-1");
	arm(g, "preserve/token probability=50 times=-1");
	snprintf(a, sizeof(a), "%s", pattern(f, "preserve/token", 100));
	ck_assert_str_eq(pattern(g, "preserve/token", 100), a);
	luo_faults_free(f);
	luo_faults_free(g);
}
END_TEST

START_TEST(test_interval_times_space)
{
	struct luo_faults *f = faults_new();

	arm(f, "freeze/file interval=3 times=-1");
	ck_assert_str_eq(pattern(f, "freeze/file", 10), "..x..x..x.");
	arm(f, "freeze/file interval=3 times=2");
	ck_assert_str_eq(pattern(f, "freeze/file", 12), "..x..x......");
	ck_assert_ptr_nonnull(strstr(list_line(f, "freeze/file"), "interval=3 times=2 spent"));
	arm(f, "freeze/file times=2");
	ck_assert_str_eq(pattern(f, "freeze/file", 5), "xx...");
	arm(f, "freeze/file");
	ck_assert_str_eq(pattern(f, "freeze/file", 5), "x....");
	arm(f, "freeze/file space=2");
	ck_assert_str_eq(pattern(f, "freeze/file", 5), "..x..");
	arm(f, "freeze/file space=2 interval=2 times=-1");
	ck_assert_str_eq(pattern(f, "freeze/file", 9), "...x.x.x.");
	/* The kernel's order: space before interval, times last. */
	arm(f, "freeze/file space=1 interval=2 times=2");
	ck_assert_str_eq(pattern(f, "freeze/file", 9), "..x.x....");
	ck_assert_uint_eq(injected(f, "freeze/file"), 3 + 2 + 2 + 1 + 1 + 3 + 2);
	luo_faults_free(f);
}
END_TEST

START_TEST(test_nth)
{
	struct luo_faults *f = faults_new();

	arm(f, "preserve/handler nth=3");
	ck_assert_str_eq(pattern(f, "preserve/handler", 10), "..x.......");
	ck_assert_ptr_nonnull(strstr(list_line(f, "preserve/handler"),
				     "calls=10 injected=1 errno=ENOMEM nth=3 spent  #"));
	/* A sweep: each n fails exactly call n. */
	for (unsigned int n = 1; n <= 6; n++) {
		char spec[64], want[7] = "......";

		snprintf(spec, sizeof(spec), "preserve/handler nth=%u errno=EIO", n);
		arm(f, spec);
		want[n - 1] = 'x';
		ck_assert_str_eq(pattern(f, "preserve/handler", 6), want);
	}
	/* nth counts after space. */
	arm(f, "preserve/handler space=2 nth=2");
	ck_assert_str_eq(pattern(f, "preserve/handler", 6), "...x..");
	luo_faults_free(f);
}
END_TEST

/* ---- the per-thread client ------------------------------------------------ */

struct worker {
	struct luo_faults *f;
	pid_t pid;
	const char *comm;
	unsigned int n;
	unsigned int failed;
};

static void *worker_main(void *data)
{
	struct worker *w = data;

	luo_faults_set_client(w->f, w->pid, w->comm);
	for (unsigned int i = 0; i < w->n; i++)
		if (luo_faults_hook(w->f, LUO_FP_CUSE_GETFD) < 0)
			w->failed++;
	return NULL;
}

static void run_workers(struct worker *w, size_t n)
{
	pthread_t t[16];

	ck_assert_uint_le(n, ARRAY_SIZE(t));
	for (size_t i = 0; i < n; i++) {
		w[i].failed = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
}

START_TEST(test_filters)
{
	struct luo_faults *f = faults_new();
	struct worker w[3] = {
		{.f = f, .pid = 100, .comm = "qemu", .n = 50},
		{.f = f, .pid = 200, .comm = "crosvm", .n = 50},
		{.f = f, .pid = 0, .comm = NULL, .n = 50}, /* no client */
	};
	struct logbuf lb = {0};
	char self[32] = "", spec[128];
	FILE *fp;

	arm(f, "cuse/getfd pid=200 times=-1");
	run_workers(w, 3);
	ck_assert_uint_eq(w[0].failed, 0);
	ck_assert_uint_eq(w[1].failed, 50);
	ck_assert_uint_eq(w[2].failed, 0);

	arm(f, "cuse/getfd comm=qemu times=-1");
	run_workers(w, 3);
	ck_assert_uint_eq(w[0].failed, 50);
	ck_assert_uint_eq(w[1].failed, 0);
	ck_assert_uint_eq(w[2].failed, 0);

	arm(f, "cuse/getfd comm=qemu pid=200 times=-1");
	run_workers(w, 3);
	ck_assert_uint_eq(w[0].failed + w[1].failed + w[2].failed, 0);

	/* Filtered-out calls do not count towards nth. */
	arm(f, "cuse/getfd pid=100 nth=3");
	luo_faults_set_client(f, 200, "crosvm");
	ck_assert_str_eq(pattern(f, "cuse/getfd", 5), ".....");
	luo_faults_set_client(f, 100, "qemu");
	ck_assert_str_eq(pattern(f, "cuse/getfd", 5), "..x..");

	/* Without a comm, it is read from /proc when a filter needs it. */
	fp = fopen("/proc/self/comm", "re");
	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(fgets(self, sizeof(self), fp));
	fclose(fp);
	self[strcspn(self, "\n")] = '\0';
	snprintf(spec, sizeof(spec), "cuse/getfd comm=%s", self);
	arm(f, spec);
	luo_faults_set_logger(f, log_capture, &lb);
	luo_faults_set_client(f, getpid(), NULL);
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_CUSE_GETFD), -ENOMEM);
	snprintf(spec, sizeof(spec), "client pid %d comm %s): errno ENOMEM", (int)getpid(), self);
	ck_assert_ptr_nonnull(strstr(lb.last, spec));
	/* With no client, a comm filter never matches, even the daemon's own. */
	snprintf(spec, sizeof(spec), "cuse/getfd comm=%s", self);
	arm(f, spec);
	luo_faults_set_client(f, 0, NULL);
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_CUSE_GETFD), 0);
	luo_faults_free(f);
}
END_TEST

/* The mutex: concurrent callers lose no count and no injection. */
START_TEST(test_threads)
{
	struct luo_faults *f = faults_new();
	struct worker w[8];

	for (size_t i = 0; i < ARRAY_SIZE(w); i++)
		w[i] = (struct worker){.f = f, .pid = (pid_t)(10 + i), .n = 2000};
	arm(f, "cuse/getfd interval=10 times=-1");
	run_workers(w, ARRAY_SIZE(w));
	ck_assert_uint_eq(calls_of(f, "cuse/getfd"), 16000);
	ck_assert_uint_eq(injected(f, "cuse/getfd"), 1600);
	arm(f, "cuse/getfd times=5");
	run_workers(w, ARRAY_SIZE(w));
	ck_assert_uint_eq(injected(f, "cuse/getfd"), 1605);
	luo_faults_free(f);
}
END_TEST

/* ---- counters, listing, clearing, logging -------------------------------- */

START_TEST(test_list_clear_log)
{
	struct luo_faults *f = faults_new();
	struct logbuf lb = {0};
	char small[64], why[128];

	luo_faults_set_logger(f, log_capture, &lb);
	arm(f, "session/finish errno=EIO times=-1");
	arm(f, "retrieve/fd errno=ENOSPC times=-1");
	luo_faults_set_client(f, 4242, "vmm");
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_SESSION_FINISH), -EIO);
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_SESSION_FINISH), -EIO);
	ck_assert_uint_eq(lb.n, 2);
	ck_assert_int_eq(lb.prio, LOG_NOTICE);
	ck_assert_str_eq(lb.last, "fault injected at session/finish (call 2, client pid 4242 "
				  "comm vmm): errno EIO");
	luo_faults_set_client(f, 0, NULL);
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_RETRIEVE_FD), -ENOSPC);
	ck_assert_str_eq(lb.last, "fault injected at retrieve/fd (call 1, client pid 0 comm -): "
				  "errno ENOSPC");
	ck_assert_ptr_nonnull(
		strstr(list_line(f, "session/finish"), "calls=2 injected=2 errno=EIO times=-1"));

	/* Clear one: the other stays; counters survive clearing. */
	ck_assert_int_eq(luo_faults_clear(f, "session/finish"), 0);
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_SESSION_FINISH), 0);
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_RETRIEVE_FD), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(list_line(f, "session/finish"), "calls=3 injected=2 off"));
	/* Clear all, by NULL and by "all". */
	ck_assert_int_eq(luo_faults_clear(f, NULL), 0);
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_RETRIEVE_FD), 0);
	arm(f, "retrieve/fd");
	ck_assert_int_eq(luo_faults_clear(f, "all"), 0);
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_RETRIEVE_FD), 0);
	ck_assert_uint_eq(lb.n, 4);
	ck_assert_ptr_nonnull(strstr(list_line(f, "retrieve/fd"), "calls=4 injected=2 off"));

	/* A short buffer: cut, terminated, -ENOBUFS. */
	memset(small, 'z', sizeof(small));
	ck_assert_int_eq(luo_faults_list(f, small, sizeof(small)), -ENOBUFS);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert_int_eq(luo_faults_counts(f, "no/such", NULL, NULL), -ENOENT);

	/* set_many: all or nothing. */
	ck_assert_int_eq(luo_faults_set_many(f, " ;device/open errno=EIO;; session/create nth=2 ;",
					     why, sizeof(why)),
			 0);
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_DEVICE_OPEN), -EIO);
	ck_assert_str_eq(pattern(f, LUO_FP_SESSION_CREATE, 3), ".x.");
	luo_faults_clear(f, NULL);
	ck_assert_int_eq(
		luo_faults_set_many(f, "device/open;session/create times=0", why, sizeof(why)),
		-EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "times=0"));
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_DEVICE_OPEN), 0);
	ck_assert_int_eq(luo_faults_set_many(f, "device/open;bogus/point", why, sizeof(why)),
			 -ENOENT);
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_DEVICE_OPEN), 0);
	ck_assert_int_eq(luo_faults_set_many(f, "", why, sizeof(why)), 0);
	luo_faults_free(f);
}
END_TEST

/* ---- abort ------------------------------------------------------------- */

START_TEST(test_abort)
{
	struct luo_faults *f = faults_new();
	int status;
	pid_t pid;

	arm(f, "handover/exec action=abort space=1");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit no_core = {0, 0};

		setrlimit(RLIMIT_CORE, &no_core);
		signal(SIGABRT, SIG_DFL);
		/* Skipped by space=1, then the abort. */
		if (luo_faults_hook(f, LUO_FP_HANDOVER_EXEC) != 0)
			_exit(3);
		luo_faults_hook(f, LUO_FP_HANDOVER_EXEC);
		_exit(4);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status 0x%x", status);
	luo_faults_free(f);
}
END_TEST

/* ---- the blob ---------------------------------------------------------- */

static void blob_encode_sample(void **buf, size_t *len)
{
	struct luo_blob_file file = {.token = 7, .compatible = "memfd-v2", .fd_slot = 3};
	struct luo_blob_session s = {.name = "vm", .nr_files = 1, .files = &file};
	struct luo_blob b = {
		.liveupdate_count = 1,
		.mode = LUO_BLOB_MODE_EXEC,
		.nr_sessions = 1,
		.sessions = &s,
	};

	ck_assert_int_eq(luo_blob_encode(&b, buf, len), 0);
}

START_TEST(test_blob_actions)
{
	struct luo_faults *f = faults_new();
	struct logbuf lb = {0};
	struct luo_blob *dec = NULL;
	void *buf;
	size_t len;
	char why[256];
	static const struct {
		const char *spec;
		enum luo_fault_action a;
		int err;
	} cases[] = {
		{"blob/write action=torn", LUO_FAULT_TORN, -EBADMSG},
		{"blob/write action=truncate", LUO_FAULT_TRUNCATE, -EBADMSG},
		{"blob/write action=badversion", LUO_FAULT_BADVERSION, -EPROTONOSUPPORT},
	};

	luo_faults_set_logger(f, log_capture, &lb);
	ck_assert_int_eq(luo_faults_blob_action(f), LUO_FAULT_NONE);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		arm(f, cases[i].spec);
		/* The hook never fails for damage: the writer asks once per blob. */
		ck_assert_int_eq(luo_faults_hook(f, LUO_FP_BLOB_WRITE), 0);
		ck_assert_int_eq(luo_faults_blob_action(f), cases[i].a);
		ck_assert_int_eq(luo_faults_blob_action(f), LUO_FAULT_NONE);
		ck_assert_int_eq(luo_faults_hook(f, LUO_FP_BLOB_WRITE), 0);
		ck_assert_uint_eq(injected(f, LUO_FP_BLOB_WRITE), i + 1);
		ck_assert_uint_eq(lb.n, i + 1);

		blob_encode_sample(&buf, &len);
		ck_assert_int_eq(luo_blob_decode(buf, len, &dec), 0);
		luo_blob_free(dec);
		dec = NULL;
		ck_assert_int_eq(luo_faults_damage_blob(cases[i].a, buf, &len), 0);
		ck_assert_int_eq(luo_blob_decode_reason(buf, len, &dec, why, sizeof(why)),
				 cases[i].err);
		ck_assert_ptr_null(dec);
		free(buf);
	}
	ck_assert_str_eq(lb.last, "fault injected at blob/write (call 5, client pid 0 comm -): "
				  "action badversion");
	/* An errno on blob/write is the hook's business, not the writer's. */
	arm(f, "blob/write errno=EIO");
	ck_assert_int_eq(luo_faults_blob_action(f), LUO_FAULT_NONE);
	ck_assert_int_eq(luo_faults_hook(f, LUO_FP_BLOB_WRITE), -EIO);
	/* Knobs apply to damage too. */
	arm(f, "blob/write action=truncate nth=2");
	ck_assert_int_eq(luo_faults_blob_action(f), LUO_FAULT_NONE);
	ck_assert_int_eq(luo_faults_blob_action(f), LUO_FAULT_TRUNCATE);
	ck_assert_int_eq(luo_faults_blob_action(f), LUO_FAULT_NONE);

	len = 10;
	ck_assert_int_eq(luo_faults_damage_blob(LUO_FAULT_TORN, why, &len), -EINVAL);
	len = sizeof(why);
	ck_assert_int_eq(luo_faults_damage_blob(LUO_FAULT_ERRNO, why, &len), -EINVAL);
	luo_faults_free(f);
}
END_TEST

/* The real atomic writer: each step fails alone and leaves the old blob. */
START_TEST(test_blob_writer)
{
	static const char *const steps[] = {LUO_FP_BLOB_OPEN, LUO_FP_BLOB_WRITE, LUO_FP_BLOB_FSYNC,
					    LUO_FP_BLOB_RENAME};
	struct luo_faults *f = faults_new();
	char dir[] = "/tmp/test-fault.XXXXXX", spec[64];
	void *got = NULL;
	size_t len;
	int dirfd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dirfd, 0);
	ck_assert_int_eq(luo_blob_write_atomic_fault(dirfd, "b", "old", 3, luo_faults_hook, f), 0);
	snprintf(spec, sizeof(spec), "%s errno=EIO", steps[_i]);
	arm(f, spec);
	ck_assert_int_eq(luo_blob_write_atomic_fault(dirfd, "b", "new!", 4, luo_faults_hook, f),
			 -EIO);
	ck_assert_int_eq(luo_blob_read_file(dirfd, "b", &got, &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(got, "old", 3), 0);
	free(got);
	ck_assert_uint_eq(injected(f, steps[_i]), 1);
	/* times=1 by default: the next write goes through. */
	ck_assert_int_eq(luo_blob_write_atomic_fault(dirfd, "b", "new!", 4, luo_faults_hook, f), 0);
	ck_assert_int_eq(luo_blob_read_file(dirfd, "b", &got, &len), 0);
	ck_assert_uint_eq(len, 4);
	free(got);
	/* Steps after the failed one were reached once less. */
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++)
		ck_assert_uint_eq(calls_of(f, steps[i]), i <= (size_t)_i ? 3 : 2);
	ck_assert_int_eq(unlinkat(dirfd, "b", 0), 0);
	close(dirfd);
	ck_assert_int_eq(rmdir(dir), 0); /* no temporary left behind */
	luo_faults_free(f);
}
END_TEST

/* ---- the real core ------------------------------------------------------ */

static struct luo_ctx *ctx_with(struct luo_faults *f, enum luo_compat compat)
{
	struct luo_config cfg = {
		.compat = compat,
		.fault = luo_faults_hook,
		.fault_data = f,
	};
	struct luo_ctx *ctx = NULL;

	ck_assert_int_eq(luo_ctx_new(&cfg, &ctx), 0);
	return ctx;
}

static void stats_eq(const struct luo_stats *a, const struct luo_stats *b, const char *what)
{
	ck_assert_msg(a->outgoing == b->outgoing && a->incoming == b->incoming &&
			      a->files == b->files && a->device_open == b->device_open &&
			      a->going_down == b->going_down,
		      "%s changed the state: out %u->%u in %u->%u files %u->%u open %d->%d "
		      "down %d->%d",
		      what, a->outgoing, b->outgoing, a->incoming, b->incoming, a->files, b->files,
		      a->device_open, b->device_open, a->going_down, b->going_down);
}

/* The issue's example: the 3rd PRESERVE_FD of five fails, alone. */
START_TEST(test_core_preserve_nth)
{
	struct luo_faults *f = faults_new();
	struct luo_ctx *ctx = ctx_with(f, _i ? LUO_COMPAT_6_19 : LUO_COMPAT_7_2);
	struct luo_session *s = NULL;
	struct luo_stats before, after;
	uint8_t name[LUO_NAME_LEN];
	int fds[5];

	ck_assert_int_eq(luo_device_open(ctx), 0);
	name64(name, "vmm");
	ck_assert_int_eq(luo_session_create(ctx, name, &s), 0);
	arm(f, "preserve/handler nth=3 errno=ENOMEM");
	for (int i = 0; i < 5; i++) {
		int r;

		fds[i] = memfd_new(4096);
		luo_ctx_stats(ctx, &before);
		r = luo_session_preserve_fd(s, (uint64_t)i + 1, fds[i]);
		luo_ctx_stats(ctx, &after);
		if (i == 2) {
			ck_assert_int_eq(r, -ENOMEM);
			stats_eq(&before, &after, "the failed PRESERVE_FD");
			/* The caller still owns the fd. */
			ck_assert_int_ge(fcntl(fds[i], F_GETFD), 0);
		} else {
			ck_assert_int_eq(r, 0);
			ck_assert_uint_eq(after.files, before.files + 1);
		}
	}
	ck_assert_uint_eq(luo_session_nr_files(s), 4);
	ck_assert_ptr_nonnull(strstr(list_line(f, "preserve/handler"),
				     "calls=5 injected=1 errno=ENOMEM nth=3 spent"));
	/* Clear and retry, as CRIU would: token 3 and its file were never taken. */
	ck_assert_int_eq(luo_faults_clear(f, "preserve/handler"), 0);
	ck_assert_int_eq(luo_session_preserve_fd(s, 3, fds[2]), 0);
	ck_assert_uint_eq(luo_session_nr_files(s), 5);
	ck_assert_uint_eq(luo_file_token(luo_file_next(luo_file_next(luo_file_first(s)))), 4);
	luo_ctx_free(ctx); /* closes the five fds it owns */
	luo_faults_free(f);
}
END_TEST

/* A standard live update, one core call per step. */
struct scen {
	struct luo_faults *f;
	enum luo_compat compat;
	struct luo_ctx *old, *next;
	struct luo_session *out, *in;
	int mem[2];  /* preserved by the old context once it succeeds */
	int held[2]; /* data holders for the next context, until it takes them */
};

enum step {
	ST_OPEN_OLD,
	ST_CREATE,
	ST_PRESERVE_A,
	ST_PRESERVE_B,
	ST_FREEZE,
	ST_UNFREEZE,
	ST_FREEZE_AGAIN,
	ST_ADD_SESSION,
	ST_ADD_A,
	ST_ADD_B,
	ST_OPEN_NEXT,
	ST_RETRIEVE,
	ST_RETRIEVE_A,
	ST_RETRIEVE_B,
	ST_FINISH,
	NR_STEPS
};

static const char *const step_names[NR_STEPS] = {
	"open",	     "create",		 "preserve A",	"preserve B", "freeze",
	"unfreeze",  "freeze again",	 "add session", "add A",      "add B",
	"open next", "retrieve session", "retrieve A",	"retrieve B", "finish",
};

static void scen_init(struct scen *sc, struct luo_faults *f, enum luo_compat compat)
{
	*sc = (struct scen){.f = f, .compat = compat, .held = {-1, -1}};
	sc->old = ctx_with(f, compat);
	sc->next = ctx_with(f, compat);
	sc->mem[0] = memfd_new(8192);
	sc->mem[1] = memfd_new(100);
}

static void scen_free(struct scen *sc)
{
	if (sc->in)
		luo_session_release(sc->in);
	luo_ctx_free(sc->next);
	luo_ctx_free(sc->old); /* owns mem[] by now */
	for (int i = 0; i < 2; i++)
		if (sc->held[i] >= 0)
			close(sc->held[i]);
}

static int add_file(struct scen *sc, int i)
{
	struct luo_file *lf = luo_file_first(sc->out);
	size_t len;
	const void *rec;
	int r;

	if (i)
		lf = luo_file_next(lf);
	if (sc->held[i] < 0)
		sc->held[i] = fcntl(luo_file_fd(lf), F_DUPFD_CLOEXEC, 0);
	ck_assert_int_ge(sc->held[i], 0);
	rec = luo_file_record(lf, &len);
	r = luo_incoming_add_file(sc->in, luo_file_token(lf), luo_file_compatible(lf), rec, len,
				  sc->held[i]);
	if (r == 0)
		sc->held[i] = -1; /* the model's now */
	return r;
}

static int retrieve_fd(struct scen *sc, uint64_t token)
{
	struct stat a, b;
	int fd = -1, r = luo_session_retrieve_fd(sc->in, token, &fd);

	if (r < 0)
		return r;
	/* The same file as the one preserved. */
	ck_assert_int_eq(fstat(fd, &a), 0);
	ck_assert_int_eq(fstat(sc->mem[token - 1], &b), 0);
	ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	return 0;
}

static int run_step(struct scen *sc, enum step st)
{
	uint8_t name[LUO_NAME_LEN];

	name64(name, "vm");
	switch (st) {
	case ST_OPEN_OLD:
		return luo_device_open(sc->old);
	case ST_CREATE:
		return luo_session_create(sc->old, name, &sc->out);
	case ST_PRESERVE_A:
		return luo_session_preserve_fd(sc->out, 1, sc->mem[0]);
	case ST_PRESERVE_B:
		return luo_session_preserve_fd(sc->out, 2, sc->mem[1]);
	case ST_FREEZE:
	case ST_FREEZE_AGAIN:
		return luo_freeze(sc->old);
	case ST_UNFREEZE:
		luo_unfreeze(sc->old);
		return 0;
	case ST_ADD_SESSION:
		return luo_incoming_add_session(sc->next, "vm", &sc->in);
	case ST_ADD_A:
		return add_file(sc, 0);
	case ST_ADD_B:
		return add_file(sc, 1);
	case ST_OPEN_NEXT:
		return luo_device_open(sc->next);
	case ST_RETRIEVE:
		return luo_session_retrieve(sc->next, name, &sc->in);
	case ST_RETRIEVE_A:
		return retrieve_fd(sc, 1);
	case ST_RETRIEVE_B:
		return retrieve_fd(sc, 2);
	case ST_FINISH:
		return luo_session_finish(sc->in);
	default:
		ck_abort();
		return -EINVAL;
	}
}

static void snap(const struct scen *sc, struct luo_stats st[2])
{
	luo_ctx_stats(sc->old, &st[0]);
	luo_ctx_stats(sc->next, &st[1]);
}

/*
 * Run the sequence with @spec armed (NULL: none).  A step that fails must
 * fail with -@err, be the only injection, leave both contexts as they
 * were, and pass when rerun with the point cleared.  Returns the failed
 * step, or NR_STEPS.
 */
static enum step scen_run(struct luo_faults *f, enum luo_compat compat, const char *point,
			  const char *spec, int err)
{
	enum step failed = NR_STEPS;
	struct luo_stats before[2], after[2];
	struct scen sc;
	char what[128];

	scen_init(&sc, f, compat);
	if (spec)
		arm(f, spec);
	for (enum step st = 0; st < NR_STEPS; st++) {
		int r;

		snap(&sc, before);
		r = run_step(&sc, st);
		if (r == 0)
			continue;
		ck_assert_msg(point && r == -err, "[%s] step '%s': %d, want %d", spec ?: "none",
			      step_names[st], r, point ? -err : 0);
		ck_assert_msg(failed == NR_STEPS, "[%s] a second step failed: '%s'", spec,
			      step_names[st]);
		failed = st;
		ck_assert_uint_eq(injected(f, point), 1);
		snap(&sc, after);
		snprintf(what, sizeof(what), "[%s] step '%s'", spec, step_names[st]);
		stats_eq(&before[0], &after[0], what);
		stats_eq(&before[1], &after[1], what);
		ck_assert_int_eq(luo_faults_clear(f, point), 0);
		r = run_step(&sc, st);
		if (strcmp(point, LUO_FP_RETRIEVE_FD) == 0)
			/* The kernel's rule: a failed retrieve repeats its errno. */
			ck_assert_int_eq(r, -err);
		else
			ck_assert_msg(r == 0, "%s: rerun after clear: %d", what, r);
	}
	if (point)
		ck_assert_msg(injected(f, point) == (failed == NR_STEPS ? 0u : 1u),
			      "[%s] injected %lu times but failed step %d", spec,
			      injected(f, point), failed);
	scen_free(&sc);
	return failed;
}

START_TEST(test_core_sweep)
{
	static const int errs[] = {ENOMEM, EIO,	  ENOSPC, EAGAIN,    EFAULT,   ENODEV,
				   EPERM,  ENXIO, EINTR,  ETIMEDOUT, ECANCELED};
	enum luo_compat compat = _i ? LUO_COMPAT_6_19 : LUO_COMPAT_7_2;
	struct luo_faults *probe = faults_new();
	unsigned long calls[ARRAY_SIZE(core_points)];
	unsigned int runs = 0;

	/* A clean run, to learn how often each point is reached. */
	ck_assert_int_eq(scen_run(probe, compat, NULL, NULL, 0), NR_STEPS);
	for (size_t p = 0; p < ARRAY_SIZE(core_points); p++) {
		calls[p] = calls_of(probe, core_points[p]);
		ck_assert_msg(calls[p] > 0, "the sequence never reaches %s", core_points[p]);
	}
	luo_faults_free(probe);

	for (size_t p = 0; p < ARRAY_SIZE(core_points); p++)
		for (unsigned long n = 1; n <= calls[p]; n++) {
			struct luo_faults *f = faults_new();
			int err = errs[(p + n) % ARRAY_SIZE(errs)];
			char spec[96];

			snprintf(spec, sizeof(spec), "%s nth=%lu errno=%d", core_points[p], n, err);
			ck_assert_msg(scen_run(f, compat, core_points[p], spec, err) != NR_STEPS,
				      "[%s] nothing failed", spec);
			runs++;
			luo_faults_free(f);
		}
	ck_assert_uint_ge(runs, ARRAY_SIZE(core_points));
}
END_TEST

static Suite *fault_suite(void)
{
	Suite *s = suite_create("fault");
	TCase *tc = tcase_create("registry");

	tcase_add_test(tc, test_points_known);
	tcase_add_test(tc, test_parse_every_key);
	tcase_add_loop_test(tc, test_parse_bad, 0, ARRAY_SIZE(bad_specs));
	tcase_add_test(tc, test_errno_names);
	tcase_add_test(tc, test_probability);
	tcase_add_test(tc, test_interval_times_space);
	tcase_add_test(tc, test_nth);
	tcase_add_test(tc, test_filters);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_list_clear_log);
	tcase_add_test(tc, test_abort);
	suite_add_tcase(s, tc);

	tc = tcase_create("blob");
	tcase_add_test(tc, test_blob_actions);
	tcase_add_loop_test(tc, test_blob_writer, 0, 4);
	suite_add_tcase(s, tc);

	tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_core_preserve_nth, 0, 2);
	tcase_add_loop_test(tc, test_core_sweep, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fault_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
