#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every --json output of luoemu against a running daemon parses as JSON and
# has the documented members (luoemu(1), JSON OUTPUT).  jq is the parser
# (it runs in the test VM, where there is no python).
#   tests/integ/check-json.sh LUOEMU SOCKET [--kexec]
# --kexec also runs `luoemu kexec --json` (a live update: the caller's state
# changes).  $JQ names jq if it is not on PATH.  One line per check; exits 1
# if any failed.
set -u
luoemu=$1 sock=$2 kexec=${3:-}
jq=${JQ:-jq}
fail=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fail=1; }

# check NAME JQ-ASSERTION COMMAND...: COMMAND's stdout is JSON for which the
# assertion holds.
check() {
	local name=$1 assertion=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc != 0 ]; then
		bad "$name: exit status $rc: $out"
	elif printf '%s' "$out" | "$jq" -e "$assertion" >/dev/null 2>&1; then
		ok "$name"
	else
		bad "$name: $out"
	fi
}

check "status --json" \
	'.ready == 1 and (.liveupdate_count | type) == "number" and (.sessions | type) == "array" and
	 all(.sessions[]; (.direction == "incoming" or .direction == "outgoing") and
	     (.name | type) == "string" and (.files | type) == "array" and
	     all(.files[]; (.token | type) == "string" and (.size | type) == "number" and (.handler | type) == "string"))' \
	"$luoemu" --socket "$sock" status --json
check "fault list --json" \
	'type == "array" and length > 10 and
	 all(.[]; (.state == "off" or .state == "armed" or .state == "spent") and (.calls | type) == "number")' \
	"$luoemu" --socket "$sock" fault list --json
"$luoemu" --socket "$sock" fault set session/create times=1 >/dev/null 2>&1
check "fault list --json, one point armed" \
	'[.[] | select(.point == "session/create") | .knobs] == [{"errno": "ENOMEM", "times": 1}]' \
	"$luoemu" --socket "$sock" fault list --json
"$luoemu" --socket "$sock" fault clear all >/dev/null 2>&1
if [ "$kexec" = --kexec ]; then
	check "kexec --json" \
		'.result == "ok" and .liveupdate_count >= 1 and .old_instance != .new_instance and .timings_ms.total > 0' \
		"$luoemu" --socket "$sock" kexec --json
	check "status --json after kexec" '.ready == 1' "$luoemu" --socket "$sock" status --json
fi
exit $fail
