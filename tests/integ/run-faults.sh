#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-faults.sh: fault injection around the emulated live update.
#
#  1. A failed freeze (freeze/file errno=EIO): "luoemu kexec" fails, the
#     waiting stage and its sessions stay as they were; once cleared, an
#     update into a copy of the daemon binary (--binary) succeeds.
#  2. Every handover point (handover/serialize, blob/open|write|fsync|rename)
#     failing with EIO (exec mode; blob/open and blob/rename in copy mode
#     too): the update fails with that errno and leaves nothing behind, then
#     succeeds once cleared; courier/addfd, cuse/read-arg and
#     cuse/getfd fail one supervised client call with ENOMEM.
#  3. The daemon aborting at every step of the update, then started again:
#     either a cold boot (before the blob's rename) or the complete new state
#     (copy mode, after it), checksummed; never a torn mix.  Damaged blobs
#     (blob/write action=torn|truncate|badversion) and an exec-mode crash
#     after the rename: every open fails with EIO, a crit line says why, the
#     blob is kept.
#
# Runs on the frontend LUOEMU_FRONTEND names (lib.sh): cuse (default; root,
# /dev/cuse) or fuse (a per-user daemon; /dev/fuse, user namespaces).
# Needs, in the environment:
#   LUOEMUD     the daemon binary
#   LUOEMU      the CLI
#   LUO_UPDATE  tests/integ/luo-update
#   LUO_CLIENT  tests/integ/luo-client (optional: the ioctl-level points are
#               skipped without it)
# Optional:
#   LUOEMU_FAULT_BIG_SIZE  memfd size of the "big" scenario (default 16 MiB)
#   LUOEMU_STAGE_TIMEOUT   bound for one stage, seconds (default 120)
#   LUOEMU_KEEP=1          keep the temporary directory (logs) afterwards
#
# Output: "ok N - ..." / "not ok N - ..." lines (program output indented as
# "#" comments), then "N passed, M failed".  Exit 0 if all passed, 1 if any
# failed, 2 on a usage error, 77 if the host cannot run the frontend.
#
# shellcheck disable=SC2317  # predicates are called indirectly (wait_for, trap)

set -u
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh" || exit 2

need LUOEMUD LUOEMU LUO_UPDATE

ulimit -c 0 # the injected aborts need no core files
name=luoflt$$
dev=/dev/$name
tmp=$(mktemp -d "${TMPDIR:-/tmp}/luo-faults.XXXXXX") || exit 2
sock=$tmp/ctl.sock
state=$tmp/state
blob=$state/handover.blob
big_size=${LUOEMU_FAULT_BIG_SIZE:-16777216}
stage_timeout=${LUOEMU_STAGE_TIMEOUT:-120}
start_gone_secs=10 # start_daemon: the previous $dev must go within 10 s
n=0
passed=0
failed=0
daemon_pid=
daemon_log=
stage_pid=
stage_log=
kexec_pid=
kexec_log=
kexec_rc=
logs=0
t_start=$EPOCHREALTIME

# ---------------------------------------------------------------- reporting

# check WHAT CMD...: report whether CMD succeeds
check() {
	local what=$1
	shift
	if "$@"; then
		report OK "$what"
	else
		report FAIL "$what"
		return 1
	fi
}

# cleanup_local: (from cleanup, the EXIT trap) end the stage and the CLI
cleanup_local() {
	stop_stage
	[ -n "$kexec_pid" ] && stop_pid "$kexec_pid"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---------------------------------------------------------------- daemon

# cold_restart: a fresh daemon on an empty state directory
cold_restart() {
	stop_daemon
	unmount_under "$tmp" # a system daemon's pinned state tmpfs outlives it
	rm -rf "$state"
	mkdir -p "$state"
	logs=$((logs + 1))
	start_daemon "$tmp/daemon.$logs.log"
}

# leftovers: files in the state directory other than handover.blob.loaded
leftovers() {
	local f left=()
	for f in "$state"/* "$state"/.[!.]*; do
		[ -e "$f" ] && [ "$f" != "$blob.loaded" ] && left+=("${f##*/}")
	done
	echo "${left[*]}"
}

