#!/bin/bash
# Self-check for tests/vm/vm-run:
#  1. a tiny C program that opens /dev/cuse runs in the VM and prints OK;
#  2. a failing command's exit status comes back (here 7);
#  3. the guest timeout gives 124.
# Usage: tests/vm/selftest.sh [vm-run options, e.g. --cache DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vmrun=$here/vm-run
command -v gcc >/dev/null || { echo "selftest: gcc is needed (apt-get install gcc libc6-dev)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vm-selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/cuseopen.c" <<'EOF'
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void)
{
	int fd = open("/dev/cuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("FAIL: open /dev/cuse: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	printf("OK: /dev/cuse opened\n");
	return 0;
}
EOF
gcc -O2 -Wall -o "$tmp/cuseopen" "$tmp/cuseopen.c"

fails=0
check() { # name expected-rc command...
    local name=$1 want=$2 rc=0 t0=$EPOCHREALTIME
    shift 2
    "$@" >"$tmp/out" 2>&1 || rc=$?
    local dt; dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
    if [[ $rc -eq $want ]] && { [[ $name != cuse ]] || grep -q '^OK: /dev/cuse opened' "$tmp/out"; }; then
        echo "PASS: $name (exit $rc, ${dt} s)"
    else
        echo "FAIL: $name (exit $rc, wanted $want, ${dt} s); output:"
        sed 's/^/    /' "$tmp/out"
        fails=$((fails + 1))
    fi
    grep '^vm-run: timing' "$tmp/out" | sed 's/^/    /' || true
}

check cuse 0 "$vmrun" "$@" --file "$tmp/cuseopen:/opt/selftest/cuseopen" -- cuseopen
check exit-code 7 "$vmrun" "$@" -- sh -c 'echo failing on purpose; exit 7'
check timeout 124 "$vmrun" "$@" --timeout 2 -- sleep 60

if [[ $fails -eq 0 ]]; then echo "selftest: all passed"; else echo "selftest: $fails failed"; exit 1; fi
