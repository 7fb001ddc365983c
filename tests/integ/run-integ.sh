#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-integ.sh: the luoemu integration suite against a real daemon.
#
# Runs on the frontend LUOEMU_FRONTEND names (lib.sh): cuse (default; root,
# /dev/cuse) or fuse (a per-user daemon; /dev/fuse, user namespaces).
# Needs, in the environment:
#   LUOEMUD            the daemon binary
#   LUOEMU             the CLI (provides "luoemu run --socket PATH -- CMD")
#   LUO_CLIENT         tests/integ/luo-client (dynamic)
#   LUO_CLIENT_STATIC  tests/integ/luo-client-static
# Optional:
#   LUOEMU_STRESS_SECS     duration of the concurrent stress loop (default 30)
#   LUOEMU_STRESS_CLIENTS  concurrent client processes (default 64)
#   LUOEMU_CLIENT_TIMEOUT  bound for one client run, seconds (default 300)
#   LUOEMU_KEEP=1          keep the temporary directory (logs) afterwards
#   SETPRIV                util-linux setpriv (for the other-uid client)
#
# Output: "ok N - ..." / "not ok N - ..." lines (client output indented as
# "#" comments), then "N passed, M failed".  Exit 0 if all passed, 1 if any
# failed, 2 on a usage error, 77 if the host cannot run the frontend.
#
# shellcheck disable=SC2317  # predicates are called indirectly (wait_for, trap)

set -u
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh" || exit 2

need LUOEMUD LUOEMU LUO_CLIENT LUO_CLIENT_STATIC

name=luotest$$
dev=/dev/$name
tmp=$(mktemp -d "${TMPDIR:-/tmp}/luo-integ.XXXXXX") || exit 2
sock=$tmp/ctl.sock
stress_secs=${LUOEMU_STRESS_SECS:-30}
stress_clients=${LUOEMU_STRESS_CLIENTS:-64}
client_timeout=${LUOEMU_CLIENT_TIMEOUT:-300}
n=0
passed=0
failed=0
daemon_pid=
bg_pids=()

# ---------------------------------------------------------------- reporting

# check WHAT CMD...: run CMD (already bounded by its caller), pass if it exits 0
check() {
	local what=$1 log rc
	shift
	log=$tmp/log.$((n + 1))
	"$@" >"$log" 2>&1
	rc=$?
	show_log "$log"
	if [ "$rc" -eq 0 ]; then
		report OK "$what"
	else
		report FAIL "$what" "exit status $rc"
	fi
}

# supervised WHAT [VAR=VALUE...] -- CMD...: CMD under "luoemu run"
supervised() {
	local what=$1
	shift
	check "$what" supervise "$client_timeout" "$@"
}

# unsupervised WHAT [VAR=VALUE...] -- CMD...: CMD outside the launcher
unsupervised() {
	local what=$1
	shift
	local ns_cmd
	split_env "$@"
	ns_argv "$daemon_pid"
	check "$what" timeout -k 5 "$client_timeout" \
		env LUOEMU_DEVICE="$dev" LUOEMU_EMULATED=1 "${envs[@]}" "${ns_cmd[@]}" "${cmd[@]}"
}

