// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "control/request.h"
#include "util.h"

int luoemu_request_split(char *buf, char **verb, char **args)
{
	char *sp;

	if (!buf)
		return -EINVAL;
	buf += strspn(buf, " ");
	if (!*buf)
		return -EINVAL;
	sp = strchr(buf, ' ');
	if (sp) {
		*sp++ = '\0';
		sp += strspn(sp, " ");
	}
	*verb = buf;
	*args = sp ?: buf + strlen(buf);
	return 0;
}

static int parse_mode(const char *s, enum luoemu_kexec_mode *ret)
{
	if (strcmp(s, "exec") == 0)
		*ret = LUOEMU_KEXEC_MODE_EXEC;
	else if (strcmp(s, "copy") == 0)
		*ret = LUOEMU_KEXEC_MODE_COPY;
	else
		return -EINVAL;
	return 0;
}

int luoemu_parse_kexec_args(char *args, struct luoemu_kexec_args *ret, char *why, size_t why_len)
{
	bool seen_mode = false;
	char *tok, *save = NULL;

	*ret = (struct luoemu_kexec_args){.mode = LUOEMU_KEXEC_MODE_DEFAULT};
	if (!args)
		return 0;
	for (tok = strtok_r(args, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (strncmp(tok, "mode=", 5) == 0) {
			if (seen_mode || parse_mode(tok + 5, &ret->mode) < 0)
				return why_err(why, why_len, -EINVAL,
					       "mode must be given once, exec or copy");
			seen_mode = true;
		} else if (strncmp(tok, "binary=", 7) == 0) {
			if (ret->binary || tok[7] != '/')
				return why_err(why, why_len, -EINVAL,
					       "binary= takes one absolute path");
			ret->binary = tok + 7;
		} else if (strcmp(tok, "keep-clients") == 0) {
			ret->keep_clients = true;
		} else if (strcmp(tok, "on-behalf") == 0) {
			ret->on_behalf = true;
		} else {
			return why_err(why, why_len, -EINVAL, "unknown kexec argument '%.64s'",
				       tok);
		}
	}
	return 0;
}

int luoemu_parse_attach_args(const char *args, pid_t *ret_pid, char *why, size_t why_len)
{
	unsigned long long v = 0;
	const char *p = args;

	*ret_pid = 0;
	if (!args || !*args)
		return 0;
	if (*p < '1' || *p > '9')
		return why_err(why, why_len, -EINVAL, "attach takes at most one pid");
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long long)(*p - '0');
		if (v > INT_MAX)
			return why_err(why, why_len, -EINVAL, "pid out of range");
	}
	if (*p)
		return why_err(why, why_len, -EINVAL, "attach takes at most one pid");
	*ret_pid = (pid_t)v;
	return 0;
}
