/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/atomicfile.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/scope.h"
#include "common/xmalloc.h"
#include "proto/msg.h"
#include "supervisord/daemon.h"
#include "supervisord/journal.h"

#define JOURNAL_MAX_FILE (64u * 1024u * 1024u)

/* Snapshot of the registry and the restart counters. */
struct json_object *
journal_to_json(struct daemon *d)
{
	struct json_object *o = json_object_new_object();
	struct json_object *reg = json_object_new_array();
	struct json_object *rs = json_object_new_object();
	struct pod *p;
	int i;

	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(
		o, "written_ms", json_object_new_int64(clock_now_ms()));
	TAILQ_FOREACH(p, &d->pods, entry)
	{
		struct json_object *e, *crashes;

		if (p->reserved) {
			e = json_object_new_object();
			json_object_object_add(
				e, "pod", json_object_new_string(p->name));
			json_object_object_add(
				e, "pid", json_object_new_int(p->pid));
			json_object_object_add(
				e, "rules", scope_rules_to_json(&p->granted));
			json_object_array_add(reg, e);
		}
		if (p->status == POD_CORRUPT)
			continue;
		e = json_object_new_object();
		json_object_object_add(
			e, "count", json_object_new_int(p->restart_count));
		crashes = json_object_new_array();
		for (i = 0; i < p->ncrash; i++)
			json_object_array_add(
				crashes, json_object_new_int64(p->crash_ms[i]));
		json_object_object_add(e, "crashes", crashes);
		json_object_object_add(rs, p->name, e);
	}
	json_object_object_add(o, "registry", reg);
	json_object_object_add(o, "restarts", rs);
	return o;
}

/* Atomically rewrite supervisor.json. */
void
journal_write(struct daemon *d)
{
	struct json_object *o = journal_to_json(d);
	const char *s = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *text = xstrfmt("%s\n", s);
	int r;

	r = atomicfile_write(
		d->paths.supervisor_json, text, strlen(text), 0600);
	if (r < 0)
		log_err("cannot write %s: %s", d->paths.supervisor_json,
			strerror(-r));
	free(text);
	json_object_put(o);
}

/* Load the restart counters of the journal into the pods. */
int
journal_load(struct daemon *d)
{
	struct json_object *o, *rs, *v;
	char *buf = NULL, *err = NULL;
	size_t len;
	struct pod *p;
	int r;

	r = atomicfile_read(
		d->paths.supervisor_json, JOURNAL_MAX_FILE, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	o = msg_parse_json(buf, len, &err);
	free(buf);
	if (o == NULL) {
		log_warn("%s is unreadable (%s); restart counters reset",
			d->paths.supervisor_json, err != NULL ? err : "?");
		free(err);
		return -EINVAL;
	}
	if (json_object_object_get_ex(o, "restarts", &rs) &&
		json_object_is_type(rs, json_type_object)) {
		TAILQ_FOREACH(p, &d->pods, entry)
		{
			struct json_object *e, *cr;
			size_t i, n;

			if (p->status == POD_CORRUPT ||
				!json_object_object_get_ex(rs, p->name, &e) ||
				!json_object_is_type(e, json_type_object))
				continue;
			if (!json_object_object_get_ex(e, "crashes", &cr) ||
				!json_object_is_type(cr, json_type_array))
				continue;
			n = json_object_array_length(cr);
			for (i = 0; i < n && p->ncrash < 5; i++) {
				v = json_object_array_get_idx(cr, i);
				p->crash_ms[p->ncrash++] =
					json_object_get_int64(v);
			}
		}
	}
	json_object_put(o);
	return 0;
}
