// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stddef.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "daemon/caps.h"
#include "daemon/log.h"
#include "util.h"

static void cap_freep(cap_t *c)
{
	if (*c)
		cap_free(*c);
}

int caps_drop_to_minimum(bool keep_chown, bool keep_mount)
{
	cap_value_t keep[4] = {CAP_SYS_PTRACE, CAP_KILL};
	int nkeep = 2;
	__attribute__((cleanup(cap_freep))) cap_t caps = NULL;

	if (keep_chown)
		keep[nkeep++] = CAP_CHOWN;
	/* The FUSE frontend mounts its filesystem again after an exec handover. */
	if (keep_mount)
		keep[nkeep++] = CAP_SYS_ADMIN;
	if (geteuid() != 0) {
		log_msg(LOG_INFO, "not running as root: capabilities left as they are");
		return 0;
	}
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
		bool kept = false;

		for (int i = 0; i < nkeep; i++)
			kept |= keep[i] == c;
		/* A re-executed daemon lacks CAP_SETPCAP: drop only what is still there. */
		if (!kept && CAP_IS_SUPPORTED(c) && cap_get_bound(c) == 1 && cap_drop_bound(c) < 0)
			return -errno;
	}
	caps = cap_init();
	if (!caps)
		return -errno;
	if (cap_set_flag(caps, CAP_PERMITTED, nkeep, keep, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, nkeep, keep, CAP_SET) < 0)
		return -errno;
	if (cap_set_proc(caps) < 0)
		return -errno;
	return 0;
}
