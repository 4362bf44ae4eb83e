/* SPDX-License-Identifier: ISC */
#ifndef FAKELLM_CACHE_H
#define FAKELLM_CACHE_H

#include "reply.h"

struct json_object;

/*
 * Prefix caching as the real providers do it, in bytes/4 "tokens": a
 * request reads from the cache the prefix it shares with the previous
 * request of the same cache key.  Anthropic: the key is the model, and
 * only the prefix up to the request's last cache_control breakpoint is
 * cached (what lies past it up to the breakpoint is written).  OpenAI
 * (chat and responses): the key is prompt_cache_key; no key, no caching.
 */
struct cache;

struct cache *cache_new(void);
void cache_free(struct cache *cache);
/* Account body (borrowed); sets *ret_read and *ret_write (tokens). */
void cache_account(struct cache *cache, enum reply_format format,
	struct json_object *body, int *ret_read, int *ret_write);

#endif
