/* SPDX-License-Identifier: ISC */
#ifndef PROTO_DISPATCH_H
#define PROTO_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>

struct conn;
struct msg;

/*
 * Sorted per-channel method tables, checked centrally: the dispatcher
 * finds the method by binary search, checks that every required parameter
 * is present with its type (optional ones only for type), and calls the
 * handler.  Unknown methods and bad parameters get an invalid_request
 * error naming the problem, with the request's id; the connection stays
 * open.  Handlers send their own reply (possibly later: they take a
 * reference on m->id and on the conn if they answer asynchronously).
 */

enum param_type {
	PARAM_STRING,
	PARAM_INT,
	PARAM_BOOL,
	PARAM_ARRAY,
	PARAM_OBJECT,
	PARAM_ANY,
};

struct param_spec {
	const char *name;
	enum param_type type;
	bool optional;
};

typedef void (*dispatch_fn)(void *ctx, struct conn *c, struct msg *m);

struct dispatch_entry {
	const char *name;
	const struct param_spec *params; /* terminated by {NULL}; may be NULL */
	dispatch_fn fn;
};

/* NULL if name is not in the table (n entries, sorted by name). */
const struct dispatch_entry *dispatch_find(
	const struct dispatch_entry *table, size_t n, const char *name);

/*
 * Check and run request m.  Returns 0 if the handler ran, -EINVAL if an
 * error was sent instead.
 */
int dispatch_request(const struct dispatch_entry *table, size_t n, void *ctx,
	struct conn *c, struct msg *m);

/* True if the table is strictly sorted (so also duplicate-free). */
bool dispatch_table_valid(const struct dispatch_entry *table, size_t n);

#endif
