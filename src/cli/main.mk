bin_PROGRAMS += luoemu
luoemu_SOURCES = \
	src/cli/luoemu.c \
	src/cli/cli.h \
	src/cli/request.c \
	src/cli/json.c \
	src/cli/json.h \
	src/cli/cmd-status.c \
	src/cli/cmd-kexec.c \
	src/cli/cmd-fault.c
luoemu_CFLAGS = $(AM_CFLAGS) -pthread
luoemu_LDADD = \
	src/cli/libluocli.a \
	src/seccomp/libluoseccomp.a \
	src/control/libluocontrol.a \
	src/serialize/libluoblob.a
luoemu_LDFLAGS = $(AM_LDFLAGS) -pthread
