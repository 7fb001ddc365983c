#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Operator-facing checks (issue 11): --help/--version of every command with
# no daemon contacted, usage errors exit 2, the JSON outputs parse, the man
# pages lint clean, the systemd units verify and stay hardened, and the
# Debian packages build, install where Debian expects them and work for a
# new user.  Prints one line per check and `N passed, N failed`; exits 1 on
# any failure.  As root it installs and then purges the .debs.
#
#   scripts/check-ops.sh [BUILD-DIR]     (default: build-ops, configured here)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
build=${1:-$top/build-ops}
log_dir=$build/tests/ops
tmp=$(mktemp -d /tmp/luoemu-ops.XXXXXX)
passed=0 failed=0
fake_pid=

cleanup() {
	[ -z "$fake_pid" ] || kill "$fake_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok - $*"; passed=$((passed + 1)); }
bad() { echo "FAIL - $*"; failed=$((failed + 1)); }
# expect RC NAME COMMAND...: COMMAND exits with RC.
expect() {
	local want=$1 name=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" = "$want" ]; then
		ok "$name (exit $rc)"
	else
		bad "$name: exit $rc, want $want: $(head -c 300 "$tmp/err")"
	fi
}

if [ ! -x "$build/luoemu" ]; then
	echo "=== ops: configure and build in $build"
	[ -x configure ] || ./autogen.sh >/dev/null 2>&1
	mkdir -p "$build"
	(cd "$build" && "$top/configure" -q --enable-werror --disable-vm-tests) >/dev/null &&
		make -C "$build" -j"$(nproc)" >"$tmp/make.log" 2>&1 ||
		{ cat "$tmp/make.log"; echo "0 passed, 1 failed"; exit 1; }
fi
mkdir -p "$log_dir"
exec > >(tee "$log_dir/check-ops.log") 2>&1
luoemu=$build/luoemu luoemud=$build/luoemud

# ---- a listening socket that counts connections (and can play a daemon) ----
# Only the CLI's side is checked with it: the real daemon's replies are
# checked by tests/integ/check-json.sh wherever a daemon runs.
cat >"$tmp/fake.py" <<'EOF'
import socket, sys, threading
path, counter = sys.argv[1], sys.argv[2]
st = {"instance": 5, "count": 0, "conns": 0, "done": 0, "total": 0}
lock = threading.Lock()
progress_seen = threading.Event()   # a status was answered mid-copy
NAME = 'vm "one" \\x5c\\x01\\xc3\\xa9 end'   # as the daemon escapes: quote, \, ^A, UTF-8
def status():
    if st["total"]:   # mid-copy: what the daemon answers without its lock
        progress_seen.set()
        return ("instance %d\nliveupdate_in_progress 1\nhandover_bytes_done %d\nhandover_bytes_total %d"
                % (st["instance"], st["done"], st["total"]))
    return ("device /dev/liveupdate\ncompat 7.2\nliveupdate_count %d\ndevice_open 0\n"
            "outgoing_sessions 1\nincoming_sessions 1\nfiles 2\ngoing_down 0\nrequests 7\n"
            "refusals 0\ncourier_pid 42\nready 1\nincoming_error 0\ninstance %d\n"
            "handover_mode copy\nversion 0.1.0\nhandover_bytes_done 0\nhandover_bytes_total 0\n"
            "session id=1 direction=outgoing state=open nr_files=1 name=%s\n"
            "file session=1 token=18446744073709551615 handler=memfd-v2 size=4096 retrieved=0\n"
            "session id=2 direction=incoming state=waiting nr_files=1 name=old\n"
            "file session=2 token=7 handler=memfd-v2 size=0 retrieved=1"
            % (st["count"], st["instance"], NAME))
FAULTS = ("device/open        calls=3 injected=0 off  # open of the device\n"
          "preserve/handler   calls=6 injected=1 errno=ENOMEM nth=3 comm=toy-vmm spent  # PRESERVE_FD, the \"handler\"\n")
