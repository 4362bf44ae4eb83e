/* SPDX-License-Identifier: ISC */
#ifndef PROTO_MSG_H
#define PROTO_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/*
 * Messages of PROTOCOL.md: requests {"method","params","id"} and
 * events/replies {"event","data","id","seq"}.
 */

#define MSG_MAX_DEPTH 32
#define MSG_MAX_ID_LEN 64

/* The error codes of PROTOCOL.md, in its order. */
enum proto_err {
	PERR_INVALID_REQUEST = 0,
	PERR_LINE_TOO_LONG,
	PERR_INVALID_NAME,
	PERR_NOT_FOUND,
	PERR_NOT_VISIBLE,
	PERR_ALREADY_EXISTS,
	PERR_ALREADY_LIVE,
	PERR_NOT_LIVE,
	PERR_NOT_SUBSET,
	PERR_WRITE_CONFLICT,
	PERR_SPAWN_FAILED,
	PERR_ALREADY_RUNNING,
	PERR_NOT_RUNNING,
	PERR_NOT_PAUSED,
	PERR_PROVIDER_ERROR,
	PERR_TOOL_ERROR,
	PERR_BUSY,
	PERR_INTERNAL,
	PERR_ALREADY_DECIDED, /* approvals: docs/approvals.md */
	PERR__COUNT
};

const char *proto_err_name(enum proto_err err);
/* -1 if name is not a known code. */
int proto_err_from_name(const char *name);

enum msg_kind {
	MSG_REQUEST,
	MSG_EVENT,
};

struct msg {
	enum msg_kind kind;
	const char *name; /* method or event, borrowed from root */
	struct json_object *params; /* params/data, borrowed, NULL if absent */
	struct json_object *id; /* borrowed, NULL if absent */
	int64_t seq; /* 0 if absent */
	struct json_object *root; /* owned */
};

/*
 * Parse one line: valid UTF-8, one JSON object, nothing but whitespace
 * after it, nesting at most MSG_MAX_DEPTH, exactly one of "method" or
 * "event" (a string), "params"/"data" an object if present, "id" an
 * integer or a string of at most MSG_MAX_ID_LEN bytes.  Returns 0, or
 * -EINVAL with a sentence in *reterr_msg (caller frees).  On success the
 * caller owns ret->root (msg_clear()).
 */
int msg_parse(const char *line, size_t len, struct msg *ret, char **reterr_msg);
void msg_clear(struct msg *m);

/*
 * For the error reply to a line msg_parse() refused: the line's "id" if
 * it is a JSON object with a valid one (new reference), else NULL.
 */
struct json_object *msg_salvage_id(const char *line, size_t len);

/*
 * Parse any JSON text with the same UTF-8, depth and trailing-garbage
 * rules (tool arguments, state files).  Returns a new reference or NULL
 * with *reterr_msg set.
 */
struct json_object *msg_parse_json(
	const char *text, size_t len, char **reterr_msg);

/*
 * Builders.  They take ownership of params/data/extra and take a new
 * reference on id (which may be NULL).  The result is a new object.
 */
struct json_object *msg_new_request(
	const char *method, struct json_object *params, struct json_object *id);
struct json_object *msg_new_event(
	const char *event, struct json_object *data, struct json_object *id);
/* error event: data = extra (or {}) + {"code","message"}. */
struct json_object *msg_new_error(struct json_object *id, enum proto_err code,
	struct json_object *extra, const char *message);

/*
 * Typed parameter access on m->params.  They return NULL / false / the
 * default when the parameter is absent or of another type.
 */
const char *msg_param_str(const struct msg *m, const char *key);
bool msg_param_bool(const struct msg *m, const char *key, bool def);
int64_t msg_param_int(const struct msg *m, const char *key, int64_t def);
struct json_object *msg_param(const struct msg *m, const char *key);

/* A string member of any json object (borrowed), or NULL when obj is not an
 * object, key is absent or its value is not a string. */
const char *msg_json_str(struct json_object *obj, const char *key);

#endif
