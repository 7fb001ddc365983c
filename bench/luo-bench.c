// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The benchmark's client, written only against the uAPI.
 *
 * Update rows: `preserve COUNT BYTES` preserves COUNT memfds holding BYTES in
 * total in one session, prints READY and waits to be ended by the live
 * update; `retrieve COUNT` times getting them back.
 *
 * Per-call rows: `ops-pre N` times each call that needs no update (GET_NAME,
 * PRESERVE_FD of 16 B .. 64 MiB, CREATE_SESSION, close), then leaves N
 * sessions of one 4 KiB memfd each, prints READY and waits for the update;
 * `ops-post N` times the calls on incoming sessions (RETRIEVE_SESSION,
 * RETRIEVE_FD first and again, FINISH, close).  One RESULT line per call
 * (bench/latency.h).  `scale SESSIONS FILES` holds many small entries.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "latency.h"
#include "luoemu/liveupdate.h"

#define RETRIEVE_TOKEN 1
#define ROTATE_BYTES   (128ULL << 20) /* preserved bytes per session before a new one */

static double now_ms(void)
{
	return now_us() / 1e3;
}

static int fail(const char *what)
{
	fprintf(stderr, "luo-bench: %s: %s\n", what, strerror(errno));
	return 1;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* A memfd with BYTES of real pages, as a VMM's guest memory would be. */
static int filled_memfd(unsigned long long bytes)
{
	static char page[1 << 16];
	int fd = memfd_create("bench", MFD_CLOEXEC);

	memset(page, 0x5a, sizeof(page));
	for (unsigned long long off = 0; fd >= 0 && off < bytes; off += sizeof(page)) {
		size_t n = bytes - off < sizeof(page) ? bytes - off : sizeof(page);

		if (pwrite(fd, page, n, off) != (ssize_t)n) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static int preserve(int dev, unsigned long count, unsigned long long bytes)
{
	struct liveupdate_ioctl_create_session cs = {.size = sizeof(cs)};
	unsigned long long each = count ? bytes / count : 0;
	double t = now_ms();

	strcpy((char *)cs.name, "bench");
	if (ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs) < 0)
		return fail("CREATE_SESSION");
	for (unsigned long i = 0; i < count; i++) {
		struct liveupdate_session_preserve_fd pf = {.size = sizeof(pf), .token = i};
		int fd = filled_memfd(each);

		if (fd < 0)
			return fail("memfd");
		pf.fd = fd;
		if (ioctl(cs.fd, LIVEUPDATE_SESSION_PRESERVE_FD, &pf) < 0)
			return fail("PRESERVE_FD");
		close(fd); /* LUO holds its own reference */
	}
	printf("READY %lu files, %llu bytes preserved in %.1f ms\n", count, each * count,
	       now_ms() - t);
	fflush(stdout);
	pause();
	return 0;
}

/* Also per call, first and last tenth apart: does a call cost more as N grows? */
static int retrieve(int dev, unsigned long count)
{
	struct liveupdate_ioctl_retrieve_session rs = {.size = sizeof(rs)};
	struct liveupdate_session_finish fin = {.size = sizeof(fin)};
	double t = now_ms(), fds, *lat = calloc(count ?: 1, sizeof(*lat));
	unsigned long tenth = count / 10;

	strcpy((char *)rs.name, "bench");
	if (!lat)
		return fail("calloc");
	if (ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs) < 0)
		return fail("RETRIEVE_SESSION");
	fds = now_ms();
	for (unsigned long i = 0; i < count; i++) {
		struct liveupdate_session_retrieve_fd rf = {.size = sizeof(rf), .token = i};
		double c = now_us();

		if (ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf) < 0)
			return fail("RETRIEVE_FD");
		lat[i] = now_us() - c;
		close(rf.fd);
	}
	fds = now_ms() - fds;
	if (ioctl(rs.fd, LIVEUPDATE_SESSION_FINISH, &fin) < 0)
		return fail("FINISH");
	printf("RETRIEVED %lu files in %.3f ms (RETRIEVE_FD loop %.3f ms)\n", count, now_ms() - t,
	       fds);
	if (tenth) {
		latency_report("RETRIEVE_FD_first_tenth", lat, tenth);
		latency_report("RETRIEVE_FD_last_tenth", lat + count - tenth, tenth);
	}
	latency_report("RETRIEVE_FD_in_session", lat, count);
	return 0;
}

