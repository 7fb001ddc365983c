bin_PROGRAMS += luoemu
luoemu_SOURCES = src/cli/luoemu.c
luoemu_LDADD = \
	src/cli/libluocli.a \
	src/seccomp/libluoseccomp.a \
	src/control/libluocontrol.a \
	src/serialize/libluoblob.a
