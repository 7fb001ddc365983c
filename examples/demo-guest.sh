#!/bin/sh
# The end-to-end demo, on a machine with CUSE: start luoemud, run the toy
# VMM under `luoemu run` (it preserves guest RAM and triggers the update),
# then run it again in the "new kernel" and let it prove its RAM is intact.
# Usage: demo-guest.sh BINDIR [RAM_MiB]
set -eu
bin=$1
ram=${2:-256}
dir=$(mktemp -d /tmp/luoemu-demo.XXXXXX)
export LUOEMU_SOCKET="$dir/control.sock"
say() { echo "demo: $*"; }

say "starting luoemud: /dev/liveupdate over CUSE"
"$bin/luoemud" --state-dir "$dir/state" >"$dir/luoemud.log" 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null; sed "s/^/demo: luoemud log: /" "$dir/luoemud.log"; rm -rf "$dir"' EXIT
i=0
until [ -c /dev/liveupdate ] && "$bin/luoemu" status 2>/dev/null | grep -q '^ready 1'; do
	i=$((i + 1)); [ $i -lt 100 ] || { say "luoemud did not come up"; exit 1; }
	sleep 0.1
done
"$bin/luoemu" status | sed 's/^/demo:   /'

say "stage 1: the VMM boots cold, preserves ${ram} MiB of guest RAM and asks for kexec"
"$bin/luoemu" run -- "$bin/vmm-demo" "$ram" || true

i=0
until "$bin/luoemu" status 2>/dev/null | grep -q '^liveupdate_count 1'; do
	i=$((i + 1)); [ $i -lt 300 ] || { say "the new daemon did not come up"; exit 1; }
	sleep 0.1
done
until "$bin/luoemu" status 2>/dev/null | grep -q '^ready 1'; do sleep 0.1; done
say "the 'new kernel' (a re-executed luoemud) is up:"
"$bin/luoemu" status | sed 's/^/demo:   /'

say "stage 2: the VMM starts again and retrieves its RAM"
"$bin/luoemu" run -- "$bin/vmm-demo" "$ram"
say "SUCCESS: guest RAM crossed an emulated live update without a copy"
