// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A toy VMM that keeps "guest RAM" across a live update, written only
 * against the LUO uAPI: it runs the same on a real LUO kernel.
 *
 * First run (cold boot): create session "vmm", put guest RAM in four
 * memfds, write a pattern, preserve them (retrying a transient error once), then ask for the update
 * the kernel's way (kexec_file_load + reboot(LINUX_REBOOT_CMD_KEXEC)).  Second run (after the
 * update): retrieve the session and the memfds, prove the pattern is intact, and FINISH.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kexec.h>
#include <linux/reboot.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "luoemu/liveupdate.h"

#define SESSION	  "vmm"
#define RAM_TOKEN 0x52414d00 /* "RAM" + slot */
#define SLOTS	  4

static uint64_t ram_size = 256ull << 20;
static int ram_fds[SLOTS];

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void step(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("vmm-demo: ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

static int die(const char *what)
{
	fprintf(stderr, "vmm-demo: %s: %s\n", what, strerror(errno));
	return 1;
}

static uint64_t slot_size(void)
{
	return ram_size / SLOTS;
}

/* The "guest" writes a pattern derived from each word's guest-physical address. */
static uint64_t pattern(uint64_t gpa)
{
	return (gpa * 0x9e3779b97f4a7c15ull) ^ 0x6c75656d75ull;
}

static uint64_t fill_or_check(uint64_t *ram, int slot, bool fill)
{
	uint64_t words = slot_size() / 8, base = slot * words, bad = 0;

	for (uint64_t i = 0; i < words; i++) {
		if (fill)
			ram[i] = pattern(base + i);
		else
			bad += ram[i] != pattern(base + i);
	}
	return bad;
}

static void *map_ram(int fd)
{
	void *ram = mmap(NULL, slot_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return ram == MAP_FAILED ? NULL : ram;
}

/* Transient errors (ENOMEM, EAGAIN) deserve one retry, as a real VMM would. */
static int preserve_slot(int session, int fd, uint64_t token)
{
	struct liveupdate_session_preserve_fd pf = {.size = sizeof(pf), .fd = fd, .token = token};

	for (int attempt = 1;; attempt++) {
		double t = now_ms();

		if (ioctl(session, LIVEUPDATE_SESSION_PRESERVE_FD, &pf) == 0) {
			step("preserved RAM slot %llu (%.1f ms)",
			     (unsigned long long)(token - RAM_TOKEN), now_ms() - t);
			return 0;
		}
		if (attempt > 1 || (errno != ENOMEM && errno != EAGAIN))
			return -errno;
		step("PRESERVE_FD of slot %llu failed: %s; retrying once",
		     (unsigned long long)(token - RAM_TOKEN), strerror(errno));
	}
}

static int cold_boot(int dev, const char *self)
{
	struct liveupdate_ioctl_create_session cs = {.size = sizeof(cs)};
	int kfd;
	double t;

	step("cold boot: no incoming session '%s'", SESSION);
	strcpy((char *)cs.name, SESSION);
	if (ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs) < 0)
		return die("CREATE_SESSION");
	step("created session '%s' (fd %d)", SESSION, cs.fd);

	/* Guest RAM in SLOTS memfds, like DIMMs: each preserved under its own token. */
	t = now_ms();
	for (int i = 0; i < SLOTS; i++) {
		int fd = memfd_create("guest-ram", MFD_CLOEXEC);
		uint64_t *ram;

		if (fd < 0 || ftruncate(fd, slot_size()) < 0)
			return die("memfd for guest RAM");
		ram = map_ram(fd);
		if (!ram)
			return die("mmap guest RAM");
		fill_or_check(ram, i, true);
		munmap(ram, slot_size());
		ram_fds[i] = fd;
	}
	step("guest wrote its pattern into %" PRIu64 " MiB of RAM in %d slots (%.0f ms)",
	     ram_size >> 20, SLOTS, now_ms() - t);
	for (int i = 0; i < SLOTS; i++) {
		int r = preserve_slot(cs.fd, ram_fds[i], RAM_TOKEN + i);

		if (r < 0) {
			errno = -r;
			return die("PRESERVE_FD");
		}
	}

	/* Any readable file stands in for the next kernel's image. */
	kfd = open(self, O_RDONLY | O_CLOEXEC);
	if (kfd < 0)
		return die("open the 'kernel image'");
	if (syscall(SYS_kexec_file_load, kfd, -1, 1, "", KEXEC_FILE_NO_INITRAMFS) < 0)
		return die("kexec_file_load");
	step("next kernel loaded; rebooting into it (session fds stay open until then)");
	syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_KEXEC, NULL);
	/* With luoemu the old userspace is killed here; on a real kernel too. */
	pause();
	return die("reboot(LINUX_REBOOT_CMD_KEXEC) returned");
}

static int after_update(int session)
{
	struct liveupdate_session_finish fin = {.size = sizeof(fin)};
	uint64_t bad = 0;
	double t;

	step("after the live update: session '%s' is back (fd %d)", SESSION, session);
	for (int i = 0; i < SLOTS; i++) {
		struct liveupdate_session_retrieve_fd rf = {.size = sizeof(rf),
							    .token = RAM_TOKEN + i};
		uint64_t *ram;

		t = now_ms();
		if (ioctl(session, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf) < 0)
			return die("RETRIEVE_FD");
		step("retrieved RAM slot %d as fd %d (%.1f ms)", i, rf.fd, now_ms() - t);
		ram = map_ram(rf.fd);
		if (!ram)
			return die("mmap retrieved RAM");
		bad += fill_or_check(ram, i, false);
		munmap(ram, slot_size());
	}
	if (bad) {
		fprintf(stderr, "vmm-demo: FAIL: %" PRIu64 " of %" PRIu64 " words differ\n", bad,
			ram_size / 8);
		return 1;
	}
	step("guest RAM intact: all %" PRIu64 " words match the pattern", ram_size / 8);
	if (ioctl(session, LIVEUPDATE_SESSION_FINISH, &fin) < 0)
		return die("FINISH");
	step("FINISH: LUO let go; the VMM owns its RAM again. Live update complete.");
	return 0;
}

int main(int argc, char *argv[])
{
	struct liveupdate_ioctl_retrieve_session rs = {.size = sizeof(rs)};
	const char *path = getenv("LUOEMU_DEVICE") ?: "/dev/liveupdate";
	int dev;

	if (argc > 1)
		ram_size = strtoull(argv[1], NULL, 0) << 20;
	dev = open(path, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return die(path);
	strcpy((char *)rs.name, SESSION);
	if (ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs) == 0)
		return after_update(rs.fd);
	if (errno != ENOENT)
		return die("RETRIEVE_SESSION");
	return cold_boot(dev, "/proc/self/exe");
}