def serve(c):
    req = c.recv(65536).decode()
    if req == "status":
        with lock:
            rep = "ok " + status()
    elif req.startswith("fault list"):
        rep = "ok " + FAULTS
    elif req.startswith("kexec"):
        if "slow" in open(counter + ".mode").read():
            # Copy "1 GiB", half done, until a poller has seen the progress.
            with lock:
                st["total"], st["done"] = 1 << 30, 1 << 29
            progress_seen.wait(30)
            with lock:
                st["total"] = 0
        with lock:
            st["count"] += 1
            rep = "ok liveupdate_count %d\ninstance %d" % (st["count"], st["instance"])
            st["instance"] += 1
    else:
        rep = "err 95 unknown request"
    c.send(rep.encode()); c.close()
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path); s.listen(16)
open(counter, "w").write("0")
open(counter + ".mode", "w").write("fast")
while True:
    c, _ = s.accept()
    st["conns"] += 1
    open(counter, "w").write(str(st["conns"]))
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
fake_sock=$tmp/fake.sock
python3 "$tmp/fake.py" "$fake_sock" "$tmp/conns" &
fake_pid=$!
for _ in $(seq 100); do [ -S "$fake_sock" ] && break; sleep 0.05; done
conns() { cat "$tmp/conns"; }

# ---- --help and --version: exit 0, output, never a connection ----
export LUOEMU_SOCKET=$fake_sock
before=$(conns)
for args in "--help" "-h" "--version" "-V" "help" "version" \
	"run --help" "run -h" "status --help" "wait --help" "kexec --help" \
	"fault --help" "fault list --help" "fault set --help" "inspect --help" \
	"--socket=$fake_sock status --help"; do
	# shellcheck disable=SC2086
	expect 0 "luoemu $args" "$luoemu" $args
	[ -s "$tmp/out" ] || bad "luoemu $args: printed nothing"
done
expect 0 "luoemud --help" "$luoemud" --help
expect 0 "luoemud --version" "$luoemud" --version
grep -qx "luoemud $(sed -n 's/^AC_INIT(\[luoemu\], \[\([^]]*\)\].*/\1/p' configure.ac)" "$tmp/out" &&
	ok "luoemud --version prints the package version" || bad "luoemud --version: $(cat "$tmp/out")"
[ "$(conns)" = "$before" ] && ok "no --help/--version contacted the daemon" ||
	bad "--help/--version connected $(($(conns) - before)) times"
# `run`'s options stop at the program: `run true --help` runs `true --help`
# (here it fails for want of a daemon, which shows it did not print help).
expect 1 "luoemu run true --help: --help is the program's" "$luoemu" run --socket "$tmp/none" true --help
grep -q "Usage:" "$tmp/out" "$tmp/err" && bad "luoemu run true --help printed its own help" || true

# ---- usage errors: exit 2 ----
for args in "" "bogus" "--bogus" "status --bogus" "status extra" "wait --timeout x" \
	"wait --timeout -1" "kexec --mode fast" "kexec --binary relative" "kexec --timeout 0" \
	"kexec extra" "inspect" "inspect a b" "inspect --bogus x" "run" "run --bogus" \
	"fault bogus" "fault set" "fault clear a b" "fault list extra" "--socket"; do
	# shellcheck disable=SC2086
	expect 2 "luoemu $args" "$luoemu" $args
done
expect 2 "luoemud --bogus" "$luoemud" --bogus
expect 2 "luoemud extra" "$luoemud" extra
expect 2 "luoemud --fault bogus/point" "$luoemud" --fault bogus/point
expect 2 "luoemud --fault device/open bogus=1" "$luoemud" --fault "device/open bogus=1"
expect 2 "LUOEMU_FAULTS=bogus luoemud" env LUOEMU_FAULTS=bogus/point "$luoemud"
expect 2 "luoemud --frontend bogus" "$luoemud" --frontend bogus
expect 2 "luoemud --user --frontend cuse (CUSE needs root)" "$luoemud" --user --frontend cuse
expect 2 "luoemud --pin sometimes" "$luoemud" --pin sometimes
expect 2 "luoemud --quota sessions=many" "$luoemud" --quota sessions=many
expect 2 "luoemud --quota bytes=1Q" "$luoemud" --quota bytes=1Q
expect 2 "luoemud --compat 7.9" "$luoemud" --compat 7.9
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	expect 2 "luoemud --system as a normal user" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$luoemud" --system
	grep -q "needs root" "$tmp/err" && ok "--system as a normal user says it needs root" ||
		bad "--system as a normal user: $(cat "$tmp/err")"
