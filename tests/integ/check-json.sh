#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every --json output of luoemu against a running daemon parses as JSON and
# has the documented members (luoemu(1), JSON OUTPUT).
#   tests/integ/check-json.sh LUOEMU SOCKET [--kexec]
# --kexec also runs `luoemu kexec --json` (a live update: the caller's state
# changes).  Prints one TAP-like line per check; exits 1 if any failed.
set -u
luoemu=$1 sock=$2 kexec=${3:-}
fail=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fail=1; }

# check NAME PYTHON-ASSERTION COMMAND...: COMMAND's stdout is JSON for which
# the assertion (about `j`) holds.
check() {
	local name=$1 assertion=$2 out
	shift 2
	if ! out=$("$@" 2>&1); then
		bad "$name: exit status $?: $out"
		return
	fi
	if printf '%s' "$out" | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert '"$assertion"', j
' >/dev/null 2>&1; then
		ok "$name"
	else
		bad "$name: $out"
	fi
}

check "status --json" \
	'isinstance(j["sessions"], list) and j["ready"] == 1 and isinstance(j["liveupdate_count"], int) and all(s["direction"] in ("incoming", "outgoing") and isinstance(s["files"], list) and all(isinstance(f["token"], str) and isinstance(f["size"], int) for f in s["files"]) for s in j["sessions"])' \
	"$luoemu" --socket "$sock" status --json
check "fault list --json" \
	'isinstance(j, list) and len(j) > 10 and all(p["state"] in ("off", "armed", "spent") and isinstance(p["calls"], int) for p in j)' \
	"$luoemu" --socket "$sock" fault list --json
"$luoemu" --socket "$sock" fault set session/create times=1 >/dev/null 2>&1
check "fault list --json, one point armed" \
	'[p["knobs"] for p in j if p["point"] == "session/create"] == [{"errno": "ENOMEM", "times": 1}]' \
	"$luoemu" --socket "$sock" fault list --json
"$luoemu" --socket "$sock" fault clear all >/dev/null 2>&1
if [ "$kexec" = --kexec ]; then
	check "kexec --json" \
		'j["result"] == "ok" and j["liveupdate_count"] >= 1 and j["old_instance"] != j["new_instance"] and j["timings_ms"]["total"] > 0' \
		"$luoemu" --socket "$sock" kexec --json
	check "status --json after kexec" 'j["ready"] == 1' "$luoemu" --socket "$sock" status --json
fi
exit $fail
