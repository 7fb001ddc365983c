# The state blob: in-memory model, wire format, atomic file I/O.  Depends on
# nothing but libc, so the daemon, the CLI and the fuzzer can all link it.
noinst_LIBRARIES += src/serialize/libluoblob.a
src_serialize_libluoblob_a_SOURCES = \
	src/serialize/blob.h \
	src/serialize/blob.c \
	src/serialize/blob-file.c \
	src/serialize/blob-print.c \
	src/serialize/crc32c.c

check_PROGRAMS += tests/unit/test-blob
TESTS += tests/unit/test-blob
tests_unit_test_blob_SOURCES = tests/unit/test-blob.c
tests_unit_test_blob_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_blob_LDADD = src/serialize/libluoblob.a $(CHECK_LIBS)

# The libFuzzer target is not built by default.  From the top of the tree
# (after configure, for config.h):
#   clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
#     -fno-sanitize-recover=all -Iinclude -Isrc -include config.h \
#     fuzz/fuzz-blob.c src/serialize/blob.c src/serialize/blob-file.c \
#     src/serialize/blob-print.c src/serialize/crc32c.c -o fuzz-blob
#   mkdir -p corpus && ./fuzz-blob-replay --write-seeds corpus
#   ./fuzz-blob -max_total_time=60 corpus
# The replayer (gcc is enough) runs a corpus without libFuzzer:
#   gcc -std=gnu11 -DLUOEMU_FUZZ_STANDALONE -Iinclude -Isrc -include config.h \
#     fuzz/fuzz-blob.c src/serialize/libluoblob.a -o fuzz-blob-replay
#   ./fuzz-blob-replay corpus
EXTRA_DIST += fuzz/fuzz-blob.c fuzz/replay.h
