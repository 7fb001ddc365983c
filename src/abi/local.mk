noinst_LIBRARIES += src/abi/libluoabi.a
src_abi_libluoabi_a_SOURCES = \
	src/abi/abi.h \
	src/abi/abi.c

check_PROGRAMS += tests/unit/test-abi
TESTS += tests/unit/test-abi
tests_unit_test_abi_SOURCES = tests/unit/test-abi.c
tests_unit_test_abi_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_abi_LDADD = src/abi/libluoabi.a src/state/libluostate.a $(CHECK_LIBS)
