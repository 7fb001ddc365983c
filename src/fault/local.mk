# Fault injection: the registry of named points behind `luoemu fault` and
# --fault / $LUOEMU_FAULTS.  Uses libluoblob only for luo_crc32c() (the
# badversion damage re-seals the header), so link it after this library.
noinst_LIBRARIES += src/fault/libluofault.a
src_fault_libluofault_a_SOURCES = \
	src/fault/fault.h \
	src/fault/fault.c
EXTRA_DIST += src/fault/FAULTS.md

check_PROGRAMS += tests/unit/test-fault
TESTS += tests/unit/test-fault
tests_unit_test_fault_SOURCES = tests/unit/test-fault.c
tests_unit_test_fault_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -pthread
tests_unit_test_fault_LDADD = \
	src/fault/libluofault.a \
	src/serialize/libluoblob.a \
	src/state/libluostate.a \
	$(CHECK_LIBS)
tests_unit_test_fault_LDFLAGS = $(AM_LDFLAGS) -pthread
