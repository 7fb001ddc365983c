/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the control protocol's parsers: a request as the
 * daemon receives it (one datagram: verb/args split, then the "kexec" and
 * "attach" argument parsers) and a reply as the CLI receives it.  Any
 * input must parse or be refused with -EINVAL, never crash, and what
 * parses must satisfy the parsers' promises (checked below).
 *
 * Build: see src/control/local.mk, or fuzz/run-fuzz-control.sh.  With
 * -DLUOEMU_FUZZ_STANDALONE a small main() replays files or corpus
 * directories and can write seed inputs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/control.h"
#include "control/request.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz-control: invariant broken: %s\n", what);
		abort();
	}
}

/* Inside [lo, lo + len): a pointer the parser returned into its own buffer. */
static bool within(const char *p, const char *lo, size_t len)
{
	return p >= lo && p <= lo + len;
}

static void fuzz_request(char *buf, size_t len)
{
	struct luoemu_kexec_args ka;
	char why[128], *verb, *args, again[32];
	pid_t pid;
	int r;

	r = luoemu_request_split(buf, &verb, &args);
	if (r < 0) {
		check(r == -EINVAL, "split: only -EINVAL");
		check(strspn(buf, " ") == strlen(buf), "split refuses only blank requests");
		return;
	}
	check(*verb && !strchr(verb, ' '), "verb is one non-empty word");
	check(within(verb, buf, len) && within(args, buf, len), "split stays in the buffer");
	check(*args != ' ', "args start at a word");
	if (strcmp(verb, "kexec") == 0) {
		why[0] = 0;
		r = luoemu_parse_kexec_args(args, &ka, why, sizeof(why));
		check(r == 0 || (r == -EINVAL && why[0]), "kexec: 0 or -EINVAL with a reason");
		if (r == 0) {
			check(ka.mode <= LUOEMU_KEXEC_MODE_COPY, "kexec: known mode");
			check(!ka.binary || (ka.binary[0] == '/' && within(ka.binary, buf, len) &&
					     !strchr(ka.binary, ' ')),
			      "kexec: binary is one absolute path in the buffer");
		}
	} else if (strcmp(verb, "attach") == 0) {
		r = luoemu_parse_attach_args(args, &pid, why, sizeof(why));
		check(r == 0 || r == -EINVAL, "attach: 0 or -EINVAL");
		if (r == 0 && pid) {
			/* Canonical decimal only: printing it back gives the input. */
			snprintf(again, sizeof(again), "%d", pid);
			check(pid > 0 && strcmp(again, args) == 0, "attach: canonical pid");
		} else if (r == 0) {
			check(!*args, "attach: no pid only for no argument");
		}
	}
}

static void fuzz_reply(char *buf)
{
	const char *text = NULL;
	int r = luoemu_control_parse_reply(buf, &text);

	check(text != NULL, "reply: text always set");
	check(r == 0 || r == -EBADMSG || (r < 0 && r >= -4095), "reply: 0, -EBADMSG or -errno");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *req = NULL, *rep = NULL;

	/* A datagram holding a NUL is refused before any parser (recv_datagram). */
	if (size > LUOEMU_CONTROL_MAX || memchr(data, 0, size))
		return 0;
	req = malloc(size + 1);
	rep = malloc(size + 1);
	if (!req || !rep)
		return 0;
	memcpy(req, data, size);
	req[size] = 0;
	memcpy(rep, req, size + 1);
	fuzz_request(req, size);
	fuzz_reply(rep);
	return 0;
}

#ifdef LUOEMU_FUZZ_STANDALONE
#include "replay.h"

static int replay_file(int dfd, const char *name)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	_cleanup_free_ uint8_t *buf = malloc(LUOEMU_CONTROL_MAX + 1);
	ssize_t n;

	if (fd < 0 || !buf)
		return -errno;
	n = read(fd, buf, LUOEMU_CONTROL_MAX + 1);
	if (n < 0)
		return -errno;
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	return 0;
}

static int write_seeds(const char *dir)
{
	static const char *const seeds[] = {
		"status",
		"attach",
		"attach 1234",
		"kexec",
		"kexec mode=copy",
		"kexec mode=exec binary=/usr/sbin/luoemud keep-clients",
		"kexec on-behalf",
		"fault set handover.serialize",
		"ok",
		"ok liveupdate_count 3",
		"err 1 'kexec' needs root",
		"err 11 too many control connections (per-uid)",
	};
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(seeds); i++) {
		_cleanup_close_ int fd = -1;
		char name[32];

		snprintf(name, sizeof(name), "seed-%02zu", i);
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, seeds[i], strlen(seeds[i])) < 0)
			return -errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	int r = 0;

	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]) < 0 ? 1 : 0;
	for (int i = 1; i < argc; i++)
		if (fuzz_replay(argv[i], &count, replay_file) < 0)
			r = 1;
	printf("fuzz-control: %lu inputs replayed\n", count);
	return r;
}
#endif
