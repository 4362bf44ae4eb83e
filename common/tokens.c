/* SPDX-License-Identifier: ISC */
#include "common/tokens.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

static const char *const token_fields[] = {
	"input_tokens",
	"cache_read_tokens",
	"cache_write_tokens",
	"output_tokens",
	"reasoning_tokens",
};
#define TOKEN_NFIELDS (sizeof token_fields / sizeof token_fields[0])

static int64_t *
token_field(struct token_usage *u, size_t i)
{
	switch (i) {
	case 0:
		return &u->input_tokens;
	case 1:
		return &u->cache_read_tokens;
	case 2:
		return &u->cache_write_tokens;
	case 3:
		return &u->output_tokens;
	default:
		return &u->reasoning_tokens;
	}
}

int64_t
token_sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (b <= 0)
		return a;
	return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

void
token_usage_add(struct token_usage *to, const struct token_usage *u)
{
	struct token_usage c = *u;
	size_t i;

	for (i = 0; i < TOKEN_NFIELDS; i++)
		*token_field(to, i) =
			token_sat_add(*token_field(to, i), *token_field(&c, i));
}

bool
token_usage_max(struct token_usage *to, const struct token_usage *u)
{
	struct token_usage c = *u;
	bool rose = false;
	size_t i;

	for (i = 0; i < TOKEN_NFIELDS; i++)
		if (*token_field(&c, i) > *token_field(to, i)) {
			*token_field(to, i) = *token_field(&c, i);
			rose = true;
		}
	return rose;
}

int64_t
token_usage_cost(const struct token_usage *u)
{
	return token_sat_add(
		u->input_tokens > 0 ? u->input_tokens : 0, u->output_tokens);
}

struct json_object *
token_usage_json(const struct token_usage *u)
{
	struct token_usage c = *u;
	struct json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; i < TOKEN_NFIELDS; i++)
		json_object_object_add(o, token_fields[i],
			json_object_new_int64(*token_field(&c, i)));
	return o;
}

int
token_usage_format(const struct token_usage *u, char *buf, size_t len)
{
	struct token_usage c = *u;
	size_t i, off = 0;
	int n;

	for (i = 0; i < TOKEN_NFIELDS; i++) {
		n = snprintf(buf + (off < len ? off : len),
			off < len ? len - off : 0, "%s\"%s\":%" PRId64,
			i == 0 ? "{" : ",", token_fields[i],
			*token_field(&c, i));
		if (n < 0)
			return n;
		off += (size_t)n;
	}
	n = snprintf(
		buf + (off < len ? off : len), off < len ? len - off : 0, "}");
	if (n < 0)
		return n;
	return (int)(off + (size_t)n);
}

void
token_usage_add_json(struct token_usage *u, struct json_object *o)
{
	struct json_object *v;
	size_t i;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return;
	for (i = 0; i < TOKEN_NFIELDS; i++)
		if (json_object_object_get_ex(o, token_fields[i], &v) &&
			json_object_is_type(v, json_type_int))
			*token_field(u, i) = token_sat_add(
				*token_field(u, i), json_object_get_int64(v));
}

int
token_usage_parse(struct json_object *o, struct token_usage *u)
{
	struct json_object *v;
	size_t i;

	memset(u, 0, sizeof *u);
	if (o == NULL || !json_object_is_type(o, json_type_object))
		return -EINVAL;
	for (i = 0; i < TOKEN_NFIELDS; i++) {
		if (!json_object_object_get_ex(o, token_fields[i], &v))
			continue;
		if (!json_object_is_type(v, json_type_int) ||
			json_object_get_int64(v) < 0)
			return -EINVAL;
		*token_field(u, i) = json_object_get_int64(v);
	}
	return 0;
}
