/* SPDX-License-Identifier: ISC */
#include "worker/usage.h"

#include <string.h>

#include <json-c/json.h>

/* Four bytes a token, rounded up: the only estimate the worker makes. */
int64_t
usage_estimate(size_t bytes)
{
	return (int64_t)((bytes + 3) / 4);
}

/* Estimated tokens of entry as JSON text. */
int64_t
usage_entry_tokens(struct json_object *entry)
{
	const char *s;

	s = json_object_to_json_string_ext(entry, JSON_C_TO_STRING_PLAIN);
	return usage_estimate(s != NULL ? strlen(s) : 0);
}

/* Forget what was counted; the next update starts at entry 0. */
void
usage_acct_reset(
	struct usage_acct *a, const void *key, uint64_t gen, int64_t overhead)
{
	memset(a, 0, sizeof *a);
	a->key = key;
	a->gen = gen;
	a->overhead = overhead;
	a->tokens = overhead;
}

static int64_t
usage_field(struct json_object *e, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(e, key, &v))
		return 0;
	return json_object_get_int64(v);
}

/* Count the entries appended since the last update. */
int64_t
usage_acct_update(struct usage_acct *a, struct json_object *entries)
{
	struct json_object *e, *v;
	const char *kind;
	int64_t reported;
	size_t n;

	n = json_object_array_length(entries);
	for (; a->seen < n; a->seen++) {
		e = json_object_array_get_idx(entries, a->seen);
		kind = json_object_object_get_ex(e, "kind", &v)
			? json_object_get_string(v)
			: "";
		if (strcmp(kind, "usage") == 0) {
			reported = usage_field(e, "input_tokens") +
				usage_field(e, "output_tokens");
			if (reported > 0) {
				a->tokens = reported;
				a->skip_assistant = true;
				a->saw_usage = true;
			}
			continue;
		}
		/* The assistant entry of a reported call is its output. */
		if (a->skip_assistant && strcmp(kind, "assistant") == 0) {
			a->skip_assistant = false;
			continue;
		}
		a->skip_assistant = false;
		a->tokens += usage_entry_tokens(e);
	}
	return a->tokens;
}
