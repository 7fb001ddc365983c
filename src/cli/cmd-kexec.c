// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * `luoemu kexec`: ask for an emulated live update, show the copy progress
 * while the old daemon serializes, then wait until the next daemon (another
 * instance id) is ready with the new live-update count.
 *
 * The request runs on its own thread and connection; the main thread polls
 * `status` on fresh connections for the daemon's handover_bytes_* counters
 * (answered only by a daemon that serves several connections at once; an
 * older one simply shows no progress).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "control/control.h"

struct kexec_call {
	struct cli cli; /* a copy: the thread's own unreachable flag */
	const char *req;
	char reply[LUOEMU_CONTROL_MAX];
	const char *text;
	int r;
	bool done; /* atomic */
};

static void *kexec_thread(void *data)
{
	struct kexec_call *k = data;

	k->r = cli_request(&k->cli, k->req, k->reply, sizeof(k->reply), &k->text, true, 0);
	__atomic_store_n(&k->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void kexec_usage(FILE *out)
{
	fprintf(out,
		"Usage: luoemu kexec [--mode exec|copy] [--binary PATH] [--keep-clients]\n"
		"                    [--timeout S] [--json] [--socket PATH]\n"
		"Perform an emulated live update; return when the next daemon is ready.\n\n"
		"  -m, --mode MODE    exec (zero-copy) or copy (default: the daemon's --handover)\n"
		"  -b, --binary PATH  re-execute PATH instead of the running luoemud\n"
		"  -k, --keep-clients do not kill the processes started by `luoemu run`\n"
		"  -t, --timeout S    give up waiting after S seconds (default 600): exit 4\n"
		"  -j, --json         print the result as one JSON object\n"
		"  -s, --socket PATH  control socket\n"
		"  -h, --help         this text\n");
}

static void human_bytes(char *buf, size_t size, unsigned long long n)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

/* One progress line on a terminal, rewritten in place. */
static void show_progress(struct cli *cli, bool *shown)
{
	char reply[LUOEMU_CONTROL_MAX], done_s[32], total_s[32];
	unsigned long long done, total;
	const char *text;

	if (cli_request(cli, "status", reply, sizeof(reply), &text, true, 300) < 0 ||
	    cli_status_field(text, "handover_bytes_done", &done) < 0 ||
	    cli_status_field(text, "handover_bytes_total", &total) < 0 || !total)
		return;
	human_bytes(done_s, sizeof(done_s), done);
	human_bytes(total_s, sizeof(total_s), total);
	fprintf(stderr, "\rluoemu kexec: copying %s of %s (%3llu%%)\033[K", done_s, total_s,
		done * 100 / total);
	*shown = true;
}

/* Bytes a copy-mode update writes: the sizes of every file, from `status`. */
static unsigned long long preserved_bytes(const char *text)
{
	unsigned long long sum = 0;

	for (const char *p = strstr(text, "\nfile "); p; p = strstr(p + 1, "\nfile ")) {
		const char *s = strstr(p, " size=");
		const char *eol = strchr(p + 1, '\n');

		if (s && (!eol || s < eol))
			sum += strtoull(s + 6, NULL, 10);
	}
	return sum;
}

static void mode_of(const char *status, const char *asked, char *buf, size_t size)
{
	const char *p = strstr(status, "\nhandover_mode ");

	if (asked)
		snprintf(buf, size, "%s", asked);
	else if (p)
		snprintf(buf, size, "%.*s", (int)strcspn(p + 15, "\n"), p + 15);
	else
		snprintf(buf, size, "exec");
}

/* The failure as a JSON object on stdout (with --json) and a line on stderr. */
static int fail(bool json, int code, int err, const char *detail)
{
	if (json) {
		printf("{\"result\":\"error\",\"errno\":%d,\"error\":", err);
		json_string(stdout, detail);
		printf("}\n");
	}
	fprintf(stderr, "luoemu kexec: %s\n", detail);
	return code;
}

int cmd_kexec(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"mode", required_argument, NULL, 'm'},
		{"binary", required_argument, NULL, 'b'},
		{"keep-clients", no_argument, NULL, 'k'},
		{"timeout", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		CLI_COMMON_LONGOPTS,
		{},
	};
	static struct kexec_call call;
	char req[PATH_MAX + 64] = "kexec", before[LUOEMU_CONTROL_MAX], reply[LUOEMU_CONTROL_MAX];
	char mode[16], bytes_s[32];
	const char *mode_arg = NULL, *binary = NULL, *text;
	unsigned long long want, old, instance = 0, count, ready, err, bytes = 0;
	bool keep = false, json = false, shown = false, tty = isatty(STDERR_FILENO);
	double timeout = 600;
	long long start, replied, deadline;
	pthread_t thread;
	int c, r;

	while ((c = getopt_long(argc, argv, "m:b:kt:js:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "exec") && strcmp(optarg, "copy")) {
				fprintf(stderr, "luoemu kexec: --mode must be exec or copy\n");
				return EXIT_USAGE;
			}
			mode_arg = optarg;
			break;
		case 'b':
			if (optarg[0] != '/') {
				fprintf(stderr, "luoemu kexec: --binary needs an absolute path\n");
				return EXIT_USAGE;
			}
			binary = optarg;
			break;
		case 'k':
			keep = true;
			break;
		case 't':
			if (cli_parse_seconds(optarg, &timeout) < 0) {
				fprintf(stderr, "luoemu kexec: bad timeout '%s' (seconds > 0)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			json = true;
			break;
		case 's':
			cli->socket = optarg;
			break;
		case 'h':
			kexec_usage(stdout);
			return EXIT_OK;
		default:
			kexec_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		kexec_usage(stderr);
		return EXIT_USAGE;
	}
	if (snprintf(req, sizeof(req), "kexec%s%s%s%s%s", mode_arg ? " mode=" : "", mode_arg ?: "",
		     binary ? " binary=" : "", binary ?: "",
		     keep ? " keep-clients" : "") >= (int)sizeof(req) ||
	    strchr(binary ?: "", ' ')) {
		fprintf(stderr, "luoemu kexec: --binary path too long or with blanks\n");
		return EXIT_USAGE;
	}

	r = cli_request(cli, "status", before, sizeof(before), &text, false, 0);
	if (r < 0)
		return json ? fail(json, cli_exit_code(cli), -r, strerror(-r)) : cli_exit_code(cli);
	mode_of(text, mode_arg, mode, sizeof(mode));
	if (strcmp(mode, "copy") == 0)
		bytes = preserved_bytes(text);

	start = cli_now_us();
	call = (struct kexec_call){.cli = *cli, .req = req};
	r = -pthread_create(&thread, NULL, kexec_thread, &call);
	if (r < 0)
		kexec_thread(&call);
	while (r == 0 && !__atomic_load_n(&call.done, __ATOMIC_ACQUIRE)) {
		if (tty && !json && strcmp(mode, "copy") == 0)
			show_progress(cli, &shown);
		usleep(200000);
	}
	if (r == 0)
		pthread_join(thread, NULL);
	replied = cli_now_us();
	if (shown)
		fputc('\n', stderr);
	if (call.r < 0) {
		snprintf(reply, sizeof(reply), "%s: %s%s%s",
			 call.cli.unreachable ? "cannot reach the daemon" : "refused",
			 strerror(-call.r), *call.text ? ": " : "", call.text);
		return fail(json, call.cli.unreachable ? EXIT_NO_DAEMON : EXIT_FAILED, -call.r,
			    reply);
	}
	if (cli_status_field(call.text, "liveupdate_count", &want) < 0 ||
	    cli_status_field(call.text, "instance", &old) < 0)
		return fail(json, EXIT_FAILED, EBADMSG, "unexpected reply from the daemon");

	deadline = start + (long long)(timeout * 1e6);
	for (;;) {
		if (cli_now_us() > deadline) {
			char why[128];

			snprintf(why, sizeof(why),
				 "the next daemon was not ready within %g s (--timeout)", timeout);
			return fail(json, EXIT_TIMEOUT, ETIMEDOUT, why);
		}
		usleep(10000);
		if (cli_request(cli, "status", reply, sizeof(reply), &text, true, 1000) < 0)
			continue;
		/* The next daemon is the one with another instance id. */
		if (cli_status_field(text, "instance", &instance) < 0 || instance == old ||
		    cli_status_field(text, "ready", &ready) < 0 || !ready)
			continue;
		if (cli_status_field(text, "incoming_error", &err) == 0 && err)
			return fail(json, EXIT_FAILED, (int)err,
				    "the new daemon could not load the handover: every open "
				    "fails with EIO (its log says why)");
		if (cli_status_field(text, "liveupdate_count", &count) == 0 && count == want)
			break;
	}
	if (json) {
		printf("{\"result\":\"ok\",\"liveupdate_count\":%llu,\"mode\":", want);
		json_string(stdout, mode);
		printf(",\"old_instance\":\"%llu\",\"new_instance\":\"%llu\","
		       "\"bytes_copied\":%llu,\"timings_ms\":{\"handover\":%.1f,"
		       "\"restart\":%.1f,\"total\":%.1f}}\n",
		       old, instance, strcmp(mode, "copy") == 0 ? bytes : 0ull,
		       (replied - start) / 1000.0, (cli_now_us() - replied) / 1000.0,
		       (cli_now_us() - start) / 1000.0);
	} else if (strcmp(mode, "copy") == 0) {
		human_bytes(bytes_s, sizeof(bytes_s), bytes);
		printf("live update #%llu complete (copy mode): %s copied in %.1f s; the new "
		       "daemon was ready %.1f s after the request\n",
		       want, bytes_s, (replied - start) / 1e6, (cli_now_us() - start) / 1e6);
	} else {
		printf("live update #%llu complete (exec mode): the new daemon is ready after "
		       "%.1f ms\n",
		       want, (cli_now_us() - start) / 1000.0);
	}
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
}