fault() { timeout -k 2 10 "$LUOEMU" --socket "$sock" fault "$@" >>"$tmp/fault.log" 2>&1; }

# injected POINT: the injected= count of POINT in "luoemu fault list"
injected() {
	timeout -k 2 10 "$LUOEMU" --socket "$sock" fault list 2>&1 |
		awk -v p="$1" '$1 == p { for (i = 2; i <= NF; i++) if ($i ~ /^injected=/) { sub(/^injected=/, "", $i); print $i } }'
}

# open_errno ERRNO: an unsupervised open of the device fails with ERRNO
open_errno() {
	local ns_cmd
	ns_argv "$daemon_pid"
	timeout -k 2 30 env LUOEMU_DEVICE="$dev" "${ns_cmd[@]}" "$LUO_UPDATE" expect-open-errno "$1" \
		>"$tmp/open.log" 2>&1 || { show_log "$tmp/open.log"; return 1; }
}

# ---------------------------------------------------------------- stages

# wait_ready LABEL: bounded wait for the background stage's READY line
wait_ready() {
	stage_ready && return 0
	report FAIL "$1: stage 1 ready for the update" "no READY line"
	show_log "$stage_log"
	return 1
}

# stage_gone LABEL: the background stage must end with the update
stage_gone() {
	if wait_for 30 dead "$stage_pid"; then
		wait "$stage_pid" 2>/dev/null
		stage_pid=
		return 0
	fi
	report FAIL "$1: the update ended the stage" "still running 30 s later"
	stop_stage
	return 1
}

# stage_last LABEL MODE ARGS...: the final stage in the foreground, judged by its summary
stage_last() {
	local log rc last label=$1 mode=$2
	shift 2
	logs=$((logs + 1))
	log=$tmp/stage.$logs.log
	stage_fg "$log" "$mode" "$@"
	rc=$?
	last=$(tail -n 1 "$log")
	if [ "$rc" -eq 0 ] && [[ $last =~ ^[1-9][0-9]*\ passed,\ 0\ failed$ ]] &&
		grep -q "stage 2 of 2" "$log"; then
		report OK "$label: last stage: $last"
	else
		report FAIL "$label: last stage" "exit status $rc, '$last'"
		show_log "$log"
	fi
}

# kexec_bg ARGS...: "luoemu kexec ARGS" in the background (kexec_pid, kexec_log)
kexec_bg() {
	logs=$((logs + 1))
	kexec_log=$tmp/kexec.$logs.log
	"$LUOEMU" --socket "$sock" kexec "$@" >"$kexec_log" 2>&1 &
	kexec_pid=$!
}

# kexec_end SECS: wait up to SECS for the CLI, then end it; sets kexec_rc
kexec_end() {
	if ! wait_for "$1" dead "$kexec_pid"; then
		kill -TERM "$kexec_pid" 2>/dev/null
		wait_for 5 dead "$kexec_pid" || kill -KILL "$kexec_pid" 2>/dev/null
	fi
	wait "$kexec_pid"
	kexec_rc=$?
	kexec_pid=
}

# kexec_run ARGS...: a bounded "luoemu kexec ARGS" in the foreground
kexec_run() {
	kexec_bg "$@"
	kexec_end 90
}

# kexec_ok LABEL MODE COUNT [ARGS...]: a successful update ending the stage
kexec_ok() {
	local label=$1 mode=$2 count=$3
	shift 3
	kexec_run --mode="$mode" "$@"
	if [ "$kexec_rc" -ne 0 ]; then
		report FAIL "$label: luoemu kexec --mode=$mode${*:+ $*} succeeds" "exit status $kexec_rc"
		show_log "$kexec_log"
		show_log "$daemon_log"
		stop_stage
		return 1
	fi
	stage_gone "$label" || return 1
	if wait_for 10 status_is liveupdate_count $((count + 1)) && [ ! -e "$blob" ]; then
		report OK "$label: luoemu kexec --mode=$mode${*:+ $*} succeeds (liveupdate_count $((count + 1)))"
	else
		report FAIL "$label: luoemu kexec --mode=$mode${*:+ $*} succeeds" \
			"liveupdate_count '$(status_of liveupdate_count)'"
		return 1
	fi
}

