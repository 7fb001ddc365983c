/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon context: the one place that owns state. */
#ifndef LUOEMU_DAEMON_H
#define LUOEMU_DAEMON_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "control/paths.h"
#include "frontend/frontend.h"
#include "daemon/handover.h"
#include "daemon/kexec-image.h"
#include "daemon/status.h"
#include "fault/fault.h"
#include "serialize/blob.h"
#include "state/luo.h"

struct control_server;

enum daemon_frontend {
	FRONTEND_CUSE, /* a character device: system mode, needs root and cuse.ko */
	FRONTEND_FUSE, /* a FUSE regular file: per-user mode, or containers without CUSE */
};

struct daemon_config {
	enum luoemu_scope scope; /* system (root) or per-user */
	enum daemon_frontend frontend;
	const char *rundir;	    /* fuse mount point and staging live here */
	bool rundir_fallback;	    /* per-user: $XDG_RUNTIME_DIR was unusable */
	const char *dev_name;	    /* "liveupdate" */
	const char *control_socket; /* LUOEMU_DEFAULT_SOCKET */
	const char *state_dir;	    /* on a tmpfs */
	mode_t dev_mode;	    /* 0600, the kernel's */
	gid_t dev_gid;		    /* (gid_t)-1: leave root */
	enum luo_compat compat;
	enum luo_pin pin;		  /* preserved memfds and the state directory */
	struct luo_quota quota;		  /* per uid; zero fields: the defaults */
	enum handover_mode handover_mode; /* default for `luoemu kexec` */
	bool verbose, debug_fuse;
	char **argv;	       /* to re-execute ourselves */
	const char *faults;    /* ';'-separated fault specs armed at start-up */
	const char *user_name; /* system mode runs as: NULL, "luoemu" if it exists */
};

/* A process started by `luoemu run`: killed at the emulated kexec. */
struct client {
	struct client *next;
	pid_t pid;
	uid_t uid; /* for the per-uid attach quota */
	int pidfd; /* the attaching peer's own (SO_PEERPIDFD): never a reused pid */
};

struct daemon {
	struct daemon_config cfg;
	pthread_mutex_t lock; /* over the model and everything below */
	struct luo_ctx *luo;
	struct luo_frontend fe;
	struct fuse_session *se;     /* the transport's libfuse session */
	struct fuse_transport *fuse; /* FUSE transport only */
	char dev_path[128];
	char fuse_dir[PATH_MAX];  /* FUSE: where the filesystem is mounted */
	char state_pin_note[512]; /* what the state directory is: pinned or why not */

	pid_t courier_pid;
	int courier_sock; /* forwards seccomp listeners */
	int control_fd;
	struct control_server *control; /* control-server.c */
	pthread_t control_thread, ready_thread;
	bool ready;	   /* the device node exists */
	uint64_t instance; /* random per start: tells the next daemon from us */

	struct client *clients; /* under lock */
	char self_exe[PATH_MAX];
	char **argv;
	struct luo_faults *faults;	   /* fault injection: thread-safe on its own */
	struct handover_progress progress; /* copy mode, for `status` */
	struct {
		bool pending; /* serialized: exec once the device is gone */
		char binary[PATH_MAX];
	} handover;
	struct kexec_image kexec_image; /* emulated kexec state, under lock */
};

int daemon_run(const struct daemon_config *cfg);

/* Control requests (control-server.c). */
int control_server_start(struct daemon *d);
void control_server_stop(struct daemon *d);

#endif
