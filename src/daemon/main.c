// SPDX-License-Identifier: LGPL-2.1-or-later
/* luoemud: command line. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/control.h"
#include "control/paths.h"
#include "daemon/daemon.h"
#include "daemon/hardening.h"
#include "daemon/log.h"
#include "fault/fault.h"
#include "util.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: luoemud [OPTIONS]\n"
		"Emulate the kernel's Live Update Orchestrator: serve /dev/liveupdate over "
		"CUSE.\n\n"
		"  -u, --user             per-user daemon (the default when not root): own user\n"
		"                         and mount namespaces, a private /dev/liveupdate over "
		"FUSE,\n"
		"                         state in $XDG_RUNTIME_DIR/luoemu\n"
		"      --system           system daemon (the default for root)\n"
		"      --user-name NAME   system daemon: run as NAME once /dev/cuse is open\n"
		"                         (default: " HARDENING_DEFAULT_USER
		" when that user exists; root: stay uid 0)\n"
		"  -F, --frontend KIND    cuse (system default) or fuse (per-user default; also\n"
		"                         for root where /dev/cuse is missing)\n"
		"  -n, --name NAME        device name under /dev (default: liveupdate)\n"
		"  -s, --socket PATH      control socket (default: RUNDIR/control.sock)\n"
		"  -S, --state-dir DIR    handover state, on a tmpfs (default: RUNDIR/state)\n"
		"      --rundir DIR       run directory (default: " LUOEMU_DEFAULT_RUNDIR " or\n"
		"                         $XDG_RUNTIME_DIR/luoemu)\n"
		"  -m, --mode MODE        device node mode, octal (default: 0600, the kernel's)\n"
		"  -g, --group GROUP      device node group\n"
		"  -c, --compat LEVEL     7.3 (default), 7.2 or 6.19 uAPI behaviour\n"
		"      --pin MODE         auto (default), on or off: lock preserved memfds in RAM\n"
		"                         and keep the state directory on a noswap tmpfs\n"
		"      --quota LIST       per-uid limits: sessions=N,files=N,bytes=N[KMGT]\n"
		"  -H, --handover MODE    exec (default, zero-copy) or copy, for `luoemu kexec`\n"
		"  -f, --fault SPEC       arm a fault point (repeatable; also $LUOEMU_FAULTS, "
		"';'-separated)\n"
		"  -v, --verbose          log every request\n"
		"      --debug-fuse       libfuse debug output\n"
		"  -h, --help             this text\n"
		"  -V, --version          print the version\n");
}

static int parse_mode(const char *s, mode_t *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *end || v > 07777)
		return -EINVAL;
	*ret = (mode_t)v;
	return 0;
}

/* "sessions=N,files=N,bytes=N[KMGT]": per-uid quotas (0 keeps the default). */
static int parse_quota(const char *spec, struct luo_quota *q)
{
	_cleanup_free_ char *copy = strdup(spec);
	char *tok, *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		unsigned long long v;

		if (!eq || !eq[1])
			return -EINVAL;
		*eq = '\0';
		errno = 0;
		v = strtoull(eq + 1, &end, 10);
		if (errno || end == eq + 1)
			return -EINVAL;
		if (strcmp(tok, "bytes") == 0) {
			const char *units = "KMGT";
			const char *u = *end ? strchr(units, *end) : NULL;

			if (*end && (!u || end[1]))
				return -EINVAL;
			for (int shift = u ? (int)(u - units) + 1 : 0; shift > 0; shift--) {
				if (v > (~0ULL >> 10))
					return -ERANGE;
				v <<= 10;
			}
			q->bytes = v;
		} else if (*end || v > ~0U) {
			return -EINVAL;
		} else if (strcmp(tok, "sessions") == 0) {
			q->sessions = (unsigned int)v;
		} else if (strcmp(tok, "files") == 0) {
			q->files = (unsigned int)v;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

/* Collect --fault options and $LUOEMU_FAULTS into one ';'-separated list. */
static int append_fault(char **list, const char *spec)
{
	char *n;

	if (asprintf(&n, "%s%s%s", *list ?: "", *list ? ";" : "", spec) < 0) {
		fprintf(stderr, "luoemud: out of memory\n");
		return -ENOMEM;
	}
	free(*list);
	*list = n;
	return 0;
}

static int check_faults(const char *faults)
{
	struct luo_faults *f;
	char why[256] = "";
	int r;

	r = luo_faults_new(&f);
	if (r == 0) {
		r = luo_faults_set_many(f, faults, why, sizeof(why));
		luo_faults_free(f);
	}
	if (r < 0)
		fprintf(stderr, "luoemud: bad --fault/$LUOEMU_FAULTS: %s\n",
			*why ? why : strerror(-r));
	return r;
}

int main(int argc, char *argv[])
{
	enum { OPT_SYSTEM = 0x100, OPT_RUNDIR, OPT_PIN, OPT_QUOTA, OPT_USER_NAME };
	static const struct option opts[] = {
		{"user", no_argument, NULL, 'u'},
		{"system", no_argument, NULL, OPT_SYSTEM},
		{"user-name", required_argument, NULL, OPT_USER_NAME},
		{"frontend", required_argument, NULL, 'F'},
		{"rundir", required_argument, NULL, OPT_RUNDIR},
		{"pin", required_argument, NULL, OPT_PIN},
		{"quota", required_argument, NULL, OPT_QUOTA},
		{"name", required_argument, NULL, 'n'},
		{"socket", required_argument, NULL, 's'},
		{"state-dir", required_argument, NULL, 'S'},
		{"mode", required_argument, NULL, 'm'},
		{"group", required_argument, NULL, 'g'},
		{"compat", required_argument, NULL, 'c'},
		{"handover", required_argument, NULL, 'H'},
		{"fault", required_argument, NULL, 'f'},
		{"verbose", no_argument, NULL, 'v'},
		{"debug-fuse", no_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{},
	};
	struct daemon_config cfg = {
		/* Re-executed by an exec handover as the dedicated user: still system. */
		.scope = hardening_is_dropped() ? LUOEMU_SCOPE_SYSTEM : luoemu_scope_default(),
		.dev_name = "liveupdate",
		.control_socket = getenv("LUOEMU_SOCKET"),
		.dev_mode = 0600,
		.dev_gid = (gid_t)-1,
		.compat = LUO_COMPAT_7_3,
		.handover_mode = HANDOVER_EXEC,
		.argv = argv,
	};
	_cleanup_free_ char *faults = NULL;
	struct luoemu_paths paths;
	const char *frontend = NULL;
	struct group *gr;
	int c;

	if (hardening_stdio() < 0) /* before any fd of ours: none may become stderr */
		return 2;
	if (getenv("LUOEMU_FAULTS") && append_fault(&faults, getenv("LUOEMU_FAULTS")) < 0)
		return 2;
	while ((c = getopt_long(argc, argv, "uF:n:s:S:m:g:c:H:f:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			cfg.scope = LUOEMU_SCOPE_USER;
			break;
		case OPT_SYSTEM:
			cfg.scope = LUOEMU_SCOPE_SYSTEM;
			break;
		case 'F':
			if (strcmp(optarg, "cuse") != 0 && strcmp(optarg, "fuse") != 0) {
				fprintf(stderr, "luoemud: frontend must be cuse or fuse\n");
				return 2;
			}
			frontend = optarg;
			break;
		case OPT_USER_NAME:
			if (strcmp(optarg, "root") != 0 && !hardening_user_exists(optarg)) {
				fprintf(stderr, "luoemud: unknown user '%s'\n", optarg);
				return 2;
			}
			cfg.user_name = optarg;
			break;
		case OPT_RUNDIR:
			cfg.rundir = optarg;
			break;
		case 'n':
			if (!*optarg || strchr(optarg, '/') || strlen(optarg) > 64) {
				fprintf(stderr, "luoemud: bad device name '%s'\n", optarg);
				return 2;
			}
			cfg.dev_name = optarg;
			break;
		case 's':
			cfg.control_socket = optarg;
			break;
		case 'S':
			cfg.state_dir = optarg;
			break;
		case 'm':
			if (parse_mode(optarg, &cfg.dev_mode) < 0) {
				fprintf(stderr, "luoemud: bad mode '%s' (octal, e.g. 0660)\n",
					optarg);
				return 2;
			}
			break;
		case 'g':
			gr = getgrnam(optarg);
			if (!gr) {
				fprintf(stderr, "luoemud: unknown group '%s'\n", optarg);
				return 2;
			}
			cfg.dev_gid = gr->gr_gid;
			break;
		case 'c':
			if (luo_compat_parse(optarg, &cfg.compat) < 0) {
				fprintf(stderr, "luoemud: compat level must be 7.3, 7.2 or 6.19\n");
				return 2;
			}
			break;
		case OPT_PIN:
			if (luo_pin_parse(optarg, &cfg.pin) < 0) {
				fprintf(stderr, "luoemud: --pin must be auto, on or off\n");
				return 2;
			}
			break;
		case OPT_QUOTA:
			if (parse_quota(optarg, &cfg.quota) < 0) {
				fprintf(stderr, "luoemud: --quota takes sessions=N, files=N or "
						"bytes=N[KMGT] "
						"(comma-separated)\n");
				return 2;
			}
			break;
		case 'H':
			if (handover_parse_mode(optarg, &cfg.handover_mode) < 0) {
				fprintf(stderr, "luoemud: handover mode must be exec or copy\n");
				return 2;
			}
			break;
		case 'f':
			if (append_fault(&faults, optarg) < 0)
				return 2;
			break;
		case 'v':
			cfg.verbose = true;
			break;
		case 'D':
			cfg.debug_fuse = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("luoemud %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	/* A bad --fault is a usage error (exit 2), caught before anything starts. */
	if (faults && check_faults(faults) < 0)
		return 2;
	if (cfg.scope == LUOEMU_SCOPE_SYSTEM && geteuid() != 0 && !hardening_is_dropped()) {
		fprintf(stderr,
			"luoemud: --system needs root (it serves /dev/%s for every user); "
			"as a normal user run a per-user daemon: luoemud --user, or just "
			"`luoemu run -- PROGRAM`\n",
			cfg.dev_name);
		return 2;
	}
	if (cfg.scope == LUOEMU_SCOPE_USER && frontend && strcmp(frontend, "cuse") == 0) {
		fprintf(stderr, "luoemud: a per-user daemon cannot use CUSE (it needs root); "
				"use --frontend fuse or run as root with --system\n");
		return 2;
	}
	if (cfg.user_name && cfg.scope == LUOEMU_SCOPE_USER) {
		fprintf(stderr, "luoemud: --user-name is for the system daemon (a per-user "
				"daemon runs as its user)\n");
		return 2;
	}
	if (luoemu_paths_default(cfg.scope, &paths) < 0) {
		fprintf(stderr, "luoemud: run directory path too long\n");
		return 2;
	}
	cfg.frontend = cfg.scope == LUOEMU_SCOPE_USER || (frontend && strcmp(frontend, "fuse") == 0)
			       ? FRONTEND_FUSE
			       : FRONTEND_CUSE;
	if (!cfg.rundir) {
		cfg.rundir = paths.rundir;
		cfg.rundir_fallback = paths.fallback;
	}
	if (!cfg.control_socket || !*cfg.control_socket)
		cfg.control_socket = paths.control_socket;
	if (!cfg.state_dir)
		cfg.state_dir = paths.state_dir;
	if (cfg.user_name && strcmp(cfg.user_name, "root") != 0 && cfg.frontend == FRONTEND_FUSE) {
		fprintf(stderr, "luoemud: --user-name needs the CUSE frontend (the FUSE "
				"frontend's mounts need root; use --user-name root)\n");
		return 2;
	}
	cfg.faults = faults;
	log_setup("luoemud", cfg.verbose);
	return daemon_run(&cfg) < 0 ? 1 : 0;
}
