/* SPDX-License-Identifier: ISC */
#ifndef WORKER_PROVIDER_H
#define WORKER_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/tokens.h"

struct json_object;
struct http;

/*
 * One streaming model call, whatever the wire scheme.  The history is the
 * session log's own entries (PROTOCOL.md §4: user_input, system_item,
 * assistant, tool_result, ...); each scheme translates them to its
 * messages (provider_openai.c, provider_anthropic.c), so the turn loop
 * never knows which wire format it talks.
 */

enum provider_scheme {
	PROVIDER_OPENAI_CHAT,
	PROVIDER_ANTHROPIC,
	PROVIDER_OPENAI_RESPONSES,
};

struct provider_config {
	enum provider_scheme scheme;
	char *name; /* provider section name, e.g. "openai" */
	char *base_url; /* without trailing slash */
	char *api_key; /* may be NULL (local servers); never logged */
	char *model;
	int64_t context_window;
	int max_tokens;
	int max_attempts; /* retries before the first byte; default 5 */
	int timeout_s; /* connect/idle bound; default 300 */
	int retry_base_ms; /* first backoff step; default 500 (tests: less) */
	bool no_prompt_cache; /* model.prompt_cache false: no cache hints */
	/* openai_responses only (provider_responses.c). */
	char *reasoning_effort; /* NULL: the server's default */
	char *reasoning_summary; /* NULL: no summary asked */
	bool store; /* store: true (default false: encrypted reasoning) */
	bool previous_response_id; /* chain on stored responses */
};

/* Parse the "model" object of the start config. -EINVAL + message. */
int provider_config_from_json(struct json_object *obj,
	struct provider_config *ret, char **reterr_msg);
void provider_config_clear(struct provider_config *pc);
const char *provider_scheme_name(enum provider_scheme s);

struct llm_tool_def {
	const char *name;
	const char *description;
	const char *schema_json; /* JSON Schema of the arguments object */
};

struct llm_request {
	const char *system; /* may be NULL */
	struct json_object *entries; /* array of log entries, borrowed */
	const struct llm_tool_def *tools;
	size_t ntools;
	const char *cache_key; /* openai prompt_cache_key (the pod's id) */
};

struct llm_tool_call {
	char *id;
	char *name;
	char *arguments; /* JSON text as streamed ("{}" if empty) */
};

/* What a finished (or failed) call produced. Owned by the call. */
struct llm_result {
	char *text; /* NULL if none */
	char *thinking; /* NULL if none */
	char *thinking_signature; /* anthropic, NULL otherwise */
	struct llm_tool_call *tool_calls;
	size_t ntool_calls;
	char *stop_reason; /* "end_turn"/"stop", "tool_use", "max_tokens", ... */
	struct token_usage usage;
	bool failed;
	char *error; /* human sentence when failed */
	int http_status; /* 0 if none */
	bool overflow; /* provider said the prompt is too long */
	/* openai_responses: the output items in order (reasoning with its
	 * encrypted_content, messages, function calls), kept in the log and
	 * sent back verbatim; and the response's id.  NULL otherwise. */
	struct json_object *items;
	const char *response_id;
};

struct llm_stream_cb {
	void (*text_delta)(void *arg, const char *text, size_t len);
	void (*thinking_delta)(void *arg, const char *text, size_t len);
	void (*tool_call_start)(void *arg, const char *id, const char *name);
	void (*retry)(void *arg, int attempt, int max_attempts, int wait_ms,
		int status, const char *error);
	/* Called exactly once unless cancelled; res valid during the call. */
	void (*done)(void *arg, const struct llm_result *res);
};

struct llm_call;

/*
 * Start a streaming call on the worker's http multi handle.  pc and req
 * are only used during this call (the body is built at once).  Returns
 * NULL with *reterr_msg on an immediate failure.
 */
struct llm_call *llm_call_start(struct http *http,
	const struct provider_config *pc, const struct llm_request *req,
	const struct llm_stream_cb *cb, void *arg, char **reterr_msg);
/*
 * Abort the call; no callback runs after this.  NULL-safe, and safe from
 * inside the call's own callbacks.  The call frees itself once done()
 * returns: do not cancel it after that.
 */
void llm_call_cancel(struct llm_call *call);

/* Request bodies (tests, and the schemes' own use); caller frees. */
char *provider_openai_body(
	const struct provider_config *pc, const struct llm_request *req);
char *provider_anthropic_body(
	const struct provider_config *pc, const struct llm_request *req);
char *provider_responses_body(
	const struct provider_config *pc, const struct llm_request *req);

#endif
