# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# lib.sh: helpers shared by the integration suites (run-integ.sh,
# run-update.sh, run-faults.sh), sourced by each of them right after
# "set -u".  One test body, several transports: LUOEMU_FRONTEND selects
# how the daemon is started and how its node is reached:
#   cuse  (default) system daemon, a CUSE character device /dev/NAME seen by
#         every process (root, /dev/cuse)
#   fuse  per-user daemon (luoemud --user --rundir DIR): its own user and
#         mount namespaces, where /dev/NAME is a FUSE regular file; outside
#         them the node exists only as /proc/PID/root/dev/NAME, and programs
#         reach it under "luoemu run" or, unsupervised, through nsenter
#         (in_ns).  Needs /dev/fuse and unprivileged user namespaces; runs
#         as an ordinary user.
# It defines functions (and sets $luo_frontend); the sourcing script sets what
# they use:
#   n passed failed  the check counters (start at 0)
#   name dev sock    the daemon's device name, its /dev node and control socket
#   tmp              the suite's temporary directory
#   daemon_pid       the running daemon (empty when none)
#   t_start          optional: an $EPOCHREALTIME value; summary then says
#                    how long the suite took
# and, for the daemon and stage helpers (run-update.sh, run-faults.sh):
#   state            the daemon's state directory
#   stage_timeout    bound for one stage, seconds
#   logs             a counter that numbers the log files in $tmp
#   start_gone_secs  optional: start_daemon first waits this long for the
#                    previous daemon's $dev to go away (a failure if not)
#   stop_gone_secs   optional: stop_daemon then waits this long for $dev to
#                    go away (a failure if not)
# The programs come from the environment: LUOEMUD, LUOEMU, LUO_UPDATE.
# The helpers set, for the suite to read: daemon_cmd (daemon_argv), ns_cmd
# (ns_argv), daemon_ns (start_daemon: the daemon's user namespace),
# daemon_log (start_daemon),
# stage_pid and stage_log (stage_bg), envs and cmd (split_env).
# cleanup() is the suite's EXIT trap: it first calls the suite's own
# cleanup_local (its background work), then ends the daemon.
#
# shellcheck disable=SC2154  # the variables above are set by the suite
# shellcheck disable=SC2034  # ... and those set here are read by it
# shellcheck disable=SC2317  # predicates are called indirectly (wait_for, trap)

# ---------------------------------------------------------------- preflight

luo_frontend=${LUOEMU_FRONTEND:-cuse}
export LUOEMU_FRONTEND=$luo_frontend # luo-client adapts its expectations to it

# need VAR...: exit 2 unless each VAR names an executable and the frontend
# is known; 77 (with the reason) when the host cannot run the frontend
need() {
	local var
	for var in "$@"; do
		if [ -z "${!var:-}" ] || [ ! -x "${!var}" ]; then
			echo "${0##*/}: set $var to an executable (got '${!var:-}')" >&2
			exit 2
		fi
	done
	case $luo_frontend in
	cuse)
		if [ ! -c /dev/cuse ] || [ ! -w /dev/cuse ]; then
			echo "SKIP: /dev/cuse missing or not writable (modprobe cuse; run as root)"
			exit 77
		fi
		;;
	fuse)
		if [ ! -c /dev/fuse ] || [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
			echo "SKIP: /dev/fuse missing or not read-writable by uid $(id -u) (modprobe fuse; chmod 0666 /dev/fuse, as distributions ship it)"
			exit 77
		fi
		if ! unshare -Ur true 2>/dev/null; then
			echo "SKIP: cannot create an unprivileged user namespace (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone, or AppArmor's kernel.apparmor_restrict_unprivileged_userns)"
			exit 77
		fi
		;;
	*)
		echo "${0##*/}: LUOEMU_FRONTEND must be cuse or fuse (got '$luo_frontend')" >&2
		exit 2
		;;
	esac
}

# ---------------------------------------------------------------- reporting

report() { # report OK|FAIL WHAT [WHY]
	n=$((n + 1))
	if [ "$1" = OK ]; then
		passed=$((passed + 1))
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2${3:+: $3}"
	fi
}

show_log() { # show_log FILE: indent a log as TAP comments
	[ -s "$1" ] && sed 's/^/#   /' "$1"
	return 0
}

# summary: the "N passed, M failed" line (after the time taken, if $t_start
# is set); exits 0 if nothing failed, else 1
summary() {
	[ -z "${t_start:-}" ] || echo "# ${0##*/} took $(elapsed "$t_start") s"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}

# ---------------------------------------------------------------- waiting

# wait_for SECS CMD...: poll CMD every 0.1 s until it succeeds or SECS pass
wait_for() {
	local tries=$(($1 * 10))
	shift
	while [ "$tries" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	"$@"
}

alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }
gone() { [ ! -e "$1" ]; }
exists() { [ -e "$1" ]; }
is_char() { [ -c "$1" ]; }
is_socket() { [ -S "$1" ]; }

