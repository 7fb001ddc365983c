/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-call latency samples for the benchmarks: one clock, one summary line
 * format that bench/run-bench.sh parses:
 *   RESULT <label> n=<N> median=<us> min=<us> p90=<us> max=<us>
 */
#ifndef LUOEMU_BENCH_LATENCY_H
#define LUOEMU_BENCH_LATENCY_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts @v in place. */
static inline void latency_report(const char *label, double *v, size_t n)
{
	if (n == 0) {
		printf("RESULT %s n=0\n", label);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	printf("RESULT %s n=%zu median=%.1f min=%.1f p90=%.1f max=%.1f\n", label, n,
	       n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[0], v[n * 9 / 10], v[n - 1]);
	fflush(stdout);
}

#endif
