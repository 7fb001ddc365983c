#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# luoemu's cost, natively, against the least the transports can cost, all in
# ONE run (these machines vary from run to run: compare within a run):
#   1. bare round trips: a FUSE ioctl + process_vm_readv (bench/bare-fuse,
#      multi-threaded loop as the daemon uses, and single-threaded), a seccomp
#      user notification (bench/bare-seccomp, SEND and ADDFD);
#   2. every LUO call through the per-user daemon (`luoemud --user`, FUSE
#      frontend) and `luoemu run`: median per call, ratio to the bare FUSE
#      round trip, issue 10's goals beside it;
#   3. emulated updates (`luoemu kexec --mode=exec|copy`) against file count
#      and bytes, retrieving N files against N single calls.
#
# Usage: bench/run-bench.sh [--bare-only] [--big] [--iterations N] [BUILDDIR]
#   LUOEMUD, LUOEMU        the daemon and CLI to measure (default: BUILDDIR's)
#   LUOEMUD_ARGS           the daemon's arguments (default: --user); each daemon
#                          also gets --rundir, --socket and --state-dir in a
#                          fresh private directory
#   LUOEMU_DEVICE          the device path luo-bench opens (default /dev/liveupdate;
#                          e.g. LUOEMUD_ARGS="--frontend fuse --name luobench"
#                          LUOEMU_DEVICE=/dev/luobench as root, no namespaces)
#   LUOEMU_BENCH_ROWS      update rows, "mode:files:bytes ..." (default below)
#   --big                  adds 8 GiB and 100 000-file rows (minutes more)
#   --vm                   the old CUSE path: bench-update.sh in the qemu VM
# A normal user can run it (FUSE in a user namespace); /dev/fuse must be
# read-writable (distributions make it 0666; chmod 0666 /dev/fuse as root).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-main bare_only='' big='' vm='' n=2000
while [ $# -gt 0 ]; do
	case $1 in
	--bare-only) bare_only=1 ;;
	--big) big=1 ;;
	--vm) vm=1 ;;
	--iterations) n=$2; shift ;;
	-h|--help) sed -n '3,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) build=$1 ;;
	esac
	shift
done
build=$(cd "$build" 2>/dev/null && pwd) || { echo "run-bench: no build directory $build" >&2; exit 1; }
LUOEMUD=${LUOEMUD:-$build/luoemud} LUOEMU=${LUOEMU:-$build/luoemu}
LUOEMUD_ARGS=${LUOEMUD_ARGS:---user}
bb=$build/bench
# shellcheck source=bench/bench-lib.sh
. "$top/bench/bench-lib.sh"

if [ -n "$vm" ]; then
	exec "$top/tests/vm/vm-run" --timeout 3000 --mem "${LUOEMU_BENCH_MEM:-12G}" \
		--file /bin/bash:/bin/bash --file "$LUOEMUD:/b/luoemud" --file "$LUOEMU:/b/luoemu" \
		--file "$bb/luo-bench:/b/luo-bench" --file "$top/bench/bench-update.sh:/b/bench-update.sh" \
		${LUOEMU_BENCH_ROWS:+--env "LUOEMU_BENCH_ROWS=$LUOEMU_BENCH_ROWS"} \
		-- bash /b/bench-update.sh /b
fi

# Prerequisites, each with its remedy.
for b in bare-fuse bare-seccomp; do
	[ -x "$bb/$b" ] || die "missing $bb/$b: build first (make -C $build bench/$b)"
done
check_fuse_prereqs
[ -n "$bare_only" ] || check_daemon_prereqs

dir=$(bench_tmpdir luo-bench) || die "no writable scratch directory"
daemon=
trap 'stop_daemon; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM

# RESULT lines (bench/latency.h) -> one field of the named row.
field() { sed -n "s/^RESULT $2 .* $3=\([0-9.]*\).*/\1/p" "$1" | tail -1; }
fmt() { awk -v x="$1" 'BEGIN { if (x == "") print "?"; else printf "%.1f", x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "?"; else printf "%.2f", a / b }'; }
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
verdict() { # RATIO GOAL
	awk -v r="$1" -v g="$2" 'BEGIN { if (g == "" || r == "?") print ""; else if (r <= g) print "met"; else print "NOT met" }'
}

bare() { # LABEL PROGRAM ARGS...: the median of one run
	local label=$1 out=$dir/bare.out
	shift
	BARE_LABEL=$label "$@" >"$out" 2>&1 || { cat "$out" >&2; die "$label failed"; }
	grep '^RESULT' "$out" >>"$dir/bare.all"
	field "$out" "$label" median
}