# usable LABEL OUTGOING FILES: after a refused update, everything is as before
usable() {
	local why=
	alive "$stage_pid" && grep -q '^READY$' "$stage_log" || why+=" stage 1 died;"
	status_is going_down 0 || why+=" going_down '$(status_of going_down)';"
	status_is outgoing_sessions "$2" || why+=" outgoing_sessions '$(status_of outgoing_sessions)' (want $2);"
	status_is files "$3" || why+=" files '$(status_of files)' (want $3);"
	[ ! -e "$blob" ] || why+=" handover.blob left behind;"
	[ -z "$(leftovers)" ] || why+=" left in the state directory: $(leftovers);"
	# The stage still holds the (single-open) device: the daemon answers EBUSY.
	open_errno EBUSY || why+=" open not EBUSY;"
	if [ -z "$why" ]; then
		report OK "$1: stage alive, going_down 0, $2 sessions and $3 files kept, nothing left in the state directory"
	else
		report FAIL "$1: state usable after the refused update" "$why"
		list_state
		return 1
	fi
}

# ---------------------------------------------------------------- start

mkdir -p "$state"
daemon_argv "$name" "$sock" "$state"
echo "# daemon ($luo_frontend frontend): ${daemon_cmd[*]}"
if start_daemon "$tmp/daemon.log"; then
	report OK "daemon presents $dev"
else
	summary
fi

# ---------------------------------------------------------------- 1. freeze

echo "# ---- 1. failed freeze, then a retry into a newer binary"
label="freeze/file EIO"
stage_bg simple
if wait_ready "$label"; then
	count=$(status_of liveupdate_count)
	out=$(status_of outgoing_sessions)
	files=$(status_of files)
	refusals=$(status_of refusals)
	echo "# before: liveupdate_count $count, outgoing_sessions $out, files $files"
	fault set freeze/file errno=EIO
	kexec_run
	show_log "$kexec_log"
	if [ "$kexec_rc" -ne 0 ] && grep -qi 'freeze' "$kexec_log" &&
		grep -q 'Input/output error' "$kexec_log"; then
		report OK "$label: luoemu kexec fails (exit $kexec_rc) naming the freeze"
	else
		report FAIL "$label: luoemu kexec fails naming the freeze" "exit status $kexec_rc"
	fi
	check "$label: no session call refused (refusals still $refusals)" \
		status_is refusals "$refusals"
	usable "$label" "$out" "$files"
	check "$label: daemon log names the injected fault" \
		grep -q 'fault injected at freeze/file' "$daemon_log"
	check "$label: fault list shows injected=1" [ "$(injected freeze/file)" = 1 ]
	fault clear all
	copy=$tmp/luoemud-next
	cp "$LUOEMUD" "$copy"
	pid_before=$daemon_pid
	if kexec_ok "$label" exec "$count" --binary="$copy"; then
		exe=$(readlink "/proc/$daemon_pid/exe")
		check "$label: the daemon (pid $pid_before, still) now runs $copy ($exe)" \
			[ "$daemon_pid:$exe" = "$pid_before:$copy" ]
		stage_last "$label" exec simple
	fi
fi
stop_stage

# ---------------------------------------------------------------- 2. sweep

