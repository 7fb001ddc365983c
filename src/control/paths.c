// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/control.h"
#include "control/paths.h"

enum luoemu_scope luoemu_scope_default(void)
{
	return geteuid() == 0 ? LUOEMU_SCOPE_SYSTEM : LUOEMU_SCOPE_USER;
}

/* $XDG_RUNTIME_DIR is usable when it is an absolute path to our own 0700 directory. */
static bool xdg_runtime_dir_usable(const char *dir)
{
	struct stat st;

	return dir && dir[0] == '/' && stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_uid == geteuid() && (st.st_mode & 0077) == 0;
}

static int fill(char *buf, const char *rundir, const char *leaf)
{
	int n = snprintf(buf, PATH_MAX, "%s%s%s", rundir, leaf ? "/" : "", leaf ?: "");

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

int luoemu_paths_default(enum luoemu_scope scope, struct luoemu_paths *p)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char rundir[PATH_MAX];
	int r;

	memset(p, 0, sizeof(*p));
	p->scope = scope;
	if (scope == LUOEMU_SCOPE_SYSTEM) {
		snprintf(rundir, sizeof(rundir), "%s", LUOEMU_DEFAULT_RUNDIR);
	} else if (xdg_runtime_dir_usable(xdg)) {
		if (snprintf(rundir, sizeof(rundir), "%s/luoemu", xdg) >= (int)sizeof(rundir))
			return -ENAMETOOLONG;
	} else {
		p->fallback = true;
		snprintf(rundir, sizeof(rundir), "/tmp/luoemu-%u", (unsigned int)geteuid());
	}
	r = fill(p->rundir, rundir, NULL);
	if (r == 0)
		r = fill(p->control_socket, rundir, "control.sock");
	if (r == 0)
		r = fill(p->state_dir, rundir, "state");
	return r;
}

const char *luoemu_default_socket(void)
{
	static struct luoemu_paths paths;
	const char *env = getenv("LUOEMU_SOCKET");

	if (env && *env)
		return env;
	if (luoemu_paths_default(luoemu_scope_default(), &paths) < 0)
		return LUOEMU_DEFAULT_SOCKET;
	return paths.control_socket;
}
