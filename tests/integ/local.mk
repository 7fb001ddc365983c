# Integration tests: a conformance client built only against the uAPI header
# (so it runs unchanged on a real LUO kernel), dynamic and static, and the
# script that drives it against a running daemon.  The lead wires
# run-integ.sh into TESTS (directly on CUSE hosts, or inside the VM).

check_PROGRAMS += tests/integ/luo-client tests/integ/luo-client-static

tests_integ_luo_client_SOURCES = tests/integ/luo-client.c
tests_integ_luo_client_CPPFLAGS = -I$(top_srcdir)/include
tests_integ_luo_client_CFLAGS = $(AM_CFLAGS) -pthread
tests_integ_luo_client_LDFLAGS = $(AM_LDFLAGS) -pthread

# No sanitizers here: they do not link statically.
tests_integ_luo_client_static_SOURCES = tests/integ/luo-client.c
tests_integ_luo_client_static_CPPFLAGS = -I$(top_srcdir)/include
tests_integ_luo_client_static_CFLAGS = -std=gnu11 $(WARN_CFLAGS) -pthread
tests_integ_luo_client_static_LDFLAGS = -static -pthread

EXTRA_DIST += tests/integ/run-integ.sh

# The integration suites per frontend: FUSE natively as an unprivileged
# user; CUSE directly on hosts with /dev/cuse, else in a qemu VM.
TESTS += tests/integ/check-integ.sh
EXTRA_DIST += tests/integ/check-integ.sh
TESTS_ENVIRONMENT = srcdir=$(abs_top_srcdir) LUOEMU_VM_TESTS=$(LUOEMU_VM_TESTS) \
	LUOEMU_FUSE_TESTS=$(LUOEMU_FUSE_TESTS) \
	LSAN_OPTIONS=suppressions=$(abs_top_srcdir)/tests/lsan.supp:print_suppressions=0; \
	export srcdir LUOEMU_VM_TESTS LUOEMU_FUSE_TESTS LSAN_OPTIONS;
EXTRA_DIST += tests/lsan.supp

# Multi-stage live-update scenarios (uAPI header + libc only, like the
# kernel's luo_kexec_simple), driven across emulated updates by run-update.sh.
check_PROGRAMS += tests/integ/luo-update
tests_integ_luo_update_SOURCES = tests/integ/luo-update.c
tests_integ_luo_update_CPPFLAGS = -I$(top_srcdir)/include

EXTRA_DIST += tests/integ/run-update.sh tests/integ/run-all.sh

# The helpers the three suites source (copied next to them into the VM).
EXTRA_DIST += tests/integ/lib.sh

# Fault injection around the live update (run by run-all.sh).
EXTRA_DIST += tests/integ/run-faults.sh

# Trust boundaries of the control socket (run-trust.sh): a hostile client.
check_PROGRAMS += tests/integ/trust-client
tests_integ_trust_client_SOURCES = tests/integ/trust-client.c
tests_integ_trust_client_LDADD = src/control/libluocontrol.a
EXTRA_DIST += tests/integ/run-trust.sh

# The system daemon as its dedicated user, across an exec handover (in the VM).
EXTRA_DIST += tests/integ/run-dropuser.sh
# kexec-tools driving a per-user daemon natively, as a normal user.
EXTRA_DIST += tests/integ/run-kexec-user.sh
