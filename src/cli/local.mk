noinst_LIBRARIES += src/cli/libluocli.a
src_cli_libluocli_a_SOURCES = \
	src/cli/run.h \
	src/cli/run.c
src_cli_libluocli_a_SOURCES += \
	src/cli/join.h \
	src/cli/join.c
src_cli_libluocli_a_CPPFLAGS = $(AM_CPPFLAGS) -DLUOEMU_SBINDIR='"$(sbindir)"'
