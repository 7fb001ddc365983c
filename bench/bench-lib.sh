# shellcheck shell=bash disable=SC2154
# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by bench/run-bench.sh and bench/scale.sh (sourced, not run).
# Expects: LUOEMUD, LUOEMU, LUOEMUD_ARGS, bb (the bench build dir), dir (a
# private scratch dir); sets: daemon (the pid of the daemon started).

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# FUSE in a user namespace, each refusal with its remedy.
check_fuse_prereqs() {
	[ -c /dev/fuse ] || die "no /dev/fuse (modprobe fuse, or give the container /dev/fuse)"
	{ [ -r /dev/fuse ] && [ -w /dev/fuse ]; } ||
		die "/dev/fuse is not read-writable by $(id -un): as root, chmod 0666 /dev/fuse (distributions ship it 0666)"
	[ "$(id -u)" = 0 ] && return 0
	[ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0)" -gt 0 ] ||
		die "user namespaces are disabled: sysctl user.max_user_namespaces=N (N > 0)"
	[ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 1 ] ||
		die "unprivileged user namespaces are disabled: sysctl kernel.unprivileged_userns_clone=1"
	[ "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 2>/dev/null || echo 0)" = 0 ] ||
		die "AppArmor restricts unprivileged user namespaces: load luoemu's profile from contrib/ or sysctl kernel.apparmor_restrict_unprivileged_userns=0"
}

check_daemon_prereqs() {
	local b
	for b in "$LUOEMUD" "$LUOEMU" "$bb/luo-bench"; do
		[ -x "$b" ] || die "missing $b: build first (make)"
	done
	"$LUOEMUD" --help 2>&1 | grep -q -- '--user' ||
		die "$LUOEMUD has no --user (the per-user FUSE daemon): point LUOEMUD/LUOEMU at a build that has it"
}

# A private scratch directory on a tmpfs, as a real runtime directory is
# (/run/user/UID): on a disk, copy mode's fsync per data file is a disk flush.
bench_tmpdir() { # PREFIX
	local base d
	for base in "${XDG_RUNTIME_DIR:-}" /dev/shm /tmp; do
		[ -n "$base" ] && [ -d "$base" ] && [ -w "$base" ] || continue
		[ "$(stat -f -c %T "$base")" = tmpfs ] || [ "$base" = /tmp ] || continue
		d=$(mktemp -d "$base/$1.XXXXXX") && chmod 0700 "$d" && echo "$d" && return 0
	done
	return 1
}

# Each daemon gets a fresh private runtime directory: no state from an
# earlier row, and no clash with a daemon the user runs.
start_daemon() { # TAG
	export XDG_RUNTIME_DIR=$dir/run.$1
	mkdir -m 0700 "$XDG_RUNTIME_DIR"
	export LUOEMU_SOCKET=$XDG_RUNTIME_DIR/luoemu/control.sock
	# shellcheck disable=SC2086
	"$LUOEMUD" $LUOEMUD_ARGS --rundir "$XDG_RUNTIME_DIR/luoemu" --socket "$LUOEMU_SOCKET" \
		--state-dir "$XDG_RUNTIME_DIR/luoemu/state" >"$dir/daemon.log" 2>&1 &
	daemon=$!
	for _ in $(seq 200); do
		"$LUOEMU" status 2>/dev/null | grep -q '^ready 1' && return 0
		kill -0 "$daemon" 2>/dev/null || break
		sleep 0.1
	done
	tail -20 "$dir/daemon.log" >&2
	die "the daemon ($LUOEMUD $LUOEMUD_ARGS) did not become ready; its log is above"
}

stop_daemon() {
	[ -n "${daemon:-}" ] || return 0
	kill "$daemon" 2>/dev/null || true
	wait "$daemon" 2>/dev/null || true
	daemon=
	# A daemon that died leaves its FUSE mounts: ours are under $dir, and the
	# device path when the caller named a private one.
	local m
	for m in $(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts); do
		umount -l "$m" 2>/dev/null || true
	done
	if [ -n "${LUOEMU_DEVICE:-}" ] && [ "$LUOEMU_DEVICE" != /dev/liveupdate ]; then
		while awk -v p="$LUOEMU_DEVICE" '$2 == p { f = 1 } END { exit !f }' /proc/mounts; do
			umount -l "$LUOEMU_DEVICE" 2>/dev/null || break
		done
	fi
}

# Run a luo-bench preserving side in the background until it prints READY;
# the update ends it.
preserve_side() { # LOG ARGS...
	local log=$1
	shift
	rm -f "$log" # never read the READY of an earlier row
	# The subshell keeps bash from reporting the kill at the update.
	( "$LUOEMU" run -- "$bb/luo-bench" "$@" >"$log" 2>&1 & wait ) 2>/dev/null &
	for _ in $(seq 3000); do
		grep -q READY "$log" && return 0
		grep -q 'luo-bench:' "$log" && break
		sleep 0.1
	done
	cat "$log" >&2
	die "luo-bench $* did not get ready"
}

# An emulated update.  Sets kx_total (request to the next daemon ready, ms,
# empty on failure) and, where the CLI has --json, kx_handover (until the
# daemon's reply: serializing, copying) and kx_restart (reply to ready).
luo_kexec() { # MODE
	local out
	kx_total='' kx_handover='' kx_restart=''
	if "$LUOEMU" kexec --help 2>&1 | grep -q -- --json; then
		out=$("$LUOEMU" kexec --mode="$1" --json 2>"$dir/kexec.err") || true
		kx_total=$(sed -n 's/.*"total":\([0-9.]*\).*/\1/p' <<<"$out")
		kx_handover=$(sed -n 's/.*"handover":\([0-9.]*\).*/\1/p' <<<"$out")
		kx_restart=$(sed -n 's/.*"restart":\([0-9.]*\).*/\1/p' <<<"$out")
	else
		out=$("$LUOEMU" kexec --mode="$1" 2>"$dir/kexec.err") || true
		kx_total=$(sed -n 's/.*after \([0-9.]*\) ms.*/\1/p' <<<"$out")
	fi
}

# PID and all its descendants, one per line.
proc_tree() { # PID
	local p=$1 c
	echo "$p"
	# shellcheck disable=SC2013
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
		proc_tree "$c"
	done
}
