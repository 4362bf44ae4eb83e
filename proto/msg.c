/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"
#include "proto/msg.h"

/* In the order of PROTOCOL.md and enum proto_err. */
static const char *const msg_err_names[PERR__COUNT] = {
	[PERR_INVALID_REQUEST] = "invalid_request",
	[PERR_LINE_TOO_LONG] = "line_too_long",
	[PERR_INVALID_NAME] = "invalid_name",
	[PERR_NOT_FOUND] = "not_found",
	[PERR_NOT_VISIBLE] = "not_visible",
	[PERR_ALREADY_EXISTS] = "already_exists",
	[PERR_ALREADY_LIVE] = "already_live",
	[PERR_NOT_LIVE] = "not_live",
	[PERR_NOT_SUBSET] = "not_subset",
	[PERR_WRITE_CONFLICT] = "write_conflict",
	[PERR_SPAWN_FAILED] = "spawn_failed",
	[PERR_ALREADY_RUNNING] = "already_running",
	[PERR_NOT_RUNNING] = "not_running",
	[PERR_NOT_PAUSED] = "not_paused",
	[PERR_PROVIDER_ERROR] = "provider_error",
	[PERR_TOOL_ERROR] = "tool_error",
	[PERR_BUSY] = "busy",
	[PERR_INTERNAL] = "internal",
	[PERR_ALREADY_DECIDED] = "already_decided",
};

/* The wire name of an error code ("internal" for an unknown value). */
const char *
proto_err_name(enum proto_err err)
{
	if ((unsigned)err >= PERR__COUNT)
		return msg_err_names[PERR_INTERNAL];
	return msg_err_names[err];
}

/* The error code with wire name name, or -1. */
int
proto_err_from_name(const char *name)
{
	int i;

	if (name == NULL)
		return -1;
	for (i = 0; i < PERR__COUNT; i++) {
		if (strcmp(msg_err_names[i], name) == 0)
			return i;
	}
	return -1;
}

/* Non-finite numbers (NaN, 1e400) would be written back as invalid JSON. */
static bool
msg_json_finite(struct json_object *obj)
{
	struct json_object_iterator it, end;
	size_t i, n;

	switch (json_object_get_type(obj)) {
	case json_type_double:
		return isfinite(json_object_get_double(obj));
	case json_type_array:
		n = json_object_array_length(obj);
		for (i = 0; i < n; i++) {
			if (!msg_json_finite(json_object_array_get_idx(obj, i)))
				return false;
		}
		return true;
	case json_type_object:
		it = json_object_iter_begin(obj);
		end = json_object_iter_end(obj);
		for (; !json_object_iter_equal(&it, &end);
			json_object_iter_next(&it)) {
			if (!msg_json_finite(json_object_iter_peek_value(&it)))
				return false;
		}
		return true;
	default:
		return true;
	}
}

/*
 * Strict UTF-8 (RFC 3629): json-c's own check lets overlong forms such as
 * C0 AF (a disguised '/') and surrogates through.  Returns the offset of
 * the first bad byte, or len.
 */
static size_t
msg_utf8_check(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp, min;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			n = 1;
			cp = s[i] & 0x1f;
			min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = s[i] & 0x0f;
			min = 0x800;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			n = 3;
			cp = s[i] & 0x07;
			min = 0x10000;
		} else
			return i;
		if (len - i <= n)
			return i;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n + 1;
	}
	return len;
}

/*
 * Parse one JSON text; 0 with *ret_obj (NULL for the text "null"), or
 * -EINVAL with a sentence in *reterr_msg.
 */
static int
msg_parse_any(const char *text, size_t len, struct json_object **ret_obj,
	char **reterr_msg)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t end, i;
	bool more = false;

	if (len > INT32_MAX) {
		*reterr_msg = xstrdup("invalid JSON: text too long");
		return -EINVAL;
	}
	i = msg_utf8_check((const unsigned char *)text, len);
	if (i < len) {
		*reterr_msg = xstrfmt("invalid JSON at byte %zu: "
				      "invalid utf-8 string",
			i);
		return -EINVAL;
	}
	tok = json_tokener_new_ex(MSG_MAX_DEPTH);
	if (tok == NULL) {
		*reterr_msg = xstrdup("out of memory");
		return -ENOMEM;
	}
	json_tokener_set_flags(
		tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (obj == NULL && jerr == json_tokener_continue && len > 0) {
		/* A bare number at the end needs a terminator. */
		more = true;
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	json_tokener_free(tok);

	if (jerr != json_tokener_success) {
		json_object_put(obj);
		if (jerr == json_tokener_continue || more)
			*reterr_msg = xstrdup("invalid JSON: incomplete text");
		else
			*reterr_msg = xstrfmt("invalid JSON at byte %zu: %s",
				end, json_tokener_error_desc(jerr));
		return -EINVAL;
	}
	for (i = end; i < len; i++) {
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r' &&
			text[i] != '\n') {
			json_object_put(obj);
			*reterr_msg = xstrfmt(
				"invalid JSON: trailing characters at byte %zu",
				i);
			return -EINVAL;
		}
	}
	if (obj != NULL && !msg_json_finite(obj)) {
		json_object_put(obj);
		*reterr_msg = xstrdup("invalid JSON: number out of range");
		return -EINVAL;
	}
	*ret_obj = obj;
	return 0;
}

