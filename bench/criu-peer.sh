#!/bin/bash
# The CRIU peer of bench-update.sh: keep a process's "guest RAM" (a memfd
# mapped MAP_SHARED, filled with a pattern) across a restart by checkpoint/
# restore with CRIU, and time it against the same sizes.  Images go to /tmp,
# a tmpfs in the VM, like luoemu's copy mode.
#
#   bench/criu-peer.sh BINDIR [SIZE...]        run here (needs root and criu)
#   bench/criu-peer.sh --vm BUILDDIR [SIZE...] run it in the qemu VM (TCG)
#
# SIZE takes K/M/G (default: 1M 64M 1G).  BINDIR holds criu-hold.
# Environment: CRIU (binary, default criu), CRIU_HOLD_MODE (memfd|anon,
# default memfd), CRIU_PEER_MEM (VM memory, default 4G).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)

# Kernel modules CRIU needs that the VM's initramfs lacks (it loads only
# fuse/cuse).  nfnetlink is the one that matters: criu's kernel-feature probe
# (kerndat_has_nftables_concat) runs libnftables, which exit(3)s when
# NETLINK_NETFILTER is missing, and fails when it cannot "create table inet
# CRIU"; every criu command then stops with "Could not initialize kernel
# features detection".  So nfnetlink and nf_tables (with libcrc32c, which needs
# the crc32c algorithm loaded first: the guest has no modprobe) are required.
# The socket-diag modules (and tun/veth) only make `criu check` clean.  In
# dependency order:
kmods="nfnetlink crc32c_generic libcrc32c nf_tables netlink_diag af_packet_diag unix_diag inet_diag tcp_diag udp_diag tun veth"

# Fetch those modules from the kernel package vm-run boots (resolved the way
# vm-run resolves it) into a cache under BUILDDIR.  Prints the cache dir.
fetch_kmods() {
	local pkg=${LUOEMU_VM_KERNEL_PKG:-} ver dir tmp m
	[ -n "$pkg" ] || pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	[ -n "$pkg" ] || return 1
	ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }')
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || return 1
	dir=${CRIU_PEER_KMOD_CACHE:-$1/bench/criu-kmod}/${pkg}_${ver//:/%3a}
	if [ ! -f "$dir/.done" ]; then
		echo "criu-peer: fetching $kmods from $pkg=$ver" >&2
		tmp=$(mktemp -d) || return 1
		( cd "$tmp" && apt-get download -q "$pkg=$ver" >/dev/null 2>&1 ) &&
			mkdir -p "$dir" &&
			dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards \
				$(for m in $kmods; do echo "*/$m.ko"; done) &&
			for m in $kmods; do cp "$(find "$tmp" -name "$m.ko" | head -n1)" "$dir/" || exit 1; done &&
			touch "$dir/.done"
		rm -rf "$tmp"
		[ -f "$dir/.done" ] || return 1
	fi
	echo "$dir"
}

if [ "${1:-}" = --vm ]; then
	build=${2:?usage: criu-peer.sh --vm BUILDDIR [SIZE...]}
	shift 2
	build=$(cd "$build" && pwd)
	[ -x "$build/bench/criu-hold" ] || { echo "criu-peer: build first (make -C $build bench/criu-hold)"; exit 1; }
	criu=$(command -v criu || echo /usr/sbin/criu)
	[ -x "$criu" ] || { echo "criu-peer: no criu on the host (apt-get install -y criu); it is copied into the VM"; exit 1; }
	kmodargs=()
	if kdir=$(fetch_kmods "$build"); then
		for m in $kmods; do kmodargs+=(--file "$kdir/$m.ko:/b/kmod/$m.ko"); done
	else
		echo "criu-peer: warning: could not fetch kernel modules; criu will likely fail in the VM" >&2
	fi
	exec "$top/tests/vm/vm-run" --timeout 3000 --mem "${CRIU_PEER_MEM:-4G}" \
		--file /bin/bash:/bin/bash --file "$criu:/usr/sbin/criu" \
		--file "$build/bench/criu-hold:/b/criu-hold" --file "$top/bench/criu-peer.sh:/b/criu-peer.sh" \
		"${kmodargs[@]}" ${CRIU_HOLD_MODE:+--env "CRIU_HOLD_MODE=$CRIU_HOLD_MODE"} \
		-- bash /b/criu-peer.sh /b "$@"
