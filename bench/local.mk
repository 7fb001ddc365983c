# Benchmarks (not tests): bench/run-bench.sh prints the figures.
noinst_PROGRAMS += bench/luo-bench bench/bare-fuse bench/bare-seccomp
bench_luo_bench_SOURCES = bench/luo-bench.c bench/latency.h
bench_luo_bench_CPPFLAGS = -I$(top_srcdir)/include
# The yardsticks: a bare FUSE ioctl round trip and a bare seccomp
# user-notification round trip, measured in the same run as luoemu.
bench_bare_fuse_SOURCES = bench/bare-fuse.c bench/latency.h
bench_bare_fuse_CFLAGS = $(AM_CFLAGS) $(FUSE_CFLAGS) -pthread
bench_bare_fuse_LDADD = $(FUSE_LIBS)
bench_bare_seccomp_SOURCES = bench/bare-seccomp.c bench/latency.h
EXTRA_DIST += bench/bench-update.sh bench/run-bench.sh bench/scale.sh bench/profile.sh bench/bench-lib.sh bench/PROFILE.md
# The CRIU peer (checkpoint/restore of a memfd-holding process), in the VM:
# bench/criu-peer.sh --vm BUILDDIR
noinst_PROGRAMS += bench/criu-hold
bench_criu_hold_SOURCES = bench/criu-hold.c
EXTRA_DIST += bench/criu-peer.sh
