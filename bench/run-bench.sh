#!/bin/bash
# Build the benchmark client and run bench-update.sh: directly where the host
# has CUSE, else in the qemu VM (numbers are then TCG-inflated: compare rows,
# not absolute values).  Usage: bench/run-bench.sh [BUILDDIR]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-main}
for b in luoemud luoemu bench/luo-bench; do
	[ -x "$build/$b" ] || { echo "run-bench: build first (make -C $build bench/luo-bench)"; exit 1; }
done
[ -c /dev/cuse ] || modprobe cuse 2>/dev/null || true
if [ -c /dev/cuse ]; then
	mkdir -p /tmp/luo-bench-bin && cp "$build/luoemud" "$build/luoemu" "$build/bench/luo-bench" /tmp/luo-bench-bin/
	exec bash "$top/bench/bench-update.sh" /tmp/luo-bench-bin
fi
exec "$top/tests/vm/vm-run" --timeout 3000 --mem "${LUOEMU_BENCH_MEM:-12G}" \
	--file /bin/bash:/bin/bash --file "$build/luoemud:/b/luoemud" --file "$build/luoemu:/b/luoemu" \
	--file "$build/bench/luo-bench:/b/luo-bench" --file "$top/bench/bench-update.sh:/b/bench-update.sh" \
	${LUOEMU_BENCH_ROWS:+--env "LUOEMU_BENCH_ROWS=$LUOEMU_BENCH_ROWS"} \
	-- bash /b/bench-update.sh /b
