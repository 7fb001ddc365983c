#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-all.sh: the integration suites, one after the other, on the frontend
# LUOEMU_FRONTEND names (lib.sh; cuse by default):
# run-integ.sh (conformance against a running daemon), run-update.sh
# (emulated live updates) and run-faults.sh (fault injection around the
# live update).  Same environment as these scripts.
#
# Output: each suite's output, a recap of their summary lines, then one
# combined "N passed, M failed".  Exit 0 if all passed, 77 if all were
# skipped, else 1 (2 if a suite reported a usage error).
# LUOEMU_SUITES (space-separated) runs only those suites.
set -u
here=$(cd "$(dirname "$0")" && pwd)
log=$(mktemp "${TMPDIR:-/tmp}/luo-run-all.XXXXXX") || exit 2
trap 'rm -f "$log"' EXIT
total_passed=0
total_failed=0
skipped=0
worst=0
recap=()

read -r -a suites <<<"${LUOEMU_SUITES:-run-integ.sh run-update.sh run-faults.sh run-kexec-user.sh}"
for suite in "${suites[@]}"; do
	echo "# ======== $suite"
	bash "$here/$suite" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	# The suite's own summary line (an EXIT trap may print after it).
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	[ -n "$last" ] || last=$(tail -n 1 "$log")
	if [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1))
		recap+=("# $suite: skipped ($last)")
		continue
	fi
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		total_passed=$((total_passed + BASH_REMATCH[1]))
		total_failed=$((total_failed + BASH_REMATCH[2]))
	else
		total_failed=$((total_failed + 1)) # no summary: it died
	fi
	recap+=("# $suite: $last (exit status $rc)")
	[ "$rc" -eq 0 ] || [ "$worst" -eq 2 ] || worst=$((rc == 2 ? 2 : 1))
done

printf '%s\n' "${recap[@]}"
echo "$total_passed passed, $total_failed failed"
[ "$skipped" -eq "${#suites[@]}" ] && exit 77
[ "$total_failed" -eq 0 ] || [ "$worst" -ne 0 ] || worst=1
exit "$worst"
