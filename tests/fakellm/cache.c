/* SPDX-License-Identifier: ISC */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"

#define CACHE_KEYS 64

struct cache_entry {
	char *key;
	char *prefix; /* the serialized request last seen for key */
	size_t len;
};

struct cache {
	struct cache_entry e[CACHE_KEYS];
	size_t n;
	size_t next; /* slot to evict when full */
};

struct cache_ser {
	char *p;
	size_t len, cap;
	size_t mark; /* end of the last cache_control item */
};

struct cache *
cache_new(void)
{
	return xcalloc(1, sizeof(struct cache));
}

void
cache_free(struct cache *cache)
{
	size_t i;

	if (cache == NULL)
		return;
	for (i = 0; i < cache->n; i++) {
		free(cache->e[i].key);
		free(cache->e[i].prefix);
	}
	free(cache);
}

/* Append one item's plain JSON; note its end if it is a breakpoint. */
static void
cache_ser_item(struct cache_ser *s, struct json_object *item)
{
	const char *t =
		json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(t);

	if (s->len + len + 1 > s->cap) {
		s->cap = (s->len + len + 1) * 2;
		s->p = xreallocarray(s->p, 1, s->cap);
	}
	memcpy(s->p + s->len, t, len);
	s->len += len;
	s->p[s->len] = '\0';
	if (json_object_is_type(item, json_type_object) &&
		json_object_object_get_ex(item, "cache_control", NULL))
		s->mark = s->len;
}

/* Items of arr (or arr itself when it is not an array). */
static void
cache_ser_all(struct cache_ser *s, struct json_object *arr)
{
	size_t i, n;

	if (!json_object_is_type(arr, json_type_array)) {
		if (arr != NULL)
			cache_ser_item(s, arr);
		return;
	}
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++)
		cache_ser_item(s, json_object_array_get_idx(arr, i));
}

/* The request in cache order: tools, system, then each message's parts. */
static void
cache_serialize(
	struct cache_ser *s, enum reply_format format, struct json_object *body)
{
	struct json_object *v, *m, *content;
	size_t i, n;

	if (json_object_object_get_ex(body, "tools", &v))
		cache_ser_all(s, v);
	if (json_object_object_get_ex(body, "system", &v))
		cache_ser_all(s, v);
	if (json_object_object_get_ex(body, "instructions", &v))
		cache_ser_all(s, v);
	/* Responses: each input item (a string input is one item). */
	if (format == REPLY_RESPONSES) {
		if (json_object_object_get_ex(body, "input", &v))
			cache_ser_all(s, v);
		return;
	}
	if (!json_object_object_get_ex(body, "messages", &v) ||
		!json_object_is_type(v, json_type_array))
		return;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		m = json_object_array_get_idx(v, i);
		if (format == REPLY_ANTHROPIC &&
			json_object_object_get_ex(m, "content", &content) &&
			json_object_is_type(content, json_type_array)) {
			cache_ser_item(s, json_object_object_get(m, "role"));
			cache_ser_all(s, content);
		} else
			cache_ser_item(s, m);
	}
}

static struct cache_entry *
cache_slot(struct cache *cache, const char *key)
{
	struct cache_entry *e;
	size_t i;

	for (i = 0; i < cache->n; i++)
		if (strcmp(cache->e[i].key, key) == 0)
			return &cache->e[i];
	if (cache->n < CACHE_KEYS)
		e = &cache->e[cache->n++];
	else {
		e = &cache->e[cache->next];
		cache->next = (cache->next + 1) % CACHE_KEYS;
		free(e->key);
		free(e->prefix);
	}
	memset(e, 0, sizeof(*e));
	e->key = xstrdup(key);
	return e;
}

void
cache_account(struct cache *cache, enum reply_format format,
	struct json_object *body, int *ret_read, int *ret_write)
{
	struct cache_ser s = { 0 };
	struct cache_entry *e;
	const char *key;
	size_t limit, common = 0;
	struct json_object *v;

	*ret_read = *ret_write = 0;
	if (format == REPLY_ANTHROPIC)
		key = json_object_object_get_ex(body, "model", &v)
			? json_object_get_string(v)
			: "";
	else if (json_object_object_get_ex(body, "prompt_cache_key", &v) &&
		json_object_is_type(v, json_type_string))
		key = json_object_get_string(v);
	else
		return;
	cache_serialize(&s, format, body);
	/* Anthropic caches up to the last breakpoint, OpenAI everything. */
	limit = format == REPLY_ANTHROPIC ? s.mark : s.len;
	e = cache_slot(cache, key);
	while (common < e->len && common < limit &&
		e->prefix[common] == s.p[common])
		common++;
	*ret_read = (int)(common / 4);
	if (format == REPLY_ANTHROPIC && limit > common)
		*ret_write = (int)((limit - common) / 4);
	free(e->prefix);
	e->prefix = s.p;
	e->len = limit;
}
