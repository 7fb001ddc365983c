#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-kexec-user.sh: Debian's kexec-tools drive the emulated live update of
# a per-user daemon (FUSE frontend), natively, as a normal user, with no
# privilege: the daemon's owner holds every right over it (CAP_SYS_BOOT
# included, as in its own user namespace).
#   1. /sys/kernel/kexec_loaded reads 0, then 1 after `kexec -s -l`
#      (kexec_file_load), and `luoemu status` shows the command line;
#   2. `kexec -e -x` performs the update: the daemon's instance changes,
#      liveupdate_count grows by one, a preserved memfd comes back with its
#      checksum (luo-update "simple"), kexec_loaded reads 0 again;
#   3. `kexec -l` (kexec_load: kexec-tools parses the bzImage itself),
#      `kexec -u` (unload), `kexec -e` with nothing loaded: "Nothing has
#      been loaded!", exit status 1, no update;
#   4. `kexec -l` then `kexec -e`: the update again.
# Needs LUOEMU_FRONTEND=fuse, a normal user, kexec-tools and a real kernel
# image (KEXEC_KERNEL, else /boot/vmlinuz-*, else the VM harness's cached
# one), and LUOEMUD, LUOEMU, LUO_UPDATE.  Root is covered by run-kexec.sh.
# Output: "ok N - ..." lines, then "N passed, M failed"; exit 77 with the
# reason when it cannot run here.
#
# shellcheck disable=SC2317  # predicates are called indirectly (wait_for, trap)

set -u
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh" || exit 2

if [ "${LUOEMU_FRONTEND:-}" != fuse ] || [ "$(id -u)" = 0 ]; then
	echo "SKIP: the per-user daemon's kexec-tools run is for a normal user on FUSE (root: run-kexec.sh)"
	exit 77
fi
need LUOEMUD LUOEMU LUO_UPDATE
KEXEC=${KEXEC:-$(PATH=$PATH:/sbin:/usr/sbin command -v kexec)}
[ -n "$KEXEC" ] && [ -x "$KEXEC" ] || { echo "SKIP: no kexec-tools (apt-get install kexec-tools)"; exit 77; }
kernel=${KEXEC_KERNEL:-}
for k in /boot/vmlinuz-* "${LUOEMU_VM_CACHE:-/var/cache/luoemu-vm}"/*/vmlinuz; do
	[ -n "$kernel" ] || { [ -r "$k" ] && kernel=$k; }
done
[ -n "$kernel" ] || { echo "SKIP: no readable kernel image (set KEXEC_KERNEL)"; exit 77; }

n=0
passed=0
failed=0
daemon_pid=
stage_pid=
name=luokexecu$$
dev=/dev/$name
tmp=$(mktemp -d "${TMPDIR:-/tmp}/luo-kexec-user.XXXXXX") || exit 2
sock=$tmp/ctl.sock
state=$tmp/state
stage_timeout=60
logs=0
t_start=$EPOCHREALTIME
cleanup_local() { stop_stage; }
trap cleanup EXIT

# kx ARGS...: kexec-tools under the launcher; output in $tmp/kx.log
kx() { supervise 60 -- "$KEXEC" "$@" >"$tmp/kx.log" 2>&1; }
loaded() { supervise 30 -- cat /sys/kernel/kexec_loaded 2>/dev/null; }
new_instance() { [ "$(status_of instance)" != "$1" ] && status_is ready 1; }
# expect_loaded 0|1 WHEN: what the supervised program reads in /sys/kernel/kexec_loaded
expect_loaded() {
	local got
	got=$(loaded)
	if [ "$got" = "$1" ]; then
		report OK "kexec_loaded reads $1 $2"
	else
		report FAIL "kexec_loaded reads $1 $2" "got '$got'"
	fi
}

echo "# kernel image: $kernel; kexec-tools: $("$KEXEC" -v 2>&1 | head -n 1)"
start_daemon "$tmp/daemon.log" || summary

expect_loaded 0 "at a cold boot"

# 1.-2. kexec_file_load flavour, with a preserved memfd across the update.
stage_bg simple
if stage_ready; then report OK "stage 1 preserved its memfd"; else report FAIL "stage 1"; show_log "$stage_log"; fi
if kx -s -l "$kernel" --append="console=ttyS0 luoemu-test=1"; then
	report OK "kexec -s -l (kexec_file_load) as uid $(id -u)"
else
	report FAIL "kexec -s -l (kexec_file_load)" "exit status $?"
	show_log "$tmp/kx.log"
fi
expect_loaded 1 "after the load"
status | grep -q '^kexec_cmdline console=ttyS0 luoemu-test=1$' &&
	report OK "luoemu status shows the command line" ||
	report FAIL "luoemu status shows the command line" "$(status | grep kexec)"
old=$(status_of instance) count=$(status_of liveupdate_count)
kx -e -x # killed by the update, as userspace is by a reboot
if wait_for 20 new_instance "$old" && status_is liveupdate_count $((count + 1)); then
	report OK "kexec -e -x: the update happened (new daemon instance, liveupdate_count $((count + 1)))"
else
	report FAIL "kexec -e -x: the update happened" "instance $(status_of instance), count $(status_of liveupdate_count)"
	show_log "$tmp/kx.log"
fi
expect_loaded 0 "in the new daemon"
stage_pid=
log=$tmp/stage2.log
if stage_fg "$log" exec simple && grep -Eq '^[1-9][0-9]* passed, 0 failed$' "$log"; then
	report OK "stage 2: the memfd is back with its checksum ($(tail -n 1 "$log"))"
else
	report FAIL "stage 2" "$(tail -n 1 "$log")"
	show_log "$log"
fi

# 3. kexec_load flavour, unload, and -e with nothing loaded.
if kx -l "$kernel" --append="console=ttyS0"; then
	report OK "kexec -l (kexec_load: kexec-tools parsed the bzImage)"
else
	report FAIL "kexec -l (kexec_load)" "exit status $?"
	show_log "$tmp/kx.log"
fi
expect_loaded 1 "after kexec -l"
kx -u && [ "$(loaded)" = 0 ] && report OK "kexec -u unloads (kexec_loaded 0)" ||
	report FAIL "kexec -u unloads" "$(cat "$tmp/kx.log")"
old=$(status_of instance)
kx -e -x
rc=$?
if [ "$rc" = 1 ] && grep -q 'Nothing has been loaded' "$tmp/kx.log" && [ "$(status_of instance)" = "$old" ]; then
	report OK "kexec -e with nothing loaded: 'Nothing has been loaded!', exit status 1, no update"
else
	report FAIL "kexec -e with nothing loaded" "exit status $rc"
	show_log "$tmp/kx.log"
fi

# 4. kexec -l, then -e: the update.
count=$(status_of liveupdate_count)
kx -l "$kernel" --append="console=ttyS0"
kx -e -x
if wait_for 20 new_instance "$old" && status_is liveupdate_count $((count + 1)); then
	report OK "kexec -l then kexec -e -x: the update happened"
else
	report FAIL "kexec -l then kexec -e -x" "instance $(status_of instance)"
	show_log "$tmp/kx.log"
fi
summary
