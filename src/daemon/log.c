// SPDX-License-Identifier: LGPL-2.1-or-later
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "daemon/log.h"

/* Process-wide by nature (stderr is); guarded by one mutex. */
static struct {
	const char *ident;
	bool verbose;
	pthread_mutex_t lock;
	time_t window;
	unsigned int in_window, suppressed;
} logger = {.ident = "luoemud", .lock = PTHREAD_MUTEX_INITIALIZER};

#define REFUSALS_PER_SECOND 20

void log_setup(const char *ident, bool verbose)
{
	logger.ident = ident;
	logger.verbose = verbose;
}

static void vlog(int prio, const char *fmt, va_list ap)
{
	static const char *const level[] = {"emerg",   "alert",	 "crit", "error",
					    "warning", "notice", "info", "debug"};

	if (prio >= LOG_DEBUG && !logger.verbose)
		return;
	flockfile(stderr);
	fprintf(stderr, "<%d>%s: %s: ", prio & 7, logger.ident, level[prio & 7]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(prio, fmt, ap);
	va_end(ap);
}

void log_refusal(const char *fmt, ...)
{
	time_t now = time(NULL);
	unsigned int suppressed = 0;
	bool emit;
	va_list ap;

	pthread_mutex_lock(&logger.lock);
	if (now != logger.window) {
		suppressed = logger.suppressed;
		logger.window = now;
		logger.in_window = 0;
		logger.suppressed = 0;
	}
	emit = logger.in_window++ < REFUSALS_PER_SECOND;
	if (!emit)
		logger.suppressed++;
	pthread_mutex_unlock(&logger.lock);

	if (suppressed)
		log_msg(LOG_NOTICE, "%u refusal lines suppressed", suppressed);
	if (!emit)
		return;
	va_start(ap, fmt);
	vlog(LOG_NOTICE, fmt, ap);
	va_end(ap);
}

void log_sink(void *data, int prio, const char *msg)
{
	log_msg(prio, "%s", msg);
}
