/* SPDX-License-Identifier: ISC */
#include "worker/http.h"

#include <sys/queue.h>

#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "common/xmalloc.h"
#include "worker/curlfn.h"

/*
 * Re-entrancy: curl calls our header/write callbacks from inside
 * curl_multi_socket_action(), where curl_multi_remove_handle() is not
 * allowed.  A request cancelled there is only marked (its write callback
 * then returns 0 so curl stops it) and removed once socket_action has
 * returned.  Completion callbacks run outside curl, after the handle was
 * removed, so they may start or cancel other requests freely.
 */

struct http_sock {
	struct event *ev;
};

struct http_req {
	TAILQ_ENTRY(http_req) entry;
	struct http *http;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	struct http_req_cb cb;
	void *arg;
	struct event *idle_ev; /* no byte for idle_s: the stream stalled */
	int idle_s;
	int status;
	long retry_after; /* ms */
	bool retry_after_ms_seen;
	bool headers_done;
	bool cancelled;
	bool completing;
	bool deferred; /* made inside curl: added once it returns */
	char errbuf[CURL_ERROR_SIZE];
};

TAILQ_HEAD(http_reqs, http_req);

struct http {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct http_reqs reqs;
	size_t nreqs;
	int in_curl;
};

static void http_action(struct http *, curl_socket_t, int);

static void
http_req_free(struct http_req *req)
{
	struct curl_slist *l;

	if (req == NULL)
		return;
	if (req->idle_ev != NULL)
		event_free(req->idle_ev);
	if (req->easy != NULL)
		curlfn.easy_cleanup(req->easy);
	/* Headers may hold an API key: wipe them before freeing. */
	for (l = req->headers; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curlfn.slist_free_all(req->headers);
	free(req->body);
	free(req);
}

/* Unlink req from the multi handle and the list, then free it. */
static void
http_req_remove(struct http_req *req)
{
	struct http *http = req->http;

	TAILQ_REMOVE(&http->reqs, req, entry);
	http->nreqs--;
	if (!req->deferred)
		curlfn.multi_remove_handle(http->multi, req->easy);
	http_req_free(req);
}

static void
http_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http *http = arg;
	int flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	http_action(http, fd, flags);
}

static int
http_socket_cb(
	CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http *http = userp;
	struct http_sock *hs = socketp;
	short kind = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			event_free(hs->ev);
			free(hs);
			curlfn.multi_assign(http->multi, s, NULL);
		}
		return 0;
	}
	if (hs == NULL) {
		hs = xcalloc(1, sizeof(*hs));
		curlfn.multi_assign(http->multi, s, hs);
	} else
		event_free(hs->ev);
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	hs->ev = event_new(http->base, s, kind, http_event_cb, http);
	event_add(hs->ev, NULL);
	return 0;
}

static int
http_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *http = userp;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(http->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(http->timer, &tv);
	return 0;
}

static void
http_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	http_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* Remove requests cancelled while curl was running. */
static void
http_reap(struct http *http)
{
	struct http_req *req, *next;

	for (req = TAILQ_FIRST(&http->reqs); req != NULL; req = next) {
		next = TAILQ_NEXT(req, entry);
		if (req->cancelled && !req->completing)
			http_req_remove(req);
	}
}

/* Unlink a finished request, report it (unless cancelled), free it. */
static void
http_req_finish(struct http_req *req, CURLcode code, const char *error)
{
	struct http *http = req->http;
	long status = 0;

	curlfn.easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
	TAILQ_REMOVE(&http->reqs, req, entry);
	http->nreqs--;
	curlfn.multi_remove_handle(http->multi, req->easy);
	if (!req->cancelled && req->cb.done != NULL) {
		req->completing = true;
		if (code != CURLE_OK && error == NULL)
			error = req->errbuf[0] != '\0'
				? req->errbuf
				: curlfn.easy_strerror(code);
		req->cb.done(req->arg, (int)code, (int)status, error);
	}
	http_req_free(req);
}

