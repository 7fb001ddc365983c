// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <linux/securebits.h>
#include <unistd.h>

#include "daemon/hardening.h"
#include "util.h"

#define LOCKED_SECBITS                                                                             \
	(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |                           \
	 SECBIT_NO_SETUID_FIXUP_LOCKED)

int hardening_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int nfd;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* The lowest free fd: this one, since 0..fd-1 are open by now. */
		nfd = open("/dev/null", O_RDWR | O_NOCTTY);
		if (nfd < 0)
			return -errno;
		if (nfd != fd) {
			int r = dup2(nfd, fd) < 0 ? -errno : 0;

			close(nfd);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

bool hardening_user_exists(const char *user)
{
	return user && getpwnam(user) != NULL;
}

bool hardening_is_dropped(void)
{
	int bits = prctl(PR_GET_SECUREBITS);

	return geteuid() != 0 && bits >= 0 && (bits & LOCKED_SECBITS) == LOCKED_SECBITS &&
	       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_SYS_PTRACE, 0, 0) == 1 &&
	       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0) == 1;
}

static void cap_freep(cap_t *c)
{
	if (*c)
		cap_free(*c);
}

static bool is_kept(cap_value_t c, const cap_value_t *keep, int nkeep)
{
	for (int i = 0; i < nkeep; i++)
		if (keep[i] == c)
			return true;
	return false;
}

/* Exactly @keep in P, E, I and the ambient set; nothing else anywhere. */
static int verify(const cap_value_t *keep, int nkeep, uid_t uid, gid_t gid, char *why,
		  size_t why_len)
{
	__attribute__((cleanup(cap_freep))) cap_t now = cap_get_proc();
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (!now)
		return why_err(why, why_len, -errno, "cap_get_proc: %m");
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
		cap_flag_value_t p, e, i;
		bool want = is_kept(c, keep, nkeep);
		int amb = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0);

		if (!CAP_IS_SUPPORTED(c))
			continue;
		if (cap_get_flag(now, c, CAP_PERMITTED, &p) < 0 ||
		    cap_get_flag(now, c, CAP_EFFECTIVE, &e) < 0 ||
		    cap_get_flag(now, c, CAP_INHERITABLE, &i) < 0)
			return why_err(why, why_len, -errno, "cap_get_flag: %m");
		if ((p == CAP_SET) != want || (e == CAP_SET) != want || (i == CAP_SET) != want ||
		    (amb == 1) != want || (!want && cap_get_bound(c) == 1))
			return why_err(why, why_len, -EPERM, "capability %d %s after the switch",
				       (int)c, want ? "missing" : "still held");
	}
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != uid ||
	    eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		return why_err(why, why_len, -EPERM, "uid/gid not fully switched");
	if ((prctl(PR_GET_SECUREBITS) & LOCKED_SECBITS) != LOCKED_SECBITS)
		return why_err(why, why_len, -EPERM, "securebits not locked");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return why_err(why, why_len, -EPERM, "no_new_privs not set");
	return 0;
}

int hardening_drop_to_user(const char *user, bool keep_chown, char *why, size_t why_len)
{
	/* With CAP_CHOWN a node becomes ours first: chmod then needs no CAP_FOWNER. */
	const cap_value_t keep[] = {CAP_SYS_PTRACE, CAP_KILL, CAP_CHOWN};
	const int nkeep = keep_chown ? 3 : 2;
	__attribute__((cleanup(cap_freep))) cap_t caps = NULL;
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return 0;
	errno = 0;
	pw = user ? getpwnam(user) : NULL;
	if (!pw)
		return why_err(why, why_len, errno ? -errno : -ENOENT, "no user '%s'",
			       user ?: "(null)");
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0)
		return why_err(why, why_len, -EINVAL, "user '%s' is root", user);
	/* Nothing but what we keep may come back at an execve(). */
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++)
		if (!is_kept(c, keep, nkeep) && CAP_IS_SUPPORTED(c) && cap_get_bound(c) == 1 &&
		    cap_drop_bound(c) < 0)
			return why_err(why, why_len, -errno,
				       "dropping capability %d from the bounding set: %m", (int)c);
	/* uid 0 is nobody special from now on, and setuid() keeps our capabilities. */
	if (prctl(PR_SET_SECUREBITS, LOCKED_SECBITS, 0, 0, 0) < 0)
		return why_err(why, why_len, -errno, "PR_SET_SECUREBITS: %m");
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return why_err(why, why_len, -errno, "switching to %s (%u:%u): %m", user,
			       (unsigned int)uid, (unsigned int)gid);
	caps = cap_init();
	if (!caps || cap_set_flag(caps, CAP_PERMITTED, nkeep, keep, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, nkeep, keep, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_INHERITABLE, nkeep, keep, CAP_SET) < 0 || cap_set_proc(caps) < 0)
		return why_err(why, why_len, -errno, "setting capabilities: %m");
	/* Ambient: what survives the execve() of an exec-mode handover. */
	for (int i = 0; i < nkeep; i++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, keep[i], 0, 0) < 0)
			return why_err(why, why_len, -errno, "raising ambient capability %d: %m",
				       (int)keep[i]);
	/* No execve() grants anything either (the ambient set is not a grant). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return why_err(why, why_len, -errno, "PR_SET_NO_NEW_PRIVS: %m");
	return verify(keep, nkeep, uid, gid, why, why_len);
}
