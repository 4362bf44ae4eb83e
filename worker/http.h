/* SPDX-License-Identifier: ISC */
#ifndef WORKER_HTTP_H
#define WORKER_HTTP_H

#include <stddef.h>

struct event_base;
struct http;
struct http_req;

/*
 * Non-blocking HTTP requests: one libcurl multi handle driven by the
 * worker's event_base (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION and
 * curl_multi_socket_action); nothing here ever blocks.
 */

struct http_req_cb {
	/*
	 * The final response's headers are complete: its status and the
	 * wait it asks for in ms, from "retry-after-ms" or else
	 * "Retry-After" seconds (-1 when absent or not a number).
	 * Optional.
	 */
	void (*headers)(void *arg, int status, long retry_after_ms);
	/* Body bytes as they arrive; return non-zero to abort the request. */
	int (*data)(void *arg, const char *buf, size_t len);
	/*
	 * The request ended: curl result (0 = CURLE_OK), HTTP status (0 if
	 * none) and a human error text (NULL on success).  Called exactly
	 * once unless cancelled; the request is freed after it returns.
	 */
	void (*done)(void *arg, int curl_code, int status, const char *error);
	/* Each header line of the final response (name and value without
	 * blanks around them, borrowed for the call).  Optional. */
	void (*header)(void *arg, const char *name, const char *value);
};

struct http_opts {
	int connect_timeout_s; /* 0: 30 s */
	int idle_timeout_s; /* abort after this long below 1 byte/s; 0: 300,
			       -1: never (a stream that may stay quiet) */
	const char *method; /* NULL: POST (with the body); "GET", "DELETE" */
};

/* A new request engine on base (borrowed, must outlive it). */
struct http *http_new(struct event_base *base);
/* Abort every pending request without callbacks and free. NULL-safe. */
void http_free(struct http *http);
struct event_base *http_base(struct http *http);
/* Number of requests in flight (tests). */
size_t http_pending(struct http *http);

/*
 * Start a POST of body (copied) to url with headers ("Name: value"
 * strings, NULL-terminated, copied; they may hold secrets and are wiped
 * when freed).  cb is copied; arg is borrowed.  Returns NULL with
 * *reterr_msg when curl refuses the request at once.
 */
struct http_req *http_post(struct http *http, const char *url,
	const char *const *headers, const char *body, size_t body_len,
	const struct http_opts *opts, const struct http_req_cb *cb, void *arg,
	char **reterr_msg);
/* The same with any method (opts->method; body NULL without one). */
struct http_req *http_request(struct http *http, const char *url,
	const char *const *headers, const char *body, size_t body_len,
	const struct http_opts *opts, const struct http_req_cb *cb, void *arg,
	char **reterr_msg);
/*
 * Abort a request; no callback runs after this.  Safe from inside the
 * request's own callbacks.  NULL-safe.
 */
void http_cancel(struct http_req *req);

#endif
