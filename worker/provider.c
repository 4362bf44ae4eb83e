/* SPDX-License-Identifier: ISC */
#include "worker/provider.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "common/xmalloc.h"
#include "worker/http.h"
#include "worker/provider_int.h"
#include "worker/sse.h"

/*
 * The call: one HTTP attempt at a time; failures before the first byte
 * of a 2xx stream (connect errors, 408, 429, 5xx, 529) are retried after
 * a jittered exponential backoff, each reported through cb->retry.  Once
 * a 2xx stream has delivered a byte the call is committed: a cut stream
 * ends the call with what was streamed so far, never a retry (the core
 * already showed those deltas).
 */

#define PROVIDER_ERRBODY_MAX (64 * 1024)
#define PROVIDER_BACKOFF_CAP_MS 30000
#define PROVIDER_RETRY_AFTER_CAP_MS 60000
#define PROVIDER_ERROR_MAX 600

struct llm_scheme {
	const char *name;
	const char *path;
	char *(*body)(
		const struct provider_config *, const struct llm_request *);
	void (*headers)(const struct provider_config *, char *[8]);
	char *(*error)(const char *, size_t, bool *);
};

static const struct llm_scheme llm_schemes[] = {
	[PROVIDER_OPENAI_CHAT] = { "openai_chat", "/chat/completions",
		provider_openai_body, provider_openai_headers,
		provider_openai_error },
	[PROVIDER_ANTHROPIC] = { "anthropic", "/v1/messages",
		provider_anthropic_body, provider_anthropic_headers,
		provider_anthropic_error },
	[PROVIDER_OPENAI_RESPONSES] = { "openai_responses", "/responses",
		provider_responses_body, provider_openai_headers,
		provider_responses_error },
};

struct llm_call {
	struct http *http;
	const struct llm_scheme *scheme;
	enum provider_scheme scheme_id;
	struct llm_stream_cb cb;
	void *arg;
	char *provider; /* name, for error texts */
	char *api_key; /* to scrub from error texts */
	char *url;
	char *body;
	size_t body_len;
	char *headers[8];
	struct http_opts opts;
	int attempt;
	int max_attempts;
	int base_ms;
	struct http_req *req;
	struct event *timer;
	/* The current attempt. */
	int status;
	long retry_after; /* ms, -1 if none */
	bool streaming; /* 2xx headers seen */
	bool got_bytes; /* a byte of the 2xx body was consumed */
	struct provider_stream ps;
	struct provider_buf errbody;
	/* Re-entrancy: cancelled inside one of our callbacks. */
	int depth;
	bool cancelled;
};

/* The wire name of a scheme. */
const char *
provider_scheme_name(enum provider_scheme s)
{
	if ((size_t)s < sizeof(llm_schemes) / sizeof(llm_schemes[0]))
		return llm_schemes[s].name;
	return "unknown";
}

static int
provider_config_int(struct json_object *obj, const char *key, int64_t def,
	int64_t min, int64_t max, int64_t *ret, char **reterr_msg)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || v == NULL) {
		*ret = def;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int) ||
		json_object_get_int64(v) < min ||
		json_object_get_int64(v) > max) {
		*reterr_msg = xstrfmt("model.%s must be an integer in "
				      "[%lld, %lld]",
			key, (long long)min, (long long)max);
		return -EINVAL;
	}
	*ret = json_object_get_int64(v);
	return 0;
}

static int
provider_config_str(struct json_object *obj, const char *key, bool required,
	char **ret, char **reterr_msg)
{
	struct json_object *v;

	*ret = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || v == NULL) {
		if (!required)
			return 0;
		*reterr_msg = xstrfmt("model.%s is missing", key);
		return -EINVAL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		*reterr_msg = xstrfmt("model.%s must be a string", key);
		return -EINVAL;
	}
	*ret = xstrdup(json_object_get_string(v));
	return 0;
}

/* Parse the start config's "model" object into ret. */
int
provider_config_from_json(
	struct json_object *obj, struct provider_config *ret, char **reterr_msg)
{
	struct provider_config pc = { 0 };
	struct json_object *pv;
	char *scheme = NULL;
	int64_t v;
	size_t len;
	int r;

