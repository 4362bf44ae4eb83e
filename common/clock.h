/* SPDX-License-Identifier: ISC */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdint.h>

/* Wall-clock milliseconds since the epoch (log entries, state). */
int64_t clock_now_ms(void);
/* Monotonic milliseconds (timeouts, backoff, latency). */
int64_t clock_mono_ms(void);
/* Monotonic nanoseconds (benchmarks). */
int64_t clock_mono_ns(void);

#endif