echo "luoemu bench, $(date -u '+%F %H:%M UTC'), $(uname -r), $(nproc) CPUs, as $(id -un)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v n="$(nproc)" '$1 > n { exit 1 }' /proc/loadavg ||
	echo "(the machine is busy: medians are inflated; compare the min column and rerun when idle)"
fuse_mt1=$(bare bare-fuse-mt "$bb/bare-fuse" --loop mt "$n")
fuse_mt2=$(bare bare-fuse-mt "$bb/bare-fuse" --loop mt "$n")
fuse_st=$(bare bare-fuse-st "$bb/bare-fuse" --loop st "$n")
secc=$(bare bare-seccomp "$bb/bare-seccomp" "$n")
secc_addfd=$(bare bare-seccomp-addfd "$bb/bare-seccomp" --addfd "$n")

if [ -z "$bare_only" ]; then
	start_daemon ops
	preserve_side "$dir/pre.out" ops-pre "$n"
	luo_kexec exec
	[ -n "$kx_total" ] || die "luoemu kexec failed (daemon log: $(tail -3 "$dir/daemon.log"))"
	"$LUOEMU" run -- "$bb/luo-bench" ops-post "$n" >"$dir/post.out" 2>&1 ||
		{ cat "$dir/post.out" >&2; die "luo-bench ops-post failed"; }
	stop_daemon
	cat "$dir/pre.out" "$dir/post.out" >"$dir/ops.out"
fi
# The yardstick once more after the daemon ran; wake-up costs on these
# machines jump between runs, so the basis is the median of three runs.
fuse_mt3=$(bare bare-fuse-mt "$bb/bare-fuse" --loop mt "$n")
fuse=$(median3 "$fuse_mt1" "$fuse_mt2" "$fuse_mt3")

echo
echo "Bare round trips (median µs over $n calls each):"
printf '  %-52s %s\n' "FUSE ioctl + process_vm_readv, loop_mt (3 runs)" \
	"$(fmt "$fuse_mt1") / $(fmt "$fuse_mt2") / $(fmt "$fuse_mt3") -> $(fmt "$fuse")" \
	"FUSE ioctl + process_vm_readv, single-threaded loop" "$(fmt "$fuse_st")" \
	"seccomp user notification, RECV + SEND" "$(fmt "$secc")" \
	"seccomp user notification, RECV + ADDFD|SEND" "$(fmt "$secc_addfd")" \
	"fd-returning floor: FUSE (mt) + seccomp ADDFD" "$(awk -v a="$fuse" -v b="$secc_addfd" 'BEGIN { printf "%.1f", a + b }')"
if [ -n "$bare_only" ]; then
	exit 0
fi

echo
echo "Per call, luoemu ($LUOEMUD $LUOEMUD_ARGS) vs the bare FUSE round trip ($(fmt "$fuse") µs) of this run:"
printf '%-22s %10s %8s %8s %10s %8s %7s\n' operation "luoemu_µs" "min_µs" "bare_µs" ratio goal ""
row() { # LABEL SHOWN GOAL
	local med min r
	med=$(field "$dir/ops.out" "$1" median)
	min=$(field "$dir/ops.out" "$1" min)
	r=$(ratio "$med" "$fuse")
	printf '%-22s %10s %8s %8s %9s× %8s %7s\n' "$2" "$(fmt "$med")" "$(fmt "$min")" "$(fmt "$fuse")" "$r" \
		"${3:+≤ $3×}" "$(verdict "$r" "$3")"
}
row GET_NAME GET_NAME 1.2
row PRESERVE_FD_16 "PRESERVE_FD 16 B" 1.2
row PRESERVE_FD_4096 "PRESERVE_FD 4 KiB" 1.2
row PRESERVE_FD_1048576 "PRESERVE_FD 1 MiB" ""
row PRESERVE_FD_67108864 "PRESERVE_FD 64 MiB" ""
row FINISH FINISH 1.2
row CREATE_SESSION CREATE_SESSION 2
row close_outgoing "close (outgoing)" ""
row RETRIEVE_SESSION RETRIEVE_SESSION 2
row RETRIEVE_FD_first "RETRIEVE_FD" 2
row RETRIEVE_FD_again "RETRIEVE_FD again" 2
row close_incoming "close (incoming)" ""
one_call=$(field "$dir/ops.out" RETRIEVE_FD_first median)