	if (!json_object_is_type(obj, json_type_object)) {
		*reterr_msg = xstrdup("model must be an object");
		return -EINVAL;
	}
	if ((r = provider_config_str(
		     obj, "provider", false, &pc.name, reterr_msg)) < 0 ||
		(r = provider_config_str(
			 obj, "scheme", false, &scheme, reterr_msg)) < 0 ||
		(r = provider_config_str(obj, "base_url", false, &pc.base_url,
			 reterr_msg)) < 0 ||
		(r = provider_config_str(
			 obj, "model", true, &pc.model, reterr_msg)) < 0 ||
		(r = provider_config_str(
			 obj, "api_key", false, &pc.api_key, reterr_msg)) < 0)
		goto fail;
	if (scheme == NULL)
		pc.scheme = pc.name != NULL && strcmp(pc.name, "anthropic") == 0
			? PROVIDER_ANTHROPIC
			: PROVIDER_OPENAI_CHAT;
	else if (strcmp(scheme, "openai_chat") == 0 ||
		strcmp(scheme, "openai") == 0)
		pc.scheme = PROVIDER_OPENAI_CHAT;
	else if (strcmp(scheme, "anthropic") == 0)
		pc.scheme = PROVIDER_ANTHROPIC;
	else if (strcmp(scheme, "openai_responses") == 0)
		pc.scheme = PROVIDER_OPENAI_RESPONSES;
	else {
		*reterr_msg = xstrfmt("model.scheme \"%s\" is unknown "
				      "(openai_chat, openai_responses, "
				      "anthropic)",
			scheme);
		r = -EINVAL;
		goto fail;
	}
	if (pc.name == NULL)
		pc.name = xstrdup(provider_scheme_name(pc.scheme));
	if (pc.base_url == NULL)
		pc.base_url = xstrdup(pc.scheme == PROVIDER_ANTHROPIC
				? "https://api.anthropic.com"
				: "https://api.openai.com/v1");
	len = strlen(pc.base_url);
	while (len > 0 && pc.base_url[len - 1] == '/')
		pc.base_url[--len] = '\0';
	if (strncmp(pc.base_url, "http://", 7) != 0 &&
		strncmp(pc.base_url, "https://", 8) != 0) {
		*reterr_msg = xstrdup("model.base_url must be an http:// or "
				      "https:// URL");
		r = -EINVAL;
		goto fail;
	}
	if ((r = provider_config_int(obj, "context_window", 128000, 1024,
		     INT64_C(100000000), &pc.context_window, reterr_msg)) < 0)
		goto fail;
	if ((r = provider_config_int(
		     obj, "max_tokens", 8192, 1, 10000000, &v, reterr_msg)) < 0)
		goto fail;
	pc.max_tokens = (int)v;
	if ((r = provider_config_int(
		     obj, "max_attempts", 5, 1, 100, &v, reterr_msg)) < 0)
		goto fail;
	pc.max_attempts = (int)v;
	if ((r = provider_config_int(
		     obj, "timeout_s", 300, 1, 86400, &v, reterr_msg)) < 0)
		goto fail;
	pc.timeout_s = (int)v;
	if ((r = provider_config_int(
		     obj, "retry_base_ms", 500, 1, 60000, &v, reterr_msg)) < 0)
		goto fail;
	pc.retry_base_ms = (int)v;
	if (json_object_object_get_ex(obj, "prompt_cache", &pv) && pv != NULL) {
		if (!json_object_is_type(pv, json_type_boolean)) {
			*reterr_msg = xstrdup(
				"model.prompt_cache must be true or false");
			r = -EINVAL;
			goto fail;
		}
		pc.no_prompt_cache = !json_object_get_boolean(pv);
	}
	if ((r = provider_responses_config(obj, &pc, reterr_msg)) < 0)
		goto fail;
	free(scheme);
	*ret = pc;
	return 0;
fail:
	free(scheme);
	provider_config_clear(&pc);
	return r;
}

