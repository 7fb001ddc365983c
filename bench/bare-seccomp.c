// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The other yardstick: the least a seccomp user-notification round trip
 * costs.  A child traps ioctl(_IO(0xBA, 0x43)) with SECCOMP_RET_USER_NOTIF
 * and times N calls; its parent, the supervisor, answers each with
 * NOTIF_RECV + NOTIF_SEND (val 0), or with `--addfd`, NOTIF_RECV + one
 * ADDFD|SEND of an fd (what an fd-returning LUO call needs at least).
 *
 * Usage: bare-seccomp [--addfd] [N]
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "latency.h"

#define BARE_PING _IO(0xBA, 0x43)
#define WARMUP	  200
#define TIMEOUT_S 240

static int install_filter(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, BARE_PING, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
		       SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
		       &prog);
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	char byte = 0;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static int traced_child(int sock, long n, int addfd)
{
	double *lat = calloc(n, sizeof(*lat));
	uint32_t word = 0;
	int listener = install_filter();

	if (listener < 0 || !lat || send_fd(sock, listener) < 0) {
		fprintf(stderr, "bare-seccomp: seccomp listener: %s\n", strerror(errno));
		return 1;
	}
	close(listener);
	for (long i = 0; i < WARMUP + n; i++) {
		double t = now_us();
		int r = ioctl(-1, BARE_PING, &word);

		if (r < 0) {
			fprintf(stderr, "bare-seccomp: trapped ioctl: %m\n");
			return 1;
		}
		if (i >= WARMUP)
			lat[i - WARMUP] = now_us() - t;
		if (addfd)
			close(r);
	}
	latency_report(addfd ? "bare-seccomp-addfd" : "bare-seccomp", lat, n);
	return 0;
}

static int supervise(int listener, long calls, int addfd)
{
	struct seccomp_notif_sizes sizes;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0 || null < 0)
		return -errno;
	req = calloc(1, sizes.seccomp_notif);
	resp = calloc(1, sizes.seccomp_notif_resp);
	if (!req || !resp)
		return -ENOMEM;
	for (long i = 0; i < calls; i++) {
		memset(req, 0, sizes.seccomp_notif);
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
			return -errno;
		if (addfd) {
			struct seccomp_notif_addfd a = {
				.id = req->id, .flags = SECCOMP_ADDFD_FLAG_SEND, .srcfd = null};

			if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a) < 0)
				return -errno;
			continue;
		}
		memset(resp, 0, sizes.seccomp_notif_resp);
		resp->id = req->id;
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0)
			return -errno;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	int sv[2], listener, addfd = 0, status = 1, r;
	long n = 2000;
	pid_t pid;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--addfd") == 0)
			addfd = 1;
		else
			n = strtol(argv[i], NULL, 0);
	}
	if (n <= 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		fprintf(stderr, "usage: bare-seccomp [--addfd] [N]\n");
		return 2;
	}
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(traced_child(sv[1], n, addfd));
	}
	close(sv[1]);
	alarm(TIMEOUT_S);
	listener = pid > 0 ? recv_fd(sv[0]) : -1;
	r = listener < 0 ? -EPROTO : supervise(listener, WARMUP + n, addfd);
	if (r < 0)
		fprintf(stderr, "bare-seccomp: supervisor: %s\n", strerror(-r));
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		status = WEXITSTATUS(status);
	return r == 0 ? status : 1;
}
