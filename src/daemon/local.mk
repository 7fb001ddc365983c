sbin_PROGRAMS += luoemud
luoemud_SOURCES = \
	src/daemon/main.c \
	src/daemon/daemon.c \
	src/daemon/daemon.h \
	src/daemon/control-server.c \
	src/daemon/handover.c \
	src/daemon/handover.h \
	src/daemon/kexec-image.c \
	src/daemon/kexec-image.h \
	src/daemon/caps.c \
	src/daemon/caps.h \
	src/daemon/hardening.c \
	src/daemon/hardening.h \
	src/daemon/userns.c \
	src/daemon/userns.h \
	src/daemon/log.c \
	src/daemon/log.h \
	src/daemon/device-node.c \
	src/daemon/state-pin.c \
	src/daemon/state-pin.h \
	src/daemon/device-node.h \
	src/frontend/frontend.c \
	src/frontend/frontend.h \
	src/frontend/courier-protocol.h \
	src/frontend/transport.c \
	src/frontend/transport.h \
	src/cuse/cuse.c \
	src/cuse/cuse.h \
	src/fuse/fuse.c \
	src/fuse/fuse.h \
	src/daemon/notify.c \
	src/daemon/notify.h \
	src/daemon/status.c \
	src/daemon/status.h
luoemud_CFLAGS = $(AM_CFLAGS) $(FUSE_CFLAGS) $(CAP_CFLAGS) $(SYSTEMD_CFLAGS) -pthread
luoemud_LDADD = \
	src/seccomp/libluoseccomp.a \
	src/control/libluocontrol.a \
	src/abi/libluoabi.a \
	src/fault/libluofault.a \
	src/serialize/libluoblob.a \
	src/state/libluostate.a \
	src/peer/libluopeer.a \
	$(FUSE_LIBS) $(CAP_LIBS) $(SYSTEMD_LIBS)
luoemud_LDFLAGS = $(AM_LDFLAGS) -pthread

# Start-up hardening, tested on its own (root switches to "nobody").
check_PROGRAMS += tests/unit/test-hardening
TESTS += tests/unit/test-hardening
tests_unit_test_hardening_SOURCES = tests/unit/test-hardening.c src/daemon/hardening.c \
	src/daemon/hardening.h
tests_unit_test_hardening_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CAP_CFLAGS)
tests_unit_test_hardening_LDADD = $(CAP_LIBS) $(CHECK_LIBS)
