noinst_LIBRARIES += src/seccomp/libluoseccomp.a
src_seccomp_libluoseccomp_a_SOURCES = \
	src/seccomp/filter.h \
	src/seccomp/filter.c \
	src/seccomp/courier.h \
	src/seccomp/courier.c \
	src/seccomp/kexec.h \
	src/seccomp/kexec.c \
	src/seccomp/kexec-request.h \
	src/seccomp/kexec-request.c

check_PROGRAMS += tests/unit/test-filter
TESTS += tests/unit/test-filter
# The daemon's kexec decision is tested here too, through its real handler.
tests_unit_test_filter_SOURCES = tests/unit/test-filter.c \
	src/daemon/kexec-image.c src/daemon/log.c
tests_unit_test_filter_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(FUSE_CFLAGS) -pthread
tests_unit_test_filter_LDADD = src/seccomp/libluoseccomp.a src/control/libluocontrol.a \
	src/abi/libluoabi.a src/state/libluostate.a src/fault/libluofault.a \
	src/peer/libluopeer.a $(CHECK_LIBS) $(FUSE_LIBS)

# The real filter + courier + the daemon's kexec decision on hosts without
# CUSE, for tests/integ/run-kexec.sh (kexec-tools under the emulation).
check_PROGRAMS += tests/integ/kexec-harness
tests_integ_kexec_harness_SOURCES = tests/integ/kexec-harness.c \
	src/daemon/kexec-image.c src/daemon/log.c
tests_integ_kexec_harness_CFLAGS = $(AM_CFLAGS) $(FUSE_CFLAGS) -pthread
tests_integ_kexec_harness_LDADD = src/seccomp/libluoseccomp.a src/control/libluocontrol.a \
	src/abi/libluoabi.a src/state/libluostate.a src/fault/libluofault.a \
	src/peer/libluopeer.a $(FUSE_LIBS)
tests_integ_kexec_harness_LDFLAGS = $(AM_LDFLAGS) -pthread
# kexec-tools under the harness (root; skips without kexec-tools or a kernel image).
TESTS += tests/integ/run-kexec.sh
EXTRA_DIST += tests/integ/run-kexec.sh
# Raw kexec_load calls with malformed segment lists (run-kexec.sh).
check_PROGRAMS += tests/integ/kexec-raw
tests_integ_kexec_raw_SOURCES = tests/integ/kexec-raw.c
