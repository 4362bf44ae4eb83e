/* SPDX-License-Identifier: ISC */
#include "cli/client.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/clock.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "proto/msg.h"

struct client_queued {
	struct msg msg;
	struct client_queued *next;
};

struct client {
	int fd;
	int wake_fd; /* -1: none */
	char *path;
	char *buf; /* unparsed input */
	size_t len;
	size_t cap;
	size_t scanned; /* leading bytes of buf known to hold no '\n' */
	bool eof;
	int64_t next_id;
	int64_t last_seq;
	struct client_queued *head; /* messages read ahead of a reply */
	struct client_queued *tail;
};

/* Connect to the Unix socket at path (non-blocking, close-on-exec). */
int
client_connect(const char *path, struct client **ret_client)
{
	struct client *c;
	int fd;

	fd = sock_connect_unix(path, false);
	if (fd < 0)
		return fd;
	if (fd_set_nonblock(fd, true) < 0) {
		close(fd);
		return -EIO;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->wake_fd = -1;
	c->path = xstrdup(path);
	c->next_id = 1;
	*ret_client = c;
	return 0;
}

/* Close the socket and free everything queued (NULL-safe). */
void
client_free(struct client *c)
{
	struct client_queued *q;

	if (c == NULL)
		return;
	while ((q = c->head) != NULL) {
		c->head = q->next;
		msg_clear(&q->msg);
		free(q);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c->path);
	free(c);
}

/* The socket descriptor. */
int
client_fd(const struct client *c)
{
	return c->fd;
}

/* Waits also end (-EINTR) when fd becomes readable. */
void
client_set_wake_fd(struct client *c, int fd)
{
	c->wake_fd = fd;
}

/* The path the client connected to. */
const char *
client_path(const struct client *c)
{
	return c->path;
}

/* A complete line in the buffer, or a queued message. */
bool
client_has_pending(const struct client *c)
{
	if (c->head != NULL || c->eof)
		return true;
	return c->len > c->scanned &&
		memchr(c->buf + c->scanned, '\n', c->len - c->scanned) != NULL;
}

/* Milliseconds left until deadline (-1: none). */
static int
client_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - clock_mono_ms();
	return left > 0 ? (int)(left > 1000000 ? 1000000 : left) : 0;
}

static int64_t
client_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
}

/* Read what the socket has (waiting up to deadline for something). */
static int
client_fill(struct client *c, int64_t deadline)
{
	struct pollfd pfd[2] = { { .fd = c->fd, .events = POLLIN },
		{ .fd = c->wake_fd, .events = POLLIN } };
	ssize_t n;
	int r;

	for (;;) {
		r = poll(pfd, 2, client_left(deadline));
		if (r < 0 && errno == EINTR)
			return -EINTR;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if (pfd[1].revents != 0)
			return -EINTR;
		if (c->cap - c->len < 65536) {
			c->cap = c->cap == 0 ? 131072 : c->cap * 2;
			c->buf = xreallocarray(c->buf, 1, c->cap);
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0 && errno != ECONNRESET)
			return -errno;
		if (n <= 0) {
			c->eof = true;
			return 0;
		}
		c->len += (size_t)n;
		return 0;
	}
}

/* Take one line out of the buffer: 1 found, 0 need more, <0 error. */
static int
client_take_line(struct client *c, char **ret_line, size_t *ret_len)
{
	char *nl;
	size_t len;

	nl = NULL;
	if (c->len > c->scanned)
		nl = memchr(c->buf + c->scanned, '\n', c->len - c->scanned);
	if (nl == NULL) {
		c->scanned = c->len;
		if (c->len > CLIENT_MAX_LINE)
			return -EMSGSIZE;
		return 0;
	}
	len = (size_t)(nl - c->buf);
	if (len > CLIENT_MAX_LINE)
		return -EMSGSIZE;
	*ret_line = xstrndup(c->buf, len);
	*ret_len = len;
	memmove(c->buf, nl + 1, c->len - len - 1);
	c->len -= len + 1;
	c->scanned = 0;
	return 1;
}

