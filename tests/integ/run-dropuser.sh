#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-dropuser.sh: the system daemon runs as its dedicated user (issue 9,
# item 8), and stays that user across an exec handover:
#
#   1. --user-name with an unknown user is a usage error (exit 2);
#   2. started as root with user "luoemu" present, the daemon is luoemu
#      (real, effective, saved and fs uid and gid), holds exactly
#      CAP_SYS_PTRACE, CAP_KILL and CAP_CHOWN (permitted, effective,
#      ambient; the last takes the kernel's root-owned node),
#      no_new_privs, an empty bounding set beyond them, and owns its state
#      directory;
#   3. a client under `luoemu run` preserves a session, `luoemu kexec
#      --mode=exec` re-executes the daemon (same pid): it is still luoemu
#      with the same capabilities, says so (it found SECBIT_NOROOT locked),
#      and the next stage retrieves the session;
#   4. --user-name root keeps uid 0 with the minimal capabilities;
#   5. a control socket in a directory luoemu cannot write: uid 0 with the
#      minimal capabilities and a warning (the exec handover could not bind
#      it again), and with an explicit --user-name luoemu a start-up error.
#
# /dev/cuse is given group luoemu, mode 0660, as the package's udev rule
# does: the re-executed daemon opens it by group.
#
# Needs root, CUSE (/dev/cuse) and the user luoemu, and in the environment
# LUOEMUD, LUOEMU, LUO_UPDATE.  LUOEMU_TEST_ADD_USER=1 adds the user to
# /etc/passwd and /etc/group when missing (the throw-away test VM only).
#
# Output: "ok N - ..." / "not ok N - ..." lines, then "N passed, M failed".
# Exit 0 if all passed, 1 if any failed, 2 on a usage error, 77 if the
# host cannot run it (with the reason).
#
# shellcheck disable=SC2317  # predicates are called indirectly (wait_for, trap)

set -u
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh" || exit 2

need LUOEMUD LUOEMU LUO_UPDATE

user=luoemu
caps=0000000000080020 # CAP_SYS_PTRACE (19) | CAP_KILL (5): uid 0
# ... and CAP_CHOWN (0): the dropped daemon takes the kernel's root-owned
# CUSE node, at every start and exec handover
dcaps=0000000000080021
if [ "$(id -u)" != 0 ] || [ ! -c /dev/cuse ]; then
	echo "SKIP: needs root and /dev/cuse"
	exit 77
fi
if ! grep -q "^$user:" /etc/passwd && [ "${LUOEMU_TEST_ADD_USER:-0}" = 1 ]; then
	echo "$user:x:990:990:luoemu:/nonexistent:/bin/false" >>/etc/passwd
	echo "$user:x:990:" >>/etc/group
fi
uid=$(awk -F: -v u="$user" '$1 == u { print $3 }' /etc/passwd)
gid=$(awk -F: -v u="$user" '$1 == u { print $4 }' /etc/passwd)
if [ -z "$uid" ]; then
	echo "SKIP: no user $user (adduser --system --group --no-create-home $user)"
	exit 77
fi

name=luodrop$$
dev=/dev/$name
tmp=$(mktemp -d "${TMPDIR:-/tmp}/luo-drop.XXXXXX") || exit 2
chmod 0755 "$tmp"
sock=$tmp/ctl.sock
state=$tmp/state
rundir=$tmp
stage_timeout=60
logs=0
n=0
passed=0
failed=0
daemon_pid=
stage_pid=
stage_log=
cuse_owner=$(stat -c %u:%g /dev/cuse)
cuse_mode=$(stat -c %a /dev/cuse)

