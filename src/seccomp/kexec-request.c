// SPDX-License-Identifier: LGPL-2.1-or-later
/* The kexec request datagram (kexec-request.h): key=value words, cmdline last. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seccomp/kexec-request.h"

int kexec_request_format(const struct kexec_request *r, char *buf, size_t size)
{
	const struct peer_creds *c = &r->creds;
	int n;

	if (r->op == KEXEC_OP_REBOOT)
		n = snprintf(buf, size, KEXEC_VERB_REBOOT " err=%d", r->err);
	else
		n = snprintf(buf, size, KEXEC_VERB_LOAD " call=%s target=%s op=%s err=%d drop=%d",
			     r->file ? "kexec_file_load" : "kexec_load",
			     r->crash ? "crash" : "normal",
			     r->op == KEXEC_OP_LOAD ? "load" : "unload", r->err, r->drop_crash);
	if (n < 0 || (size_t)n >= size)
		return -ENOBUFS;
	n += snprintf(buf + n, size - n, " pid=%d uid=%u euid=%u capeff=%" PRIx64 " userns=%d",
		      (int)r->pid, (unsigned int)c->uid, (unsigned int)c->euid, c->cap_eff,
		      c->same_userns);
	if ((size_t)n >= size)
		return -ENOBUFS;
	if (r->op == KEXEC_OP_REBOOT || !r->cmdline)
		return 0;
	n += snprintf(buf + n, size - n, " cmdline=%s", r->cmdline);
	return (size_t)n >= size ? -ENOBUFS : 0;
}

static int parse_ull(const char *s, int base, unsigned long long max, unsigned long long *ret)
{
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*ret = strtoull(s, &end, base);
	if (errno || *end || *ret > max)
		return -EINVAL;
	return 0;
}

/* One key=value word into @r; -EINVAL for anything unexpected. */
static int parse_word(const char *key, const char *val, struct kexec_request *r)
{
	unsigned long long v;

	if (!strcmp(key, "call")) {
		if (strcmp(val, "kexec_load") && strcmp(val, "kexec_file_load"))
			return -EINVAL;
		r->file = !strcmp(val, "kexec_file_load");
		return 0;
	}
	if (!strcmp(key, "target")) {
		if (strcmp(val, "normal") && strcmp(val, "crash"))
			return -EINVAL;
		r->crash = !strcmp(val, "crash");
		return 0;
	}
	if (!strcmp(key, "op")) {
		if (!strcmp(val, "load"))
			r->op = KEXEC_OP_LOAD;
		else if (!strcmp(val, "unload"))
			r->op = KEXEC_OP_UNLOAD;
		else
			return -EINVAL;
		return 0;
	}
	if (!strcmp(key, "capeff"))
		return parse_ull(val, 16, UINT64_MAX, (unsigned long long *)&r->creds.cap_eff);
	if (parse_ull(val, 10, UINT32_MAX, &v) < 0)
		return -EINVAL;
	if (!strcmp(key, "err") && v < 4096)
		r->err = (int)v;
	else if (!strcmp(key, "drop") && v <= 1)
		r->drop_crash = v;
	else if (!strcmp(key, "pid") && v > 0 && v <= INT32_MAX)
		r->pid = (pid_t)v;
	else if (!strcmp(key, "uid"))
		r->creds.uid = (uid_t)v;
	else if (!strcmp(key, "euid"))
		r->creds.euid = (uid_t)v;
	else if (!strcmp(key, "userns") && v <= 1)
		r->creds.same_userns = v;
	else
		return -EINVAL;
	return 0;
}

int kexec_request_parse(const char *verb, char *args, struct kexec_request *r)
{
	char *p = args ? args : (char *)"";
	bool reboot;

	*r = (struct kexec_request){.creds.uid = (uid_t)-1, .creds.euid = (uid_t)-1};
	if (!strcmp(verb, KEXEC_VERB_REBOOT))
		reboot = true;
	else if (!strcmp(verb, KEXEC_VERB_LOAD))
		reboot = false;
	else
		return -EINVAL;
	r->op = reboot ? KEXEC_OP_REBOOT : KEXEC_OP_LOAD;

	while (*p) {
		char *word = p, *eq;

		if (!reboot && !strncmp(word, "cmdline=", 8)) {
			r->cmdline = word + 8; /* the rest, spaces and all */
			break;
		}
		p += strcspn(p, " ");
		if (*p)
			*p++ = '\0';
		eq = strchr(word, '=');
		if (!eq)
			return -EINVAL;
		*eq = '\0';
		if (reboot &&
		    (!strcmp(word, "call") || !strcmp(word, "target") || !strcmp(word, "op")))
			return -EINVAL;
		if (parse_word(word, eq + 1, r) < 0)
			return -EINVAL;
	}
	if (!r->pid || r->creds.uid == (uid_t)-1 || r->creds.euid == (uid_t)-1)
		return -EINVAL;
	if (reboot)
		r->op = KEXEC_OP_REBOOT;
	return 0;
}
