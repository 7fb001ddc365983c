#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-update.sh: emulated live updates against a real daemon.
#
# Runs the luo-update scenarios across "luoemu kexec" (exec and copy mode)
# and across a kexec_file_load + reboot(KEXEC) made by the program itself,
# checks the daemon's status, that after an exec-mode update the daemon
# alone holds the preserved memfds, and "luoemu inspect" of the loaded blob, then
# restarts the daemon on corrupt, truncated, wrong-version and fd-less
# blobs: every open must fail with EIO, a crit line must say why, and the
# blob must be kept.
#
# Runs on the frontend LUOEMU_FRONTEND names (lib.sh): cuse (default; root,
# /dev/cuse) or fuse (a per-user daemon; /dev/fuse, user namespaces).
# Needs, in the environment:
#   LUOEMUD     the daemon binary
#   LUOEMU      the CLI
#   LUO_UPDATE  tests/integ/luo-update
# Optional:
#   LUOEMU_BIG_SIZE        memfd size of the "big" scenario (default 1 GiB;
#                          copy mode holds it twice: the memfd and its copy
#                          in the state directory, under TMPDIR)
#   LUOEMU_BIG_MODES       update modes for "big" (default "exec copy")
#   LUOEMU_STAGE_TIMEOUT   bound for one stage, seconds (default 300)
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

name=luoupd$$
dev=/dev/$name
tmp=$(mktemp -d "${TMPDIR:-/tmp}/luo-update.XXXXXX") || exit 2
sock=$tmp/ctl.sock
state=$tmp/state
blob=$state/handover.blob
big_size=${LUOEMU_BIG_SIZE:-1073741824}
read -r -a big_modes <<<"${LUOEMU_BIG_MODES:-exec copy}"
stage_timeout=${LUOEMU_STAGE_TIMEOUT:-300}
stop_gone_secs=5 # stop_daemon: $dev must go within 5 s
n=0
passed=0
failed=0
daemon_pid=
daemon_log=
stage_pid=
stage_log=
logs=0
last_mode="exec"	# the handover mode of the latest update (told to the last stage)
t_start=$EPOCHREALTIME

