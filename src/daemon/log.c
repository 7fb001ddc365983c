// SPDX-License-Identifier: LGPL-2.1-or-later
#include <fuse_log.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"

/* Process-wide by nature (stderr is); guarded by one mutex. */
static struct {
	const char *ident;
	bool verbose;
	bool journal; /* stderr is the journal: "<N>" level prefixes, no ident */
	pthread_mutex_t lock;
	time_t window;
	unsigned int in_window, suppressed;
} logger = {.ident = "luoemud", .lock = PTHREAD_MUTEX_INITIALIZER};

#define REFUSALS_PER_SECOND 20

/* systemd sets $JOURNAL_STREAM to "DEV:INO" of the stream it connected to stderr. */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       st.st_dev == dev && st.st_ino == ino;
}

/* libfuse's own messages (fuse_log()), through the same sink and levels. */
static void fuse_log_adapter(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	if (n)
		log_msg((int)level, "fuse: %s", msg);
}

void log_setup(const char *ident, bool verbose)
{
	logger.ident = ident;
	logger.verbose = verbose;
	logger.journal = stderr_is_journal();
	fuse_set_log_func(fuse_log_adapter);
}

static void vlog(int prio, const char *fmt, va_list ap)
{
	static const char *const level[] = {"emerg",   "alert",	 "crit", "error",
					    "warning", "notice", "info", "debug"};

	if (prio >= LOG_DEBUG && !logger.verbose)
		return;
	flockfile(stderr);
	if (logger.journal)
		fprintf(stderr, "<%d>", prio & 7); /* the journal knows who we are */
	else
		fprintf(stderr, "%s: %s: ", logger.ident, level[prio & 7]);
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
