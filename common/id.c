/* SPDX-License-Identifier: ISC */
#include "common/id.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/clock.h"
#include "common/log.h"

#define ID_TIME_BYTES 6
#define ID_RAND_BYTES 10
#define ID_TIME_MAX ((int64_t)0xffffffffffff)

static const char id_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* The last id handed out, so the next one can be made strictly greater. */
static int64_t id_last_ms = -1;
static unsigned char id_last_rand[ID_RAND_BYTES];

static void
id_random(unsigned char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = getrandom(buf, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("getrandom: %s", strerror(errno));
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Add one to the big-endian random part; false if it wrapped to zero. */
static bool
id_increment(unsigned char *r)
{
	int i;

	for (i = ID_RAND_BYTES - 1; i >= 0; i--) {
		if (++r[i] != 0)
			return true;
	}
	return false;
}

/* Encode 16 big-endian bytes (130 bits, two leading zeros) as 26 chars. */
static void
id_encode(const unsigned char raw[16], char out[ID_LEN + 1])
{
	int i, b, k, v;

	for (i = 0; i < ID_LEN; i++) {
		v = 0;
		for (b = 0; b < 5; b++) {
			k = i * 5 + b - 2; /* bit index into raw */
			v <<= 1;
			if (k >= 0 && (raw[k / 8] >> (7 - k % 8)) & 1)
				v |= 1;
		}
		out[i] = id_alphabet[v];
	}
	out[ID_LEN] = '\0';
}

static void
id_make(char out[ID_LEN + 1], int64_t ms)
{
	unsigned char raw[16];
	int i;

	if (ms < 0)
		ms = 0;
	if (ms > ID_TIME_MAX)
		ms = ID_TIME_MAX;
	if (ms == id_last_ms) {
		if (!id_increment(id_last_rand)) {
			/* 2^80 ids in one millisecond: move to the next. */
			if (ms < ID_TIME_MAX)
				ms++;
			id_random(id_last_rand, sizeof(id_last_rand));
		}
	} else {
		id_random(id_last_rand, sizeof(id_last_rand));
		/* Leave room to count up within this millisecond. */
		id_last_rand[0] &= 0x7f;
	}
	id_last_ms = ms;
	for (i = 0; i < ID_TIME_BYTES; i++)
		raw[i] = (unsigned char)(ms >> (8 * (ID_TIME_BYTES - 1 - i)));
	memcpy(raw + ID_TIME_BYTES, id_last_rand, ID_RAND_BYTES);
	id_encode(raw, out);
}

/* Write a new id, strictly greater than every earlier one of this process. */
void
id_new(char out[ID_LEN + 1])
{
	int64_t ms = clock_now_ms();

	/* A wall clock stepping back must not break the ordering. */
	if (ms < id_last_ms)
		ms = id_last_ms;
	id_make(out, ms);
}

/* Write a new id for the given millisecond (tests). */
void
id_new_at(char out[ID_LEN + 1], int64_t ms)
{
	id_make(out, ms);
}

static int
id_char_value(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(id_alphabet, c);
	return p == NULL ? -1 : (int)(p - id_alphabet);
}

/* True if s is 26 Crockford base32 characters with a valid first one. */
bool
id_valid(const char *s)
{
	int i;

	if (s == NULL || strnlen(s, ID_LEN + 1) != ID_LEN)
		return false;
	for (i = 0; i < ID_LEN; i++) {
		if (id_char_value(s[i]) < 0)
			return false;
	}
	/* 26 chars carry 130 bits; the top two must be zero. */
	return id_char_value(s[0]) <= 7;
}

/* The millisecond timestamp in the first 10 characters of a valid id. */
int64_t
id_time_ms(const char *id)
{
	int64_t ms = 0;
	int i, v;

	if (!id_valid(id))
		return -1;
	for (i = 0; i < 10; i++) {
		v = id_char_value(id[i]);
		ms = ms * 32 + v;
	}
	return ms;
}
