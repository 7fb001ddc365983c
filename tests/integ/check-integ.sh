#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `make check` entry for the integration suites (run-all.sh), once per
# frontend; both results count:
#  1. FUSE, natively, as an unprivileged user (a per-user daemon in its own
#     namespaces).  Run as root, the suites run as user $LUOEMU_CHECK_USER
#     (default luotest, created if missing) from a readable copy of the
#     programs and scripts, with /dev/fuse made 0666 as distributions ship
#     it; run as a normal user, as that user.  LUOEMU_FUSE_TESTS=no skips it.
#  2. CUSE: directly where the host has /dev/cuse (root), else inside a qemu
#     VM with Debian's kernel (tests/vm); LUOEMU_VM_TESTS=no skips the VM.
# Output: each part's output, a recap, then the combined "N passed, M
# failed".  Exit 0 if nothing failed, 77 if every part was skipped, else 1.
set -u
srcdir=${srcdir:-$(dirname "$0")/../..}
srcdir=$(cd "$srcdir" && pwd)
build=$(pwd)
bins=(luoemud luoemu tests/integ/luo-client tests/integ/luo-client-static tests/integ/luo-update
	tests/integ/trust-client)
scripts=(lib.sh run-integ.sh run-update.sh run-faults.sh run-trust.sh run-dropuser.sh
	run-kexec-user.sh run-all.sh)
for b in "${bins[@]}"; do
	[ -x "$build/$b" ] || { echo "check-integ: $build/$b not built"; exit 99; }
done

log=$(mktemp "${TMPDIR:-/tmp}/luo-check-integ.XXXXXX") || exit 99
work=
trap 'rm -rf "$log" ${work:+"$work"}' EXIT
total_passed=0
total_failed=0
ran=0
recap=()

# part LABEL CMD...: run one part, add its "N passed, M failed" to the totals
part() {
	local label=$1 rc last t=$EPOCHREALTIME
	shift
	echo "# ======== $label"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	t=$(((${EPOCHREALTIME/[.,]/} - ${t/[.,]/}) / 1000000))
	if [ "$rc" -eq 77 ]; then
		recap+=("# $label: skipped: $(grep -m 1 'SKIP' "$log" || tail -n 1 "$log") (${t} s)")
		return
	fi
	ran=$((ran + 1))
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		total_passed=$((total_passed + BASH_REMATCH[1]))
		total_failed=$((total_failed + BASH_REMATCH[2]))
	else
		last="no summary line"
		total_failed=$((total_failed + 1)) # it died
	fi
	# A non-zero exit without a failed check (a usage error) fails too.
	if [ "$rc" -ne 0 ] && [[ $last =~ \ 0\ failed$ ]]; then
		total_failed=$((total_failed + 1))
	fi
	recap+=("# $label: $last (exit status $rc, ${t} s)")
}

# ---------------------------------------------------------------- FUSE

# The same loads as in the VM: the stress loop for 10 s, run-update.sh's
# 1 GiB "big" memfd in both modes (natively about 5 s more than 256 MiB; its
# copy-mode update writes it to the state directory under TMPDIR, on the
# disk here: set LUOEMU_BIG_SIZE lower where memory or disk is short).
fuse_env=(LUOEMU_FRONTEND=fuse LUOEMU_STRESS_SECS="${LUOEMU_STRESS_SECS:-10}"
	${LUOEMU_BIG_SIZE:+LUOEMU_BIG_SIZE="$LUOEMU_BIG_SIZE"}
	${LUOEMU_BIG_MODES:+LUOEMU_BIG_MODES="$LUOEMU_BIG_MODES"}
	${LUOEMU_SUITES:+LUOEMU_SUITES="$LUOEMU_SUITES"})

# fuse_as_user USER: (root) the suites as USER, from a copy in $work it can
# read, with a TMPDIR and an XDG_RUNTIME_DIR of its own
fuse_as_user() {
	local user=$1 b s
	if ! id "$user" >/dev/null 2>&1; then
		useradd -m "$user" || { echo "check-integ: useradd $user failed"; return 2; }
	fi
	# As distributions ship it: any user may open /dev/fuse.
	[ ! -c /dev/fuse ] || chmod 0666 /dev/fuse
	[ -n "$work" ] || return 2
	chmod 0755 "$work"
	mkdir -p "$work/bin" "$work/t"
	for b in "${bins[@]}"; do
		cp "$build/$b" "$work/bin/" || return 2
	done
	for s in "${scripts[@]}"; do
		cp "$srcdir/tests/integ/$s" "$work/t/" || return 2
	done
	chmod -R a+rX "$work/bin" "$work/t"
	# TMPDIR is traversable (like /tmp) so that the other-uid check of
	# run-integ.sh reaches the daemon itself, not a closed directory.
	install -d -m 0711 -o "$user" -g "$(id -gn "$user")" "$work/tmp"
	install -d -m 0700 -o "$user" -g "$(id -gn "$user")" "$work/xdg"
	(cd "$work" && setpriv --reuid="$user" --regid="$(id -gn "$user")" --init-groups \
		env HOME="$(getent passwd "$user" | cut -d: -f6)" USER="$user" LOGNAME="$user" \
		TMPDIR="$work/tmp" XDG_RUNTIME_DIR="$work/xdg" "${fuse_env[@]}" \
		LUOEMUD="$work/bin/luoemud" LUOEMU="$work/bin/luoemu" \
		LUO_CLIENT="$work/bin/luo-client" LUO_CLIENT_STATIC="$work/bin/luo-client-static" \
		LUO_UPDATE="$work/bin/luo-update" bash "$work/t/run-all.sh")
}

