/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "proto/conn.h"
#include "proto/dispatch.h"
#include "proto/msg.h"

/* Find name in the sorted table by binary search (NULL if absent). */
const struct dispatch_entry *
dispatch_find(const struct dispatch_entry *table, size_t n, const char *name)
{
	size_t lo = 0, hi = n, mid;
	int cmp;

	if (table == NULL || name == NULL)
		return NULL;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = strcmp(name, table[mid].name);
		if (cmp == 0)
			return &table[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * Length of name's first bytes to quote in an error, at most 64 and never
 * ending inside a UTF-8 sequence (the reply must stay valid UTF-8).
 */
static int
dispatch_quote_len(const char *name)
{
	size_t n = strnlen(name, 65);

	if (n <= 64)
		return (int)n;
	n = 64;
	while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
		n--;
	return (int)n;
}

static const char *
dispatch_type_phrase(enum param_type type)
{
	switch (type) {
	case PARAM_STRING:
		return "a string";
	case PARAM_INT:
		return "an integer";
	case PARAM_BOOL:
		return "a boolean";
	case PARAM_ARRAY:
		return "an array";
	case PARAM_OBJECT:
		return "an object";
	case PARAM_ANY:
		break;
	}
	return "a value";
}

static bool
dispatch_type_ok(struct json_object *v, enum param_type type)
{
	switch (type) {
	case PARAM_STRING:
		/* A "\u0000" inside would silently cut the C string. */
		return json_object_is_type(v, json_type_string) &&
			strlen(json_object_get_string(v)) ==
			(size_t)json_object_get_string_len(v);
	case PARAM_INT:
		return json_object_is_type(v, json_type_int);
	case PARAM_BOOL:
		return json_object_is_type(v, json_type_boolean);
	case PARAM_ARRAY:
		return json_object_is_type(v, json_type_array);
	case PARAM_OBJECT:
		return json_object_is_type(v, json_type_object);
	case PARAM_ANY:
		return true;
	}
	return false;
}

/* Check m's method and parameters against table, then run its handler. */
int
dispatch_request(const struct dispatch_entry *table, size_t n, void *ctx,
	struct conn *c, struct msg *m)
{
	const struct dispatch_entry *e;
	const struct param_spec *ps;
	struct json_object *v;

	if (m->kind != MSG_REQUEST) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"unexpected event \"%.*s\": expected a request",
			dispatch_quote_len(m->name), m->name);
		return -EINVAL;
	}
	e = dispatch_find(table, n, m->name);
	if (e == NULL) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"unknown method \"%.*s\"", dispatch_quote_len(m->name),
			m->name);
		return -EINVAL;
	}
	for (ps = e->params; ps != NULL && ps->name != NULL; ps++) {
		v = msg_param(m, ps->name);
		if (v == NULL) {
			/* Absent and null are the same. */
			if (ps->optional)
				continue;
			conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
				"missing parameter \"%s\"", ps->name);
			return -EINVAL;
		}
		if (!dispatch_type_ok(v, ps->type)) {
			conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
				"parameter \"%s\" must be %s", ps->name,
				dispatch_type_phrase(ps->type));
			return -EINVAL;
		}
	}
	e->fn(ctx, c, m);
	return 0;
}

/* True if names are non-NULL and strictly increasing, handlers set. */
bool
dispatch_table_valid(const struct dispatch_entry *table, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (table[i].name == NULL || table[i].fn == NULL)
			return false;
		if (i > 0 && strcmp(table[i - 1].name, table[i].name) >= 0)
			return false;
	}
	return true;
}