static int create_session(int dev, const char *name)
{
	struct liveupdate_ioctl_create_session cs = {.size = sizeof(cs)};

	snprintf((char *)cs.name, sizeof(cs.name), "%s", name);
	return ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs) < 0 ? -1 : cs.fd;
}

static int time_get_name(int dev, long n, double *lat)
{
	struct liveupdate_session_get_name gn = {.size = sizeof(gn)};
	int s = create_session(dev, "get-name");

	if (s < 0)
		return fail("CREATE_SESSION");
	for (long i = 0; i < n; i++) {
		double t = now_us();

		if (ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &gn) < 0)
			return fail("GET_NAME");
		lat[i] = now_us() - t;
	}
	latency_report("GET_NAME", lat, n);
	close(s);
	return 0;
}

/* N preserves of BYTES each; a new session every ROTATE_BYTES keeps memory bounded. */
static int time_preserve(int dev, long n, unsigned long long bytes, double *lat)
{
	unsigned long long held = 0;
	char label[64], name[64];
	int s = -1;

	for (long i = 0; i < n; i++) {
		struct liveupdate_session_preserve_fd pf = {.size = sizeof(pf), .token = i};
		int fd = filled_memfd(bytes);
		double t;

		if (s < 0 || held + bytes > ROTATE_BYTES) {
			if (s >= 0)
				close(s);
			snprintf(name, sizeof(name), "preserve-%llu-%ld", bytes, i);
			s = create_session(dev, name);
			held = 0;
		}
		if (fd < 0 || s < 0)
			return fail(fd < 0 ? "memfd" : "CREATE_SESSION");
		pf.fd = fd;
		t = now_us();
		if (ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, &pf) < 0)
			return fail("PRESERVE_FD");
		lat[i] = now_us() - t;
		held += bytes;
		close(fd);
	}
	close(s);
	snprintf(label, sizeof(label), "PRESERVE_FD_%llu", bytes);
	latency_report(label, lat, n);
	return 0;
}

static int time_create_close(int dev, long n, double *lat, double *lat_close)
{
	for (long i = 0; i < n; i++) {
		char name[32];
		double t;
		int s;

		snprintf(name, sizeof(name), "create-%ld", i);
		t = now_us();
		s = create_session(dev, name);
		lat[i] = now_us() - t;
		if (s < 0)
			return fail("CREATE_SESSION");
		t = now_us();
		close(s);
		lat_close[i] = now_us() - t;
	}
	latency_report("CREATE_SESSION", lat, n);
	latency_report("close_outgoing", lat_close, n);
	return 0;
}

static int ops_pre(int dev, long n)
{
	static const unsigned long long sizes[] = {16, 4096, 1 << 20, 64 << 20};
	double *lat = calloc(n, sizeof(*lat)), *lat2 = calloc(n, sizeof(*lat2));

	if (!lat || !lat2)
		return fail("calloc");
	if (time_get_name(dev, n, lat) || time_create_close(dev, n, lat, lat2))
		return 1;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		/* Big files: fewer rounds, the copy or pinning dominates anyway. */
		long rounds = sizes[k] >= 64 << 20 ? 10 : sizes[k] >= 1 << 20 ? n / 10 : n;

		if (time_preserve(dev, rounds ?: 1, sizes[k], lat))
			return 1;
	}
	/* The incoming side, for ops-post after the update. */
	for (long i = 0; i < n; i++) {
		struct liveupdate_session_preserve_fd pf = {.size = sizeof(pf),
							    .token = RETRIEVE_TOKEN};
		char name[32];
		int s, fd = filled_memfd(4096);

		snprintf(name, sizeof(name), "ret-%ld", i);
		s = create_session(dev, name);
		if (s < 0 || fd < 0)
			return fail(s < 0 ? "CREATE_SESSION" : "memfd");
		pf.fd = fd;
		if (ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, &pf) < 0)
			return fail("PRESERVE_FD");
		close(fd);
		/* The session fd stays open: closing an outgoing session unpreserves it. */
	}
	printf("READY %ld sessions for ops-post\n", n);
	fflush(stdout);
	pause();
	return 0;
}

