noinst_LIBRARIES += src/control/libluocontrol.a
src_control_libluocontrol_a_SOURCES = \
	src/control/control.h \
	src/control/control.c \
	src/control/paths.h \
	src/control/paths.c

check_PROGRAMS += tests/unit/test-control
TESTS += tests/unit/test-control
tests_unit_test_control_SOURCES = tests/unit/test-control.c
tests_unit_test_control_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_control_LDADD = src/control/libluocontrol.a $(CHECK_LIBS)