/* Parse one JSON text strictly (UTF-8, depth, no trailing bytes). */
struct json_object *
msg_parse_json(const char *text, size_t len, char **reterr_msg)
{
	struct json_object *obj = NULL;

	if (msg_parse_any(text, len, &obj, reterr_msg) != 0)
		return NULL;
	if (obj == NULL)
		*reterr_msg = xstrdup("JSON null where a value is needed");
	return obj;
}

/* A string without embedded NUL bytes (json-c allows "\u0000"). */
static bool
msg_clean_string(struct json_object *s)
{
	return json_object_is_type(s, json_type_string) &&
		strlen(json_object_get_string(s)) ==
		(size_t)json_object_get_string_len(s);
}

static bool
msg_id_ok(struct json_object *id, char **reterr_msg)
{
	switch (json_object_get_type(id)) {
	case json_type_int:
		if (json_object_get_int64(id) == INT64_MAX &&
			json_object_get_uint64(id) != (uint64_t)INT64_MAX) {
			*reterr_msg = xstrdup("\"id\" is out of range");
			return false;
		}
		return true;
	case json_type_string:
		if (json_object_get_string_len(id) > MSG_MAX_ID_LEN) {
			*reterr_msg = xstrfmt("\"id\" is longer than %d bytes",
				MSG_MAX_ID_LEN);
			return false;
		}
		return true;
	default:
		*reterr_msg = xstrdup("\"id\" must be an integer or a string");
		return false;
	}
}

/* Fill m from the object root (a new message is not yet owned). */
static int
msg_from_root(struct json_object *root, struct msg *m, char **reterr_msg)
{
	struct json_object *method = NULL, *event = NULL, *name, *p = NULL;
	struct json_object *id = NULL, *seq = NULL;
	bool has_method, has_event;
	const char *key;

	if (!json_object_is_type(root, json_type_object)) {
		*reterr_msg = xstrdup("a message must be a JSON object");
		return -EINVAL;
	}
	has_method = json_object_object_get_ex(root, "method", &method);
	has_event = json_object_object_get_ex(root, "event", &event);
	if (has_method && has_event) {
		*reterr_msg = xstrdup(
			"a message has either \"method\" or \"event\", not both");
		return -EINVAL;
	}
	if (!has_method && !has_event) {
		*reterr_msg =
			xstrdup("a message needs \"method\" or \"event\"");
		return -EINVAL;
	}
	name = has_method ? method : event;
	key = has_method ? "method" : "event";
	if (!json_object_is_type(name, json_type_string)) {
		*reterr_msg = xstrfmt("\"%s\" must be a string", key);
		return -EINVAL;
	}
	if (json_object_get_string_len(name) == 0 || !msg_clean_string(name)) {
		*reterr_msg = xstrfmt("\"%s\" must be a non-empty name", key);
		return -EINVAL;
	}

	key = has_method ? "params" : "data";
	if (json_object_object_get_ex(root, key, &p) && p != NULL &&
		!json_object_is_type(p, json_type_object)) {
		*reterr_msg = xstrfmt("\"%s\" must be an object", key);
		return -EINVAL;
	}
	if (json_object_object_get_ex(root, "id", &id) && id != NULL &&
		!msg_id_ok(id, reterr_msg))
		return -EINVAL;

	memset(m, 0, sizeof(*m));
	m->kind = has_method ? MSG_REQUEST : MSG_EVENT;
	m->name = json_object_get_string(name);
	m->params = p;
	m->id = id;
	if (json_object_object_get_ex(root, "seq", &seq) &&
		json_object_is_type(seq, json_type_int))
		m->seq = json_object_get_int64(seq);
	m->root = root;
	return 0;
}

