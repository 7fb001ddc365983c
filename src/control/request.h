/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Parsers of control requests (control.h): pure string work, no I/O, so
 * the daemon, the unit tests and the fuzzer (fuzz/fuzz-control.c) share
 * them.  Each parser edits its buffer in place and, on -EINVAL, says why.
 */
#ifndef LUOEMU_CONTROL_REQUEST_H
#define LUOEMU_CONTROL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Split "VERB ARGS..." at the first space: *verb is never empty, *args is
 * the rest ("" when none).  Leading spaces are skipped.  -EINVAL: empty.
 */
int luoemu_request_split(char *buf, char **verb, char **args);

enum luoemu_kexec_mode {
	LUOEMU_KEXEC_MODE_DEFAULT, /* the daemon's --handover */
	LUOEMU_KEXEC_MODE_EXEC,
	LUOEMU_KEXEC_MODE_COPY,
};

struct luoemu_kexec_args {
	enum luoemu_kexec_mode mode; /* mode=exec|copy */
	const char *binary;	     /* binary=/ABSOLUTE/PATH, points into the buffer */
	bool keep_clients;	     /* keep-clients */
	bool on_behalf;		     /* on-behalf: the courier relays a trapped task,
					whose pidfd travels with the request */
};

/* "kexec" arguments, space separated, each at most once. */
int luoemu_parse_kexec_args(char *args, struct luoemu_kexec_args *ret, char *why, size_t why_len);

/*
 * "attach [PID]": *ret_pid is the pid the caller names (0 when none).
 * Strict decimal, 1..INT_MAX, nothing after it.
 */
int luoemu_parse_attach_args(const char *args, pid_t *ret_pid, char *why, size_t why_len);

#endif
