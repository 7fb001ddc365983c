// SPDX-License-Identifier: LGPL-2.1-or-later
/* peer.c against real processes: threads, forked children, their memory. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer/peer.h"
#include "util.h"

/* A second thread that reports its tid and waits until told to leave. */
struct side_thread {
	pthread_t th;
	pid_t tid;
	int go[2];   /* thread → main: tid is ready */
	int stop[2]; /* main → thread: leave */
};

static void *side_main(void *p)
{
	struct side_thread *st = p;
	char c = 0;

	prctl(PR_SET_NAME, "peer-side");
	st->tid = gettid();
	ck_assert_int_eq(write(st->go[1], &c, 1), 1);
	ck_assert_int_eq(read(st->stop[0], &c, 1), 1);
	return NULL;
}

static void side_start(struct side_thread *st)
{
	char c;

	ck_assert_int_eq(pipe2(st->go, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(st->stop, O_CLOEXEC), 0);
	ck_assert_int_eq(pthread_create(&st->th, NULL, side_main, st), 0);
	ck_assert_int_eq(read(st->go[0], &c, 1), 1);
	ck_assert_int_ne(st->tid, getpid());
}

static void side_stop(struct side_thread *st)
{
	char c = 0;

	ck_assert_int_eq(write(st->stop[1], &c, 1), 1);
	ck_assert_int_eq(pthread_join(st->th, NULL), 0);
	for (int i = 0; i < 2; i++) {
		close(st->go[i]);
		close(st->stop[i]);
	}
}

/*
 * A forked child that sets things up, sends one message back and waits
 * for the parent to finish looking at it.
 */
struct child {
	pid_t pid;
	int msg;  /* child → parent */
	int stop; /* parent → child */
};

struct child_msg {
	int fd;
	int opath_fd;
	uint64_t addr; /* two RW pages, then an unmapped one, then a read-only one */
	size_t pagesz;
};

static const char child_pattern[] = "written by the child after fork";

static void child_body(int msg, int stop)
{
	struct child_msg m = {0};
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *p;
	char c;

	prctl(PR_SET_NAME, "peer-child");
	m.pagesz = ps;
	m.fd = memfd_create("peer-test", MFD_CLOEXEC);
	if (m.fd < 0 || write(m.fd, "memfd data", 10) != 10)
		_exit(2);
	m.opath_fd = open("/", O_PATH | O_CLOEXEC);
	p = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(2);
	munmap(p + 2 * ps, ps);
	memcpy(p + 2 * ps - sizeof(child_pattern), child_pattern, sizeof(child_pattern));
	memcpy(p + 3 * ps, child_pattern, sizeof(child_pattern));
	mprotect(p + 3 * ps, ps, PROT_READ);
	m.addr = (uintptr_t)p;
	if (write(msg, &m, sizeof(m)) != sizeof(m))
		_exit(2);
	if (read(stop, &c, 1) != 1)
		_exit(2);
	/* 3: the parent wrote into our page 0; the test that writes expects it. */
	_exit(memcmp(p, "PARENT", 6) == 0 ? 3 : 0);
}

static void child_start(struct child *ch, struct child_msg *m)
{
	int a[2], b[2];

	ck_assert_int_eq(pipe2(a, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(b, O_CLOEXEC), 0);
	ch->pid = fork();
	ck_assert_int_ge(ch->pid, 0);
	if (ch->pid == 0) {
		close(a[0]);
		close(b[1]);
		child_body(a[1], b[0]);
	}
	close(a[1]);
	close(b[0]);
	ch->msg = a[0];
	ch->stop = b[1];
	ck_assert_int_eq(read(ch->msg, m, sizeof(*m)), sizeof(*m));
}

/* Let the child go; returns its exit status. */
static int child_stop(struct child *ch)
{
	char c = 0;
	int status;

	ck_assert_int_eq(write(ch->stop, &c, 1), 1);
	ck_assert_int_eq(waitpid(ch->pid, &status, 0), ch->pid);
	close(ch->msg);
	close(ch->stop);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A pid that certainly belonged to a process which is gone (and reaped). */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return pid;
}

/* The Pid: line of a pidfd's fdinfo: which process it refers to. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], buf[1024];
	_cleanup_close_ int fd = -1;
	const char *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	p = strstr(buf, "Pid:");
	ck_assert_ptr_nonnull(p);
	return (pid_t)atoi(p + 4);
}

START_TEST(test_tgid_of_leader)
{
	pid_t tgid = 0;

	ck_assert_int_eq(peer_tgid(getpid(), &tgid), 0);
	ck_assert_int_eq(tgid, getpid());
}
END_TEST

START_TEST(test_tgid_of_second_thread)
{
	struct side_thread st;
	pid_t tgid = 0;

	side_start(&st);
	ck_assert_int_eq(peer_tgid(st.tid, &tgid), 0);
	ck_assert_int_eq(tgid, getpid());
	side_stop(&st);
}
END_TEST

START_TEST(test_tgid_gone)
{
	pid_t tgid = 0;

	ck_assert_int_eq(peer_tgid(dead_pid(), &tgid), -ESRCH);
	ck_assert_int_eq(peer_tgid(0, &tgid), -ESRCH);
	ck_assert_int_eq(peer_tgid(-5, &tgid), -ESRCH);
}
END_TEST

START_TEST(test_pidfd_open_leader)
{
	_cleanup_close_ int pidfd = peer_pidfd_open(getpid());

	ck_assert_int_ge(pidfd, 0);
	ck_assert_int_eq(pidfd_pid(pidfd), getpid());
}
END_TEST

START_TEST(test_pidfd_open_non_leader)
{
	struct side_thread st;
	int pidfd;

	side_start(&st);
	/* Plain pidfd_open() refuses a non-leader tid; peer maps it to the tgid. */
	pidfd = peer_pidfd_open(st.tid);
	ck_assert_int_ge(pidfd, 0);
	ck_assert_int_eq(pidfd_pid(pidfd), getpid());
	close(pidfd);
	side_stop(&st);
}
END_TEST

START_TEST(test_pidfd_open_gone)
{
	ck_assert_int_eq(peer_pidfd_open(dead_pid()), -ESRCH);
}
END_TEST

START_TEST(test_getfd_memfd_of_child)
{
	struct child ch;
	struct child_msg m;
	_cleanup_close_ int pidfd = -1;
	_cleanup_close_ int fd = -1;
	char buf[16] = {0};
	int fdfl;

	child_start(&ch, &m);
	pidfd = peer_pidfd_open(ch.pid);
	ck_assert_int_ge(pidfd, 0);
	fd = peer_getfd(pidfd, m.fd);
	ck_assert_int_ge(fd, 0);
	/* The same open file: the child's offset is ours too. */
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 10);
	ck_assert_int_eq(pread(fd, buf, 10, 0), 10);
	ck_assert_str_eq(buf, "memfd data");
	fdfl = fcntl(fd, F_GETFD);
	ck_assert_int_ne(fdfl & FD_CLOEXEC, 0);

	ck_assert_int_eq(peer_getfd(pidfd, 987), -EBADF);
	ck_assert_int_eq(peer_getfd(pidfd, -1), -EBADF);
	/* pidfd_getfd() takes O_PATH fds too: refusing them is the core's job. */
	if (m.opath_fd >= 0) {
		int o = peer_getfd(pidfd, m.opath_fd);

		ck_assert_int_ge(o, 0);
		ck_assert_int_ne(fcntl(o, F_GETFL) & O_PATH, 0);
		close(o);
	}
	ck_assert_int_eq(peer_getfd(-1, m.fd), -EBADF);
	ck_assert_int_eq(child_stop(&ch), 0);
}
END_TEST