# elapsed START: seconds since START (an $EPOCHREALTIME value), 0.1 s resolution
elapsed() {
	local now=${EPOCHREALTIME/[.,]/} start=${1/[.,]/} d
	d=$(((now - start) / 100000))
	echo "$((d / 10)).$((d % 10))"
}

# stop_pid PID: TERM, then KILL, bounded; reaps it
stop_pid() {
	[ -n "$1" ] || return 0
	if alive "$1"; then
		kill -TERM "$1" 2>/dev/null
		wait_for 5 dead "$1" || kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
	return 0
}

# cleanup: the EXIT trap: the suite's cleanup_local, then the daemon (SIGTERM,
# then SIGKILL, then, for CUSE, its abort knob), the mounts under $tmp, then
# $tmp unless LUOEMU_KEEP=1
cleanup() {
	cleanup_local
	if [ -n "$daemon_pid" ] && alive "$daemon_pid"; then
		kill -TERM "$daemon_pid" 2>/dev/null
		wait_for 3 dead "$daemon_pid" || kill -KILL "$daemon_pid" 2>/dev/null
		# A daemon stuck on its own device needs the CUSE abort knob.
		[ "$luo_frontend" != cuse ] || wait_for 2 dead "$daemon_pid" ||
			echo 1 >"/sys/class/cuse/$name/abort" 2>/dev/null
	fi
	unmount_under "$tmp"
	if [ "${LUOEMU_KEEP:-0}" = 1 ]; then
		echo "# logs kept in $tmp"
	else
		rm -rf "$tmp"
	fi
}

# unmount_under DIR: unmount what is mounted below DIR, deepest first: a
# system daemon pins its state directory on a tmpfs of its own, which
# outlives it by design (a restarted daemon finds the blob there)
unmount_under() {
	local mnt
	awk -v d="$1/" 'substr($2, 1, length(d)) == d { print $2 }' /proc/self/mounts |
		sort -r | while read -r mnt; do
		umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null ||
			echo "# cannot unmount $mnt"
	done
}

# ---------------------------------------------------------------- launcher

# split_env VAR=VALUE... -- CMD...: sets envs=() and cmd=()
split_env() {
	envs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	cmd=("$@")
}

# supervise SECS [VAR=VALUE...] -- CMD...: CMD under "luoemu run" on $dev
# (emulated), bounded by SECS
supervise() {
	local secs=$1 envs cmd
	shift
	split_env "$@"
	timeout -k 5 "$secs" env LUOEMU_DEVICE="$dev" LUOEMU_EMULATED=1 "${envs[@]}" \
		"$LUOEMU" run --socket "$sock" -- "${cmd[@]}"
}

# ---------------------------------------------------------------- daemon

# daemon_argv NAME SOCK STATE: sets daemon_cmd, the command line of a daemon
# of $luo_frontend named NAME (/dev/NAME) with control socket SOCK and state
# directory STATE; a per-user daemon gets its own run directory in $tmp
daemon_argv() {
	daemon_cmd=("$LUOEMUD" --name "$1" --socket "$2" --state-dir "$3")
	if [ "$luo_frontend" = fuse ]; then
		[ -d "$tmp/run-$1" ] || mkdir -m 0700 "$tmp/run-$1"
		daemon_cmd+=(--user --rundir "$tmp/run-$1")
	fi
}

# node PID DEV: the path of DEV as served by the daemon PID, from here: the
# host's /dev for CUSE, the daemon's private /dev (through /proc) for FUSE
node() {
	if [ "$luo_frontend" = fuse ]; then
		echo "/proc/$1/root$2"
	else
		echo "$2"
	fi
}

# node_up PID DEV: the daemon PID serves DEV: a character device (CUSE) or a
# regular file in its private /dev (FUSE)
node_up() {
	local path
	path=$(node "$1" "$2")
	if [ "$luo_frontend" = fuse ]; then
		[ -f "$path" ] && [ ! -e "$2" ]
	else
		[ -c "$path" ]
	fi
}

# user_ns PID: the user namespace of PID (empty when it is gone)
user_ns() { readlink "/proc/$1/ns/user" 2>/dev/null; }

# ns_unused NS: no process (that we can see) is left in user namespace NS
ns_unused() {
	local link
	for link in /proc/[0-9]*/ns/user; do
		[ "$(readlink "$link" 2>/dev/null)" != "$1" ] || return 1
	done
	return 0
}

# node_gone DEV NS: DEV of a daemon that exited is gone: the CUSE device is
# removed (CUSE); the namespaces holding the private /dev/NAME and the FUSE
# mount are gone, no process is left in them (FUSE; NS from user_ns)
node_gone() {
	if [ "$luo_frontend" = fuse ]; then
		[ -z "$2" ] || ns_unused "$2" # no NS: there was no daemon
	else
		gone "$1"
	fi
}