fi
[ "$(conns)" = "$before" ] && ok "no usage error contacted the daemon" ||
	bad "usage errors connected $(($(conns) - before)) times"

# ---- no daemon: exit 3 and a hint; socket resolution ----
expect 3 "status without a daemon" env LUOEMU_SOCKET="$tmp/none" "$luoemu" status
grep -q "$tmp/none" "$tmp/err" && grep -q "start" "$tmp/err" &&
	ok "status without a daemon names the socket and how to start one" ||
	bad "no hint: $(cat "$tmp/err")"
expect 3 "--socket=PATH beats \$LUOEMU_SOCKET" "$luoemu" --socket="$tmp/none2" status
grep -q "$tmp/none2" "$tmp/err" && ok "--socket=PATH is used" || bad "--socket=PATH: $(cat "$tmp/err")"
expect 3 "status --socket PATH after the command" "$luoemu" status --socket "$tmp/none3"
grep -q "$tmp/none3" "$tmp/err" && ok "status --socket PATH is used" || bad "$(cat "$tmp/err")"
expect 4 "wait --timeout 0.3 without a daemon" env LUOEMU_SOCKET="$tmp/none" "$luoemu" wait --timeout 0.3
if id luotest >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	out=$(env -u LUOEMU_SOCKET XDG_RUNTIME_DIR= setpriv --reuid=luotest --regid=luotest --init-groups \
		"$luoemu" status 2>&1)
	rc=$?
	[ $rc = 3 ] && echo "$out" | grep -q "per-user" &&
		ok "a user without a daemon is told about the per-user daemon" ||
		bad "unprivileged status: exit $rc: $out"
fi

# ---- JSON ----
json_ok() { # NAME ASSERTION FILE
	if python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert '"$2"', j
' "$3" 2>"$tmp/pyerr"; then ok "$1"; else bad "$1: $(tail -1 "$tmp/pyerr"): $(head -c 400 "$3")"; fi
}
expect 0 "status --json (CLI side, replayed reply)" "$luoemu" status --json
cp "$tmp/out" "$tmp/status.json"
json_ok "status --json parses, sessions and files nested, names exact" \
	'j["ready"] == 1 and j["instance"] == "5" and [s["name"] for s in j["sessions"]] == ["vm \"one\" \\\u0001\u00c3\u00a9 end", "old"] and j["sessions"][0]["files"][0]["token"] == "18446744073709551615" and j["sessions"][0]["files"][0]["size"] == 4096 and j["sessions"][1]["direction"] == "incoming"' \
	"$tmp/status.json"
expect 0 "status (text) lists sessions" "$luoemu" status
grep -q '^session "vm "one" \\x5c\\x01\\xc3\\xa9 end" (id 1): outgoing, open, 1 file$' "$tmp/out" &&
	grep -q '^  token 18446744073709551615: memfd-v2, 4096 bytes$' "$tmp/out" &&
	ok "status text: one line per session and file" || bad "status text: $(cat "$tmp/out")"
expect 0 "fault list --json" "$luoemu" fault list --json
cp "$tmp/out" "$tmp/faults.json"
json_ok "fault list --json parses, knobs and state" \
	'j[0] == {"point": "device/open", "knobs": {}, "calls": 3, "injected": 0, "state": "off", "description": "open of the device"} and j[1]["knobs"] == {"errno": "ENOMEM", "nth": 3, "comm": "toy-vmm"} and j[1]["state"] == "spent" and j[1]["description"].endswith("\"handler\"")' \
	"$tmp/faults.json"
expect 0 "fault --json list (option before the subcommand)" "$luoemu" fault --json list
json_ok "fault --json list parses" 'len(j) == 2' "$tmp/out"
# Copy progress on a terminal, from `status` answered while the kexec runs.
echo slow >"$tmp/conns.mode"
script -qec "$luoemu kexec --mode copy --timeout 30" /dev/null >"$tmp/tty.out" 2>&1
echo fast >"$tmp/conns.mode"
grep -q "copying 512.0 MiB of 1.0 GiB ( 50%)" "$tmp/tty.out" && grep -q "^live update #1 complete" "$tmp/tty.out" &&
	ok "kexec on a terminal shows the copy progress, then the summary" ||
	bad "kexec progress: $(cat -v "$tmp/tty.out")"
