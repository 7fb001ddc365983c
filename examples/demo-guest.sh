#!/bin/sh
# The end-to-end demo, as any user: `luoemu run` starts the user's own
# luoemud (user + mount namespaces, /dev/liveupdate over FUSE), the toy VMM
# preserves its guest RAM and triggers the update, then runs again in the
# "new kernel" and proves its RAM is intact.
# Usage: demo-guest.sh BINDIR [RAM_MiB]
set -eu
bin=$1
ram=${2:-256}
dir=$(mktemp -d /tmp/luoemu-demo.XXXXXX)
# A private runtime directory, so the demo never meets another daemon of ours.
export XDG_RUNTIME_DIR="$dir"
unset LUOEMU_SOCKET
say() { echo "demo: $*"; }
log=$dir/luoemu/luoemud.log
cleanup() {
	pkill -TERM -u "$(id -u)" -f "^$bin/luoemud --user" 2>/dev/null || true
	sleep 0.2
	[ -f "$log" ] && sed "s/^/demo: luoemud log: /" "$log"
	rm -rf "$dir"
}
trap cleanup EXIT

say "stage 1: the VMM boots cold, preserves ${ram} MiB of guest RAM and asks for kexec"
say "         (\`luoemu run\` starts the per-user luoemud on first use)"
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
say "SUCCESS: guest RAM crossed an emulated live update without a copy, as uid $(id -u), natively"