echo "# ---- 2. every handover point fails once with EIO"
# Copy mode writes the memfds' data files before the blob: they must go too.
for spec in handover/serialize:exec blob/open:exec blob/write:exec blob/fsync:exec \
	blob/rename:exec blob/open:copy blob/rename:copy; do
	point=${spec%%:*}
	mode=${spec#*:}
	label="$point EIO ($mode)"
	stage_bg simple
	wait_ready "$label" || { stop_stage; continue; }
	count=$(status_of liveupdate_count)
	out=$(status_of outgoing_sessions)
	files=$(status_of files)
	before=$(injected "$point")
	fault set "$point" errno=EIO
	kexec_run --mode="$mode"
	if [ "$kexec_rc" -ne 0 ] && grep -q 'Input/output error' "$kexec_log"; then
		report OK "$label: luoemu kexec fails with EIO (exit $kexec_rc)"
	else
		report FAIL "$label: luoemu kexec fails with EIO" "exit status $kexec_rc"
		show_log "$kexec_log"
	fi
	check "$label: injected once" [ "$(injected "$point")" = $((before + 1)) ]
	usable "$label" "$out" "$files"
	fault clear all
	kexec_ok "$label" "$mode" "$count" && stage_last "$label" "$mode" simple
	stop_stage
done

# client_run LOG ARGS...: a supervised luo-client run, bounded
client_run() {
	local log=$1
	shift
	supervise 60 -- "$LUO_CLIENT" "$@" >"$log" 2>&1
}

if [ -n "${LUO_CLIENT:-}" ] && [ -x "$LUO_CLIENT" ]; then
	comm=$(basename "$LUO_CLIENT" | cut -c1-15)
	for spec in courier/addfd:names cuse/read-arg:names cuse/getfd:preserve; do
		point=${spec%%:*}
		case=${spec#*:}
		label="$point ENOMEM (luo-client $case)"
		before=$(injected "$point")
		fault set "$point" nth=1 errno=ENOMEM comm="$comm"
		logs=$((logs + 1))
		client_run "$tmp/client.$logs.log" "$case"
		rc=$?
		# The first failure is the injected one (a later check may
		# depend on what the failed call would have done).
		if [ "$rc" -ne 0 ] &&
			grep -m 1 '^not ok' "$tmp/client.$logs.log" | grep -q 'got ENOMEM$' &&
			[ "$(grep -c 'got ENOMEM$' "$tmp/client.$logs.log")" = 1 ]; then
			report OK "$label: the first call reaching it fails with ENOMEM"
			grep '^not ok' "$tmp/client.$logs.log" | sed 's/^/#   /'
		else
			report FAIL "$label: the first call reaching it fails with ENOMEM" "exit status $rc"
			show_log "$tmp/client.$logs.log"
			grep -E "fault injected at $point|refus|$comm" "$daemon_log" | tail -n 4 | sed 's/^/#   /'
		fi
		check "$label: injected once" [ "$(injected "$point")" = $((before + 1)) ]
		fault clear all
		client_run "$tmp/client.$logs.again.log" "$case"
		rc=$?
		if [ "$rc" -eq 0 ]; then
			report OK "$label: cleared, the same run passes: $(tail -n 1 "$tmp/client.$logs.again.log")"
		else
			report FAIL "$label: cleared, the same run passes" "exit status $rc"
			show_log "$tmp/client.$logs.again.log"
		fi
	done
	check "ioctl points: the daemon still answers, going_down 0" status_is going_down 0
else
	echo "# LUO_CLIENT not set: courier/addfd, cuse/read-arg, cuse/getfd skipped"
fi

# ---------------------------------------------------------------- 3. crashes

# crash MODE POINT EXPECT: the daemon aborts at POINT during an update in
# MODE while big's stage 1 waits; restarted on the same state directory it
# must give EXPECT: cold (no incoming state), new (the complete new state)
# or eio (the blob refused).
crash() {
	local mode=$1 point=$2 expect=$3 label rc count
	label="abort at $point ($mode)"
	echo "# ---- $label"
	stage_bg big --size "$big_size"
	wait_ready "$label" || { stop_stage; return 1; }
	count=$(status_of liveupdate_count)
	rm -f "$blob.loaded" # an earlier update's: the restarted daemon renames its own
	fault set "$point" action=abort
	kexec_bg --mode="$mode"
	if wait_for 60 dead "$daemon_pid"; then
		wait "$daemon_pid"
		rc=$?
	else
		rc=running
	fi
	kexec_end 5
	if [ "$rc" = 134 ] && [ "$kexec_rc" -ne 0 ] &&
		grep -q "crit: fault injected at $point .*action abort" "$daemon_log"; then
		report OK "$label: the daemon aborted (SIGABRT), luoemu kexec failed (exit $kexec_rc)"
	else
		report FAIL "$label: the daemon aborted (SIGABRT), luoemu kexec failed" \
			"daemon exit status $rc, kexec exit status $kexec_rc"
		show_log "$kexec_log"
		show_log "$daemon_log"
		[ "$rc" = running ] && stop_daemon
	fi
	daemon_pid=
	stop_stage # a crash before the switch leaves the stage running
	list_state
	logs=$((logs + 1))
	start_daemon "$tmp/daemon.$logs.log" || summary
	case $expect in
	cold)
		local why=
		status_is incoming_sessions 0 || why+=" incoming_sessions '$(status_of incoming_sessions)';"
		status_is incoming_error 0 || why+=" incoming_error '$(status_of incoming_error)';"
		status_is liveupdate_count 0 || why+=" liveupdate_count '$(status_of liveupdate_count)';"
		[ ! -e "$blob" ] || why+=" handover.blob present;"
		open_errno success || why+=" open failed;"
		if [ -n "$(leftovers)" ]; then
			echo "# note: the crashed update's files stay in the state directory: $(leftovers)"
		fi
		if [ -z "$why" ]; then
			report OK "$label: restarted: cold boot (no incoming sessions, open works)"
		else
			report FAIL "$label: restarted: cold boot" "$why"
			show_log "$daemon_log"
		fi
		# The scenario's state session is not there: big starts over.
		stage_bg big --size "$big_size"
		if wait_ready "$label" && grep -q '^# big: stage 1 of 2$' "$stage_log"; then
			report OK "$label: big finds no state session: stage 1 again"
		else
			report FAIL "$label: big finds no state session: stage 1 again"
			show_log "$stage_log"
		fi
		stop_stage
		;;
	new)
		if status_is liveupdate_count $((count + 1)) && status_is incoming_error 0 &&
			status_is incoming_sessions 2 && [ -e "$blob.loaded" ]; then
			report OK "$label: restarted: the complete new state (liveupdate_count $((count + 1)), 2 incoming sessions)"
		else
			report FAIL "$label: restarted: the complete new state" \
				"liveupdate_count '$(status_of liveupdate_count)', incoming_sessions '$(status_of incoming_sessions)', incoming_error '$(status_of incoming_error)'"
			show_log "$daemon_log"
		fi
		stage_last "$label" "$mode" big --size "$big_size"
		;;
	eio)
		refused "$label" "is not an inherited preserved file"
		;;
	esac
}

