#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-kexec.sh: Debian's kexec-tools driving the emulated kexec.
#
# Two ways to run, chosen by the environment:
#   KEXEC_HARNESS  tests/integ/kexec-harness: the real launcher filter,
#                  courier and the daemon's kexec decision, no CUSE needed
#                  (root: it binds the emulated /sys/kernel/kexec_loaded)
#   LUOEMUD, LUOEMU  a real daemon and "luoemu run", when /dev/cuse is
#                  usable; also checks the update itself (instance changes)
# Both run when both are given.  Also read:
#   KEXEC_KERNEL   a real bzImage (default: /boot/vmlinuz-$(uname -r), then
#                  any /boot/vmlinuz-*, then the VM harness's cached one,
#                  ${LUOEMU_VM_CACHE:-/var/cache/luoemu-vm}/*/vmlinuz)
#   KEXEC          the kexec binary (default: kexec from PATH or /sbin)
#   KEXEC_RAW      tests/integ/kexec-raw (malformed kexec_load segment lists)
#   LUOEMU_KEEP=1  keep the temporary directory (logs)
#
# Output: "ok N - ..." / "not ok N - ..." lines, then "N passed, M
# failed".  Exit 0 if all passed, 1 if any failed, 77 when nothing can run
# here (no kexec-tools, no kernel image, not root, no backend), with why.
#
# shellcheck disable=SC2317  # predicates are called indirectly (wait_for, trap)
# shellcheck disable=SC2016  # the harness scripts expand in the harnessed sh

set -u
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh" || exit 2

n=0
passed=0
failed=0
daemon_pid=
name=luokexec$$
dev=/dev/$name
tmp=$(mktemp -d "${TMPDIR:-/tmp}/luo-kexec.XXXXXX") || exit 2
chmod 0755 "$tmp"
sock=$tmp/ctl.sock
state=$tmp/state
logs=0
t_start=$EPOCHREALTIME

cleanup_local() { :; }
trap cleanup EXIT

skip() {
	echo "SKIP: $*"
	exit 77
}

# ---------------------------------------------------------------- preflight

KEXEC=${KEXEC:-$(PATH=$PATH:/sbin:/usr/sbin command -v kexec)}
if [ -z "$KEXEC" ] || [ ! -x "$KEXEC" ]; then
	skip "no kexec-tools (apt-get install kexec-tools)"