# fuse_as_me: the suites as the calling (unprivileged) user, from the build tree
fuse_as_me() {
	env "${fuse_env[@]}" LUOEMUD="$build/luoemud" LUOEMU="$build/luoemu" \
		LUO_CLIENT="$build/tests/integ/luo-client" \
		LUO_CLIENT_STATIC="$build/tests/integ/luo-client-static" \
		LUO_UPDATE="$build/tests/integ/luo-update" bash "$srcdir/tests/integ/run-all.sh"
}


# ---------------------------------------------------------------- CUSE

# cuse_host: the suites directly on this host's /dev/cuse
cuse_host() {
	env LUOEMU_FRONTEND=cuse LUOEMUD="$build/luoemud" LUOEMU="$build/luoemu" \
		LUO_CLIENT="$build/tests/integ/luo-client" \
		LUO_CLIENT_STATIC="$build/tests/integ/luo-client-static" \
		LUO_UPDATE="$build/tests/integ/luo-update" \
		TRUST_CLIENT="$build/tests/integ/trust-client" \
		LUOEMU_SUITES="${LUOEMU_SUITES:-run-integ.sh run-update.sh run-faults.sh run-trust.sh}" bash "$srcdir/tests/integ/run-all.sh"
}

# cuse_vm: the suites in a qemu VM whose Debian kernel has CUSE
cuse_vm() {
	local files b s
	# util-linux setpriv runs the unprivileged-client check (busybox's cannot).
	files=(--file /bin/bash:/bin/bash --file "$(command -v setpriv):/t/setpriv")
	for s in "${scripts[@]}"; do
		files+=(--file "$srcdir/tests/integ/$s:/t/$s")
	done
	for b in "${bins[@]}"; do
		files+=(--file "$build/$b:/t/$(basename "$b")")
	done
	# run-update.sh's 1 GiB memfd exists twice in copy mode (memfd + tmpfs copy).
	"$srcdir/tests/vm/vm-run" --timeout "${LUOEMU_VM_TIMEOUT:-900}" --mem 4G "${files[@]}" \
		--env LUOEMU_FRONTEND=cuse \
		--env SETPRIV=/t/setpriv --env LUOEMUD=/t/luoemud --env LUOEMU=/t/luoemu \
		--env LUO_CLIENT=/t/luo-client --env LUO_CLIENT_STATIC=/t/luo-client-static \
		--env LUO_UPDATE=/t/luo-update --env TRUST_CLIENT=/t/trust-client \
		--env LUOEMU_STRESS_SECS="${LUOEMU_STRESS_SECS:-10}" \
		${LUOEMU_BIG_SIZE:+--env LUOEMU_BIG_SIZE="$LUOEMU_BIG_SIZE"} \
		${LUOEMU_BIG_MODES:+--env LUOEMU_BIG_MODES="$LUOEMU_BIG_MODES"} \
		--env LUOEMU_TEST_ADD_USER=1 \
		--env LUOEMU_SUITES="${LUOEMU_SUITES:-run-integ.sh run-update.sh run-faults.sh run-trust.sh run-dropuser.sh}" \
		-- /bin/bash /t/run-all.sh
}

# trust_native: (root) the trust boundaries of a system daemon on the FUSE
# frontend, natively (another uid is played with setpriv: root only)
trust_native() {
	LUOEMUD="$build/luoemud" LUOEMU="$build/luoemu" LUO_UPDATE="$build/tests/integ/luo-update" \
		TRUST_CLIENT="$build/tests/integ/trust-client" \
		bash "$srcdir/tests/integ/run-trust.sh"
}

if [ "$(id -u)" = 0 ] && [ ! -c /dev/cuse ] && [[ " ${LUOEMU_SUITES:-run-trust.sh} " == *" run-trust.sh "* ]]; then
	part "trust boundaries, FUSE frontend (system mode), native, as root" trust_native
fi

[ -c /dev/cuse ] || modprobe cuse 2>/dev/null
if [ -c /dev/cuse ] && [ -w /dev/cuse ]; then
	part "CUSE frontend, on this host" cuse_host
elif [ "${LUOEMU_VM_TESTS:-yes}" = no ]; then
	recap+=("# CUSE frontend: skipped: no /dev/cuse on this host and VM tests are disabled (LUOEMU_VM_TESTS=no)")
elif [ "$(id -u)" != 0 ]; then
	recap+=("# CUSE frontend: skipped: no /dev/cuse on this host; the VM harness needs root (apt, kernel cache)")
else
	part "CUSE frontend, in a qemu VM" cuse_vm
fi

# After the VM part: a fresh machine has no kernel image of its own but the
# one the VM harness fetched, which run-kexec-user.sh feeds to kexec-tools.
if [ "${LUOEMU_FUSE_TESTS:-yes}" = no ]; then
	recap+=("# FUSE frontend: skipped: LUOEMU_FUSE_TESTS=no")
elif [ "$(id -u)" = 0 ]; then
	user=${LUOEMU_CHECK_USER:-luotest}
	work=$(mktemp -d /tmp/luo-check-fuse.XXXXXX) # removed by the EXIT trap
	part "FUSE frontend, native, as user $user" fuse_as_user "$user"
else
	part "FUSE frontend, native, as user $(id -un)" fuse_as_me
fi

printf '%s\n' "${recap[@]}"
echo "$total_passed passed, $total_failed failed"
[ "$ran" -gt 0 ] || exit 77
[ "$total_failed" -eq 0 ]