static int ops_post(int dev, long n)
{
	static const char *const labels[] = {"RETRIEVE_SESSION", "RETRIEVE_FD_first",
					     "RETRIEVE_FD_again", "FINISH", "close_incoming"};
	enum { RS, RF1, RF2, FIN, CLOSE, N_OPS };
	double *lat[N_OPS];

	for (int k = 0; k < N_OPS; k++)
		if (!(lat[k] = calloc(n, sizeof(double))))
			return fail("calloc");
	for (long i = 0; i < n; i++) {
		struct liveupdate_ioctl_retrieve_session rs = {.size = sizeof(rs)};
		struct liveupdate_session_retrieve_fd rf = {.size = sizeof(rf),
							    .token = RETRIEVE_TOKEN};
		struct liveupdate_session_finish fin = {.size = sizeof(fin)};
		double t;

		snprintf((char *)rs.name, sizeof(rs.name), "ret-%ld", i);
		t = now_us();
		if (ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs) < 0)
			return fail("RETRIEVE_SESSION");
		lat[RS][i] = now_us() - t;
		for (int again = 0; again < 2; again++) {
			t = now_us();
			if (ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf) < 0)
				return fail("RETRIEVE_FD");
			lat[again ? RF2 : RF1][i] = now_us() - t;
			close(rf.fd);
		}
		t = now_us();
		if (ioctl(rs.fd, LIVEUPDATE_SESSION_FINISH, &fin) < 0)
			return fail("FINISH");
		lat[FIN][i] = now_us() - t;
		t = now_us();
		close(rs.fd);
		lat[CLOSE][i] = now_us() - t;
	}
	for (int k = 0; k < N_OPS; k++)
		latency_report(labels[k], lat[k], n);
	return 0;
}

/* SESSIONS sessions holding FILES 16-byte memfds between them, for bench/scale.sh. */
static int scale(int dev, long sessions, long files)
{
	int *s = calloc(sessions, sizeof(*s));
	double t = now_ms();

	if (!s)
		return fail("calloc");
	for (long i = 0; i < sessions; i++) {
		char name[32];

		snprintf(name, sizeof(name), "scale-%ld", i);
		s[i] = create_session(dev, name);
		if (s[i] < 0)
			return fail("CREATE_SESSION");
	}
	for (long j = 0; j < files; j++) {
		struct liveupdate_session_preserve_fd pf = {.size = sizeof(pf), .token = j};
		int fd = filled_memfd(16);

		if (fd < 0)
			return fail("memfd");
		pf.fd = fd;
		if (ioctl(s[j % sessions], LIVEUPDATE_SESSION_PRESERVE_FD, &pf) < 0)
			return fail("PRESERVE_FD");
		close(fd);
	}
	printf("READY %ld sessions, %ld files in %.1f ms\n", sessions, files, now_ms() - t);
	fflush(stdout);
	pause();
	return 0;
}

int main(int argc, char *argv[])
{
	const char *path = getenv("LUOEMU_DEVICE") ?: "/dev/liveupdate";
	int dev;

	if (argc < 3) {
		fprintf(stderr,
			"usage: luo-bench preserve COUNT BYTES | retrieve COUNT | ops-pre N | "
			"ops-post N | scale SESSIONS FILES\n");
		return 2;
	}
	raise_nofile();
	dev = open(path, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return fail(path);
	if (strcmp(argv[1], "preserve") == 0 && argc == 4)
		return preserve(dev, strtoul(argv[2], NULL, 0), strtoull(argv[3], NULL, 0));
	if (strcmp(argv[1], "ops-pre") == 0 && strtol(argv[2], NULL, 0) > 0)
		return ops_pre(dev, strtol(argv[2], NULL, 0));
	if (strcmp(argv[1], "ops-post") == 0 && strtol(argv[2], NULL, 0) > 0)
		return ops_post(dev, strtol(argv[2], NULL, 0));
	if (strcmp(argv[1], "scale") == 0 && argc == 4 && strtol(argv[2], NULL, 0) > 0)
		return scale(dev, strtol(argv[2], NULL, 0), strtol(argv[3], NULL, 0));
	if (strcmp(argv[1], "retrieve") == 0)
		return retrieve(dev, strtoul(argv[2], NULL, 0));
	return 2;
}
