/* SPDX-License-Identifier: ISC */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>

#include "common/log.h"
#include "common/xmalloc.h"

#include "record.h"

static const char *const record_secret_headers[] = { "authorization",
	"x-api-key", "api-key", "proxy-authorization", "cookie", NULL };

/* Open (create, append) the record file; 0 or -errno. */
int
record_open(const char *path, int *ret_fd)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

static const char *
record_method(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "OTHER";
	}
}

static struct json_object *
record_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct json_object *o = json_object_new_object();
	struct evkeyval *kv;
	char *name;
	size_t i;

	TAILQ_FOREACH(kv, h, next)
	{
		const char *value = kv->value;

		name = xstrdup(kv->key);
		for (i = 0; name[i] != '\0'; i++)
			name[i] = (char)tolower((unsigned char)name[i]);
		for (i = 0; record_secret_headers[i] != NULL; i++)
			if (strcmp(record_secret_headers[i], name) == 0)
				value = "REDACTED";
		json_object_object_add(o, name, json_object_new_string(value));
		free(name);
	}
	return o;
}

/*
 * Append one request as a JSON line and fsync it: chat request number n
 * (0 for other paths), method, path, headers (secrets redacted), body.
 * Errors are logged, never fatal.
 */
void
record_request(int fd, unsigned n, struct evhttp_request *req, const char *path,
	const char *body, size_t len)
{
	struct json_object *o = json_object_new_object(), *b;
	struct json_tokener *tok;
	const char *text;
	size_t tlen, off = 0;
	ssize_t w;

	if (fd < 0) {
		json_object_put(o);
		return;
	}
	json_object_object_add(o, "n", json_object_new_int64(n));
	json_object_object_add(
		o, "method", json_object_new_string(record_method(req)));
	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, "headers", record_headers(req));
	tok = json_tokener_new_ex(64);
	b = len > 0 ? json_tokener_parse_ex(tok, body, (int)len) : NULL;
	if (b == NULL || json_tokener_get_parse_end(tok) != len) {
		json_object_put(b);
		b = json_object_new_string_len(body, (int)len);
	}
	json_tokener_free(tok);
	json_object_object_add(o, "body", b);
	text = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	tlen = strlen(text);
	/* one write of line + newline keeps O_APPEND lines whole */
	{
		char *line = xmalloc(tlen + 1);

		memcpy(line, text, tlen);
		line[tlen] = '\n';
		while (off < tlen + 1) {
			w = write(fd, line + off, tlen + 1 - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				log_warn("record: write: %s", strerror(errno));
				break;
			}
			off += (size_t)w;
		}
		free(line);
	}
	if (fsync(fd) < 0)
		log_warn("record: fsync: %s", strerror(errno));
	json_object_put(o);
}