/* Free the strings of pc (the key is wiped first). */
void
provider_config_clear(struct provider_config *pc)
{
	if (pc->api_key != NULL)
		explicit_bzero(pc->api_key, strlen(pc->api_key));
	free(pc->name);
	free(pc->base_url);
	free(pc->api_key);
	free(pc->model);
	free(pc->reasoning_effort);
	free(pc->reasoning_summary);
	memset(pc, 0, sizeof(*pc));
}

/* Bound s and mask the API key in it, in place. */
static void
llm_call_scrub(struct llm_call *call, char *s)
{
	size_t klen;
	char *p;

	if (call->api_key != NULL && (klen = strlen(call->api_key)) >= 4)
		while ((p = strstr(s, call->api_key)) != NULL)
			memset(p, '*', klen);
	if (strlen(s) > PROVIDER_ERROR_MAX)
		strcpy(s + PROVIDER_ERROR_MAX - 3, "...");
}

/* Error text for the core: bounded, with the key (if any) masked. */
static char *llm_call_error(struct llm_call *call, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static char *
llm_call_error(struct llm_call *call, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	llm_call_scrub(call, s);
	return s;
}

static void
llm_call_free(struct llm_call *call)
{
	size_t i;

	if (call == NULL)
		return;
	http_cancel(call->req);
	if (call->timer != NULL)
		event_free(call->timer);
	provider_stream_clear(&call->ps);
	provider_buf_free(&call->errbody);
	for (i = 0; call->headers[i] != NULL; i++) {
		explicit_bzero(call->headers[i], strlen(call->headers[i]));
		free(call->headers[i]);
	}
	if (call->api_key != NULL)
		explicit_bzero(call->api_key, strlen(call->api_key));
	free(call->api_key);
	free(call->provider);
	free(call->url);
	free(call->body);
	free(call);
}

/* Report the final result, then free the call. */
static void
llm_call_finish(struct llm_call *call, struct llm_result *res)
{
	call->depth++;
	if (!call->cancelled && call->cb.done != NULL)
		call->cb.done(call->arg, res);
	call->depth--;
	llm_call_free(call);
}

static void
llm_call_fail(struct llm_call *call, int status, char *error)
{
	struct llm_result res = { 0 };

	res.failed = true;
	res.error = error;
	res.http_status = status;
	llm_call_finish(call, &res);
	free(error);
}

static void llm_call_attempt(struct llm_call *call);

static void
llm_call_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct llm_call *call = arg;

	call->attempt++;
	llm_call_attempt(call);
}

static int
llm_call_backoff_ms(struct llm_call *call)
{
	int64_t ms = call->base_ms;
	int i, jitter;

	for (i = 1; i < call->attempt && ms < PROVIDER_BACKOFF_CAP_MS; i++)
		ms *= 2;
	if (ms > PROVIDER_BACKOFF_CAP_MS)
		ms = PROVIDER_BACKOFF_CAP_MS;
	/* ±20 % so that many pods do not retry in lock-step. */
	jitter = (int)(ms / 5);
	if (jitter > 0)
		ms += (int64_t)arc4random_uniform(2 * (uint32_t)jitter + 1) -
			jitter;
	return (int)ms;
}

/* Retry if allowed (error is owned and freed), else fail the call. */
static void
llm_call_retry_or_fail(
	struct llm_call *call, bool retryable, int status, char *error)
{
	struct timeval tv;
	char *final;
	int wait_ms;

	if (!retryable || call->attempt >= call->max_attempts) {
		if (retryable && call->attempt > 1)
			final = llm_call_error(call,
				"provider %s: %s after %d attempts",
				call->provider, error, call->attempt);
		else
			final = llm_call_error(
				call, "provider %s: %s", call->provider, error);
		free(error);
		llm_call_fail(call, status, final);
		return;
	}
	wait_ms = llm_call_backoff_ms(call);
	if (call->retry_after >= 0)
		wait_ms = (int)(call->retry_after > PROVIDER_RETRY_AFTER_CAP_MS
				? PROVIDER_RETRY_AFTER_CAP_MS
				: call->retry_after);
	llm_call_scrub(call, error);
	call->depth++;
	if (call->cb.retry != NULL)
		call->cb.retry(call->arg, call->attempt, call->max_attempts,
			wait_ms, status, error);
	call->depth--;
	free(error);
	if (call->cancelled) {
		llm_call_free(call);
		return;
	}
	tv.tv_sec = wait_ms / 1000;
	tv.tv_usec = (wait_ms % 1000) * 1000;
	evtimer_add(call->timer, &tv);
}

