/* criu-hold: a stand-in for "a process holding guest RAM", for the CRIU peer
 * benchmark (bench/criu-peer.sh).  Plain C, no luoemu headers.
 *
 * Usage: criu-hold SIZE [memfd|anon]
 *   SIZE takes a K/M/G suffix (powers of 1024).
 *   memfd (default): memfd_create + ftruncate + mmap(MAP_SHARED); the fd
 *                    stays open, like a VMM's guest-RAM memfd.
 *   anon:            mmap(MAP_SHARED|MAP_ANONYMOUS) (fallback).
 *
 * Fills the mapping with a position-dependent pattern, prints
 * "READY <checksum>", then sleeps.  On SIGUSR1 it re-reads every word,
 * checks it against the pattern and prints "VERIFIED ok|bad <checksum>
 * fdN=<what the memfd fd points to>".
 * SIGTERM ends it.  It calls setsid() so that it has no controlling tty and
 * is its own session and process-group leader (what criu dump expects of a
 * tree root).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SEED 0x5ca1ab1e0ddba11ULL

static volatile sig_atomic_t want_verify;

static void on_usr1(int sig)
{
	(void)sig;
	want_verify = 1;
}

static uint64_t pattern(uint64_t i)
{
	return (i * 0x9E3779B97F4A7C15ULL) ^ SEED;
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end || v == 0 || v % sizeof(uint64_t))
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "memfd";
	size_t size, n, i;
	uint64_t *w, sum = 0;
	struct sigaction sa;
	sigset_t block;
	int fd = -1;

	if (argc < 2 || parse_size(argv[1], &size) < 0 ||
	    (strcmp(mode, "memfd") && strcmp(mode, "anon"))) {
		fprintf(stderr, "usage: criu-hold SIZE[K|M|G] [memfd|anon]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	(void)setsid();

	if (!strcmp(mode, "memfd")) {
		fd = memfd_create("criu-hold", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
			perror("memfd");
			return 1;
		}
		w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	} else {
		w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	}
	if (w == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	n = size / sizeof(uint64_t);
	for (i = 0; i < n; i++) {
		w[i] = pattern(i);
		sum += w[i];
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);

	printf("READY %016" PRIx64 " %s %zu\n", sum, mode, size);
	for (;;) {
		/* Re-block every round and poll with a timeout: a checkpoint can
		 * land inside the wait, and this stays race-free whatever signal
		 * mask the restore brings back. */
		while (!want_verify) {
			struct timespec ts = {1, 0};

			sigprocmask(SIG_BLOCK, &block, NULL);
			if (sigtimedwait(&block, NULL, &ts) == SIGUSR1)
				want_verify = 1;
		}
		want_verify = 0;
		uint64_t s = 0;
		int ok = 1;

		for (i = 0; i < n; i++) {
			uint64_t v = w[i];

			if (v != pattern(i))
				ok = 0;
			s += v;
		}
		/* Show what backs the mapping now (after a restore: is it
		 * still a memfd, and is the fd still there?). */
		char link[64], what[256] = "anon";
		ssize_t l;

		if (fd >= 0) {
			snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
			l = readlink(link, what, sizeof(what) - 1);
			what[l > 0 ? l : 0] = 0;
		}
		printf("VERIFIED %s %016" PRIx64 " fd%d=%s\n", ok && s == sum ? "ok" : "bad", s, fd,
		       what);
	}
}
