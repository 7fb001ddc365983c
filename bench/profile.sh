#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Where an emulated update and a retrieve of N files spend their time:
# `perf record` (cpu-clock, kernel call graphs, system-wide so the daemon,
# its helpers, the CLI and the kernel are all in it) around `luoemu kexec`
# and around `luo-bench retrieve N`, then the top symbols of luoemu's
# processes.  With --syscalls, a second cycle under `strace -c -f` counts the
# syscalls of the daemon and its helpers (divided by N: per file); strace
# can stall a FUSE server mid-update, so each step is bounded by a timeout.
# Findings: bench/PROFILE.md.
#
# Usage: bench/profile.sh [--files N] [--mode exec|copy] [--out DIR] [--syscalls] [BUILDDIR]
#   LUOEMUD, LUOEMU, LUOEMUD_ARGS as for bench/run-bench.sh.
# System-wide sampling needs root or kernel.perf_event_paranoid <= 0.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-main files=10000 mode=exec out=$PWD/bench-profile syscalls=''
while [ $# -gt 0 ]; do
	case $1 in
	--files) files=$2; shift ;;
	--mode) mode=$2; shift ;;
	--out) out=$2; shift ;;
	--syscalls) syscalls=1 ;;
	-h|--help) sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) build=$1 ;;
	esac
	shift
done
build=$(cd "$build" 2>/dev/null && pwd) || { echo "profile: no build directory $build" >&2; exit 1; }
LUOEMUD=${LUOEMUD:-$build/luoemud} LUOEMU=${LUOEMU:-$build/luoemu}
LUOEMUD_ARGS=${LUOEMUD_ARGS:---user}
bb=$build/bench
# shellcheck source=bench/bench-lib.sh
. "$top/bench/bench-lib.sh"
command -v perf >/dev/null || die "no perf (apt-get install linux-perf)"
perf record -q -e cpu-clock -a -o /dev/null -- true >/dev/null 2>&1 ||
	die "perf cannot sample system-wide: run as root, or sysctl kernel.perf_event_paranoid=0"
check_fuse_prereqs
check_daemon_prereqs

mkdir -p "$out"
dir=$(bench_tmpdir luo-profile) || die "no writable scratch directory"
daemon=
trap 'stop_daemon; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM

record() { # NAME CMD...: perf data in $out/NAME.data, the command's output on stdout
	local name=$1
	shift
	perf record -q -e cpu-clock -F 4999 -g -a -o "$out/$name.data" -- "$@" 2>"$out/$name.perf.log"
}
trace() { # NAME CMD...: syscall counts of the daemon's processes in $out/NAME.trace
	local name=$1 p s
	local -a pids=()
	shift
	for p in $(proc_tree "$daemon"); do pids+=(-p "$p"); done
	# -f follows the exec of an exec-mode update and the helpers it forks.
	# ptrace stops can stall a FUSE server mid-update: bounded by timeout.
	strace -f -c -S calls -o "$out/$name.trace" "${pids[@]}" 2>/dev/null &
	s=$!
	sleep 0.5
	timeout 120 "$@" || echo "($name under strace: $? after 120 s at most)" >&2
	sleep 0.3
	kill -INT "$s" 2>/dev/null
	wait "$s" || true
}
# Only luoemu's processes, percentages of their samples (the machine runs others).
ours=luoemud,luoemu,luo-bench,luoemu-courier
report() { # NAME
	echo "---- $1: where luoemu's processes spend their samples (self), top 25"
	perf report -q --stdio --no-children --comms "$ours" --percentage relative -i "$out/$1.data" \
		--sort comm,dso,sym -g none --percent-limit 0.8 2>/dev/null | sed '/^$/d' | head -25
	[ -s "$out/$1.trace" ] || return 0
	echo "---- $1: syscalls of the daemon and its helpers (strace -c -f), per file of $files"
	awk -v n="$files" '$4 ~ /^[0-9]+$/ && NF >= 5 && $NF != "total" {
		printf "    %-22s %9d calls  %7.2f per file\n", $NF, $4, $4 / n }
		$NF == "total" { printf "    %-22s %9d calls  %7.2f per file\n", "ALL", $4, $4 / n }' \
		"$out/$1.trace" | head -16
}
cycle() { # TOOL: one preserve, update, retrieve, under TOOL (record or trace)
	start_daemon "$1"
	preserve_side "$dir/p.log" preserve "$files" $((files * 4096))
	sed -n 's/^READY /preserved: /p' "$dir/p.log"
	"$1" update "$LUOEMU" kexec --mode="$mode"
	"$1" retrieve "$LUOEMU" run -- "$bb/luo-bench" retrieve "$files" | grep -v '^RESULT.*tenth'
	stop_daemon
}

cycle record
rm -f "$out/update.trace" "$out/retrieve.trace"
if [ -n "$syscalls" ]; then
	command -v strace >/dev/null || die "no strace (apt-get install strace)"
	cycle trace
fi
report update
report retrieve
echo "perf data: $out/{update,retrieve}.data (perf report -i FILE --comms luoemud -g caller for call chains)"
