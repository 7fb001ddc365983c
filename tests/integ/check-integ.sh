#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `make check` entry for the CUSE integration suite: run it directly where
# the host has CUSE, else inside a qemu VM with Debian's kernel (tests/vm).
# Exit 77 (skip) when neither is possible, with the reason.
set -u
srcdir=${srcdir:-$(dirname "$0")/../..}
srcdir=$(cd "$srcdir" && pwd)
build=$(pwd)
bins=(luoemud luoemu tests/integ/luo-client tests/integ/luo-client-static tests/integ/luo-update)
for b in "${bins[@]}"; do
	[ -x "$build/$b" ] || { echo "check-integ: $build/$b not built"; exit 99; }
done

[ -c /dev/cuse ] || modprobe cuse 2>/dev/null
if [ -c /dev/cuse ] && [ -w /dev/cuse ]; then
	export LUOEMUD=$build/luoemud LUOEMU=$build/luoemu
	export LUO_CLIENT=$build/tests/integ/luo-client LUO_CLIENT_STATIC=$build/tests/integ/luo-client-static
	export LUO_UPDATE=$build/tests/integ/luo-update
	exec bash "$srcdir/tests/integ/run-all.sh"
fi
if [ "${LUOEMU_VM_TESTS:-yes}" = no ]; then
	echo "SKIP: no /dev/cuse on this host and VM tests are disabled"
	exit 77
fi
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: no /dev/cuse on this host; the VM harness needs root (apt, kernel cache)"
	exit 77
fi
# util-linux setpriv runs the unprivileged-client check (busybox's cannot).
files=(--file /bin/bash:/bin/bash --file "$(command -v setpriv):/t/setpriv")
for s in lib.sh run-integ.sh run-update.sh run-faults.sh run-all.sh; do
	files+=(--file "$srcdir/tests/integ/$s:/t/$s")
done
for b in "${bins[@]}"; do
	files+=(--file "$build/$b:/t/$(basename "$b")")
done
# run-update.sh's 1 GiB memfd exists twice in copy mode (memfd + tmpfs copy).
exec "$srcdir/tests/vm/vm-run" --timeout "${LUOEMU_VM_TIMEOUT:-900}" --mem 4G "${files[@]}" \
	--env SETPRIV=/t/setpriv --env LUOEMUD=/t/luoemud --env LUOEMU=/t/luoemu \
	--env LUO_CLIENT=/t/luo-client --env LUO_CLIENT_STATIC=/t/luo-client-static \
	--env LUO_UPDATE=/t/luo-update \
	--env LUOEMU_STRESS_SECS="${LUOEMU_STRESS_SECS:-10}" \
	${LUOEMU_BIG_SIZE:+--env LUOEMU_BIG_SIZE="$LUOEMU_BIG_SIZE"} \
	${LUOEMU_BIG_MODES:+--env LUOEMU_BIG_MODES="$LUOEMU_BIG_MODES"} \
	${LUOEMU_SUITES:+--env LUOEMU_SUITES="$LUOEMU_SUITES"} \
	-- /bin/bash /t/run-all.sh