/* Parse one protocol line into ret (see msg.h). */
int
msg_parse(const char *line, size_t len, struct msg *ret, char **reterr_msg)
{
	struct json_object *root = NULL;
	struct msg m;
	int r;

	r = msg_parse_any(line, len, &root, reterr_msg);
	if (r < 0)
		return r;
	r = msg_from_root(root, &m, reterr_msg);
	if (r < 0) {
		json_object_put(root);
		return r;
	}
	*ret = m;
	return 0;
}

/* The valid "id" of a line msg_parse() refused, for its error reply. */
struct json_object *
msg_salvage_id(const char *line, size_t len)
{
	struct json_object *root, *id = NULL;
	char *err = NULL;

	root = NULL;
	if (msg_parse_any(line, len, &root, &err) != 0) {
		free(err);
		return NULL;
	}
	if (json_object_is_type(root, json_type_object) &&
		json_object_object_get_ex(root, "id", &id) && id != NULL &&
		msg_id_ok(id, &err))
		id = json_object_get(id);
	else
		id = NULL;
	free(err);
	json_object_put(root);
	return id;
}

/* Release the parsed message's root (NULL-safe, m may be reused). */
void
msg_clear(struct msg *m)
{
	if (m == NULL)
		return;
	json_object_put(m->root);
	memset(m, 0, sizeof(*m));
}

/* Add val under key unless it is NULL or an empty object (then dropped). */
static void
msg_add_body(struct json_object *o, const char *key, struct json_object *val)
{
	if (val == NULL)
		return;
	if (json_object_is_type(val, json_type_object) &&
		json_object_object_length(val) == 0) {
		json_object_put(val);
		return;
	}
	json_object_object_add(o, key, val);
}

/* New request object; takes params, references id. */
struct json_object *
msg_new_request(
	const char *method, struct json_object *params, struct json_object *id)
{
	struct json_object *o;

	o = json_object_new_object();
	json_object_object_add(o, "method", json_object_new_string(method));
	msg_add_body(o, "params", params);
	if (id != NULL)
		json_object_object_add(o, "id", json_object_get(id));
	return o;
}

/* New event/reply object; takes data, references id. */
struct json_object *
msg_new_event(
	const char *event, struct json_object *data, struct json_object *id)
{
	struct json_object *o;

	o = json_object_new_object();
	json_object_object_add(o, "event", json_object_new_string(event));
	msg_add_body(o, "data", data);
	if (id != NULL)
		json_object_object_add(o, "id", json_object_get(id));
	return o;
}

/* New error event with data {code, message, ...extra}; takes extra. */
struct json_object *
msg_new_error(struct json_object *id, enum proto_err code,
	struct json_object *extra, const char *message)
{
	struct json_object_iterator it, end;
	struct json_object *data;
	const char *key;

	data = json_object_new_object();
	json_object_object_add(
		data, "code", json_object_new_string(proto_err_name(code)));
	json_object_object_add(data, "message",
		json_object_new_string(message != NULL ? message : ""));
	if (extra != NULL && json_object_is_type(extra, json_type_object)) {
		it = json_object_iter_begin(extra);
		end = json_object_iter_end(extra);
		for (; !json_object_iter_equal(&it, &end);
			json_object_iter_next(&it)) {
			key = json_object_iter_peek_name(&it);
			if (strcmp(key, "code") == 0 ||
				strcmp(key, "message") == 0)
				continue;
			json_object_object_add(data, key,
				json_object_get(
					json_object_iter_peek_value(&it)));
		}
	}
	json_object_put(extra);
	return msg_new_event("error", data, id);
}

/* The parameter key of m (borrowed), or NULL. */
struct json_object *
msg_param(const struct msg *m, const char *key)
{
	struct json_object *v = NULL;

	if (m == NULL || m->params == NULL ||
		!json_object_object_get_ex(m->params, key, &v))
		return NULL;
	return v;
}

/* See msg.h. */
const char *
msg_json_str(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
		!json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* String parameter (borrowed); NULL if absent, not a string or has NUL. */
const char *
msg_param_str(const struct msg *m, const char *key)
{
	struct json_object *v = msg_param(m, key);

	if (v == NULL || !msg_clean_string(v))
		return NULL;
	return json_object_get_string(v);
}

/* Boolean parameter, def if absent or not a boolean. */
bool
msg_param_bool(const struct msg *m, const char *key, bool def)
{
	struct json_object *v = msg_param(m, key);

	if (v == NULL || !json_object_is_type(v, json_type_boolean))
		return def;
	return json_object_get_boolean(v);
}

/* Integer parameter, def if absent or not an integer. */
int64_t
msg_param_int(const struct msg *m, const char *key, int64_t def)
{
	struct json_object *v = msg_param(m, key);

	if (v == NULL || !json_object_is_type(v, json_type_int))
		return def;
	return json_object_get_int64(v);
}
