/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The service manager notification protocol (sd_notify(3)) without
 * libsystemd: one datagram of NEWLINE-separated assignments to the
 * AF_UNIX socket named by $NOTIFY_SOCKET ('@' = abstract namespace).
 */
#ifndef LUOEMU_DAEMON_NOTIFY_H
#define LUOEMU_DAEMON_NOTIFY_H

/* 0 when sent or when no manager listens ($NOTIFY_SOCKET unset), else -errno. */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
