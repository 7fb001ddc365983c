#!/bin/bash
# The README's main job, from a fresh Debian 12 machine: install the
# dependencies (root only does that), build luoemu, and run an end-to-end
# emulated live update of a toy VMM natively, as an unprivileged user, with
# the per-user daemon (FUSE in a user namespace: no root, no CUSE, no VM).
# Run as root, it makes /dev/fuse usable by users (0666, as desktop
# distributions ship it) and runs the demo as user $LUOEMU_DEMO_USER
# (default: luodemo, created if missing).  Run as a normal user, it runs
# the demo as that user.
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
ram=${LUOEMU_DEMO_RAM_MIB:-256}
if [ "$(id -u)" != 0 ]; then
	exec sh "$top/examples/demo-guest.sh" "$build" "$ram"
fi

user=${LUOEMU_DEMO_USER:-luodemo}
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
[ -c /dev/fuse ] || { echo "demo: /dev/fuse is missing (modprobe fuse)"; exit 1; }
chmod 0666 /dev/fuse
# The source tree may sit in a directory the user cannot enter: give them a copy of the programs.
bin=$(mktemp -d /tmp/luoemu-demo-bin.XXXXXX)
trap 'rm -rf "$bin"' EXIT
install -m 0755 "$build/luoemud" "$build/luoemu" "$build/examples/vmm-demo" \
	"$top/examples/demo-guest.sh" "$bin/"
chmod 0755 "$bin"
echo "demo: running as user $user (uid $(id -u "$user")), no capabilities, no CUSE"
setpriv --reuid="$user" --regid="$user" --init-groups --reset-env \
	sh "$bin/demo-guest.sh" "$bin" "$ram"