/* Next message from the socket (the queue is not looked at). */
static int
client_read_socket(
	struct client *c, int64_t deadline, struct msg *ret, char **reterr_msg)
{
	char *line = NULL;
	size_t len;
	int r;

	for (;;) {
		r = client_take_line(c, &line, &len);
		if (r < 0)
			return r;
		if (r == 1) {
			if (len > 0 && line[len - 1] == '\r')
				line[--len] = '\0';
			if (len == 0) {
				free(line);
				continue;
			}
			r = msg_parse(line, len, ret, reterr_msg);
			free(line);
			if (r < 0)
				return -EBADMSG;
			if (ret->seq > 0)
				c->last_seq = ret->seq;
			return 0;
		}
		if (c->eof)
			return -EPIPE;
		r = client_fill(c, deadline);
		if (r < 0)
			return r;
	}
}

/* Next message from the queue or the socket. */
int
client_read(
	struct client *c, int timeout_ms, struct msg *ret, char **reterr_msg)
{
	struct client_queued *q;

	if ((q = c->head) != NULL) {
		c->head = q->next;
		if (c->head == NULL)
			c->tail = NULL;
		*ret = q->msg;
		free(q);
		return 0;
	}
	return client_read_socket(
		c, client_deadline(timeout_ms), ret, reterr_msg);
}

/* Read until the event name arrives; other messages are dropped. */
int
client_expect(struct client *c, const char *name, int timeout_ms,
	struct msg *ret, char **reterr_msg)
{
	int64_t deadline = client_deadline(timeout_ms);
	struct msg m;
	int r;

	for (;;) {
		r = client_read(c, client_left(deadline), &m, reterr_msg);
		if (r < 0)
			return r;
		if (m.kind == MSG_EVENT && strcmp(m.name, name) == 0) {
			*ret = m;
			return 0;
		}
		if (m.kind == MSG_EVENT && strcmp(m.name, "error") == 0) {
			*ret = m;
			return 0;
		}
		msg_clear(&m);
	}
}

/* Write all of buf, waiting at most timeout_ms for the socket. */
static int
client_write(struct client *c, const char *buf, size_t len, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
	int64_t deadline = client_deadline(timeout_ms);
	ssize_t n;
	int r;

	while (len > 0) {
		n = write(c->fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return errno == ECONNRESET ? -EPIPE : -errno;
		r = poll(&pfd, 1, client_left(deadline));
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Send method with params (taken) and a fresh id; returns the id. */
int64_t
client_send(struct client *c, const char *method, struct json_object *params)
{
	struct json_object *req, *id;
	const char *text;
	char *line;
	int64_t rid = c->next_id++;
	int r;

	id = json_object_new_int64(rid);
	req = msg_new_request(method, params, id);
	json_object_put(id);
	text = json_object_to_json_string_ext(
		req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	line = xstrfmt("%s\n", text);
	json_object_put(req);
	r = client_write(c, line, strlen(line), 10000);
	free(line);
	return r < 0 ? r : rid;
}

/* True if m's id is the integer id. */
bool
client_msg_has_id(const struct msg *m, int64_t id)
{
	return m->id != NULL && json_object_is_type(m->id, json_type_int) &&
		json_object_get_int64(m->id) == id;
}

/* Queue a message read ahead of a reply. */
static void
client_queue(struct client *c, struct msg *m)
{
	struct client_queued *q = xcalloc(1, sizeof(*q));

	q->msg = *m;
	if (c->tail != NULL)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
}

/* Send a request and wait for the message carrying its id. */
int
client_call(struct client *c, const char *method, struct json_object *params,
	int timeout_ms, struct msg *ret, char **reterr_msg)
{
	int64_t deadline = client_deadline(timeout_ms);
	struct msg m;
	int64_t id;
	int r;

	id = client_send(c, method, params);
	if (id < 0)
		return (int)id;
	/* Read from the socket only; what was queued stays first. */
	for (;;) {
		r = client_read_socket(c, deadline, &m, reterr_msg);
		if (r < 0)
			return r;
		if (client_msg_has_id(&m, id)) {
			*ret = m;
			return 0;
		}
		client_queue(c, &m);
	}
}
