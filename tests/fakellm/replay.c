/* SPDX-License-Identifier: ISC */
#include "replay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"

#define REPLAY_MAX_LINE (16 * 1024 * 1024)

int
replay_load(const char *path, struct sse_events *out, char **reterr_msg)
{
	struct json_object *o, *t;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int lineno = 0;

	if ((f = fopen(path, "re")) == NULL) {
		*reterr_msg = xstrfmt("replay %s: %s", path, strerror(errno));
		return -errno;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		o = n < REPLAY_MAX_LINE ? json_tokener_parse(line) : NULL;
		if (o == NULL) {
			*reterr_msg =
				xstrfmt("replay %s:%d: not JSON", path, lineno);
			json_object_put(o);
			free(line);
			fclose(f);
			return -EINVAL;
		}
		if (json_object_object_get_ex(o, "type", &t) &&
			json_object_is_type(t, json_type_string))
			sse_events_add(out,
				xstrfmt("event: %s\ndata: %s\n\n",
					json_object_get_string(t), line));
		else
			sse_events_add(out, xstrfmt("data: %s\n\n", line));
		json_object_put(o);
	}
	free(line);
	fclose(f);
	return 0;
}

void
replay_pieces(struct sse_events *ev, int size, int seed)
{
	struct sse_events out = { NULL, 0 };
	char *all, *p;
	size_t len = 0, off = 0, i, n;
	unsigned state = (unsigned)seed * 2654435761u + 1;

	if (size <= 0)
		return;
	for (i = 0; i < ev->n; i++)
		len += strlen(ev->v[i]);
	all = p = xmalloc(len + 1);
	for (i = 0; i < ev->n; i++) {
		n = strlen(ev->v[i]);
		memcpy(p, ev->v[i], n);
		p += n;
	}
	*p = '\0';
	while (off < len) {
		n = (size_t)size;
		if (seed >= 0) {
			state = state * 1103515245u + 12345u;
			n = 1 + (state >> 16) % (unsigned)size;
		}
		if (n > len - off)
			n = len - off;
		sse_events_add(&out, xstrndup(all + off, n));
		off += n;
	}
	free(all);
	sse_events_clear(ev);
	*ev = out;
}
