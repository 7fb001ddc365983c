/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the luoemu subcommands share: exit codes, the control socket they
 * talk to, and one request/reply helper that explains an unreachable daemon.
 */
#ifndef LUOEMU_CLI_CLI_H
#define LUOEMU_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes, documented in luoemu(1). */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,    /* the daemon refused, or the operation failed */
	EXIT_USAGE = 2,	    /* bad command line */
	EXIT_NO_DAEMON = 3, /* the control socket cannot be reached */
	EXIT_TIMEOUT = 4,   /* wait/kexec: the daemon was not ready in time */
};

struct cli {
	const char *socket; /* --socket > $LUOEMU_SOCKET > luoemu_default_socket() */
	bool socket_given;  /* --socket named it: never start a daemon for it */
	bool unreachable;   /* the last request found no daemon to connect to */
};

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(struct cli *cli, int argc, char **argv);
};

/*
 * Parse the options every subcommand shares (--socket, --help) plus its
 * own short/long options; see cmd-*.c.  Returns the option character like
 * getopt_long(), with 'h' and 's' handled here.
 */
#define CLI_COMMON_LONGOPTS                                                                        \
	{"help", no_argument, NULL, 'h'},                                                          \
	{                                                                                          \
		"socket", required_argument, NULL, 's'                                             \
	}

/* Exit code after a failed cli_request(): 3 when no daemon answered, else 1. */
int cli_exit_code(const struct cli *cli);

/*
 * Send @req on a fresh connection and parse the reply; *@text points into
 * @reply.  Errors are printed unless @quiet (with a hint on how to start a
 * daemon when none listens).  @timeout_ms > 0 bounds the wait for the reply.
 * Returns 0 or -errno; cli->unreachable tells a missing daemon from a refusal.
 */
int cli_request(struct cli *cli, const char *req, char *reply, size_t size, const char **text,
		bool quiet, int timeout_ms);

/* Print how to start a daemon for the socket the CLI uses. */
void cli_hint_no_daemon(const struct cli *cli, int err);

/* "key value" lines of a status reply. */
int cli_status_field(const char *text, const char *key, unsigned long long *ret);

long long cli_now_us(void);

/* Parse a timeout in seconds (may be fractional, > 0); returns 0 or -EINVAL. */
int cli_parse_seconds(const char *s, double *ret);

int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_wait(struct cli *cli, int argc, char **argv);
int cmd_kexec(struct cli *cli, int argc, char **argv);
int cmd_fault(struct cli *cli, int argc, char **argv);
int cmd_inspect(struct cli *cli, int argc, char **argv);

#endif
