noinst_LIBRARIES += src/control/libluocontrol.a
src_control_libluocontrol_a_SOURCES = \
	src/control/control.h \
	src/control/control.c \
	src/control/paths.h \
	src/control/paths.c \
	src/control/request.h \
	src/control/request.c \
	src/control/peercred.h \
	src/control/peercred.c \
	src/control/server.h \
	src/control/server.c

check_PROGRAMS += tests/unit/test-control
TESTS += tests/unit/test-control
tests_unit_test_control_SOURCES = tests/unit/test-control.c
tests_unit_test_control_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -pthread
tests_unit_test_control_LDADD = src/control/libluocontrol.a $(CHECK_LIBS)
tests_unit_test_control_LDFLAGS = $(AM_LDFLAGS) -pthread

# The libFuzzer target for the request parsers is not built by default.
# From the top of the tree (after configure, for config.h):
#   clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
#     -fno-sanitize-recover=all -Iinclude -Isrc -include config.h \
#     fuzz/fuzz-control.c src/control/request.c src/control/control.c \
#     -o fuzz-control
#   mkdir -p corpus-control && ./fuzz-control-replay --write-seeds corpus-control
#   ./fuzz-control -runs=10000000 corpus-control
# The replayer (gcc is enough) runs a corpus without libFuzzer:
#   gcc -std=gnu11 -DLUOEMU_FUZZ_STANDALONE -Iinclude -Isrc -include config.h \
#     fuzz/fuzz-control.c src/control/libluocontrol.a -o fuzz-control-replay
#   ./fuzz-control-replay corpus-control
# scripts: fuzz/run-fuzz-control.sh does both.
EXTRA_DIST += fuzz/fuzz-control.c fuzz/run-fuzz-control.sh
