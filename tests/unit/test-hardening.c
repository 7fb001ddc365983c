// SPDX-License-Identifier: LGPL-2.1-or-later
/* Start-up hardening: stdio on /dev/null; the switch to a dedicated user. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/hardening.h"
#include "util.h"

/* Run @fn in a child; its exit status (0: passed). */
static int in_child(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static bool is_dev_null(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = 0;
	return strcmp(target, "/dev/null") == 0;
}

static int stdio_closed(void)
{
	int fd;

	close(0);
	close(2);
	if (hardening_stdio() < 0)
		return 1;
	if (!is_dev_null(0) || !is_dev_null(2) || is_dev_null(1))
		return 2;
	/* The next file is never stderr. */
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	return fd > 2 ? 0 : 3;
}

START_TEST(test_stdio)
{
	ck_assert_int_eq(in_child(stdio_closed), 0);
}
END_TEST

/* The capability sets of /proc/self/status after an execve(), as "grep" prints them. */
static int drop_then_exec(void)
{
	char why[256] = "";
	int r;

	if (hardening_is_dropped()) /* root with every capability */
		return 9;
	r = hardening_drop_to_user("nobody", false, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "drop: %s\n", why);
		return 10;
	}
	/* What a re-executed daemon looks for to stay in system mode. */
	if (!hardening_is_dropped())
		return 16;
	if (getuid() != getpwnam("nobody")->pw_uid || geteuid() == 0)
		return 11;
	/* uid 0 can never come back, and no capability beyond the kept ones. */
	if (setuid(0) == 0 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_SYS_ADMIN, 0, 0) != 0)
		return 12;
	if (prctl(PR_SET_SECUREBITS, 0, 0, 0, 0) == 0)
		return 13;
	/* Ambient capabilities survive the execve() of an exec handover. */
	execl("/bin/sh", "sh", "-c",
	      "grep -q '^CapAmb:.*0000000000080020$' /proc/self/status && grep -q "
	      "'^CapEff:.*0000000000080020$' /proc/self/status && grep -q "
	      "'^NoNewPrivs:.*1$' /proc/self/status || "
	      "{ grep ^Cap /proc/self/status >&2; exit 14; }",
	      (char *)NULL);
	return 15;
}

START_TEST(test_drop_to_user)
{
	char why[128];

	if (geteuid() != 0 || !hardening_user_exists("nobody")) {
		/* Not root: nothing to switch, and nothing changes. */
		ck_assert_int_eq(hardening_drop_to_user("nobody", false, why, sizeof(why)), 0);
		return;
	}
	ck_assert_int_eq(in_child(drop_then_exec), 0);
}
END_TEST

/* A plain user process (a per-user daemon) is not a dropped system daemon. */
static int plain_user(void)
{
	struct passwd *pw = getpwnam("nobody");

	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return 20;
	return hardening_is_dropped() ? 21 : 0;
}

START_TEST(test_is_dropped)
{
	ck_assert(!hardening_is_dropped());
	if (geteuid() != 0 || !hardening_user_exists("nobody"))
		return;
	ck_assert_int_eq(in_child(plain_user), 0);
}
END_TEST

static int no_such_user(void)
{
	char why[128];

	return hardening_drop_to_user("no-such-user-luoemu", false, why, sizeof(why)) == -ENOENT
		       ? 0
		       : 1;
}

static int root_user(void)
{
	char why[128];

	return hardening_drop_to_user("root", false, why, sizeof(why)) == -EINVAL ? 0 : 1;
}

START_TEST(test_drop_refusals)
{
	if (geteuid() != 0)
		return;
	ck_assert_int_eq(in_child(no_such_user), 0);
	ck_assert_int_eq(in_child(root_user), 0);
	ck_assert(!hardening_user_exists("no-such-user-luoemu"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hardening");
	TCase *tc = tcase_create("start-up");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_stdio);
	tcase_add_test(tc, test_drop_to_user);
	tcase_add_test(tc, test_drop_refusals);
	tcase_add_test(tc, test_is_dropped);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