expect 0 "kexec --json" "$luoemu" kexec --json --timeout 10
cp "$tmp/out" "$tmp/kexec.json"
json_ok "kexec --json parses" \
	'j["result"] == "ok" and j["liveupdate_count"] == 2 and j["mode"] == "copy" and j["old_instance"] == "6" and j["new_instance"] == "7" and j["bytes_copied"] == 4096 and set(j["timings_ms"]) == {"handover", "restart", "total"}' \
	"$tmp/kexec.json"
expect 0 "kexec (text) ends with one summary line" "$luoemu" kexec --mode exec
[ "$(wc -l <"$tmp/out")" = 1 ] && grep -q "^live update #3 complete (exec mode)" "$tmp/out" &&
	ok "kexec summary line" || bad "kexec summary: $(cat "$tmp/out")"
expect 3 "kexec --json without a daemon" env LUOEMU_SOCKET="$tmp/none" "$luoemu" kexec --json
json_ok "kexec --json failure is JSON" 'j["result"] == "error" and j["errno"] > 0' "$tmp/out"

# inspect: a blob built here from the documented wire format (serialize/blob.h).
cat >"$tmp/blob.py" <<'EOF'
import struct, sys
def crc32c(data, crc=0):
    crc ^= 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff
def lv(b):
    return struct.pack("<I", len(b)) + b
def file(token, compat, slot, record):
    r = struct.pack("<Q", token) + lv(compat + b"\0") + struct.pack("<i", slot) + lv(b"\0") + lv(record)
    return lv(r)
memfd = struct.pack("<IIQQ", 2, 0x5, 1 << 20, 4096)      # version, seals (seal|grow), size, pos
sess = lv(b'vm "one"\\\x01\0') + struct.pack("<I", 2) + file(1, b"memfd-v2", 3, memfd) + file(2, b"other-v1", 4, b"\xab\xcd")
payload = struct.pack("<QII", 1, 1, 1) + lv(sess)
hdr = b"LUOEMU\0\0" + struct.pack("<IIIIQI", 1, 1, 40, 0, len(payload), crc32c(payload))
hdr += struct.pack("<I", crc32c(hdr))
open(sys.argv[1], "wb").write(hdr + payload)
EOF
python3 "$tmp/blob.py" "$tmp/blob"
expect 0 "inspect --json of a blob" "$luoemu" inspect --json "$tmp/blob"
cp "$tmp/out" "$tmp/inspect.json"
json_ok "inspect --json decodes the memfd record" \
	'j["sessions"][0]["name"] == "vm \"one\"\\\u0001" and j["sessions"][0]["files"][0]["record"] == {"version": 2, "size": 1048576, "pos": 4096, "seals": 5, "flags": 0, "shared_inode": False, "seal_names": ["seal", "grow"]} and j["sessions"][0]["files"][1]["record"] == {"hex": "abcd"}' \
	"$tmp/inspect.json"
expect 0 "inspect (text)" "$luoemu" inspect "$tmp/blob"
grep -q "memfd v2, size 1048576, pos 4096, seals 0x5 (seal|grow)" "$tmp/out" &&
	ok "inspect text decodes the memfd record" || bad "inspect text: $(cat "$tmp/out")"
expect 1 "inspect of a file that is no blob" "$luoemu" inspect /etc/hostname
[ "$(conns)" -gt "$before" ] || bad "the replayed daemon was never asked"

# ---- logging and readiness ----
# Without /dev/cuse the daemon stops at the CUSE step, after logging a few
# lines, one of them libfuse's own: enough to see the two log formats.
if [ "$(id -u)" = 0 ] && [ ! -e /dev/cuse ]; then
	args=(--name "luoemu-ops-$$" --socket "$tmp/d.sock" --state-dir "$tmp/dstate")
	timeout 20 "$luoemud" "${args[@]}" 2>"$tmp/plain.log"
	grep -q '^luoemud: error: fuse: ' "$tmp/plain.log" && ! grep -q '^<' "$tmp/plain.log" &&
		ok "terminal log: 'luoemud: LEVEL:' lines, libfuse's included" ||
		bad "terminal log: $(cat "$tmp/plain.log")"
	: >"$tmp/journal.log"
	JOURNAL_STREAM=$(stat -c %d:%i "$tmp/journal.log") timeout 20 "$luoemud" "${args[@]}" \
		2>"$tmp/journal.log"
	grep -q '^<3>fuse: ' "$tmp/journal.log" && ! grep -q '^luoemud' "$tmp/journal.log" &&
		ok "journal log: <N> prefixes when stderr is \$JOURNAL_STREAM" ||
		bad "journal log: $(cat "$tmp/journal.log")"
