#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-trust.sh: luoemud's trust boundaries, tried as a hostile local user
# would (issue 9): nobody stalls the control socket, every verb is decided
# from the caller's own credentials, attach binds the real caller, and
# planted or missing files never hang or confuse the daemon.
#
#   1. started with stderr closed, fd 2 is /dev/null (no preserved file can
#      become stderr and receive log lines);
#   2. a silent control client does not delay "status"; it is dropped at
#      the deadline with a log line;
#   3. 100 idle connections do not delay "status";
#   4. past the per-uid connection quota another uid is refused, root is
#      still served;
#   5. attach: through a connection handed over by a process that exited
#      (ESRCH), naming another pid (EPERM), with a non-listener fd (EINVAL),
#      past the per-uid attach quota (EAGAIN);
#   6. fault and kexec from another uid: EPERM; status stays open to it;
#   7. a FIFO planted as the blob, and as a copy-mode data file: the next
#      daemon refuses the handover with a log line and keeps serving.
#
# Needs root (to play another uid with setpriv) and CUSE (/dev/cuse), else
# luoemud's FUSE frontend (--frontend fuse: natively, as root, the same
# boundaries), and in the environment: LUOEMUD, LUOEMU, LUO_UPDATE, TRUST_CLIENT
# (tests/integ/trust-client).  Optional: SETPRIV (default: setpriv),
# LUOEMU_KEEP=1 keeps the logs.
#
# Output: "ok N - ..." / "not ok N - ..." lines, then "N passed, M failed".
# Exit 0 if all passed, 1 if any failed, 2 on a usage error, 77 if the
# host cannot run it (with the reason).
#
# shellcheck disable=SC2317  # predicates are called indirectly (wait_for, trap)

set -u
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh" || exit 2

for var in LUOEMUD LUOEMU LUO_UPDATE TRUST_CLIENT; do
	if [ -z "${!var:-}" ] || [ ! -x "${!var}" ]; then
		echo "${0##*/}: set $var to an executable (got '${!var:-}')" >&2
		exit 2
	fi
done
setpriv=${SETPRIV:-$(command -v setpriv)}
if [ "$(id -u)" != 0 ] || [ -z "$setpriv" ]; then
	echo "SKIP: needs root and setpriv (to play another uid)"
	exit 77
fi
# The frontend: CUSE where the host has it, else the FUSE one (same rules).
frontend=()
if [ -c /dev/cuse ] && [ -w /dev/cuse ]; then
	:
elif "$LUOEMUD" --help 2>&1 | grep -q -- '--frontend'; then
	frontend=(--frontend fuse)
else
	echo "SKIP: no /dev/cuse and luoemud has no FUSE frontend (--frontend fuse)"
	exit 77
fi

