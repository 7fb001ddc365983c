# Benchmarks (not tests): bench/run-bench.sh prints the figures.
noinst_PROGRAMS += bench/luo-bench
bench_luo_bench_SOURCES = bench/luo-bench.c
bench_luo_bench_CPPFLAGS = -I$(top_srcdir)/include
EXTRA_DIST += bench/bench-update.sh bench/run-bench.sh
# The CRIU peer (checkpoint/restore of a memfd-holding process), in the VM:
# bench/criu-peer.sh --vm BUILDDIR
noinst_PROGRAMS += bench/criu-hold
bench_criu_hold_SOURCES = bench/criu-hold.c
EXTRA_DIST += bench/criu-peer.sh