# ---- updates -----------------------------------------------------------------
MiB=$((1 << 20))
rows=${LUOEMU_BENCH_ROWS:-"exec:1:$MiB exec:100:$MiB exec:1000:$MiB exec:10000:$MiB
copy:1:$MiB copy:100:$MiB copy:1000:$MiB copy:10000:$MiB
exec:1:$((64 * MiB)) exec:1:$((1024 * MiB)) copy:1:$((64 * MiB)) copy:1:$((1024 * MiB))"}
[ -n "$big" ] && rows="$rows exec:100000:$MiB copy:100000:$MiB exec:1:$((8192 * MiB)) copy:1:$((8192 * MiB))"

echo
echo "Emulated updates (luoemu kexec), one session of N memfds, then retrieving them."
echo "update_ms is luoemu kexec's figure (request to next daemon ready; it polls every"
echo "10 ms), split where its --json has it into handover (until the daemon's reply)"
echo "and restart (reply to ready):"
printf '%-5s %7s %11s %11s %10s %9s %9s %12s %14s %8s\n' mode files bytes preserve_ms update_ms handover restart \
	retrieve_ms "N×one_call_ms" ratio
declare -A upd rst retr
k=0
for r in $rows; do
	IFS=: read -r mode count bytes <<<"$r"
	k=$((k + 1))
	start_daemon "u$k"
	preserve_side "$dir/p.log" preserve "$count" "$bytes"
	pres=$(sed -n 's/.* in \([0-9.]*\) ms.*/\1/p' "$dir/p.log")
	luo_kexec "$mode"
	u=$kx_total
	out=$("$LUOEMU" run -- "$bb/luo-bench" retrieve "$count" 2>&1) || true
	fdloop=$(sed -n 's/.*RETRIEVE_FD loop \([0-9.]*\) ms.*/\1/p' <<<"$out")
	[ -n "$u" ] || echo "  ($mode:$count:$bytes) kexec: $(tail -1 "$dir/kexec.err" 2>/dev/null); daemon: $(grep -E 'crit|error' "$dir/daemon.log" | tail -1)" >&2
	[ -n "$fdloop" ] || echo "  ($mode:$count:$bytes) retrieve: $(grep -v '^RESULT' <<<"$out" | tail -1)" >&2
	nx=$(awk -v n="$count" -v c="$one_call" 'BEGIN { if (c == "") print ""; else printf "%.3f", n * c / 1000 }')
	printf '%-5s %7s %11s %11s %10s %9s %9s %12s %14s %7s×\n' "$mode" "$count" "$bytes" "${pres:-?}" \
		"${u:-FAIL}" "${kx_handover:--}" "${kx_restart:--}" "${fdloop:-FAIL}" "${nx:-?}" \
		"$(ratio "$fdloop" "$nx")"
	[ "$bytes" = "$MiB" ] && upd[$mode:$count]=$u && rst[$mode:$count]=${kx_restart:-}
	[ -n "$fdloop" ] && retr[$mode:$count]="$fdloop $nx"
	stop_daemon
done

echo
echo "Scaling goals (issue 10):"
for mode in exec copy; do
	for c in 1000 10000 100000; do
		a=${upd[$mode:$c]:-} b=${upd[$mode:1]:-}
		[ -n "$a" ] || [ "$c" = 10000 ] || continue
		r=$(ratio "$a" "$b")
		printf '  %-48s %7s×  goal ≤ 3×  %s\n' "$mode update, $c files / 1 file (1 MiB total)" "$r" \
			"$(verdict "$r" 3)"
		a=${rst[$mode:$c]:-} b=${rst[$mode:1]:-}
		[ -n "$a$b" ] || continue
		r=$(ratio "$a" "$b")
		printf '  %-48s %7s×  goal ≤ 3×  %s\n' "  restart phase only, $c files / 1 file" "$r" "$(verdict "$r" 3)"
	done
done
for key in exec:1000 exec:10000 exec:100000 copy:1000 copy:10000; do
	[ -n "${retr[$key]:-}" ] || continue
	read -r a b <<<"${retr[$key]}"
	r=$(ratio "$a" "$b")
	printf '  %-48s %7s×  goal ≤ 1.2×  %s\n' "retrieve ${key#*:} files ($key) / N × one RETRIEVE_FD" "$r" "$(verdict "$r" 1.2)"
done
