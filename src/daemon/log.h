/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Daemon logging: one line per event on stderr (journald adds the rest). */
#ifndef LUOEMU_DAEMON_LOG_H
#define LUOEMU_DAEMON_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_setup(const char *ident, bool verbose);
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Refusals from clients: rate-limited so a bad client cannot flood the log. */
void log_refusal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Adapter for struct luo_config.log. */
void log_sink(void *data, int prio, const char *msg);

#endif
