/* SPDX-License-Identifier: ISC */
#include "common/clock.h"

#include <time.h>

static int64_t
clock_get_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wall-clock milliseconds since the epoch. */
int64_t
clock_now_ms(void)
{
	return clock_get_ns(CLOCK_REALTIME) / 1000000;
}

/* Monotonic milliseconds. */
int64_t
clock_mono_ms(void)
{
	return clock_get_ns(CLOCK_MONOTONIC) / 1000000;
}

/* Monotonic nanoseconds. */
int64_t
clock_mono_ns(void)
{
	return clock_get_ns(CLOCK_MONOTONIC);
}
