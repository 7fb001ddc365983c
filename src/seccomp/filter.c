// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Raw classic BPF, no libseccomp: the program is a dozen instructions.
 *
 * Only native x86_64 calls are trapped.  i386 (int 0x80) and x32 calls
 * are ALLOWed, except their kexec calls, which fail with ENOSYS: their
 * LUO ioctls reach the device as plain ioctls and get the server's "not
 * supervised" answer.  The layouts are identical for 32-bit callers, but
 * the courier only decodes x86_64.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "luoemu/liveupdate.h"
#include "seccomp/filter.h"

#ifdef __x86_64__
#define X32_SYSCALL_BIT 0x40000000u

/* clang-format off */
/* Offsets into struct seccomp_data; the low half of a 64-bit argument on little endian. */
#define OFF_NR	     offsetof(struct seccomp_data, nr)
#define OFF_ARCH     offsetof(struct seccomp_data, arch)
#define OFF_ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64))

#define LD(off)	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v)	BPF_STMT(BPF_RET | BPF_K, (v))
/* Conditional jump at instruction @at to labels @t / @f (BPF jumps forward only). */
#define JMP(op, at, k, t, f) BPF_JUMP(BPF_JMP | (op) | BPF_K, (k), (t) - (at) - 1, (f) - (at) - 1)

/*
 * The kexec calls of the 32-bit ABIs of an x86_64 task (int 0x80, x32):
 * the courier does not decode them, and nothing may reach the host's
 * kexec, so they fail with ENOSYS, as on a kernel built without them.
 */
#define I386_NR_REBOOT	    88
#define I386_NR_KEXEC_LOAD  283
#define X32_NR_REBOOT	    (X32_SYSCALL_BIT | 169)
#define X32_NR_KEXEC_FILE   (X32_SYSCALL_BIT | 320)
#define X32_NR_KEXEC_LOAD   (X32_SYSCALL_BIT | 528)

/* Instruction indices: the jumps below are computed from these labels. */
enum {
	I_LD_ARCH,
	I_ARCH,
	I_ARCH_I386,
	I_LD_NR,
	I_X32,
	I_IS_IOCTL,
	I_IS_KEXEC_FILE,
	I_IS_KEXEC,
	I_IS_REBOOT,
	L_IOCTL,		/* load cmd */
	I_CMD_CREATE,
	I_CMD_RETRIEVE,
	I_CMD_RETRIEVE_FD,
	L_REBOOT,		/* load cmd */
	I_CMD_KEXEC,
	L_I386,			/* load nr */
	I_I386_KEXEC,
	I_I386_REBOOT,
	L_X32_KEXEC_FILE,
	I_X32_KEXEC,
	I_X32_REBOOT,
	L_COMPAT_REBOOT,	/* load cmd */
	I_COMPAT_CMD_KEXEC,
	L_REFUSE,
	L_NOTIFY, /* the returns last: classic BPF jumps forward only */
	L_ALLOW,
	FILTER_LEN,
};

