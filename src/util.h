/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers shared by every layer: scope-bound cleanup, array sizes. */
#ifndef LUOEMU_UTIL_H
#define LUOEMU_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

/* Fill the caller's "why" buffer (if any) and return @err: one-line refusals. */
__attribute__((format(printf, 4, 5))) static inline int why_err(char *why, size_t why_len, int err,
								const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void freep(void *p)
{
	free(*(void **)p);
}

#define _cleanup_close_ __attribute__((cleanup(closep)))
#define _cleanup_free_	__attribute__((cleanup(freep)))

/* Hand an fd out of a _cleanup_close_ variable. */
static inline int take_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

static inline void *take_ptr(void *pp)
{
	void **p = pp;
	void *r = *p;
	*p = NULL;
	return r;
}
#define TAKE_PTR(p) take_ptr(&(p))
#define TAKE_FD(fd) take_fd(&(fd))

#endif