# cleanup_local: (from cleanup, the EXIT trap) kill the background stage
cleanup_local() {
	if [ -n "$stage_pid" ] && alive "$stage_pid"; then
		kill -KILL "$stage_pid" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---------------------------------------------------------------- stages

# wait_ready LABEL: bounded wait for the background stage's READY line
wait_ready() {
	local t=$EPOCHREALTIME
	if stage_ready; then
		report OK "$1: stage ready for the update"
		echo "# stage ready after $(elapsed "$t") s"
		return 0
	fi
	report FAIL "$1: stage ready for the update" "no READY line"
	show_log "$stage_log"
	return 1
}

# stage_gone LABEL: the background stage must end with the update
stage_gone() {
	if wait_for 30 dead "$stage_pid"; then
		wait "$stage_pid" 2>/dev/null
		stage_pid=
		show_log "$stage_log"
		report OK "$1: the update ended the stage"
		return 0
	fi
	report FAIL "$1: the update ended the stage" "still running 30 s later"
	kill -KILL "$stage_pid" 2>/dev/null
	wait "$stage_pid" 2>/dev/null
	stage_pid=
	return 1
}

# update_done LABEL COUNT: after an update, the new daemon counts COUNT
update_done() {
	local got
	if ! wait_for 60 status_is liveupdate_count "$2"; then
		report FAIL "$1: liveupdate_count $2" "got '$(status_of liveupdate_count)'"
		show_log "$daemon_log"
		return 1
	fi
	if alive "$daemon_pid" && wait_for 10 status_is ready 1 && node_up "$daemon_pid" "$dev"; then
		report OK "$1: new daemon (pid $daemon_pid) up, liveupdate_count $2"
	else
		report FAIL "$1: new daemon up" "pid $daemon_pid, ready '$(status_of ready)'"
		show_log "$daemon_log"
		return 1
	fi
	if [ -e "$blob" ] || [ ! -s "$blob.loaded" ]; then
		report FAIL "$1: handover.blob renamed to handover.blob.loaded"
		list_state
		return 1
	fi
	got=$(status_of incoming_sessions)
	echo "# incoming_sessions $got, outgoing_sessions $(status_of outgoing_sessions), files $(status_of files)"
}

# The memfds luo-update creates, by their memfd_create names.
test_memfd_re='^/memfd:(luo-update-state|simple|multi|s2k|f500|big|cb[1-3]|drop-[a-z]+) [(]deleted[)]$'

# memfd_holders: "PID COUNT" for every process (that we can see) holding a
# memfd of the test
memfd_holders() {
	# ls -l, not find -lname: the VM has busybox's.
	# shellcheck disable=SC2012  # /proc/PID/fd names are numbers
	LC_ALL=C ls -l /proc/[0-9]*/fd 2>/dev/null | awk -v re="$test_memfd_re" '
		/^\/proc\/[0-9]+\/fd:$/ { split($0, p, "/"); pid = p[3]; next }
		{ i = index($0, " -> "); if (i && substr($0, i + 4) ~ re) n[pid]++ }
		END { for (pid in n) print pid, n[pid] }'
}

# only_daemon_holds LABEL: after an exec-mode update the preserved files live
# in the daemon alone (as in the kernel): no other process (the courier, a
# launcher, a dead stage's leftovers) holds any of them
only_daemon_holds() {
	local holders others mine
	holders=$(memfd_holders)
	mine=$(awk -v p="$daemon_pid" '$1 == p { print $2 }' <<<"$holders")
	others=$(awk -v p="$daemon_pid" '$1 != p { printf " pid %s holds %s;", $1, $2 }' <<<"$holders")
	if [ -n "${mine:-}" ] && [ -z "$others" ]; then
		report OK "$1: only the daemon (pid $daemon_pid) holds the preserved memfds ($mine fds)"
	else
		report FAIL "$1: only the daemon holds the preserved memfds" \
			"daemon (pid $daemon_pid) holds ${mine:-none};${others}"
		local pid count
		while read -r pid count; do
			echo "#   pid $pid ($count): $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
		done <<<"$holders"
	fi
}

# kexec LABEL MODE: "luoemu kexec --mode=MODE" while a stage waits
kexec() {
	local count t rc log
	logs=$((logs + 1))
	log=$tmp/kexec.$logs.log
	count=$(status_of liveupdate_count)
	t=$EPOCHREALTIME
	timeout -k 5 120 "$LUOEMU" --socket "$sock" kexec --mode="$2" >"$log" 2>&1
	rc=$?
	show_log "$log"
	echo "# luoemu kexec --mode=$2 took $(elapsed "$t") s"
	if [ "$rc" -ne 0 ]; then
		report FAIL "$1: luoemu kexec --mode=$2" "exit status $rc"
		show_log "$daemon_log"
		return 1
	fi
	report OK "$1: luoemu kexec --mode=$2"
	stage_gone "$1" && update_done "$1" $((count + 1)) || return 1
	[ "$2" != exec ] || only_daemon_holds "$1"
}

# self_kexec LABEL: the background stage updates by kexec_file_load + reboot
self_kexec() {
	local count=$1 t=$EPOCHREALTIME
	shift
	stage_gone "$1" || return 1
	if grep -q '^not ok' "$stage_log" || ! grep -q '^ok .*kexec_file_load' "$stage_log"; then
		report FAIL "$1: kexec_file_load + reboot(KEXEC) from the stage"
		return 1
	fi
	report OK "$1: kexec_file_load + reboot(KEXEC) from the stage"
	update_done "$1" $((count + 1)) || return 1
	echo "# self-kexec update took $(elapsed "$t") s"
	only_daemon_holds "$1"
}

# stage_last LABEL ARGS...: the final stage in the foreground, judged by its summary
stage_last() {
	local log rc t=$EPOCHREALTIME last
	logs=$((logs + 1))
	log=$tmp/stage.$logs.log
	stage_fg "$log" "$last_mode" "${@:2}"
	rc=$?
	show_log "$log"
	echo "# last stage took $(elapsed "$t") s"
	last=$(tail -n 1 "$log")
	if [ "$rc" -eq 0 ] && [[ $last =~ ^[1-9][0-9]*\ passed,\ 0\ failed$ ]]; then
		report OK "$1: last stage: $last"
	else
		report FAIL "$1: last stage" "exit status $rc, '$last'"
	fi
}

# scenario SCENARIO MODE... [-- ARGS...]: stage 1, then one update per MODE
# (self: the stage triggers it), a waiting stage between updates, last stage.
scenario() {
	local sc=$1 modes=() args=() label i count
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		modes+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	args=("$@")
	label="$sc (${modes[*]})"
	echo "# ---- $label"
	for i in "${!modes[@]}"; do
		last_mode=${modes[i]/self/exec}
		count=$(status_of liveupdate_count)
		if [ "${modes[i]}" = self ]; then
			stage_bg "$sc" "${args[@]}" --self-kexec
			self_kexec "$count" "$label" || return 1
		else
			stage_bg "$sc" "${args[@]}"
			wait_ready "$label" || return 1
			kexec "$label" "${modes[i]}" || return 1
		fi
	done
	stage_last "$label" "$sc" "${args[@]}"
}

# ---------------------------------------------------------------- scenarios

mkdir -p "$state"
daemon_argv "$name" "$sock" "$state"
echo "# daemon ($luo_frontend frontend): ${daemon_cmd[*]}"
if start_daemon "$tmp/daemon.log"; then
	report OK "daemon presents $dev"
else
	summary
fi
count0=$(status_of liveupdate_count)
echo "# cold boot: liveupdate_count $count0"

scenario simple exec

# The blob the update produced: inspect it, text and JSON.
inspect_log=$tmp/inspect.log
if timeout 30 "$LUOEMU" inspect "$blob.loaded" >"$inspect_log" 2>&1 &&
	grep -q '^mode: exec$' "$inspect_log" &&
	grep -q '^session "luo-update-simple": 1 file$' "$inspect_log" &&
	grep -q '^session "luo-update-state": 1 file$' "$inspect_log"; then
	report OK "luoemu inspect handover.blob.loaded"
else
	report FAIL "luoemu inspect handover.blob.loaded"
fi
show_log "$inspect_log"
if timeout 30 "$LUOEMU" inspect --json "$blob.loaded" >"$inspect_log" 2>&1 &&
	[ "$(wc -l <"$inspect_log")" -eq 1 ] &&
	grep -q '^{"liveupdate_count":[0-9]*,"mode":"exec","sessions":\[{"name":".*}\]}$' "$inspect_log" &&
	grep -q '"name":"luo-update-simple","files":\[{"token":"7","compatible":"' "$inspect_log"; then
	report OK "luoemu inspect --json handover.blob.loaded"
else
	report FAIL "luoemu inspect --json handover.blob.loaded"
	show_log "$inspect_log"
fi

scenario simple copy
scenario multi exec
scenario multi copy
scenario sessions-2000 exec
scenario files-500 copy
for mode in "${big_modes[@]}"; do
	scenario big "$mode" -- --size "$big_size"
done
scenario closed-before self
scenario dropped exec copy
scenario emfile exec
scenario emfile copy

count=$(status_of liveupdate_count)
echo "# liveupdate_count $count after the scenarios (cold boot: $count0)"

# ---------------------------------------------------------------- bad blobs

# An exec-mode blob with files, and a copy-mode one whose data files the
# loading daemon already removed: neither can be loaded by a fresh daemon.
scenario_blob() { # scenario_blob SCENARIO MODE FILE: stage 1, update, keep the blob
	echo "# ---- blob: $1 ($2)"
	stage_bg "$1"
	wait_ready "blob: $1 ($2)" && kexec "blob: $1 ($2)" "$2" && cp "$blob.loaded" "$3"
}
scenario_blob simple exec "$tmp/exec.blob"
# Its state session is still incoming: multi's stage 1 finishes it as stale.
scenario_blob multi copy "$tmp/copy.blob"
# With nothing outgoing, the next update writes a blob without sessions,
# which a fresh daemon can load.
kexec_empty() {
	local count
	count=$(status_of liveupdate_count)
	timeout -k 5 120 "$LUOEMU" --socket "$sock" kexec >/dev/null 2>&1 &&
		update_done "update without sessions" $((count + 1)) &&
		cp "$blob.loaded" "$tmp/empty.blob"
}
if kexec_empty && [ "$(timeout 30 "$LUOEMU" inspect "$tmp/empty.blob" | grep -c '^sessions: 0$')" = 1 ]; then
	report OK "update without sessions: blob with 0 sessions"
else
	report FAIL "update without sessions: blob with 0 sessions"
fi

byte_at() { od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' '; }

# flip_byte FILE OFFSET: invert one byte in place
flip_byte() {
	local v
	v=$(($(byte_at "$1" "$2") ^ 255))
	# shellcheck disable=SC2059  # the format is the octal escape
	printf "\\$(printf %03o "$v")" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# bad_blob WHAT SRC CRIT-REGEX [EDIT...]: restart the daemon on SRC edited by
# EDIT (a command taking the blob path); opens fail with EIO, a crit line
# matches CRIT-REGEX, the blob stays.
bad_blob() {
	local what=$1 src=$2 re=$3 log
	shift 3
	logs=$((logs + 1))
	log=$tmp/daemon.bad.$logs.log
	echo "# ---- $what"
	if [ ! -s "$src" ]; then
		report FAIL "$what" "no source blob $src"
		return 1
	fi
	stop_daemon
	rm -f "$blob.loaded"
	cp "$src" "$blob"
	[ $# -eq 0 ] || "$@" "$blob" | sed 's/^/#   /'
	start_daemon "$log" || return 1
	ns_argv "$daemon_pid"
	if timeout 30 env LUOEMU_DEVICE="$dev" "${ns_cmd[@]}" "$LUO_UPDATE" expect-open-errno EIO >"$log.open" 2>&1; then
		report OK "$what: open fails with EIO"
	else
		report FAIL "$what: open fails with EIO"
		show_log "$log.open"
	fi
	if grep -E "^(<2>)?luoemud: crit: .*$re" "$log" >"$log.crit"; then
		report OK "$what: crit line gives the reason"
		show_log "$log.crit"
	else
		report FAIL "$what: crit line gives the reason" "no crit line matching '$re'"
		show_log "$log"
	fi
	if [ -s "$blob" ] && [ ! -e "$blob.loaded" ]; then
		report OK "$what: blob kept as handover.blob"
	else
		report FAIL "$what: blob kept as handover.blob"
		list_state
	fi
	if status_is ready 1; then
		report OK "$what: daemon answers status"
	else
		report FAIL "$what: daemon answers status"
	fi
}

flip_payload() { flip_byte "$1" 60; }
flip_version() { flip_byte "$1" 8; }
truncate_to() { # truncate_to BYTES FILE
	head -c "$1" "$2" >"$2.tmp" && mv "$2.tmp" "$2"
}
version() { "$LUO_UPDATE" rewrite-version "$3" "$1" "$2"; }

bad_blob "exec blob after a plain restart (fds missing)" "$tmp/exec.blob" \
	"is not an inherited preserved file"
bad_blob "copy blob whose data files are gone" "$tmp/copy.blob" \
	"data file data-[0-9-]*: No such file or directory"
bad_blob "flipped payload byte" "$tmp/exec.blob" "payload crc mismatch" flip_payload
bad_blob "truncated payload" "$tmp/exec.blob" "truncated payload" truncate_to 100
bad_blob "truncated header" "$tmp/exec.blob" "truncated header" truncate_to 20
bad_blob "version byte changed, header CRC not" "$tmp/exec.blob" "header crc mismatch" \
	flip_version
bad_blob "version 3 needing a version-3 reader" "$tmp/exec.blob" \
	"needs a reader of version 3" version 3 3
bad_blob "version 0" "$tmp/exec.blob" "inconsistent versions" version 0 0

# A newer writer that still admits version-2 readers is loaded.
echo "# ---- version 3 blob readable by version 2"
stop_daemon
cp "$tmp/empty.blob" "$blob"
"$LUO_UPDATE" rewrite-version "$blob" 3 2 | sed 's/^/#   /'
count=$(timeout 30 "$LUOEMU" inspect "$blob" | awk '/^liveupdate count:/ { print $3 }')
if start_daemon "$tmp/daemon.v2.log" && ns_argv "$daemon_pid" && status_is liveupdate_count $((count + 1)) &&
	timeout 30 env LUOEMU_DEVICE="$dev" "${ns_cmd[@]}" "$LUO_UPDATE" expect-open-errno success >/dev/null &&
	[ -e "$blob.loaded" ] && ! grep -q 'crit:' "$tmp/daemon.v2.log"; then
	report OK "version 3 blob with min_reader_version 2 loads (liveupdate_count $((count + 1)))"
else
	report FAIL "version 3 blob with min_reader_version 2 loads"
	show_log "$tmp/daemon.v2.log"
fi

stop_daemon
summary
