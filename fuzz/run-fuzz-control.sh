#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-fuzz-control.sh [RUNS]: build the control-protocol fuzzer with clang
# (libFuzzer + ASan + UBSan) and run it RUNS executions (default 10 million)
# from seeds written by its gcc-built replayer.  Run from a configured
# build directory (for config.h); needs clang and libclang-rt-dev.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10000000}
out=${FUZZ_OUT:-fuzz-control.out}
mkdir -p "$out/corpus"
gcc -std=gnu11 -DLUOEMU_FUZZ_STANDALONE -I"$src/include" -I"$src/src" -include config.h \
	"$src/fuzz/fuzz-control.c" "$src/src/control/request.c" "$src/src/control/control.c" \
	-o "$out/fuzz-control-replay"
"$out/fuzz-control-replay" --write-seeds "$out/corpus"
clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I"$src/include" -I"$src/src" -include config.h \
	"$src/fuzz/fuzz-control.c" "$src/src/control/request.c" "$src/src/control/control.c" \
	-o "$out/fuzz-control"
"$out/fuzz-control" -runs="$runs" -max_len=4096 "$out/corpus"
"$out/fuzz-control-replay" "$out/corpus"
