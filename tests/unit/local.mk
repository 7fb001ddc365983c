# Unit tests of the core model (Check).  Included from the top Makefile.am.
check_PROGRAMS += tests/unit/test-core tests/unit/test-memfd
TESTS += tests/unit/test-core tests/unit/test-memfd

tests_unit_test_core_SOURCES = tests/unit/test-core.c tests/unit/luo-test.h
tests_unit_test_core_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_core_LDADD = src/state/libluostate.a $(CHECK_LIBS)

tests_unit_test_memfd_SOURCES = tests/unit/test-memfd.c tests/unit/luo-test.h
tests_unit_test_memfd_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_memfd_LDADD = src/state/libluostate.a $(CHECK_LIBS)