fi

bin=${1:?usage: criu-peer.sh BINDIR [SIZE...] | --vm BUILDDIR [SIZE...]}
shift
[ $# -gt 0 ] || set -- 1M 64M 1G
criu=${CRIU:-criu}
mode=${CRIU_HOLD_MODE:-memfd}
work=$(mktemp -d /tmp/criu-peer.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Modules shipped by --vm (BINDIR/kmod/*.ko); a module that is built in or
# already loaded just fails to insmod, which is fine.
if [ -d "$bin/kmod" ]; then
	loaded=
	for m in $kmods; do
		[ -f "$bin/kmod/$m.ko" ] && insmod "$bin/kmod/$m.ko" 2>/dev/null && loaded="$loaded $m"
	done
	echo "criu-peer: insmod:${loaded:- none}"
fi
echo "criu-peer: $("$criu" --version | tr '\n' ' ')"
echo "criu-peer: kernel $(uname -r), hold mode $mode, images in $(df -P /tmp | awk 'NR==2 {print $1}') /tmp"
if "$criu" check >"$work/check.log" 2>&1; then
	echo "criu-peer: criu check: $(tail -n1 "$work/check.log")"
else
	echo "criu-peer: criu check failed (continuing; dump/restore decide):"
	sed 's/^/  | /' "$work/check.log"
fi

now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }
ms() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
tolog() { echo "  | $1 failed; last lines of $2:"; tail -n 15 "$2" | sed 's/^/  | /'; }

printf '%-6s %10s %10s %10s %12s %s\n' size dump_ms restore_ms total_ms image_bytes verified
for size in "$@"; do
	img=$work/img.$size out=$work/hold.$size.out
	mkdir -p "$img"
	: >"$out"
	"$bin/criu-hold" "$size" "$mode" >>"$out" 2>&1 </dev/null &
	pid=$!
	disown "$pid"	# bash still reaps it, but does not report the kill
	for _ in $(seq 6000); do grep -q '^READY' "$out" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if ! grep -q '^READY' "$out"; then
		echo "$size: criu-hold did not get ready:"; sed 's/^/  | /' "$out"; continue
	fi
	dump=FAIL rest=FAIL total=FAIL bytes=- ver=-
	t0=$(now_us)
	"$criu" dump -t "$pid" -D "$img" --shell-job -o "$work/dump.$size.log" -v4
	rc=$?
	t1=$(now_us)
	# criu dump kills the tree once the images are written; wait until bash
	# has reaped it, so that the pid is free for the restore (same pid).
	if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
		echo "  | $size: the process survived the dump"; kill -9 "$pid"
	fi
	for _ in $(seq 200); do [ -e "/proc/$pid" ] || break; sleep 0.05; done
	pid=
	if [ $rc -eq 0 ]; then
		dump_us=$((t1 - t0)) dump=$(ms $((t1 - t0)))
		bytes=0
		for f in "$img"/*; do bytes=$((bytes + $(stat -c %s "$f"))); done
		t0=$(now_us)
		"$criu" restore -D "$img" --shell-job -d --pidfile "$work/pid.$size" -o "$work/restore.$size.log" -v4
		rc=$?
		t1=$(now_us)
		if [ $rc -eq 0 ]; then
			rest=$(ms $((t1 - t0)))
			total=$(ms $((t1 - t0 + dump_us)))
			pid=$(cat "$work/pid.$size")
			kill -USR1 "$pid"
			ver=timeout
			for _ in $(seq 6000); do
				grep -q '^VERIFIED' "$out" && { ver=$(sed -n 's/^VERIFIED \([a-z]*\).*/\1/p' "$out"); break; }
				kill -0 "$pid" 2>/dev/null || { ver=died; break; }
				sleep 0.1
			done
			kill "$pid" 2>/dev/null
			pid=
		else
			tolog restore "$work/restore.$size.log"
		fi
	else
		tolog dump "$work/dump.$size.log"
	fi
	printf '%-6s %10s %10s %10s %12s %s\n' "$size" "$dump" "$rest" "$total" "$bytes" "$ver"
	if [ "$ver" = ok ]; then grep '^VERIFIED' "$out" | sed "s/^/  # $size restored: /"; else sed 's/^/  | hold: /' "$out"; fi
	rm -rf "$img"
done
