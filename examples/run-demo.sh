#!/bin/bash
# The README's main job, from a fresh Debian 12 machine as root: install the
# dependencies, build luoemu, and run an end-to-end emulated live update of
# a toy VMM.  Runs directly where the host has CUSE, else inside a qemu VM
# booting Debian's kernel (the host kernel lacks CUSE).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
if [ "$(id -u)" = 0 ] && [ "${LUOEMU_SKIP_DEPS:-0}" != 1 ]; then
	echo "demo: installing build dependencies (apt-get)"
	sh scripts/install-deps.sh >/tmp/luoemu-deps.log 2>&1 || { cat /tmp/luoemu-deps.log; exit 1; }
fi
build=$top/build-demo
if [ ! -x "$build/luoemud" ] || [ ! -x "$build/examples/vmm-demo" ]; then
	echo "demo: building luoemu in $build"
	[ -x configure ] || ./autogen.sh >/dev/null 2>&1
	mkdir -p "$build"
	(cd "$build" && "$top/configure" -q && make -j"$(nproc)" >/dev/null)
fi
bins=(luoemud luoemu examples/vmm-demo)
[ -c /dev/cuse ] || modprobe cuse 2>/dev/null || true
if [ -c /dev/cuse ]; then
	exec sh "$top/examples/demo-guest.sh" "$build" "${LUOEMU_DEMO_RAM_MIB:-256}"
fi
echo "demo: this kernel has no CUSE; running the demo in a qemu VM (Debian's 6.1 kernel)"
files=()
for b in "${bins[@]}"; do files+=(--file "$build/$b:/demo/$(basename "$b")"); done
exec "$top/tests/vm/vm-run" --timeout 300 --mem 2G "${files[@]}" \
	--file "$top/examples/demo-guest.sh:/demo/demo-guest.sh" \
	-- sh /demo/demo-guest.sh /demo "${LUOEMU_DEMO_RAM_MIB:-256}"
