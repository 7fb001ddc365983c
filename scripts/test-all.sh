#!/bin/bash
# The whole test suite, as CI runs it, from a fresh Debian 12 machine (root):
# dependencies, a warnings-as-errors build with `make check` (unit tests and
# the integration suites once per frontend: FUSE natively as an unprivileged
# user, CUSE in a qemu VM when the host has no /dev/cuse), then the unit
# tests and the integration/fault suites again under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
[ "$(id -u)" = 0 ] && [ "${LUOEMU_SKIP_DEPS:-0}" != 1 ] && sh scripts/install-deps.sh >/tmp/luoemu-deps.log 2>&1 ||
	{ [ "$(id -u)" != 0 ] || [ "${LUOEMU_SKIP_DEPS:-0}" = 1 ] || { cat /tmp/luoemu-deps.log; exit 1; }; }
./autogen.sh >/dev/null 2>&1

status=0
run_suite() { # name, configure args...
	local name=$1; shift
	local dir="$top/build-$name"
	rm -rf "$dir"; mkdir -p "$dir"
	echo "=== $name: configure $*"
	(cd "$dir" && "$top/configure" -q "$@") || return 1
	echo "=== $name: make"
	make -C "$dir" -j"$(nproc)" >"$dir/make.log" 2>&1 || { cat "$dir/make.log"; return 1; }
	echo "=== $name: make check"
	local rc=0
	make -C "$dir" -j"$(nproc)" check || rc=1
	# Each program's own summary line (Check's, or the integration suite's).
	for log in "$dir"/tests/*/*.log; do
		case $log in */test-suite.log) continue ;; esac
		printf '%-40s %s\n' "${log#"$dir"/}" "$(grep -E '^[0-9]+%: Checks:|^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)"
	done
	[ $rc = 0 ] || cat "$dir/test-suite.log"
	return $rc
}
run_suite main --enable-werror || status=1
# Under ASan+UBSan the daemon, CLI and clients run the integration and fault
# suites too, on both frontends (a leak or a sanitizer report fails the
# daemon's exit check); the long live-update scenarios already ran above.
LUOEMU_SUITES="run-integ.sh run-faults.sh" LUOEMU_STRESS_SECS=10 \
	run_suite sanitizers --enable-werror --enable-sanitizers || status=1
echo "=== ops: scripts/check-ops.sh"
rm -rf build-ops
scripts/check-ops.sh >/tmp/luoemu-check-ops.log 2>&1 || status=1
grep -E '^(FAIL|[0-9]+ passed)' /tmp/luoemu-check-ops.log || true
# Counted with the rest below (the sum reads build-*/tests/*/*.log).
mkdir -p build-ops/tests/ops && cp /tmp/luoemu-check-ops.log build-ops/tests/ops/check-ops.log
# Check's per-program summaries are printed above; this line sums the suites.
passed=0; failed=0
for log in build-*/tests/*/*.log; do
	[ -f "$log" ] || continue
	case $log in *test-suite.log) continue ;; esac
	p=$(grep -Eo '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -1 || true)
	if [ -n "$p" ]; then
		c=$(echo "$p" | sed -E 's/.*Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+)/\1 \2 \3/')
		set -- $c
		passed=$((passed + $1 - $2 - $3)); failed=$((failed + $2 + $3))
	fi
	p=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 || true)
	if [ -n "$p" ]; then
		passed=$((passed + $(echo "$p" | cut -d' ' -f1))); failed=$((failed + $(echo "$p" | cut -d' ' -f3)))
	fi
done
[ "$status" = 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "$passed passed, $failed failed"
exit $status
