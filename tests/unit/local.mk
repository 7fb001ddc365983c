# Unit tests of the core model (Check).  Included from the top Makefile.am.
check_PROGRAMS += tests/unit/test-core tests/unit/test-memfd
TESTS += tests/unit/test-core tests/unit/test-memfd

tests_unit_test_core_SOURCES = tests/unit/test-core.c tests/unit/luo-test.h
tests_unit_test_core_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_core_LDADD = src/state/libluostate.a $(CHECK_LIBS)

tests_unit_test_memfd_SOURCES = tests/unit/test-memfd.c tests/unit/luo-test.h
tests_unit_test_memfd_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_memfd_LDADD = src/state/libluostate.a $(CHECK_LIBS)

# The per-user daemon's namespaces and `luoemu run`'s join, for real as an
# unprivileged user (as root: re-run as "luotest", else skipped).
check_PROGRAMS += tests/unit/test-userns
TESTS += tests/unit/test-userns
tests_unit_test_userns_SOURCES = tests/unit/test-userns.c \
	src/daemon/userns.c src/daemon/userns.h src/daemon/device-node.c \
	src/daemon/device-node.h src/cli/join.c src/cli/join.h
tests_unit_test_userns_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(FUSE_CFLAGS) $(CAP_CFLAGS) -pthread
tests_unit_test_userns_LDADD = $(CHECK_LIBS) $(FUSE_LIBS) $(CAP_LIBS)
tests_unit_test_userns_LDFLAGS = $(AM_LDFLAGS) -pthread

# The same, joining through /proc/PID/ns/ as on kernels before 5.8.
check_PROGRAMS += tests/unit/test-userns-procns
TESTS += tests/unit/test-userns-procns
tests_unit_test_userns_procns_SOURCES = $(tests_unit_test_userns_SOURCES)
tests_unit_test_userns_procns_CPPFLAGS = $(AM_CPPFLAGS) -DLUOEMU_JOIN_PROC_ONLY
tests_unit_test_userns_procns_CFLAGS = $(tests_unit_test_userns_CFLAGS)
tests_unit_test_userns_procns_LDADD = $(tests_unit_test_userns_LDADD)
tests_unit_test_userns_procns_LDFLAGS = $(tests_unit_test_userns_LDFLAGS)
