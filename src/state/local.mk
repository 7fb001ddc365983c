noinst_LIBRARIES += src/state/libluostate.a
src_state_libluostate_a_SOURCES = \
	src/state/luo.h \
	src/state/handler.h \
	src/state/fault-points.h \
	src/state/internal.h \
	src/state/ctx.c \
	src/state/quota.c \
	src/state/session.c \
	src/state/file.c \
	src/state/memfd.c \
	src/state/memfd-record.h \
	src/state/report.h \
	src/state/report.c
