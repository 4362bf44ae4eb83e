/* SPDX-License-Identifier: ISC */
#ifndef WORKER_USAGE_H
#define WORKER_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/*
 * Token accounting (PROTOCOL.md §2a): the context size of the next model
 * request is the provider's reported usage of the last call (input +
 * output) plus an estimate of every log entry appended since.  The one
 * estimate rule is usage_estimate(): four bytes a token.
 */

/* Estimated tokens of bytes of text sent to a model (bytes/4, rounded up). */
int64_t usage_estimate(size_t bytes);

/* Estimated tokens of one log entry (its JSON text). */
int64_t usage_entry_tokens(struct json_object *entry);

/*
 * An incremental accountant over one segment's entries (an array that
 * only grows).  key identifies the segment; a new key starts over.
 */
struct usage_acct {
	const void *key;
	uint64_t gen;
	size_t seen; /* entries accounted for */
	int64_t overhead; /* tools etc. until the first usage entry */
	int64_t tokens;
	bool skip_assistant; /* the entry after a usage is its output */
	bool saw_usage;
};

/* Start over for the segment (key, gen) with overhead tokens. */
void usage_acct_reset(
	struct usage_acct *a, const void *key, uint64_t gen, int64_t overhead);

/* Account for entries not seen yet; returns the context tokens. */
int64_t usage_acct_update(struct usage_acct *a, struct json_object *entries);

#endif