cleanup_local() {
	umount "$state" 2>/dev/null
	if [ -n "$stage_pid" ] && alive "$stage_pid"; then
		kill -KILL "$stage_pid" 2>/dev/null
	fi
	chown "$cuse_owner" /dev/cuse
	chmod "$cuse_mode" /dev/cuse
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# What the package's udev rule does for /dev/cuse.
chgrp "$user" /dev/cuse && chmod 0660 /dev/cuse || exit 2

# proc_is PID KEY VALUE: the /proc/PID/status line KEY is VALUE (tabs squeezed)
proc_is() {
	local got
	got=$(awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status")
	[ "$got" = "$3" ] && return 0
	echo "#   $2: '$got', expected '$3'"
	return 1
}

# dropped LABEL PID UID GID: the daemon is UID/GID with exactly $dcaps
dropped() {
	local pid=$2 ok=0
	proc_is "$pid" Uid "$3 $3 $3 $3" || ok=1
	proc_is "$pid" Gid "$4 $4 $4 $4" || ok=1
	proc_is "$pid" Groups "" || ok=1
	for k in CapPrm CapEff CapAmb CapInh CapBnd; do
		proc_is "$pid" "$k" "$dcaps" || ok=1
	done
	proc_is "$pid" NoNewPrivs 1 || ok=1
	if [ "$ok" = 0 ]; then
		report OK "$1: uid/gid $3/$4, capabilities $dcaps (ambient), no_new_privs"
	else
		report FAIL "$1: uid/gid $3/$4, capabilities $dcaps (ambient), no_new_privs"
	fi
}

# start LOG ARGS...: a system daemon on $state, run directory $tmp
start() {
	daemon_log=$1
	shift
	rm -f "$sock"
	"$LUOEMUD" --name "$name" --socket "$sock" --state-dir "$state" --rundir "$rundir" "$@" \
		>>"$daemon_log" 2>&1 &
	daemon_pid=$!
	wait_for 15 daemon_up && return 0
	report FAIL "daemon presents $dev" "not up after 15 s"
	show_log "$daemon_log"
	return 1
}

# 1. An unknown user is a usage error.
"$LUOEMUD" --name "$name" --user-name no-such-user-luoemu >"$tmp/usage.log" 2>&1
rc=$?
if [ "$rc" = 2 ] && grep -q "unknown user" "$tmp/usage.log"; then
	report OK "--user-name no-such-user: exit 2"
else
	report FAIL "--user-name no-such-user: exit 2" "exit $rc"
	show_log "$tmp/usage.log"
fi

# 2. The default: the dedicated user, once /dev/cuse is open.
if start "$tmp/daemon.log"; then
	dropped "started as root" "$daemon_pid" "$uid" "$gid"
	if [ "$(stat -c %u "$state")" = "$uid" ] && [ "$(stat -c %u:%a "$dev")" = "$uid:600" ] &&
		[ "$(stat -c %u "$tmp/sys/kexec_loaded")" = "$uid" ] &&
		grep -q "running as $user" "$tmp/daemon.log"; then
		report OK "state directory, kexec_loaded and $dev (0600) owned by $user, start-up says so"
	else
		report FAIL "state directory, kexec_loaded and $dev (0600) owned by $user, start-up says so"
		stat -c '#   %n: %U %a' "$state" "$dev" "$tmp/sys/kexec_loaded"
		show_log "$tmp/daemon.log"
	fi

	# 3. A session across an exec handover, served by the dropped daemon.
	pid_before=$daemon_pid
	stage_bg simple
	if stage_ready; then
		report OK "client under luoemu run preserved a session"
	else
		report FAIL "client under luoemu run preserved a session"
		show_log "$stage_log"
	fi
	if timeout -k 5 60 "$LUOEMU" --socket "$sock" kexec --mode=exec >"$tmp/kexec.log" 2>&1 &&
		wait_for 30 dead "$stage_pid" && wait_for 30 status_is ready 1 &&
		wait_for 15 is_char "$dev"; then
		report OK "luoemu kexec --mode=exec"
	else
		report FAIL "luoemu kexec --mode=exec"
		show_log "$tmp/kexec.log"
		show_log "$tmp/daemon.log"
	fi
	stage_pid=
	if alive "$pid_before" && [ "$(status_of liveupdate_count)" = 1 ]; then
		report OK "same pid $pid_before re-executed, liveupdate_count 1"
	else
		report FAIL "same pid re-executed, liveupdate_count 1" \
			"count '$(status_of liveupdate_count)'"
		show_log "$tmp/daemon.log"
	fi
	dropped "after the exec handover" "$daemon_pid" "$uid" "$gid"
	if grep -q "with ambient capabilities (exec handover)" "$tmp/daemon.log"; then
		report OK "the re-executed daemon found itself dropped (SECBIT_NOROOT locked)"
	else
		report FAIL "the re-executed daemon found itself dropped (SECBIT_NOROOT locked)"
		show_log "$tmp/daemon.log"
	fi
	if stage_fg "$tmp/stage2.log" exec simple; then
		report OK "the next stage retrieved its session from the re-executed daemon"
	else
		report FAIL "the next stage retrieved its session from the re-executed daemon"
		show_log "$tmp/stage2.log"
		show_log "$tmp/daemon.log"
	fi
	stop_daemon
fi

# 4. --user-name root: today's behaviour, uid 0 with the minimal capabilities.
# A fresh run directory: root without CAP_DAC_OVERRIDE cannot write luoemu's.
sock=$tmp/root/ctl.sock
state=$tmp/root/state
rundir=$tmp/root
mkdir -m 0755 "$tmp/root"
if start "$tmp/daemon-root.log" --user-name root; then
	ok=0
	proc_is "$daemon_pid" Uid "0 0 0 0" || ok=1
	proc_is "$daemon_pid" CapEff "$caps" || ok=1
	if [ "$ok" = 0 ]; then
		report OK "--user-name root: uid 0, capabilities $caps"
	else
		report FAIL "--user-name root: uid 0, capabilities $caps"
	fi
	stop_daemon
fi

# 5. The socket's directory is not luoemu's (nor the run directory).
mkdir -m 0700 "$tmp/priv"
sock=$tmp/priv/ctl.sock
state=$tmp/priv/state
rundir=$tmp/run
if start "$tmp/daemon-priv.log"; then
	if proc_is "$daemon_pid" Uid "0 0 0 0" && proc_is "$daemon_pid" CapEff "$caps" &&
		grep -q "not writable by $user: staying uid 0" "$tmp/daemon-priv.log"; then
		report OK "socket directory not writable by $user: uid 0, minimal capabilities, a warning"
	else
		report FAIL "socket directory not writable by $user: uid 0, minimal capabilities, a warning"
		show_log "$tmp/daemon-priv.log"
	fi
	stop_daemon
fi
"$LUOEMUD" --name "$name" --socket "$sock" --state-dir "$state" --rundir "$rundir" \
	--user-name "$user" >"$tmp/daemon-priv2.log" 2>&1 &
pid=$!
if wait_for 15 dead "$pid" && ! wait "$pid" && grep -q "not writable by $user (put" "$tmp/daemon-priv2.log"; then
	report OK "... with --user-name $user: start-up fails, saying why"
else
	report FAIL "... with --user-name $user: start-up fails, saying why"
	stop_pid "$pid"
	show_log "$tmp/daemon-priv2.log"
fi

summary