/* Report finished transfers, one message at a time (see top). */
static void
http_check_done(struct http *http)
{
	CURLMsg *msg;
	char *priv;
	int left;

	while ((msg = curlfn.multi_info_read(http->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		curlfn.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		if (priv != NULL)
			http_req_finish((struct http_req *)priv,
				msg->data.result, NULL);
	}
}

/*
 * curl's own low-speed check averages over a window of several seconds;
 * this timer, pushed back on every byte received, ends a stalled
 * transfer after exactly idle_s.
 */
static void
http_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_req *req = arg;
	char msg[64];

	if (req->cancelled || req->http->in_curl > 0)
		return;
	snprintf(msg, sizeof(msg), "no data received for %d s", req->idle_s);
	http_req_finish(req, CURLE_OPERATION_TIMEDOUT, msg);
}

static void
http_idle_reset(struct http_req *req)
{
	struct timeval tv = { req->idle_s, 0 };

	if (req->idle_ev != NULL)
		evtimer_add(req->idle_ev, &tv);
}

/* Hand curl the requests made while it was running. */
static void
http_add_deferred(struct http *http)
{
	struct http_req *req, *next;
	CURLMcode mc;
	char msg[96];

	for (req = TAILQ_FIRST(&http->reqs); req != NULL; req = next) {
		next = TAILQ_NEXT(req, entry);
		if (!req->deferred || req->cancelled)
			continue;
		req->deferred = false;
		mc = curlfn.multi_add_handle(http->multi, req->easy);
		if (mc != CURLM_OK) {
			snprintf(msg, sizeof(msg), "curl: %s",
				curlfn.multi_strerror(mc));
			req->deferred = true; /* never added: not removed */
			TAILQ_REMOVE(&http->reqs, req, entry);
			http->nreqs--;
			if (req->cb.done != NULL) {
				req->completing = true;
				req->cb.done(
					req->arg, CURLE_FAILED_INIT, 0, msg);
			}
			http_req_free(req);
			/* The callback may have cancelled others. */
			next = TAILQ_FIRST(&http->reqs);
		}
	}
}

static void
http_action(struct http *http, curl_socket_t fd, int flags)
{
	int running;

	http->in_curl++;
	curlfn.multi_socket_action(http->multi, fd, flags, &running);
	http->in_curl--;
	http_reap(http);
	http_add_deferred(http);
	http_check_done(http);
}

/* A non-negative decimal header value, or -1. */
static long
http_header_number(const char *p, const char *end)
{
	char buf[24];
	char *e;
	size_t n;
	long v;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	n = (size_t)(end - p);
	if (n == 0 || n >= sizeof(buf) || !isdigit((unsigned char)*p))
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	v = strtol(buf, &e, 10);
	while (*e == ' ' || *e == '\t' || *e == '\r' || *e == '\n')
		e++;
	return *e == '\0' && v >= 0 ? v : -1;
}

/* "Name: value\r\n" to the header callback (lines over 8 KiB are cut). */
static void
http_header_line(struct http_req *req, const char *buf, const char *colon,
	const char *end)
{
	char name[128], value[8192];
	const char *v = colon + 1;
	size_t n = (size_t)(colon - buf), k;

	if (n == 0 || n >= sizeof(name))
		return;
	memcpy(name, buf, n);
	name[n] = '\0';
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v &&
		(end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' ||
			end[-1] == '\t'))
		end--;
	k = (size_t)(end - v) < sizeof(value) ? (size_t)(end - v)
					      : sizeof(value) - 1;
	memcpy(value, v, k);
	value[k] = '\0';
	req->cb.header(req->arg, name, value);
}