static const struct sock_filter luoemu_filter[FILTER_LEN] = {
	[I_LD_ARCH] = LD(OFF_ARCH),
	[I_ARCH] = JMP(BPF_JEQ, I_ARCH, AUDIT_ARCH_X86_64, I_LD_NR, I_ARCH_I386),
	[I_ARCH_I386] = JMP(BPF_JEQ, I_ARCH_I386, AUDIT_ARCH_I386, L_I386, L_ALLOW),
	[I_LD_NR] = LD(OFF_NR),
	[I_X32] = JMP(BPF_JGE, I_X32, X32_SYSCALL_BIT, L_X32_KEXEC_FILE, I_IS_IOCTL),
	[I_IS_IOCTL] = JMP(BPF_JEQ, I_IS_IOCTL, __NR_ioctl, L_IOCTL, I_IS_KEXEC_FILE),
	[I_IS_KEXEC_FILE] = JMP(BPF_JEQ, I_IS_KEXEC_FILE, __NR_kexec_file_load, L_NOTIFY,
				I_IS_KEXEC),
	/* Always trapped, whoever calls: a real kexec_load must never reach the host. */
	[I_IS_KEXEC] = JMP(BPF_JEQ, I_IS_KEXEC, __NR_kexec_load, L_NOTIFY, I_IS_REBOOT),
	[I_IS_REBOOT] = JMP(BPF_JEQ, I_IS_REBOOT, __NR_reboot, L_REBOOT, L_ALLOW),
	/*
	 * ioctl's cmd and reboot's cmd are unsigned ints in the kernel:
	 * compare the low 32 bits only, so garbage in the high half of the
	 * register cannot slip a trapped command past the filter.
	 */
	[L_IOCTL] = LD(OFF_ARG_LO(1)),
	[I_CMD_CREATE] = JMP(BPF_JEQ, I_CMD_CREATE, LIVEUPDATE_IOCTL_CREATE_SESSION,
			     L_NOTIFY, I_CMD_RETRIEVE),
	[I_CMD_RETRIEVE] = JMP(BPF_JEQ, I_CMD_RETRIEVE, LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
			       L_NOTIFY, I_CMD_RETRIEVE_FD),
	[I_CMD_RETRIEVE_FD] = JMP(BPF_JEQ, I_CMD_RETRIEVE_FD, LIVEUPDATE_SESSION_RETRIEVE_FD,
				  L_NOTIFY, L_ALLOW),
	[L_REBOOT] = LD(OFF_ARG_LO(2)),
	[I_CMD_KEXEC] = JMP(BPF_JEQ, I_CMD_KEXEC, LUOEMU_REBOOT_CMD_KEXEC, L_NOTIFY, L_ALLOW),
	/* int 0x80: kexec_load and reboot(KEXEC) refused (i386 has no kexec_file_load). */
	[L_I386] = LD(OFF_NR),
	[I_I386_KEXEC] = JMP(BPF_JEQ, I_I386_KEXEC, I386_NR_KEXEC_LOAD, L_REFUSE, I_I386_REBOOT),
	[I_I386_REBOOT] = JMP(BPF_JEQ, I_I386_REBOOT, I386_NR_REBOOT, L_COMPAT_REBOOT, L_ALLOW),
	/* x32 (nr already loaded): everything but its kexec calls is allowed. */
	[L_X32_KEXEC_FILE] = JMP(BPF_JEQ, L_X32_KEXEC_FILE, X32_NR_KEXEC_FILE, L_REFUSE,
				 I_X32_KEXEC),
	[I_X32_KEXEC] = JMP(BPF_JEQ, I_X32_KEXEC, X32_NR_KEXEC_LOAD, L_REFUSE, I_X32_REBOOT),
	[I_X32_REBOOT] = JMP(BPF_JEQ, I_X32_REBOOT, X32_NR_REBOOT, L_COMPAT_REBOOT, L_ALLOW),
	[L_COMPAT_REBOOT] = LD(OFF_ARG_LO(2)),
	[I_COMPAT_CMD_KEXEC] = JMP(BPF_JEQ, I_COMPAT_CMD_KEXEC, LUOEMU_REBOOT_CMD_KEXEC, L_REFUSE,
				   L_ALLOW),
	[L_REFUSE] = RET(SECCOMP_RET_ERRNO | ENOSYS),
	[L_NOTIFY] = RET(SECCOMP_RET_USER_NOTIF),
	[L_ALLOW] = RET(SECCOMP_RET_ALLOW),
};
/* clang-format on */

#endif /* __x86_64__ */

int luoemu_filter_install(void)
{
#ifdef __x86_64__
	struct sock_fprog prog = {
		.len = FILTER_LEN,
		.filter = (struct sock_filter *)luoemu_filter,
	};
	int fd, flags;

	/* Unprivileged filters need it; it also keeps setuid from escaping. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;

	/*
	 * WAIT_KILLABLE_RECV: once the courier has received a notification,
	 * only a fatal signal interrupts the call.  Without it a signal
	 * between NOTIF_ADDFD and NOTIF_SEND leaks the installed fd and
	 * (SA_RESTART) runs the call again.
	 */
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		     SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
		     &prog);
	if (fd < 0 && errno == EINVAL) {
		fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			     &prog);
		if (fd >= 0)
			fprintf(stderr, "luoemu: kernel before 5.19 (no WAIT_KILLABLE_RECV): "
					"a signal during a session hand-over can leak an fd "
					"and repeat the call\n");
	}
	if (fd < 0)
		return -errno;

	/* The kernel returns it O_CLOEXEC; make sure, as a leak hangs clients. */
	flags = fcntl(fd, F_GETFD);
	if (flags < 0 || (!(flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
#else
	return -EOPNOTSUPP; /* the program and the courier decode x86_64 only */
#endif
}
