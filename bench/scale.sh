#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The daemon at scale (issue 10): SESSIONS sessions holding FILES small
# memfds, then an emulated update.  For every process of the daemon (the
# daemon and its helpers: courier, server) at each phase: RSS, fd count, and
# how many memfds it holds; the RSS growth per entry (session or file); and
# every process that holds a preserved file (after an update only the daemon
# should: issue 10 found the courier holding all of them).
#
# Usage: bench/scale.sh [--sessions N] [--files N] [--mode exec|copy|both] [BUILDDIR]
#   LUOEMUD, LUOEMU, LUOEMUD_ARGS as for bench/run-bench.sh.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-main sessions=10000 files=10000 modes='exec copy'
while [ $# -gt 0 ]; do
	case $1 in
	--sessions) sessions=$2; shift ;;
	--files) files=$2; shift ;;
	--mode) modes=$2; [ "$modes" = both ] && modes='exec copy'; shift ;;
	-h|--help) sed -n '3,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) build=$1 ;;
	esac
	shift
done
build=$(cd "$build" 2>/dev/null && pwd) || { echo "scale: no build directory $build" >&2; exit 1; }
LUOEMUD=${LUOEMUD:-$build/luoemud} LUOEMU=${LUOEMU:-$build/luoemu}
LUOEMUD_ARGS=${LUOEMUD_ARGS:---user}
bb=$build/bench
# shellcheck source=bench/bench-lib.sh
. "$top/bench/bench-lib.sh"
check_fuse_prereqs
check_daemon_prereqs

dir=$(bench_tmpdir luo-scale) || die "no writable scratch directory"
daemon=
trap 'stop_daemon; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM

rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' /proc/"$1"/status 2>/dev/null || true; }
# A process may exit while we look: find fails, the count is what it saw.
nfds() { { find /proc/"$1"/fd -mindepth 1 -maxdepth 1 2>/dev/null || true; } | wc -l; }
nmemfds() { { find /proc/"$1"/fd -mindepth 1 -maxdepth 1 -lname "${2:-*memfd:*}" 2>/dev/null || true; } | wc -l; }

# One line per daemon process; on fd 3 the RSS in kB of the whole tree and
# of the daemon process alone (a forked helper's copy-on-write pages count
# in its own RSS too).
snapshot() { # PHASE
	local p total=0 main='' r
	for p in $(proc_tree "$daemon"); do
		r=$(rss_kb "$p")
		[ -n "$r" ] || continue
		total=$((total + r))
		main=${main:-$r}
		printf '%-16s %7s %-16s %10s %7s %7s\n' "$1" "$p" "$(cat /proc/"$p"/comm 2>/dev/null || true)" "$r" \
			"$(nfds "$p")" "$(nmemfds "$p")"
	done
	echo "$total ${main:-0}" >&3
}

# Every process holding preserved files: in the daemon's tree any memfd, elsewhere
# memfds named like luo-bench's.  Issue 10's goal: the daemon alone.
holders() {
	local tree p n count=0
	tree=" $(proc_tree "$daemon" | tr '\n' ' ') "
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		case $tree in
		*" $p "*) n=$(nmemfds "$p") ;;
		*) n=$(nmemfds "$p" '*memfd:bench*') ;;
		esac
		[ "$n" -gt 0 ] || continue
		count=$((count + 1))
		printf '    pid %s (%s) holds %s memfds\n' "$p" "$(cat /proc/"$p"/comm 2>/dev/null || true)" "$n"
	done
	printf '  %d processes hold preserved files (goal: 1, the daemon)\n' "$count"
}

echo "luoemu scale, $(date -u '+%F %H:%M UTC'), $(uname -r), as $(id -un): $sessions sessions, $files files of 16 B"
for mode in $modes; do
	echo
	echo "== $mode-mode update"
	start_daemon "$mode"
	printf '%-16s %7s %-16s %10s %7s %7s\n' phase pid comm rss_kB fds memfds
	snapshot idle 3>"$dir/idle.total"
	preserve_side "$dir/p.log" scale "$sessions" "$files"
	sed -n 's/^READY /  preserved: /p' "$dir/p.log"
	snapshot preserved 3>"$dir/pres.total"
	luo_kexec "$mode"
	echo "  update: ready after ${kx_total:-FAIL} ms (handover ${kx_handover:--}, restart ${kx_restart:--})"
	snapshot after-update 3>"$dir/upd.total"
	read -r idle idle_main <"$dir/idle.total"
	read -r pres pres_main <"$dir/pres.total"
	read -r upd upd_main <"$dir/upd.total"
	awk -v i="$idle" -v p="$pres" -v u="$upd" -v im="$idle_main" -v pm="$pres_main" -v um="$upd_main" \
		-v n=$((sessions + files)) 'BEGIN {
		printf "  RSS per entry (%d entries), daemon alone: %.0f bytes preserved, %.0f after the update\n",
			n, (pm - im) * 1024 / n, (um - im) * 1024 / n
		printf "  RSS per entry, daemon and helpers:       %.0f bytes preserved, %.0f after the update\n",
			(p - i) * 1024 / n, (u - i) * 1024 / n }'
	echo "  after the update:"
	holders
	stop_daemon
done