static size_t
http_header_cb(char *buf, size_t size, size_t n, void *userdata)
{
	struct http_req *req = userdata;
	size_t len = size * n;
	const char *p;
	long v;

	if (req->cancelled)
		return 0;
	http_idle_reset(req);
	if (len > 5 && strncmp(buf, "HTTP/", 5) == 0) {
		p = memchr(buf, ' ', len);
		req->status = 0;
		if (p != NULL)
			req->status = (int)strtol(p + 1, NULL, 10);
		req->retry_after = -1;
		req->retry_after_ms_seen = false;
		req->headers_done = false;
	} else if (len > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
		v = http_header_number(buf + 12, buf + len);
		if (v >= 0 && !req->retry_after_ms_seen)
			req->retry_after =
				v > LONG_MAX / 1000 ? LONG_MAX : v * 1000;
	} else if (len > 15 && strncasecmp(buf, "retry-after-ms:", 15) == 0) {
		v = http_header_number(buf + 15, buf + len);
		if (v >= 0) {
			req->retry_after = v;
			req->retry_after_ms_seen = true;
		}
	} else if (req->cb.header != NULL && req->status >= 200 &&
		(p = memchr(buf, ':', len)) != NULL) {
		http_header_line(req, buf, p, buf + len);
	}
	if ((len == 2 && buf[0] == '\r') || (len == 1 && *buf == '\n')) {
		if (req->status >= 200 && !req->headers_done) {
			req->headers_done = true;
			if (req->cb.headers != NULL)
				req->cb.headers(req->arg, req->status,
					req->retry_after);
			if (req->cancelled)
				return 0;
		}
	}
	return len;
}

static size_t
http_write_cb(char *buf, size_t size, size_t n, void *userdata)
{
	struct http_req *req = userdata;
	size_t len = size * n;
	int r;

	if (req->cancelled)
		return 0;
	http_idle_reset(req);
	if (!req->headers_done) {
		req->headers_done = true;
		if (req->cb.headers != NULL)
			req->cb.headers(
				req->arg, req->status, req->retry_after);
		if (req->cancelled)
			return 0;
	}
	if (req->cb.data == NULL || len == 0)
		return len;
	r = req->cb.data(req->arg, buf, len);
	if (r != 0 || req->cancelled)
		return 0;
	return len;
}

/* Create the request engine on base; libcurl waits for the first post. */
struct http *
http_new(struct event_base *base)
{
	struct http *http;

	http = xcalloc(1, sizeof(*http));
	http->base = base;
	TAILQ_INIT(&http->reqs);
	http->timer = evtimer_new(base, http_timeout_cb, http);
	return http;
}