fi
kernel=${KEXEC_KERNEL:-}
if [ -z "$kernel" ]; then
	for k in "/boot/vmlinuz-$(uname -r)" /boot/vmlinuz-* "${LUOEMU_VM_CACHE:-/var/cache/luoemu-vm}"/*/vmlinuz; do
		[ -r "$k" ] && kernel=$k && break
	done
fi
if [ -z "$kernel" ] || [ ! -r "$kernel" ]; then
	skip "no kernel image: set KEXEC_KERNEL to a bzImage (apt-get download linux-image-amd64)"
fi
# Readable by the unprivileged runs too.
cp "$kernel" "$tmp/bzImage" && chmod 0644 "$tmp/bzImage" || exit 2
kernel=$tmp/bzImage
head -c 65536 /dev/urandom >"$tmp/initrd" && chmod 0644 "$tmp/initrd"
append="console=ttyS0 luoemu.test=$$ quiet"
echo "# $("$KEXEC" --version 2>&1 | head -1), kernel image $(wc -c <"$kernel") bytes"

# Run by "make check" from the build tree: the harness programs are here.
[ -n "${KEXEC_HARNESS:-}" ] || [ ! -x tests/integ/kexec-harness ] ||
	KEXEC_HARNESS=$PWD/tests/integ/kexec-harness
[ -n "${KEXEC_RAW:-}" ] || [ ! -x tests/integ/kexec-raw ] || KEXEC_RAW=$PWD/tests/integ/kexec-raw

have_harness=false
have_daemon=false
if [ -n "${KEXEC_HARNESS:-}" ] && [ -x "$KEXEC_HARNESS" ]; then
	if [ "$(id -u)" = 0 ]; then
		# It needs a mount namespace of its own (not in every container).
		mkdir -p "$tmp/probe"
		if "$KEXEC_HARNESS" --sysfs "$tmp/probe" -- true >"$tmp/probe.log" 2>&1; then
			have_harness=true
		else
			echo "# harness: cannot run here: $(grep -m1 harness: "$tmp/probe.log")"
		fi
	else
		echo "# harness: needs root (it binds over /sys/kernel): not run"
	fi
fi
if [ -n "${LUOEMUD:-}" ] && [ -x "$LUOEMUD" ] && [ -n "${LUOEMU:-}" ] && [ -x "$LUOEMU" ]; then
	if [ -c /dev/cuse ] && [ -w /dev/cuse ]; then
		have_daemon=true
	else
		echo "# daemon: /dev/cuse missing or not writable: not run"
	fi
fi
$have_harness || $have_daemon ||
	skip "no backend: set KEXEC_HARNESS (as root) or LUOEMUD+LUOEMU with /dev/cuse"

# ---------------------------------------------------------------- helpers

# verdict WHAT CMD...: pass if CMD succeeds
verdict() {
	local what=$1
	shift
	if "$@"; then
		report OK "$what"
	else
		report FAIL "$what"
	fi
}

# new_instance OLD: the daemon answers status with an instance other than OLD
new_instance() {
	local now
	now=$(status_of instance)
	[ -n "$now" ] && [ "$now" != "$1" ]
}

# bits FILE: the lines of FILE that are a lone 0 or 1, joined (kexec_loaded reads)
bits() { grep -E '^[01]$' "$1" | tr -d '\n'; }

# expect WHAT WANT_RC WANT_TEXT LOG RC: report on a command already run
expect() {
	local what=$1 want_rc=$2 want_text=$3 log=$4 rc=$5
	if [ "$rc" != "$want_rc" ]; then
		report FAIL "$what" "exit status $rc, want $want_rc"
		show_log "$log"
		[ ! -e "$log.err" ] || show_log "$log.err"
	elif [ -n "$want_text" ] && ! cat "$log" "$log.err" 2>/dev/null | grep -qF -- "$want_text"; then
		report FAIL "$what" "no '$want_text' in the output"
		show_log "$log"
		show_log "$log.err"
	else
		report OK "$what"
	fi
}

# hrun [--stuck] [--uid UID] SCRIPT: SCRIPT (sh) under the harness; sets out (its
# stdout; stderr, the harness's log lines included, goes to $out.err) and rc
hrun() {
	local opts=()
	[ "$1" = --stuck ] && opts=(--stuck) && shift
	[ "$1" = --uid ] && opts+=(--uid "$2") && shift 2
	logs=$((logs + 1))
	out=$tmp/h.$logs.log
	mkdir -p "$tmp/h.$logs"
	chmod 0755 "$tmp/h.$logs"
	timeout -k 5 120 "$KEXEC_HARNESS" --sysfs "${opts[@]}" "$tmp/h.$logs" -- \
		env KEXEC="$KEXEC" K="$kernel" I="$tmp/initrd" A="$append" sh -c "$1" >"$out" 2>"$out.err"
	rc=$?
}

# ---------------------------------------------------------------- harness

harness_suite() {
	echo "# backend: kexec-harness (real filter, courier and kexec decision)"

	# 1. kexec_file_load flavour, then kexec -e: the update.
	hrun 'cat /sys/kernel/kexec_loaded
		"$KEXEC" -s -l "$K" --initrd="$I" --append="$A" || exit 10
		cat /sys/kernel/kexec_loaded
		exec "$KEXEC" -e'
	expect "kexec -s -l KERNEL --initrd --append: accepted" 137 "" "$out" "$rc"
	verdict "kexec_loaded read 0, then 1" [ "$(bits "$out")" = 01 ]
	expect "kexec -e (after -s -l): the emulated update ran" 137 "harness: updates 1" "$out" "$rc"
	expect "the command line was recorded" 137 "kexec_file_load: kexec image loaded" "$out" "$rc"
	expect "the next kernel starts with nothing loaded" 137 "harness: status kexec_loaded 0" "$out" "$rc"

	# 2. kexec_load flavour (kexec-tools parses the bzImage itself).
	hrun '"$KEXEC" -l "$K" --initrd="$I" --append="$A" || exit 10
		cat /sys/kernel/kexec_loaded
		exec "$KEXEC" -e'
	expect "kexec -l KERNEL --initrd --append (kexec_load): accepted" 137 "kexec_load: kexec image loaded" "$out" "$rc"
	expect "kexec -e (after -l): the emulated update ran" 137 "harness: updates 1" "$out" "$rc"

	# 3. Status shows the command line given, with either call.
	hrun '"$KEXEC" -s -l "$K" --append="$A"'
	expect "status: kexec_cmdline is the --append text (kexec_file_load)" 0 "harness: status kexec_cmdline $append" "$out" "$rc"
	hrun '"$KEXEC" -l "$K" --append="$A"'
	expect "status: kexec_cmdline is the --append text (kexec_load, from the zero page)" 0 "harness: status kexec_cmdline $append" "$out" "$rc"

	# 4. Nothing loaded: kexec-tools' own message and exit status.
	hrun 'exec "$KEXEC" -e'
	expect "kexec -e with nothing loaded: 'Nothing has been loaded!', rc 1" 1 "Nothing has been loaded!" "$out" "$rc"
	expect "... and no update" 1 "harness: updates 0" "$out" "$rc"

	# 5. Unload, both syscalls.
	hrun '"$KEXEC" -l "$K" && "$KEXEC" -u && cat /sys/kernel/kexec_loaded &&
		"$KEXEC" -s -l "$K" && "$KEXEC" -s -u && cat /sys/kernel/kexec_loaded && exec "$KEXEC" -e'
	expect "kexec -u / kexec -s -u unload; kexec -e then fails" 1 "Nothing has been loaded!" "$out" "$rc"
	verdict "kexec_loaded reads 0 after each unload" [ "$(bits "$out")" = 00 ]

	# 6. Crash kernel: kexec-tools wants a "Crash kernel" range in /proc/iomem.
	hrun '"$KEXEC" -s -p "$K" --append="$A"'
	expect "kexec -s -p without a crashkernel= reservation: kexec-tools refuses" 1 "Memory for crashkernel is not reserved" "$out" "$rc"
	# A copy of /proc/iomem with a 128 MiB "Crash kernel" range in the first
	# System RAM range above 4 GiB (real addresses: root only).
	awk '{ print }
		!done && /^[0-9a-f]+-[0-9a-f]+ : System RAM$/ {
			split($1, r, "-")
			if (length(r[1]) >= 9) {
				printf "  %s-%s : Crash kernel\n", r[1], substr(r[1], 1, length(r[1]) - 7) "7ffffff"
				done = 1
			}
		}' /proc/iomem >"$tmp/iomem"
	if grep -q "Crash kernel" "$tmp/iomem" && ! grep -q '^0\+-0\+ ' "$tmp/iomem"; then
		hrun "unshare -m sh -c 'mount --bind $tmp/iomem /proc/iomem &&
			\"\$KEXEC\" -s -p \"\$K\" --append=\"\$A\" && cat /sys/kernel/kexec_crash_loaded &&
			\"\$KEXEC\" -s -p -u && cat /sys/kernel/kexec_crash_loaded'"
		expect "kexec -s -p / -s -p -u with an emulated crash region: tracked" 0 "" "$out" "$rc"
		verdict "kexec_crash_loaded reads 1, then 0" [ "$(bits "$out")" = 10 ]
	else
		echo "# no RAM above 4 GiB in /proc/iomem: crash kernel load not run"
	fi

	# 7. Unprivileged callers: EPERM, as the kernel (CAP_SYS_BOOT).
	hrun --uid 65534 '"$KEXEC" -s -l "$K"; echo "rc $?"; "$KEXEC" -l "$K"; echo "rc $?"'
	expect "kexec -s -l as nobody: EPERM" 0 "kexec_file_load failed: Operation not permitted" "$out" "$rc"
	expect "kexec -l as nobody: EPERM" 0 "kexec_load failed: Operation not permitted" "$out" "$rc"
	expect "... and nothing is loaded" 0 "harness: status kexec_loaded 0" "$out" "$rc"

	# 8. A daemon that never answers: the courier gives up (10 s), the caller
	#    gets ETIMEDOUT instead of hanging.
	hrun --stuck '"$KEXEC" -s -l "$K"'
	expect "a hung daemon: kexec_file_load fails with ETIMEDOUT" 255 "Connection timed out" "$out" "$rc"

	# 9. Malformed kexec_load segment lists: the kernel's errno, in its order.
	if [ -n "${KEXEC_RAW:-}" ] && [ -x "$KEXEC_RAW" ]; then
		cp "$KEXEC_RAW" "$tmp/kexec-raw" && chmod 0755 "$tmp/kexec-raw"
		hrun "$tmp/kexec-raw"
		for want in "misaligned EADDRNOTAVAIL" "overlap EINVAL" "bufsz EINVAL" \
			"wrap EADDRNOTAVAIL" "limit EADDRNOTAVAIL" "toomany EINVAL" \
			"badlist EFAULT" "badbuf EFAULT" "arch EINVAL" "flags EINVAL" \
			"good ok" "unload ok"; do
			expect "raw kexec_load, ${want% *}: ${want#* }" 0 "$want" "$out" "$rc"
		done
		hrun --uid 65534 "$tmp/kexec-raw"
		expect "raw kexec_load, malformed, as nobody: EPERM first" 0 "misaligned EPERM" "$out" "$rc"
		expect "raw kexec_load, unload, as nobody: EPERM" 0 "unload EPERM" "$out" "$rc"
	else
		echo "# KEXEC_RAW not set: raw kexec_load checks not run"
	fi
}

# ---------------------------------------------------------------- daemon

# dsup LOG SECS [VAR=VALUE...] -- CMD...: CMD under "luoemu run"; sets rc
dsup() {
	local log=$1
	shift
	supervise "$@" >"$log" 2>&1
	rc=$?
}

# kexec -e, reading the supervised kexec_loaded, or else a stand-in that
# reads 1 (bound by the test in a mount namespace of the command's own) so
# that kexec -e reaches reboot() and the daemon decides.  In a network
# namespace of its own: kexec -e takes every interface down (kexec-tools'
# ifdown, unless -x) before it calls reboot().
kexec_e() { # kexec_e LOG
	if $daemon_sysfs; then
		dsup "$1" 120 -- unshare -n "$KEXEC" -e
	else
		echo 1 >"$tmp/one"
		dsup "$1" 120 -- unshare -n -m sh -c \
			"mount --bind $tmp/one /sys/kernel/kexec_loaded && exec \"$KEXEC\" -e"
	fi
}

daemon_suite() {
	local before after log=$tmp/d.log
	echo "# backend: luoemud + luoemu run (CUSE)"
	start_daemon "$tmp/daemon.log" || return
	before=$(status_of instance)

	dsup "$log" 120 -- "$KEXEC" -s -l "$kernel" --initrd="$tmp/initrd" --append="$append"
	expect "luoemu run -- kexec -s -l: accepted" 0 "" "$log" "$rc"
	dsup "$log" 30 -- cat /sys/kernel/kexec_loaded
	daemon_sysfs=false
	[ "$(bits "$log")" = 1 ] && daemon_sysfs=true
	verdict "supervised /sys/kernel/kexec_loaded reads 1" $daemon_sysfs
	$daemon_sysfs || echo "# (kexec -e below reads a stand-in kexec_loaded bound by the test)"
	status >"$log"
	expect "luoemu status shows kexec_cmdline" 0 "kexec_cmdline $append" "$log" 0

	kexec_e "$log"
	expect "luoemu run -- kexec -e: killed by the update" 137 "" "$log" "$rc"
	verdict "the next daemon answers, another instance" wait_for 60 new_instance "$before"
	after=$(status_of instance)
	# Nothing loaded in the new daemon: reboot(KEXEC) is EINVAL.
	kexec_e "$log"
	expect "kexec -e right after the update: EINVAL, nothing loaded" 255 "Invalid argument" "$log" "$rc"

	# The kexec_load flavour, then the update.
	before=$after
	dsup "$log" 120 -- "$KEXEC" -l "$kernel" --initrd="$tmp/initrd" --append="$append"
	expect "luoemu run -- kexec -l (kexec_load): accepted" 0 "" "$log" "$rc"
	kexec_e "$log"
	expect "luoemu run -- kexec -e after kexec -l: killed by the update" 137 "" "$log" "$rc"
	verdict "the next daemon answers, another instance" wait_for 60 new_instance "$before"

	# Unprivileged: EPERM, as the kernel (CAP_SYS_BOOT).
	setpriv=${SETPRIV:-setpriv}
	if "$setpriv" --help 2>&1 | grep -q -- --reuid; then
		dsup "$log" 60 -- "$setpriv" --reuid=65534 --regid=65534 --clear-groups \
			"$KEXEC" -s -l "$kernel"
		expect "luoemu run -- kexec -s -l as nobody: EPERM" 255 "Operation not permitted" "$log" "$rc"
		dsup "$log" 60 -- "$setpriv" --reuid=65534 --regid=65534 --clear-groups \
			"$KEXEC" -l "$kernel"
		expect "luoemu run -- kexec -l as nobody: EPERM" 255 "Operation not permitted" "$log" "$rc"
	else
		echo "# no util-linux setpriv (set SETPRIV): unprivileged checks not run"
	fi

	kexec_e "$log"
	expect "kexec -e with nothing loaded (after the EPERMs): EINVAL" 255 "Invalid argument" "$log" "$rc"
	stop_daemon
	if [ "$failed" -gt 0 ]; then
		echo "# daemon log:"
		show_log "$tmp/daemon.log"
	fi
}

$have_harness && harness_suite
$have_daemon && daemon_suite
summary
