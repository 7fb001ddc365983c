#!/bin/bash
# Time of an emulated live update (request -> new daemon ready to retrieve)
# against preserved bytes and file count, per handover mode.  Needs CUSE;
# `bench/run-bench.sh --vm` runs it in the VM (the CUSE table; natively,
# run-bench.sh measures the FUSE daemon).  Usage: bench-update.sh BINDIR
set -u
bin=$1
MiB=$((1 << 20))
rows=${LUOEMU_BENCH_ROWS:-"exec:1:$MiB exec:1:$((64 * MiB)) exec:1:$((1024 * MiB)) exec:1:$((8192 * MiB))
copy:1:$MiB copy:1:$((64 * MiB)) copy:1:$((1024 * MiB))
exec:10:$MiB exec:100:$MiB exec:1000:$MiB exec:10000:$MiB
copy:10:$MiB copy:100:$MiB copy:1000:$MiB copy:10000:$MiB"}
dir=$(mktemp -d /tmp/luo-bench.XXXXXX)
export LUOEMU_SOCKET=$dir/ctl.sock LUOEMU_DEVICE=/dev/luobench
daemon=
cleanup() { [ -n "$daemon" ] && kill "$daemon" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

printf '%-5s %7s %12s %10s %12s %12s\n' mode files bytes preserve_ms update_ms retrieve_ms
for row in $rows; do
	IFS=: read -r mode count bytes <<<"$row"
	rm -rf "$dir/state"
	"$bin/luoemud" --name luobench --state-dir "$dir/state" >"$dir/d.log" 2>&1 &
	daemon=$!
	for _ in $(seq 100); do "$bin/luoemu" status 2>/dev/null | grep -q '^ready 1' && break; sleep 0.1; done
	# The subshell keeps bash from reporting the kill at the update.
	( "$bin/luoemu" run -- "$bin/luo-bench" preserve "$count" "$bytes" >"$dir/p.log" 2>&1 & wait ) 2>/dev/null &
	for _ in $(seq 6000); do grep -q READY "$dir/p.log" && break; sleep 0.1; done
	pres=$(sed -n 's/.* in \([0-9.]*\) ms/\1/p' "$dir/p.log")
	upd=$("$bin/luoemu" kexec --mode="$mode" | sed -n 's/.*after \([0-9.]*\) ms/\1/p')
	ret=$("$bin/luoemu" run -- "$bin/luo-bench" retrieve "$count" | sed -n 's/^RETRIEVED .* in \([0-9.]*\) ms.*/\1/p')
	printf '%-5s %7s %12s %10s %12s %12s\n' "$mode" "$count" "$bytes" "${pres:-?}" "${upd:-FAIL}" "${ret:-FAIL}"
	kill "$daemon"; wait "$daemon" 2>/dev/null; daemon=
	wait 2>/dev/null
done