static void
llm_call_headers_cb(void *arg, int status, long retry_after_ms)
{
	struct llm_call *call = arg;

	call->status = status;
	call->retry_after = retry_after_ms;
	call->streaming = status >= 200 && status < 300;
}

static int
llm_call_data_cb(void *arg, const char *buf, size_t len)
{
	struct llm_call *call = arg;
	size_t room;
	int r;

	if (!call->streaming) {
		room = PROVIDER_ERRBODY_MAX - call->errbody.len;
		provider_buf_add(&call->errbody, buf, len < room ? len : room);
		return 0;
	}
	call->got_bytes = true;
	call->depth++;
	r = provider_stream_feed(&call->ps, buf, len);
	call->depth--;
	if (call->cancelled) {
		if (call->depth == 0)
			llm_call_free(call);
		return 1;
	}
	/*
	 * After a clean end the rest is read (and ignored) so the
	 * connection can be reused; after an error nothing more is read.
	 */
	if (r != 0 && (call->ps.failed || !call->ps.finished))
		return 1;
	return 0;
}

static const char *
llm_call_status_text(int status)
{
	switch (status) {
	case 408:
		return "request timeout";
	case 429:
		return "rate limited";
	case 529:
		return "overloaded";
	default:
		return status >= 500 ? "server error" : "request refused";
	}
}

/* The stream ended (complete, failed in-stream, or cut). */
static void
llm_call_stream_end(struct llm_call *call, const char *curl_error)
{
	struct llm_result res;
	char *error = NULL;

	/*
	 * A clean close after the model named its stop reason is an end,
	 * even without [DONE] / message_stop (some local servers).
	 */
	if (!call->ps.finished && !call->ps.failed && curl_error == NULL &&
		call->ps.stop_reason != NULL)
		call->ps.finished = true;
	provider_stream_result(&call->ps, &res);
	res.http_status = call->status;
	if (call->ps.failed) {
		error = llm_call_error(call, "provider %s: %s", call->provider,
			call->ps.error);
		res.overflow = call->ps.overflow;
	} else if (!call->ps.finished && sse_count(call->ps.sse) == 0)
		error = llm_call_error(call,
			"provider %s: HTTP %d response is "
			"not an event stream%s%s",
			call->provider, call->status,
			curl_error != NULL ? ": " : "",
			curl_error != NULL ? curl_error : "");
	else if (!call->ps.finished)
		error = llm_call_error(call, "provider %s: stream cut: %s",
			call->provider,
			curl_error != NULL ? curl_error
					   : "connection closed before the "
					     "end of the stream");
	res.failed = error != NULL;
	res.error = error;
	llm_call_finish(call, &res);
	free(error);
}

static void
llm_call_done_cb(void *arg, int curl_code, int status, const char *error)
{
	struct llm_call *call = arg;
	bool retryable, overflow = false;
	char *msg;

	call->req = NULL;
	if (call->streaming && call->got_bytes) {
		llm_call_stream_end(call, curl_code != CURLE_OK ? error : NULL);
		return;
	}
	if (curl_code != CURLE_OK && status == 0) {
		llm_call_retry_or_fail(call, true, 0, xstrdup(error));
		return;
	}
	if (call->streaming) {
		/* 2xx but not one byte: as if the connection failed. */
		llm_call_retry_or_fail(call, true, status,
			xstrfmt("HTTP %d with an empty body%s%s", status,
				error != NULL ? ": " : "",
				error != NULL ? error : ""));
		return;
	}
	msg = NULL;
	if (call->errbody.len > 0)
		msg = call->scheme->error(
			call->errbody.p, call->errbody.len, &overflow);
	retryable = status == 408 || status == 429 || status >= 500;
	if (overflow) {
		/* Too long is final: the core compacts and asks again. */
		struct llm_result res = { 0 };
		char *final = llm_call_error(call, "provider %s: HTTP %d %s",
			call->provider, status, msg);

		res.failed = true;
		res.overflow = true;
		res.http_status = status;
		res.error = final;
		free(msg);
		llm_call_finish(call, &res);
		free(final);
		return;
	}
	llm_call_retry_or_fail(call, retryable, status,
		xstrfmt("HTTP %d %s", status,
			msg != NULL ? msg : llm_call_status_text(status)));
	free(msg);
}