fi
# sd_notify's protocol, to an abstract socket as systemd uses, without libsystemd.
cat >"$tmp/notify.c" <<'EOF'
#include "daemon/notify.h"
int main(void) { return notify_send("READY=1\nSTATUS=serving %s", "/dev/liveupdate") != 0; }
EOF
if cc -std=gnu11 -I"$top/src" -include "$build/config.h" "$tmp/notify.c" "$top/src/daemon/notify.c" \
	-o "$tmp/notify" 2>"$tmp/cc.log"; then
	got=$(python3 - "$tmp/notify" <<'EOF'
import os, socket, subprocess, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
name = "luoemu-ops-notify-%d" % os.getpid()
s.bind("\0" + name)
rc = subprocess.call([sys.argv[1]], env=dict(os.environ, NOTIFY_SOCKET="@" + name))
s.settimeout(10)
print(rc, repr(s.recv(4096).decode()))
EOF
)
	[ "$got" = "0 'READY=1\\nSTATUS=serving /dev/liveupdate'" ] &&
		ok "notify: READY=1 reaches an abstract \$NOTIFY_SOCKET" || bad "notify: $got"
else
	bad "notify harness: $(cat "$tmp/cc.log")"
fi

# ---- man pages ----
for page in "$build/man/luoemu.1" "$build/man/luoemud.8"; do
	if out=$(mandoc -Tlint -Wwarning "$page" 2>&1) && [ -z "$out" ]; then
		ok "mandoc -Tlint $(basename "$page")"
	else
		bad "mandoc -Tlint $(basename "$page"): $out"
	fi
done
# Every command and option of --help is in the man page.
for cmd in run status wait kexec fault inspect; do
	for opt in $("$luoemu" "$cmd" --help | grep -o -- '--[a-z-]*' | sort -u); do
		grep -q -- "$(echo "$opt" | sed 's/-/\\\\-/g')" "$build/man/luoemu.1" ||
			bad "luoemu.1 does not document $cmd $opt"
	done
done
for opt in $("$luoemud" --help | grep -o -- '--[a-z-]*' | sort -u); do
	grep -q -- "$(echo "$opt" | sed 's/-/\\\\-/g')" "$build/man/luoemud.8" ||
		bad "luoemud.8 does not document $opt"
done
ok "the man pages document every option of --help (missing ones fail above)"

# ---- systemd units ----
units=$tmp/units
make -C "$build" -s install DESTDIR="$units" >/dev/null 2>&1 || bad "make install"
sys_unit=$(find "$units" -path '*/systemd/system/luoemud.service')
user_unit=$(find "$units" -path '*/systemd/user/luoemud.service')
[ -n "$sys_unit" ] && [ -n "$user_unit" ] && ok "make install: system and user units" ||
	bad "make install: units missing"
grep -q "^ExecStart=$(make -C "$build" -s --no-print-directory -f - <<<'include Makefile
p:
	@echo $(sbindir)' p)/luoemud " "$sys_unit" && ok "ExecStart= names the configured sbindir" ||
	bad "ExecStart: $(grep ExecStart= "$sys_unit")"
exposure=$(systemd-analyze security --offline=true "$sys_unit" 2>/dev/null |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -n "$exposure" ] && python3 -c "import sys; sys.exit(not float('$exposure') <= 2.5)"; then
	ok "systemd-analyze security: exposure $exposure <= 2.5"
else
	bad "systemd-analyze security: exposure '${exposure}'"
fi
echo "# exposure of luoemud.service: $exposure"

# ---- the Debian packages ----
if [ "$(id -u)" != 0 ] || ! command -v dpkg-buildpackage >/dev/null; then
	echo "# skipped: building and installing the .debs needs root and dpkg-dev"
