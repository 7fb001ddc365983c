noinst_LIBRARIES += src/cli/libluocli.a
src_cli_libluocli_a_SOURCES = \
	src/cli/run.h \
	src/cli/run.c