/* Load libcurl (worker/curlfn.h) and make the multi handle, once. */
static int
http_ensure_multi(struct http *http, char **reterr_msg)
{
	if (http->multi != NULL)
		return 0;
	if (curlfn_load(reterr_msg) < 0)
		return -1;
	http->multi = curlfn.multi_init();
	if (http->multi == NULL) {
		*reterr_msg = xstrdup("curl_multi_init failed");
		return -1;
	}
	curlfn.multi_setopt(
		http->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curlfn.multi_setopt(http->multi, CURLMOPT_SOCKETDATA, http);
	curlfn.multi_setopt(http->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curlfn.multi_setopt(http->multi, CURLMOPT_TIMERDATA, http);
	return 0;
}

/* Abort all requests (no callbacks) and free the engine. */
void
http_free(struct http *http)
{
	struct http_req *req;

	if (http == NULL)
		return;
	while ((req = TAILQ_FIRST(&http->reqs)) != NULL)
		http_req_remove(req);
	if (http->multi != NULL)
		curlfn.multi_cleanup(http->multi);
	event_free(http->timer);
	free(http);
}

/* The event base the engine runs on. */
struct event_base *
http_base(struct http *http)
{
	return http->base;
}

/* How many requests are in flight. */
size_t
http_pending(struct http *http)
{
	return http->nreqs;
}

/* Start a POST; see http.h for ownership. */
struct http_req *
http_post(struct http *http, const char *url, const char *const *headers,
	const char *body, size_t body_len, const struct http_opts *opts,
	const struct http_req_cb *cb, void *arg, char **reterr_msg)
{
	struct http_opts o = { 0 };

	if (opts != NULL)
		o = *opts;
	o.method = NULL;
	return http_request(
		http, url, headers, body, body_len, &o, cb, arg, reterr_msg);
}

/* Start a request of opts->method (POST when NULL). */
struct http_req *
http_request(struct http *http, const char *url, const char *const *headers,
	const char *body, size_t body_len, const struct http_opts *opts,
	const struct http_req_cb *cb, void *arg, char **reterr_msg)
{
	const char *method = opts != NULL ? opts->method : NULL;
	struct http_req *req;
	struct curl_slist *l;
	long connect_s = 30, idle_s = 300;
	CURLMcode mc;
	size_t i;

	if (http_ensure_multi(http, reterr_msg) < 0)
		return NULL;
	if (opts != NULL && opts->connect_timeout_s > 0)
		connect_s = opts->connect_timeout_s;
	if (opts != NULL && opts->idle_timeout_s > 0)
		idle_s = opts->idle_timeout_s;
	if (opts != NULL && opts->idle_timeout_s < 0)
		idle_s = 0;
	req = xcalloc(1, sizeof(*req));
	req->http = http;
	req->cb = *cb;
	req->arg = arg;
	req->retry_after = -1;
	if (body != NULL) {
		req->body = xmalloc(body_len + 1);
		memcpy(req->body, body, body_len);
		req->body[body_len] = '\0';
	}
	req->easy = curlfn.easy_init();
	if (req->easy == NULL) {
		http_req_free(req);
		*reterr_msg = xstrdup("curl_easy_init failed");
		return NULL;
	}
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		l = curlfn.slist_append(req->headers, headers[i]);
		if (l == NULL)
			abort();
		req->headers = l;
	}
	/* No "Expect: 100-continue" round trip on large bodies. */
	l = curlfn.slist_append(req->headers, "Expect:");
	if (l == NULL)
		abort();
	req->headers = l;

	curlfn.easy_setopt(req->easy, CURLOPT_URL, url);
	curlfn.easy_setopt(req->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (method == NULL || strcmp(method, "POST") == 0) {
		curlfn.easy_setopt(req->easy, CURLOPT_POST, 1L);
		curlfn.easy_setopt(req->easy, CURLOPT_POSTFIELDS,
			req->body != NULL ? req->body : "");
		curlfn.easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE_LARGE,
			(curl_off_t)(req->body != NULL ? body_len : 0));
	} else if (strcmp(method, "GET") != 0) {
		curlfn.easy_setopt(req->easy, CURLOPT_CUSTOMREQUEST, method);
	}
	curlfn.easy_setopt(req->easy, CURLOPT_HTTPHEADER, req->headers);
	curlfn.easy_setopt(
		req->easy, CURLOPT_USERAGENT, "podvisor/" PODVISOR_VERSION);
	curlfn.easy_setopt(req->easy, CURLOPT_NOSIGNAL, 1L);
	curlfn.easy_setopt(req->easy, CURLOPT_CONNECTTIMEOUT, connect_s);
	if (idle_s > 0) {
		curlfn.easy_setopt(req->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curlfn.easy_setopt(req->easy, CURLOPT_LOW_SPEED_TIME, idle_s);
	}
	curlfn.easy_setopt(req->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curlfn.easy_setopt(req->easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	curlfn.easy_setopt(req->easy, CURLOPT_WRITEFUNCTION, http_write_cb);
	curlfn.easy_setopt(req->easy, CURLOPT_WRITEDATA, req);
	curlfn.easy_setopt(req->easy, CURLOPT_HEADERFUNCTION, http_header_cb);
	curlfn.easy_setopt(req->easy, CURLOPT_HEADERDATA, req);
	curlfn.easy_setopt(req->easy, CURLOPT_PRIVATE, (char *)req);
	curlfn.easy_setopt(req->easy, CURLOPT_ERRORBUFFER, req->errbuf);

	/* curl refuses new handles from inside its callbacks (a response
	 * that makes the next request): those are added once it returns. */
	if (http->in_curl > 0) {
		req->deferred = true;
	} else {
		mc = curlfn.multi_add_handle(http->multi, req->easy);
		if (mc != CURLM_OK) {
			*reterr_msg =
				xstrfmt("curl: %s", curlfn.multi_strerror(mc));
			http_req_free(req);
			return NULL;
		}
	}
	TAILQ_INSERT_TAIL(&http->reqs, req, entry);
	http->nreqs++;
	req->idle_s = (int)idle_s;
	if (idle_s > 0) {
		req->idle_ev = evtimer_new(http->base, http_idle_cb, req);
		http_idle_reset(req);
	}
	return req;
}

/* Cancel req; deferred while curl is running (see top). */
void
http_cancel(struct http_req *req)
{
	if (req == NULL || req->cancelled)
		return;
	req->cancelled = true;
	if (req->completing || req->http->in_curl > 0)
		return;
	http_req_remove(req);
}