else
	deb=$tmp/deb
	mkdir -p "$deb/src"
	# The tree as it is now, without build products.
	git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$deb/src"
	rm -rf "$deb/src/build-"*
	if (cd "$deb/src" && dpkg-buildpackage -us -uc -b) >"$tmp/deb.log" 2>&1; then
		ok "dpkg-buildpackage -us -uc -b"
	else
		bad "dpkg-buildpackage: $(tail -20 "$tmp/deb.log")"
	fi
	if apt-get install -y --no-install-recommends "$deb"/luoemu_*.deb "$deb"/luoemu-dev_*.deb \
		>"$tmp/apt.log" 2>&1; then
		ok "the .debs install"
		for f in /usr/bin/luoemu /usr/sbin/luoemud /etc/default/luoemud \
			/usr/share/man/man1/luoemu.1.gz /usr/share/man/man8/luoemud.8.gz \
			/usr/include/luoemu/liveupdate.h /usr/share/bash-completion/completions/luoemu \
			/usr/lib/modules-load.d/luoemu-cuse.conf /usr/lib/systemd/user/luoemud.service; do
			[ -e "$f" ] && ok "installed: $f" || bad "not installed: $f"
		done
		unit=$(ls /lib/systemd/system/luoemud.service /usr/lib/systemd/system/luoemud.service 2>/dev/null | head -1)
		[ -n "$unit" ] && ok "installed: $unit" || bad "no system unit"
		pc=$(ls /usr/share/pkgconfig/luoemu.pc /usr/lib/*/pkgconfig/luoemu.pc 2>/dev/null | head -1)
		[ -n "$pc" ] && ok "installed: $pc" || bad "no luoemu.pc"
		printf '#include <luoemu/liveupdate.h>\nint main(void) { return sizeof(struct liveupdate_ioctl_create_session) == 0; }\n' >"$tmp/client.c"
		# shellcheck disable=SC2046
		cc $(pkg-config --cflags luoemu) "$tmp/client.c" -o "$tmp/client" 2>"$tmp/cc.log" &&
			ok "a client builds with pkg-config --cflags luoemu" || bad "client build: $(cat "$tmp/cc.log")"
		if out=$(systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ]; then
			ok "systemd-analyze verify $unit"
		else
			bad "systemd-analyze verify $unit: $out"
		fi
		mkdir -p "$tmp/xdg" && chmod 0700 "$tmp/xdg"
		if out=$(XDG_RUNTIME_DIR=$tmp/xdg systemd-analyze --user verify /usr/lib/systemd/user/luoemud.service 2>&1) &&
			[ -z "$out" ]; then
			ok "systemd-analyze --user verify (user unit)"
		else
			bad "systemd-analyze --user verify: $out"
		fi
		man -w luoemu >/dev/null 2>&1 && man -w 8 luoemud >/dev/null 2>&1 &&
			ok "man finds luoemu(1) and luoemud(8)" || bad "man -w"
		expect 0 "installed luoemu --version" /usr/bin/luoemu --version
		expect 0 "installed luoemud --version" /usr/sbin/luoemud --version
		# bash-completion's helpers, or the few the script uses when it is absent.
		bash -c 'source /usr/share/bash-completion/bash_completion 2>/dev/null ||
			_init_completion() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD;
				cur=${words[cword]}; prev=${words[cword-1]}; }
			source /usr/share/bash-completion/completions/luoemu;
			COMP_WORDS=(luoemu ke); COMP_CWORD=1; COMP_LINE="luoemu ke"; COMP_POINT=${#COMP_LINE}
			_luoemu; [ "${COMPREPLY[*]}" = kexec ] || exit 1
			COMP_WORDS=(luoemu kexec --mode ""); COMP_CWORD=3; COMP_LINE="luoemu kexec --mode "
			COMP_POINT=${#COMP_LINE}; _luoemu; [ "${COMPREPLY[*]}" = "exec copy" ]' &&
			ok "bash completion completes commands" || bad "bash completion"
		apt-get purge -y luoemu luoemu-dev >/dev/null 2>&1 && ok "the .debs purge" || bad "purge"
	else
		bad "apt-get install: $(tail -20 "$tmp/apt.log")"
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