# ns_argv PID: sets ns_cmd, the prefix that runs a command unsupervised where
# it sees the node of the daemon PID: nothing (CUSE), or nsenter into the
# daemon's user and mount namespaces with our own uid and gids (FUSE).  Not
# "luoemu run": no seccomp filter, no launcher.  Absolute paths only (the
# mount namespace's cwd is its root).
ns_argv() {
	ns_cmd=()
	[ "$luo_frontend" != fuse ] || ns_cmd=(nsenter -t "$1" -U -m --preserve-credentials --)
}

daemon_up() { alive "$daemon_pid" && node_up "$daemon_pid" "$dev" && is_socket "$sock"; }

# start_daemon LOG: start a daemon on $state, log to LOG; report only
# failures (with $start_gone_secs, also that the previous $dev lingers)
start_daemon() {
	daemon_log=$1
	rm -f "$sock"
	[ -z "${start_gone_secs:-}" ] || wait_for "$start_gone_secs" node_gone "$dev" "${daemon_ns:-}" ||
		report FAIL "$dev of the previous daemon went away"
	daemon_argv "$name" "$sock" "$state"
	# Not wrapped in timeout: bounded by this script (SIGTERM, EXIT trap).
	"${daemon_cmd[@]}" >>"$daemon_log" 2>&1 &
	daemon_pid=$!
	if wait_for 15 daemon_up; then
		daemon_ns=$(user_ns "$daemon_pid")
		return 0
	fi
	report FAIL "daemon presents $dev" "not up after 15 s"
	show_log "$daemon_log"
	return 1
}

# stop_daemon: SIGTERM, bounded; reports only failures (with
# $stop_gone_secs, also that $dev lingers)
stop_daemon() {
	local rc
	kill -TERM "$daemon_pid" 2>/dev/null
	if ! wait_for 10 dead "$daemon_pid"; then
		report FAIL "daemon exits on SIGTERM" "still running after 10 s"
		kill -KILL "$daemon_pid" 2>/dev/null
	fi
	wait "$daemon_pid"
	rc=$?
	daemon_pid=
	[ "$rc" -eq 0 ] || report FAIL "daemon exits 0 on SIGTERM" "exit status $rc"
	[ -z "${stop_gone_secs:-}" ] || wait_for "$stop_gone_secs" node_gone "$dev" "${daemon_ns:-}" ||
		report FAIL "$dev removed after the daemon exited"
}

# list_state: the files in $state (hidden ones too), with their sizes
list_state() {
	local f
	for f in "$state"/* "$state"/.[!.]*; do
		[ -e "$f" ] && echo "#   $f: $(wc -c <"$f") bytes"
	done
	return 0
}

status() { timeout -k 2 10 "$LUOEMU" --socket "$sock" status 2>&1; }

# status_of KEY: one value of "luoemu status"
status_of() { status | awk -v k="$1" '$1 == k { print $2 }'; }

status_is() { [ "$(status_of "$1")" = "$2" ]; }

# ---------------------------------------------------------------- stages

# stage_bg ARGS...: a luo-update stage under the launcher, in the
# background; sets stage_pid (the subshell) and stage_log (the pid of the
# bounded program is in $stage_log.pid).  The subshell ends when the
# launcher does; it keeps bash from printing a "Killed" job notice.
stage_bg() {
	logs=$((logs + 1))
	stage_log=$tmp/stage.$logs.log
	(
		timeout -k 5 "$stage_timeout" env LUOEMU_DEVICE="$dev" LUOEMU_EMULATED=1 \
			"$LUOEMU" run --socket "$sock" -- "$LUO_UPDATE" "$@" >"$stage_log" 2>&1 &
		echo $! >"$stage_log.pid"
		wait $!
		echo "# launcher exit status $?" >>"$stage_log"
	) 2>/dev/null &
	stage_pid=$!
}

# stop_stage: end the background stage (if any), bounded
stop_stage() {
	[ -n "$stage_pid" ] || return 0
	if alive "$stage_pid" && [ -s "$stage_log.pid" ]; then
		kill -TERM "$(cat "$stage_log.pid")" 2>/dev/null
		wait_for 5 dead "$stage_pid" || kill -KILL "$(cat "$stage_log.pid")" 2>/dev/null
	fi
	stop_pid "$stage_pid"
	stage_pid=
}

ready_or_dead() { grep -qs '^READY$' "$stage_log" || dead "$stage_pid"; }

# stage_ready: bounded wait for the background stage's READY line; true if
# it came and the stage still runs
stage_ready() {
	wait_for "$stage_timeout" ready_or_dead
	grep -q '^READY$' "$stage_log" && alive "$stage_pid"
}

# stage_fg LOG MODE ARGS...: a luo-update stage under the launcher in the
# foreground, told the handover MODE, output to LOG; returns its exit status
stage_fg() {
	local log=$1 mode=$2
	shift 2
	supervise "$stage_timeout" LUOEMU_HANDOVER="$mode" -- "$LUO_UPDATE" "$@" >"$log" 2>&1
}

