// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kexec-raw: kexec_load() with segment lists the kernel refuses, one line
 * each: "NAME ERRNO-NAME" (or "NAME ok").  Run it only under the launcher
 * (or as a user without CAP_SYS_BOOT): the last call is a well-formed load.
 * Each refused list breaks exactly one rule, so the errno names the check.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PG 4096UL

struct seg {
	uint64_t buf, bufsz, mem, memsz;
};

static char data[2 * PG];

static const char *errname(int e)
{
	switch (e) {
	case 0:
		return "ok";
	case EPERM:
		return "EPERM";
	case EINVAL:
		return "EINVAL";
	case EFAULT:
		return "EFAULT";
	case EADDRNOTAVAIL:
		return "EADDRNOTAVAIL";
	case ENOSYS:
		return "ENOSYS";
	case EBUSY:
		return "EBUSY";
	}
	return strerror(e);
}

static void call(const char *name, const struct seg *s, unsigned long nr, unsigned long flags)
{
	long r = syscall(SYS_kexec_load, 0x100000UL, nr, s, flags);

	printf("%s %s\n", name, errname(r < 0 ? errno : 0));
}

int main(void)
{
	const uint64_t b = (uintptr_t)data;
	struct seg one[1] = {{b, PG, 0x100000, PG}};
	struct seg many[17];

	for (int i = 0; i < 17; i++)
		many[i] = (struct seg){b, PG, 0x100000 + i * PG, PG};
	call("misaligned", (struct seg[]){{b, PG, 0x100800, PG}}, 1, 0);
	call("overlap", (struct seg[]){{b, PG, 0x100000, 2 * PG}, {b, PG, 0x101000, PG}}, 2, 0);
	call("bufsz", (struct seg[]){{b, 2 * PG, 0x100000, PG}}, 1, 0);
	call("wrap", (struct seg[]){{b, PG, 0xfffffffffffff000ULL, 2 * PG}}, 1, 0);
	call("limit", (struct seg[]){{b, PG, (1ULL << 46) - PG, PG}}, 1, 0);
	call("toomany", many, 17, 0);
	call("badlist", (const struct seg *)8, 1, 0);
	call("badbuf", (struct seg[]){{8, PG, 0x100000, PG}}, 1, 0);
	call("arch", one, 1, 3UL << 16);
	call("flags", one, 1, 0x10);
	call("good", (struct seg[]){{b, PG, 0x100000, PG}, {b + PG, 100, 0x200000, 2 * PG}}, 2, 0);
	call("unload", NULL, 0, 0);
	return 0;
}