static void
llm_call_attempt(struct llm_call *call)
{
	struct http_req_cb hcb = { llm_call_headers_cb, llm_call_data_cb,
		llm_call_done_cb };
	char *err = NULL;

	call->status = 0;
	call->retry_after = -1;
	call->streaming = false;
	call->got_bytes = false;
	provider_stream_clear(&call->ps);
	provider_stream_init(&call->ps, call->scheme_id, &call->cb, call->arg);
	call->errbody.len = 0;
	call->req = http_post(call->http, call->url,
		(const char *const *)call->headers, call->body, call->body_len,
		&call->opts, &hcb, call, &err);
	if (call->req == NULL)
		llm_call_retry_or_fail(call, false, 0, err);
}

/* Build the request and start the first attempt. */
struct llm_call *
llm_call_start(struct http *http, const struct provider_config *pc,
	const struct llm_request *req, const struct llm_stream_cb *cb,
	void *arg, char **reterr_msg)
{
	struct llm_call *call;
	struct http_req_cb hcb = { llm_call_headers_cb, llm_call_data_cb,
		llm_call_done_cb };

	if ((size_t)pc->scheme >=
		sizeof(llm_schemes) / sizeof(llm_schemes[0])) {
		*reterr_msg = xstrdup("unknown provider scheme");
		return NULL;
	}
	call = xcalloc(1, sizeof(*call));
	call->http = http;
	call->scheme_id = pc->scheme;
	call->scheme = &llm_schemes[pc->scheme];
	call->cb = *cb;
	call->arg = arg;
	call->provider =
		xstrdup(pc->name != NULL ? pc->name : call->scheme->name);
	if (pc->api_key != NULL && *pc->api_key != '\0')
		call->api_key = xstrdup(pc->api_key);
	call->url = xstrfmt("%s%s", pc->base_url, call->scheme->path);
	call->body = call->scheme->body(pc, req);
	call->body_len = strlen(call->body);
	call->scheme->headers(pc, call->headers);
	call->max_attempts = pc->max_attempts > 0 ? pc->max_attempts : 5;
	call->base_ms = pc->retry_base_ms > 0 ? pc->retry_base_ms : 500;
	call->opts.idle_timeout_s = pc->timeout_s > 0 ? pc->timeout_s : 300;
	call->opts.connect_timeout_s =
		call->opts.idle_timeout_s < 30 ? call->opts.idle_timeout_s : 30;
	call->timer = evtimer_new(http_base(http), llm_call_timer_cb, call);
	call->attempt = 1;
	call->retry_after = -1;
	provider_stream_init(&call->ps, call->scheme_id, &call->cb, call->arg);
	call->req = http_post(http, call->url,
		(const char *const *)call->headers, call->body, call->body_len,
		&call->opts, &hcb, call, reterr_msg);
	if (call->req == NULL) {
		llm_call_free(call);
		return NULL;
	}
	return call;
}

/* Abort the call; deferred while one of its callbacks runs. */
void
llm_call_cancel(struct llm_call *call)
{
	if (call == NULL || call->cancelled)
		return;
	call->cancelled = true;
	call->ps.cancelled = true;
	http_cancel(call->req);
	call->req = NULL;
	if (call->depth == 0)
		llm_call_free(call);
}
