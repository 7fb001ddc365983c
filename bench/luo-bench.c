// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The benchmark's client, written only against the uAPI: preserve COUNT
 * memfds holding BYTES in total in one session, print READY, and wait to be
 * ended by the live update.  `retrieve COUNT` times getting them back.
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

#include "luoemu/liveupdate.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
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
		int fd = memfd_create("bench", MFD_CLOEXEC);

		if (fd < 0 || ftruncate(fd, each) < 0)
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

static int retrieve(int dev, unsigned long count)
{
	struct liveupdate_ioctl_retrieve_session rs = {.size = sizeof(rs)};
	struct liveupdate_session_finish fin = {.size = sizeof(fin)};
	double t = now_ms();

	strcpy((char *)rs.name, "bench");
	if (ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs) < 0)
		return fail("RETRIEVE_SESSION");
	for (unsigned long i = 0; i < count; i++) {
		struct liveupdate_session_retrieve_fd rf = {.size = sizeof(rf), .token = i};

		if (ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf) < 0)
			return fail("RETRIEVE_FD");
		close(rf.fd);
	}
	if (ioctl(rs.fd, LIVEUPDATE_SESSION_FINISH, &fin) < 0)
		return fail("FINISH");
	printf("RETRIEVED %lu files in %.1f ms\n", count, now_ms() - t);
	return 0;
}

int main(int argc, char *argv[])
{
	const char *path = getenv("LUOEMU_DEVICE") ?: "/dev/liveupdate";
	int dev;

	if (argc < 3) {
		fprintf(stderr, "usage: luo-bench preserve COUNT BYTES | retrieve COUNT\n");
		return 2;
	}
	raise_nofile();
	dev = open(path, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return fail(path);
	if (strcmp(argv[1], "preserve") == 0 && argc == 4)
		return preserve(dev, strtoul(argv[2], NULL, 0), strtoull(argv[3], NULL, 0));
	if (strcmp(argv[1], "retrieve") == 0)
		return retrieve(dev, strtoul(argv[2], NULL, 0));
	return 2;
}