fd_count() {
	local fds=("/proc/$1/fd/"*)
	echo "${#fds[@]}"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

fd_count_is() { [ "$(fd_count "$1")" = "$2" ]; }

# cleanup_local: (from cleanup, the EXIT trap) kill what runs in the background
cleanup_local() {
	local pid
	for pid in "${bg_pids[@]}"; do
		alive "$pid" && kill -KILL "$pid" 2>/dev/null
	done
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---------------------------------------------------------------- daemon

# The daemon is not wrapped in timeout: its lifetime is bounded by this
# script (SIGTERM at the end, SIGKILL in the EXIT trap), and $! must be the
# daemon itself so /proc/PID/fd is its fd table.
daemon_argv "$name" "$sock" "$tmp/state"
echo "# daemon ($luo_frontend frontend): ${daemon_cmd[*]}"
"${daemon_cmd[@]}" >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!

if wait_for 10 node_up "$daemon_pid" "$dev" && alive "$daemon_pid"; then
	report OK "daemon presents $dev ($(node "$daemon_pid" "$dev"))"
	daemon_ns=$(user_ns "$daemon_pid")
else
	report FAIL "daemon presents $dev" "no $luo_frontend node $(node "$daemon_pid" "$dev") after 10 s"
	show_log "$tmp/daemon.log"
	summary
fi
wait_for 10 is_socket "$sock" || report FAIL "control socket $sock exists"

fds_before=$(fd_count "$daemon_pid")
rss_before=$(rss_kb "$daemon_pid")
echo "# daemon pid $daemon_pid: $fds_before fds, RSS ${rss_before} kB"

# ---------------------------------------------------------------- clients

supervised "conformance suite (dynamic client)" -- "$LUO_CLIENT"
supervised "conformance suite (static client)" -- "$LUO_CLIENT_STATIC"

# The luo-agent pattern: a supervised creator hands a session fd over a
# unix socket to a peer that was never under the launcher.
peer_sock=$tmp/peer.sock
ns_argv "$daemon_pid"
timeout -k 5 120 env LUOEMU_DEVICE="$dev" LUOEMU_PEER_SOCKET="$peer_sock" \
	"${ns_cmd[@]}" "$LUO_CLIENT" agent-peer >"$tmp/peer.log" 2>&1 &
peer_pid=$!
bg_pids+=("$peer_pid")
if wait_for 10 is_socket "$peer_sock"; then
	supervised "agent: session fd handed to an unsupervised peer" \
		LUOEMU_PEER_SOCKET="$peer_sock" -- "$LUO_CLIENT" agent
else
	report FAIL "agent: session fd handed to an unsupervised peer" "peer socket never appeared"
fi
# If the creator never reached the peer, do not let the peer wait for it.
wait_for 10 dead "$peer_pid" || kill -TERM "$peer_pid" 2>/dev/null
wait "$peer_pid"
rc=$?
show_log "$tmp/peer.log"
if [ "$rc" -eq 0 ]; then
	report OK "agent-peer: unsupervised GET_NAME and PRESERVE_FD"
else
	report FAIL "agent-peer: unsupervised GET_NAME and PRESERVE_FD" "exit status $rc"
fi

unsupervised "CREATE outside the launcher fails with EPERM" -- "$LUO_CLIENT" unsupervised-create

# A bad client: SIGKILL while it loops ioctls; the daemon must serve the next one.
# (The subshell keeps bash from printing a "Killed" job notice.)
pidfile=$tmp/stress.pid
(
	env LUOEMU_DEVICE="$dev" LUOEMU_STRESS_CLIENTS=1 LUOEMU_STRESS_PIDFILE="$pidfile" \
		timeout -k 5 120 "$LUOEMU" run --socket "$sock" -- "$LUO_CLIENT" stress 60 \
		>"$tmp/killed.log" 2>&1
	:
) 2>/dev/null &
killed_launcher=$!
bg_pids+=("$killed_launcher")
if wait_for 30 exists "$pidfile"; then
	sleep 0.5
	victim=$(cat "$pidfile")
	if kill -KILL "$victim" 2>/dev/null; then
		report OK "client (pid $victim) killed with SIGKILL while looping ioctls"
	else
		report FAIL "client killed with SIGKILL while looping ioctls" "pid $victim already gone"
	fi
else
	report FAIL "client killed with SIGKILL while looping ioctls" "it never started looping"
	show_log "$tmp/killed.log"
fi
if wait_for 15 dead "$killed_launcher"; then
	report OK "launcher exits after its client was killed"
else
	report FAIL "launcher exits after its client was killed" "still running after 15 s"
	kill -KILL "$killed_launcher" 2>/dev/null
fi
wait "$killed_launcher" 2>/dev/null
if alive "$daemon_pid"; then
	report OK "daemon survives the killed client"
else
	report FAIL "daemon survives the killed client" "daemon exited"
	show_log "$tmp/daemon.log"
	summary
fi
supervised "daemon serves the next client" -- "$LUO_CLIENT" open-exclusive names

# Concurrency: 64 worker processes (sharing the one allowed open of the
# device, as fork does) loop create/preserve/close for a bounded time.
supervised "$stress_clients concurrent clients, ${stress_secs}s create/preserve/close" \
	LUOEMU_STRESS_CLIENTS="$stress_clients" -- "$LUO_CLIENT" stress "$stress_secs"

# ---------------------------------------------------------------- leaks

if alive "$daemon_pid"; then
	# Releases are synchronous, but give the daemon a bounded moment to settle.
	wait_for 5 fd_count_is "$daemon_pid" "$fds_before"
	fds_after=$(fd_count "$daemon_pid")
	rss_after=$(rss_kb "$daemon_pid")
	if [ "$fds_after" = "$fds_before" ]; then
		report OK "daemon fd count unchanged ($fds_before)"
	else
		report FAIL "daemon fd count unchanged" "expected $fds_before, got $fds_after"
		find "/proc/$daemon_pid/fd/" -mindepth 1 -printf '%f -> %l\n' | sed 's/^/#   /'
	fi
	echo "# daemon RSS: ${rss_before} kB before, ${rss_after} kB after"
else
	report FAIL "daemon alive after the clients" "daemon exited"
	show_log "$tmp/daemon.log"
fi

# ---------------------------------------------------------------- shutdown

kill -TERM "$daemon_pid" 2>/dev/null
if wait_for 5 dead "$daemon_pid"; then
	wait "$daemon_pid"
	rc=$?
	daemon_pid=
	if [ "$rc" -eq 0 ]; then
		report OK "daemon exits 0 on SIGTERM"
	else
		report FAIL "daemon exits 0 on SIGTERM" "exit status $rc"
		show_log "$tmp/daemon.log"
	fi
else
	report FAIL "daemon exits 0 on SIGTERM" "still running after 5 s"
fi
if [ "$luo_frontend" = fuse ]; then
	gone_what="$dev gone with the daemon's namespaces (no process left in $daemon_ns)"
else
	gone_what="$dev removed after the daemon exited"
fi
if wait_for 5 node_gone "$dev" "$daemon_ns"; then
	report OK "$gone_what"
else
	report FAIL "$gone_what" "still present after 5 s"
fi

# ---------------------------------------------------------------- other daemon settings

# with_daemon SUFFIX WHAT DAEMON-ARGS... -- CLIENT-CMD...: a daemon of its own
# (device /dev/NAME-SUFFIX) for one check; CLIENT-CMD runs under the launcher.
with_daemon() {
	local suffix=$1 what=$2 args=() pid rc
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	shift
	local xdev=/dev/$name$suffix xsock=$tmp/$suffix.sock daemon_cmd
	daemon_argv "$name$suffix" "$xsock" "$tmp/$suffix.state"
	"${daemon_cmd[@]}" "${args[@]}" >"$tmp/$suffix.log" 2>&1 &
	pid=$!
	bg_pids+=("$pid")
	if ! wait_for 10 node_up "$pid" "$xdev"; then
		report FAIL "$what" "no $xdev after 10 s"
		show_log "$tmp/$suffix.log"
		return
	fi
	timeout -k 5 "$client_timeout" env LUOEMU_DEVICE="$xdev" LUOEMU_EMULATED=1 \
		"$@" "$LUOEMU" run --socket "$xsock" -- "$LUO_CLIENT" "${client_cases[@]}" \
		>"$tmp/$suffix.client.log" 2>&1
	rc=$?
	show_log "$tmp/$suffix.client.log"
	if [ "$rc" -eq 0 ]; then
		report OK "$what"
	else
		report FAIL "$what" "exit status $rc"
		show_log "$tmp/$suffix.log"
	fi
	kill -TERM "$pid" 2>/dev/null
	wait_for 5 dead "$pid" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# An unprivileged program of another uid.  System daemon (CUSE): uid/gid
# 65534 on a node opened up with --mode 0666 is served; it must be able to
# reach the control socket in $tmp.  Per-user daemon (FUSE): another uid
# cannot reach the user's private daemon at all, whatever the modes: its
# "luoemu run" cannot join the daemon's namespaces, the host has no
# /dev/NAME, and the daemon refuses it kexec.
client_cases=(names preserve session-fd close-unpreserves)
chmod 711 "$tmp"
setpriv=${SETPRIV:-setpriv}	# util-linux's: busybox's cannot change uids
other_uid=()
if "$setpriv" --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
	other_uid=("$setpriv" --reuid=65534 --regid=65534 --clear-groups)
	other_what="uid 65534"
elif [ "$luo_frontend" = fuse ] && sub=$(awk -F: -v u="$(id -un)" '$1 == u { print $2 }' /etc/subuid) &&
	[ -n "$sub" ] && command -v newuidmap >/dev/null &&
	unshare --map-root-user --map-users="$sub,1,1" --map-groups="$sub,1,1" -- \
		"$setpriv" --reuid=1 --regid=1 --clear-groups true 2>/dev/null; then
	# Unprivileged: our first subordinate uid (newuidmap), a uid of its own.
	other_uid=(unshare --map-root-user --map-users="$sub,1,1" --map-groups="$sub,1,1" --
		"$setpriv" --reuid=1 --regid=1 --clear-groups)
	other_what="subordinate uid $sub"
fi

# refused_other WHAT: (FUSE) a per-user daemon and a client of another uid
refused_other() {
	local what=$1 xname=$name-o xsock=$tmp/o.sock pid why="" daemon_cmd
	daemon_argv "$xname" "$xsock" "$tmp/o.state"
	"${daemon_cmd[@]}" --mode 0666 >"$tmp/o.log" 2>&1 &
	pid=$!
	bg_pids+=("$pid")
	if ! wait_for 10 node_up "$pid" "/dev/$xname" || ! wait_for 10 is_socket "$xsock"; then
		report FAIL "$what" "daemon not up after 10 s"
		show_log "$tmp/o.log"
		return
	fi
	# The socket must be reachable: the refusal proven is the daemon's.
	if ! timeout -k 5 60 "${other_uid[@]}" test -S "$xsock"; then
		report FAIL "$what" "$xsock not reachable by the other uid: make the directories above TMPDIR traversable (o+x)"
		return
	fi
	timeout -k 5 60 env LUOEMU_DEVICE="/dev/$xname" LUOEMU_EMULATED=1 "${other_uid[@]}" \
		"$LUOEMU" run --socket "$xsock" -- "$LUO_CLIENT" "${client_cases[@]}" \
		>"$tmp/o.run.log" 2>&1 && why+=" luoemu run succeeded;"
	grep -q 'belongs to another user' "$tmp/o.run.log" || why+=" no 'belongs to another user';"
	! grep -q '^# luo-client' "$tmp/o.run.log" || why+=" the client ran;"
	timeout -k 5 60 "${other_uid[@]}" "$LUOEMU" --socket "$xsock" kexec >"$tmp/o.kexec.log" 2>&1 &&
		why+=" luoemu kexec succeeded;"
	grep -q 'Operation not permitted' "$tmp/o.kexec.log" || why+=" kexec not refused with EPERM;"
	timeout -k 5 60 "${other_uid[@]}" sh -c "test -e /dev/$xname" && why+=" /dev/$xname visible to it;"
	show_log "$tmp/o.run.log"
	show_log "$tmp/o.kexec.log"
	if [ -z "$why" ]; then
		report OK "$what"
	else
		report FAIL "$what" "$why"
		show_log "$tmp/o.log"
	fi
	kill -TERM "$pid" 2>/dev/null
	wait_for 5 dead "$pid" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

if [ ${#other_uid[@]} -eq 0 ]; then
	report FAIL "a client of another uid" \
		"cannot run as another uid: needs root (util-linux setpriv, set SETPRIV) or, unprivileged, newuidmap (package uidmap) and a /etc/subuid range"
elif [ "$luo_frontend" = fuse ]; then
	refused_other "$other_what, per-user daemon (--mode 0666): refused (attach: belongs to another user), no /dev/$name-o on the host, kexec refused (EPERM)"
else
	with_daemon u "unprivileged client ($other_what, --mode 0666)" --mode 0666 -- "${other_uid[@]}"
fi
# The first release's rules.
client_cases=(compat-6.19)
with_daemon c "--compat 6.19: empty names, no GET_NAME, no EBUSY, 128 files" --compat 6.19 --

summary