# refused LABEL CRIT-REGEX: the daemon refused its blob: EIO, crit, blob kept;
# then a cold restart for the next case
refused() {
	if open_errno EIO; then
		report OK "$1: every open fails with EIO"
	else
		report FAIL "$1: every open fails with EIO"
	fi
	if grep -E "crit: .*$2" "$daemon_log" >"$tmp/crit.log"; then
		report OK "$1: crit line gives the reason"
		show_log "$tmp/crit.log"
	else
		report FAIL "$1: crit line gives the reason" "no crit line matching '$2'"
		show_log "$daemon_log"
	fi
	if [ -s "$blob" ] && [ ! -e "$blob.loaded" ] && status_is ready 1; then
		report OK "$1: blob kept as handover.blob, daemon answers status"
	else
		report FAIL "$1: blob kept as handover.blob, daemon answers status"
		list_state
	fi
	cold_restart
}

for point in handover/serialize blob/open blob/write blob/fsync blob/rename; do
	crash copy "$point" cold
done
crash copy handover/exec new
for point in handover/serialize blob/write blob/rename; do
	crash exec "$point" cold
done
crash exec handover/exec eio

# Damaged blobs: the update "succeeds", the next daemon cannot load it.
for spec in "torn:crc mismatch" "truncate:truncated" "badversion:needs a reader of version"; do
	action=${spec%%:*}
	label="blob/write action=$action"
	echo "# ---- $label"
	stage_bg simple
	wait_ready "$label" || { stop_stage; continue; }
	fault set blob/write action="$action"
	kexec_run
	show_log "$kexec_log"
	stage_gone "$label"
	if wait_for 15 status_is ready 1 && status_is incoming_error 5; then
		report OK "$label: the next daemon is up with incoming_error 5 (EIO)"
	else
		report FAIL "$label: the next daemon is up with incoming_error 5 (EIO)" \
			"ready '$(status_of ready)', incoming_error '$(status_of incoming_error)'"
	fi
	refused "$label" "${spec#*:}"
done

stop_daemon
summary
