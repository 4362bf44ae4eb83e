/* SPDX-License-Identifier: ISC */
#ifndef PODVISOR_COMMON_TOKENS_H
#define PODVISOR_COMMON_TOKENS_H

/*
 * Token counts of a model call, a run or a pod: what the worker adds up
 * from the providers' usage fields and what podvisord keeps and carves
 * budgets from.  One struct and one JSON shape for both sides.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

struct token_usage {
	int64_t input_tokens;
	int64_t output_tokens;
	int64_t cache_read_tokens; /* part of input_tokens read from cache */
	int64_t cache_write_tokens; /* part of input_tokens written to cache */
	int64_t reasoning_tokens; /* part of output_tokens spent reasoning */
};

/* a + b, saturating at INT64_MAX; b <= 0 adds nothing. */
int64_t token_sat_add(int64_t a, int64_t b);
/* to += u, field by field, saturating. */
void token_usage_add(struct token_usage *to, const struct token_usage *u);
/* Raise each field of to to u's where u's is larger; true if one rose. */
bool token_usage_max(struct token_usage *to, const struct token_usage *u);
/* What a budget is charged: input (cached parts included) plus output. */
int64_t token_usage_cost(const struct token_usage *u);
/* {"input_tokens": n, ...}: all five fields, zeros included. */
struct json_object *token_usage_json(const struct token_usage *u);
/* The same object as compact JSON text into buf; returns the length that
 * was needed (as snprintf). */
int token_usage_format(const struct token_usage *u, char *buf, size_t len);
/* u += o's fields that are integers (others ignored). */
void token_usage_add_json(struct token_usage *u, struct json_object *o);
/* u = o's fields (absent: 0); -EINVAL if o is not an object or a field is
 * not a count >= 0. */
int token_usage_parse(struct json_object *o, struct token_usage *u);

#endif