START_TEST(test_read_write_child_memory)
{
	struct child ch;
	struct child_msg m;
	char buf[sizeof(child_pattern)];
	uint64_t end_rw;
	size_t ps;

	child_start(&ch, &m);
	ps = m.pagesz;
	end_rw = m.addr + 2 * ps;

	/* The child's bytes, not our copy of the pre-fork mapping. */
	ck_assert_int_eq(peer_read(ch.pid, end_rw - sizeof(buf), buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, child_pattern);
	ck_assert_int_eq(peer_read(ch.pid, m.addr + 3 * ps, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, child_pattern);

	/* Crossing into the unmapped page: a short transfer is -EFAULT. */
	ck_assert_int_eq(peer_read(ch.pid, end_rw - 8, buf, 16), -EFAULT);
	ck_assert_int_eq(peer_read(ch.pid, end_rw, buf, 1), -EFAULT);
	ck_assert_int_eq(peer_write(ch.pid, end_rw - 8, buf, 16), -EFAULT);
	/* The read-only page. */
	ck_assert_int_eq(peer_write(ch.pid, m.addr + 3 * ps, "x", 1), -EFAULT);
	ck_assert_int_eq(peer_write(ch.pid, m.addr + 3 * ps - 4, "12345678", 8), -EFAULT);
	/* Wrapping ranges. */
	ck_assert_int_eq(peer_read(ch.pid, UINT64_MAX - 2, buf, 8), -EFAULT);
	ck_assert_int_eq(peer_write(ch.pid, UINT64_MAX - 2, buf, 8), -EFAULT);

	/* Zero length touches nothing, wherever it points. */
	ck_assert_int_eq(peer_read(ch.pid, end_rw, buf, 0), 0);
	ck_assert_int_eq(peer_write(ch.pid, 0, buf, 0), 0);

	/* A write lands in the child: it sees it and exits 3. */
	ck_assert_int_eq(peer_write(ch.pid, m.addr, "PARENT", 6), 0);
	ck_assert_int_eq(peer_read(ch.pid, m.addr, buf, 6), 0);
	ck_assert_int_eq(memcmp(buf, "PARENT", 6), 0);
	ck_assert_int_eq(child_stop(&ch), 3);
}
END_TEST

START_TEST(test_read_via_non_leader_tid)
{
	struct side_thread st;
	static const char here[] = "memory of this process";
	char buf[sizeof(here)];

	side_start(&st);
	/* process_vm_* accepts a tid (session-fds.md §4.5). */
	ck_assert_int_eq(peer_read(st.tid, (uintptr_t)here, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, here);
	side_stop(&st);
}
END_TEST

START_TEST(test_read_gone)
{
	char buf[4];

	ck_assert_int_eq(peer_read(dead_pid(), (uintptr_t)buf, buf, sizeof(buf)), -ESRCH);
}
END_TEST

START_TEST(test_comm)
{
	struct side_thread st;
	struct child ch;
	struct child_msg m;
	char buf[32];

	side_start(&st);
	peer_comm(st.tid, buf, sizeof(buf));
	ck_assert_str_eq(buf, "peer-side");
	/* Truncated, still terminated. */
	peer_comm(st.tid, buf, 5);
	ck_assert_str_eq(buf, "peer");
	side_stop(&st);

	child_start(&ch, &m);
	peer_comm(ch.pid, buf, sizeof(buf));
	ck_assert_str_eq(buf, "peer-child");
	child_stop(&ch);

	peer_comm(dead_pid(), buf, sizeof(buf));
	ck_assert_str_eq(buf, "?");
	/* Size 0: nothing written. */
	buf[0] = 'z';
	peer_comm(getpid(), buf, 0);
	ck_assert_int_eq(buf[0], 'z');
}
END_TEST

static Suite *peer_suite(void)
{
	Suite *s = suite_create("peer");
	TCase *tc = tcase_create("peer");

	tcase_add_test(tc, test_tgid_of_leader);
	tcase_add_test(tc, test_tgid_of_second_thread);
	tcase_add_test(tc, test_tgid_gone);
	tcase_add_test(tc, test_pidfd_open_leader);
	tcase_add_test(tc, test_pidfd_open_non_leader);
	tcase_add_test(tc, test_pidfd_open_gone);
	tcase_add_test(tc, test_getfd_memfd_of_child);
	tcase_add_test(tc, test_read_write_child_memory);
	tcase_add_test(tc, test_read_via_non_leader_tid);
	tcase_add_test(tc, test_read_gone);
	tcase_add_test(tc, test_comm);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(peer_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