name=luotrust$$
dev=/dev/$name
tmp=$(mktemp -d "${TMPDIR:-/tmp}/luo-trust.XXXXXX") || exit 2
chmod 0755 "$tmp" # another uid must reach the control socket
sock=$tmp/ctl.sock
state=$tmp/state
[ ${#frontend[@]} -eq 0 ] || frontend+=(--rundir "$tmp/run")
stage_timeout=60
logs=0
n=0
passed=0
failed=0
daemon_pid=
stage_pid=
other=65534 # nobody: another uid, no capabilities
attach_quota=3
holder_pid=
holder_in=

cleanup_local() {
	stop_stage
	stop_holder
}
trap cleanup EXIT

# ---------------------------------------------------------------- helpers

as_other() { "$setpriv" --reuid=$other --regid=$other --clear-groups --inh-caps=-all "$@"; }
tc() { timeout -k 2 40 "$TRUST_CLIENT" "$sock" "$@"; }

# expect_rc WHAT RC CMD...: CMD must exit with RC (0: ok; else the errno)
expect_rc() {
	local what=$1 want=$2 rc log
	shift 2
	logs=$((logs + 1))
	log=$tmp/check.$logs.log
	"$@" >"$log" 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		report OK "$what"
	else
		report FAIL "$what" "exit status $rc, expected $want"
		show_log "$log"
	fi
}

# hold LOG ARGS...: "trust-client ARGS" in the background, holding what it
# opened until stop_holder closes its stdin; waits for its READY line
hold() {
	local log=$1
	shift
	stop_holder
	rm -f "$tmp/hold.in"
	mkfifo "$tmp/hold.in"
	"$TRUST_CLIENT" "$sock" "$@" <"$tmp/hold.in" >"$log" 2>&1 &
	holder_pid=$!
	exec {holder_in}>"$tmp/hold.in"
	wait_for 30 grep -qs '^READY$' "$log"
}

stop_holder() {
	[ -n "$holder_pid" ] || return 0
	exec {holder_in}>&- # stdin EOF: the holder lets go
	wait_for 5 dead "$holder_pid" || kill -KILL "$holder_pid" 2>/dev/null
	wait "$holder_pid" 2>/dev/null
	holder_pid=
}

# start_trusted LOG [REDIRECT-STDERR]: the daemon, attach quota lowered
start_trusted() {
	daemon_log=$1
	rm -f "$sock"
	wait_for 10 gone "$dev" || report FAIL "$dev of the previous daemon went away"
	if [ "${2:-}" = closed-stderr ]; then
		LUOEMU_ATTACH_QUOTA=$attach_quota "$LUOEMUD" "${frontend[@]}" --name "$name" \
			--socket "$sock" --state-dir "$state" >>"$daemon_log" 2>&- &
	else
		LUOEMU_ATTACH_QUOTA=$attach_quota "$LUOEMUD" "${frontend[@]}" --name "$name" \
			--socket "$sock" --state-dir "$state" >>"$daemon_log" 2>&1 &
	fi
	daemon_pid=$!
	wait_for 15 trusted_up && return 0
	report FAIL "daemon serves $sock" "not up after 15 s"
	show_log "$daemon_log"
	return 1
}

trusted_up() {
	alive "$daemon_pid" && is_socket "$sock" && exists "$dev"
}

answers_status() { [ -n "$(status_of ready)" ]; }

log_has() { grep -q "$2" "$1"; }

# ---------------------------------------------------------------- 1. stdio

t_start=$EPOCHREALTIME
if start_trusted "$tmp/daemon-closed.log" closed-stderr; then
	if [ "$(readlink "/proc/$daemon_pid/fd/2")" = /dev/null ]; then
		report OK "started with stderr closed: fd 2 is /dev/null"
	else
		report FAIL "started with stderr closed: fd 2 is /dev/null" \
			"fd 2 is $(readlink "/proc/$daemon_pid/fd/2" || echo closed)"
	fi
	stop_daemon
fi

# ---------------------------------------------------------------- 2-4. stalls

log=$tmp/daemon.log
start_trusted "$log" || exit 1

hold "$tmp/silent.log" idle 1
if answers_status; then
	report OK "a silent control client does not delay status"
else
	report FAIL "a silent control client does not delay status" "no answer"
fi
if wait_for 15 log_has "$log" "sent no request within"; then
	report OK "the silent client is dropped at the deadline, with a log line"
else
	report FAIL "the silent client is dropped at the deadline, with a log line"
fi
stop_holder

hold "$tmp/idle100.log" idle 100
if answers_status; then
	report OK "100 idle connections do not delay status"
else
	report FAIL "100 idle connections do not delay status" "no answer"
fi
stop_holder

# Another uid floods the socket: refused past its quota; root is still served.
# The flood holds its connections until its stdin closes (below): with
# /dev/null it let go at once, and a slow daemon accepted the late ones
# after the early ones were gone, never seeing the quota crossed.
rm -f "$tmp/flood.in"
mkfifo "$tmp/flood.in"
as_other timeout -k 2 40 "$TRUST_CLIENT" "$sock" idle 200 <"$tmp/flood.in" >"$tmp/flood.log" 2>&1 &
flood=$!
exec {flood_in}>"$tmp/flood.in"
if wait_for 20 log_has "$log" "uid $other refused: per-uid quota reached"; then
	report OK "uid $other past its connection quota is refused, with a log line"
else
	report FAIL "uid $other past its connection quota is refused, with a log line"
fi
if answers_status; then
	report OK "root is served while uid $other holds its quota"
else
	report FAIL "root is served while uid $other holds its quota" "no answer"
fi
exec {flood_in}>&- # stdin EOF: the flood lets go
stop_pid "$flood"
# Its connections count until the daemon has seen them close (slow in the
# VM): the checks below need uid $other under its quota again.
other_served() { as_other "$TRUST_CLIENT" "$sock" request status >/dev/null 2>&1; }
wait_for 20 other_served

# ---------------------------------------------------------------- 5. attach

expect_rc "attach through a connection handed over by an exited process: ESRCH" 3 \
	tc attach-handed
expect_rc "attach naming another process (pid 1): EPERM" 1 tc attach-pid 1
expect_rc "attach with an eventfd instead of a seccomp listener: EINVAL" 22 \
	tc attach-notlistener
expect_rc "attach naming itself is accepted" 0 tc attach-self
hold "$tmp/quota.log" attach-hold $((attach_quota + 1))
if [ "$(grep -c '^ok' "$tmp/quota.log")" -eq "$attach_quota" ] &&
	grep -q '^err 11 ' "$tmp/quota.log"; then
	report OK "attach quota: $attach_quota accepted, the next refused with EAGAIN"
else
	report FAIL "attach quota: $attach_quota accepted, the next refused with EAGAIN"
	show_log "$tmp/quota.log"
fi
stop_holder

# ---------------------------------------------------------------- 6. verbs

expect_rc "fault from uid $other: EPERM" 1 as_other "$TRUST_CLIENT" "$sock" request "fault list"
expect_rc "kexec from uid $other: EPERM" 1 as_other "$TRUST_CLIENT" "$sock" request kexec
expect_rc "status stays open to uid $other" 0 as_other "$TRUST_CLIENT" "$sock" request status
expect_rc "fault list from root" 0 tc request "fault list"

# ---------------------------------------------------------------- 7. FIFOs

# A FIFO planted as a copy-mode data file, between the old daemon and the new.
plant=$tmp/plant-fifo
cat >"$plant" <<EOS
#!/bin/bash
for f in "$state"/data-*; do
	[ -e "\$f" ] || continue
	rm -f "\$f" && mkfifo -m 0600 "\$f"
done
exec "$LUOEMUD" "\$@"
EOS
chmod 0755 "$plant"
stage_bg simple
if stage_ready; then
	timeout -k 5 120 "$LUOEMU" --socket "$sock" kexec --mode=copy --binary="$plant" \
		>"$tmp/kexec.log" 2>&1
	rc=$?
	# The CLI reports that the new daemon refused the handover (exit 1).
	if wait_for 15 trusted_up && wait_for 15 answers_status &&
		[ "$(status_of incoming_error)" = 5 ] &&
		log_has "$log" "not a regular file"; then
		report OK "a FIFO planted as a data file: the handover is refused with a log line, the daemon serves"
	else
		report FAIL "a FIFO planted as a data file: the handover is refused with a log line, the daemon serves" \
			"kexec exit status $rc, incoming_error '$(status_of incoming_error)'"
		show_log "$tmp/kexec.log"
	fi
else
	report FAIL "stage 1 ready for the update" "no READY line"
	show_log "$stage_log"
fi
stop_stage
stop_daemon

# A FIFO planted as the blob itself.
rm -rf "$state"
mkdir -p "$state" && mkfifo -m 0600 "$state/handover.blob"
if start_trusted "$log" && [ "$(status_of incoming_error)" = 5 ]; then
	report OK "a FIFO planted as the blob: refused, the daemon serves"
else
	report FAIL "a FIFO planted as the blob: refused, the daemon serves" \
		"incoming_error '$(status_of incoming_error)'"
fi
stop_daemon
summary
