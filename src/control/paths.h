/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where a daemon lives.  Two deployments, one layout: system mode (root,
 * /run/luoemu) and per-user mode ($XDG_RUNTIME_DIR/luoemu, or a private
 * /tmp/luoemu-UID fallback).  The CLI and the daemon both resolve their
 * defaults here, so `luoemu` finds the caller's own daemon without flags.
 */
#ifndef LUOEMU_PATHS_H
#define LUOEMU_PATHS_H

#include <limits.h>
#include <stdbool.h>

enum luoemu_scope {
	LUOEMU_SCOPE_SYSTEM,
	LUOEMU_SCOPE_USER,
};

struct luoemu_paths {
	enum luoemu_scope scope;
	bool fallback; /* per-user: $XDG_RUNTIME_DIR unusable, /tmp/luoemu-UID used */
	char rundir[PATH_MAX];
	char control_socket[PATH_MAX];
	char state_dir[PATH_MAX];
};

/* root: system mode; anybody else: per-user mode. */
enum luoemu_scope luoemu_scope_default(void);

/*
 * Fill @p with the default paths of @scope.  Pure: creates nothing.
 * Returns 0, or -ENAMETOOLONG.
 */
int luoemu_paths_default(enum luoemu_scope scope, struct luoemu_paths *p);

/*
 * The control socket a client should use: $LUOEMU_SOCKET when set, else
 * the default of luoemu_scope_default().  Never NULL.
 */
const char *luoemu_default_socket(void);

#endif
