/* SPDX-License-Identifier: ISC */
#ifndef TESTS_BENCH_BENCH_H
#define TESTS_BENCH_BENCH_H

/*
 * Helpers shared by the C benchmarks: a monotonic clock, medians and
 * percentiles of repeated runs, and the one output line format
 *   name  value  unit  baseline=<value> ratio=<x>
 * (the baseline is always measured in the same run on the same machine).
 */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1, nearest rank) of v[0..n); sorts v. */
static inline double
bench_quantile(double *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	i = (size_t)(q * (double)n);
	if (i >= n)
		i = n - 1;
	return v[i];
}

static inline double
bench_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	if (n % 2 == 1)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Print one figure with its ratio (e.g. a median of paired ratios). */
static inline void
bench_print_ratio(const char *name, double value, const char *unit,
	double baseline, double ratio)
{
	printf("%-28s %12.3f  %-8s baseline=%.3f ratio=%.3f\n", name, value,
		unit, baseline, ratio);
	fflush(stdout);
}

/* Print one figure; ratio = value / baseline. */
static inline void
bench_print(const char *name, double value, const char *unit, double baseline)
{
	bench_print_ratio(name, value, unit, baseline,
		baseline != 0 ? value / baseline : 0.0);
}

#endif
