# Benchmarks (not tests): bench/run-bench.sh prints the figures.
noinst_PROGRAMS += bench/luo-bench
bench_luo_bench_SOURCES = bench/luo-bench.c
bench_luo_bench_CPPFLAGS = -I$(top_srcdir)/include
EXTRA_DIST += bench/bench-update.sh bench/run-bench.sh
