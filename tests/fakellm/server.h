/* SPDX-License-Identifier: ISC */
#ifndef FAKELLM_SERVER_H
#define FAKELLM_SERVER_H

#include <sys/queue.h>

struct event_base;
struct json_object;
struct evhttp;
struct scenario;
struct server_resp;

/* The whole server; one per process, owned by main(). */
struct fakellm {
	struct event_base *base; /* borrowed */
	struct evhttp *http;
	struct scenario *scenario; /* borrowed; NULL: directive agent */
	int record_fd; /* -1: no recording */
	const char *require_key; /* borrowed; NULL: no check */
	unsigned requests; /* chat requests received */
	unsigned tool_seq; /* tool call ids handed out */
	unsigned msg_seq; /* responses handed out */
	TAILQ_HEAD(, server_resp) resps; /* responses in progress */
	struct cache *cache; /* prefix caching (cache.c) */
	struct json_object *stored; /* responses: id -> its input + output */
};

/*
 * Bind 127.0.0.1:port (0: ephemeral) and serve on fl->base.  Returns 0
 * and the bound port, or a negative errno.
 */
int server_start(struct fakellm *fl, int port, int *ret_port);
/* Drop every response in progress and free the HTTP server. */
void server_stop(struct fakellm *fl);

#endif
