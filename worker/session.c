/* SPDX-License-Identifier: ISC */
#include "worker/session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/clock.h"
#include "common/id.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "proto/msg.h"

#define SESSION_MAX_BYTES (1024L * 1024 * 1024)
#define SESSION_JSON_FLAGS \
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct session {
	char *dir;
	char *id;
	char *segment;
	char *path;
	int fd;
	struct json_object *entries;

	/*
	 * What is in the file: the first nwritten entries (written_size
	 * bytes), of which the first nsynced (synced_size bytes) are
	 * fsynced.  Entries past nwritten are only in memory; a failed write
	 * truncates the file back to synced_size so no torn fragment stays,
	 * and the next flush rewrites them in order.
	 */
	size_t nwritten;
	size_t nsynced;
	off_t written_size;
	off_t synced_size;
	bool need_sync; /* a failed flush owes an fsync */
	bool dir_unsynced; /* a new file: fsync its directory at first sync */
	int err; /* last write error while entries are pending, else 0 */
};

static struct session *
session_alloc(const char *dir, const char *session_id, const char *segment)
{
	struct session *s;
	char buf[ID_LEN + 1];

	s = xcalloc(1, sizeof *s);
	s->fd = -1;
	s->dir = xstrdup(dir);
	if (session_id == NULL) {
		id_new(buf);
		session_id = buf;
	}
	s->id = xstrdup(session_id);
	if (segment == NULL) {
		id_new(buf);
		segment = buf;
	}
	s->segment = xstrdup(segment);
	s->path = xstrfmt("%s/%s.jsonl", dir, s->segment);
	s->entries = json_object_new_array();
	return s;
}

/* Free s and close its file. NULL-safe. */
void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	if (s->fd != -1)
		close(s->fd);
	json_object_put(s->entries);
	free(s->dir);
	free(s->id);
	free(s->segment);
	free(s->path);
	free(s);
}

static int
session_sync_dir(const char *dir)
{
	int fd, r = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	if (fsync(fd) == -1)
		r = -errno;
	close(fd);
	return r;
}

static bool
session_valid_segment(const char *segment)
{
	return segment[0] != '\0' && segment[0] != '.' &&
		strchr(segment, '/') == NULL && strlen(segment) < 128;
}

/* Make a new {"kind":kind,"ms":now} entry. */
struct json_object *
session_entry_new(const char *kind)
{
	struct json_object *e;

	e = json_object_new_object();
	json_object_object_add(e, "kind", json_object_new_string(kind));
	json_object_object_add(e, "ms", json_object_new_int64(clock_now_ms()));
	return e;
}

/* Create a fresh segment and write its segment_start line. */
int
session_create(const char *dir, const char *session_id, const char *segment,
	const char *model, const char *system, struct session **ret,
	char **reterr_msg)
{
	struct session *s;
	struct json_object *e;
	int r;

	if (segment != NULL && !session_valid_segment(segment)) {
		*reterr_msg = xstrfmt("invalid segment id \"%s\"", segment);
		return -EINVAL;
	}
	r = dir_ensure_private(dir);
	if (r < 0) {
		*reterr_msg = xstrfmt("session dir %s: %s", dir, strerror(-r));
		return r;
	}
	s = session_alloc(dir, session_id, segment);
	s->fd = open(s->path,
		O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (s->fd == -1) {
		r = -errno;
		*reterr_msg = xstrfmt("%s: %s", s->path, strerror(-r));
		session_free(s);
		return r;
	}
	e = session_entry_new("segment_start");
	json_object_object_add(e, "session", json_object_new_string(s->id));
	json_object_object_add(
		e, "segment", json_object_new_string(s->segment));
	json_object_object_add(
		e, "model", model ? json_object_new_string(model) : NULL);
	json_object_object_add(
		e, "system", system ? json_object_new_string(system) : NULL);
	/*
	 * Written, not fsynced: nothing in the new segment is owed to anyone
	 * yet, and a spawn need not wait for two fsyncs here.  The first
	 * durable append syncs the file and its directory entry; a crash
	 * before that leaves no file or an empty one, which restore treats
	 * as no log (worker.c).
	 */
	s->dir_unsynced = true;
	r = session_append(s, e, false);
	if (r < 0) {
		*reterr_msg = xstrfmt("%s: %s", s->path, strerror(-r));
		session_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

/* A string member of e, or "" when absent or not a string. */
static const char *
session_str(struct json_object *e, const char *key)
{
	const char *s = msg_json_str(e, key);

	return s != NULL ? s : "";
}

static const char *
session_kind(struct json_object *e)
{
	return session_str(e, "kind");
}

/* At most this many problems are listed in one restore alert. */
#define SESSION_MAX_ALERTS 8

/*
 * Add a problem to the restore alert.  The list is bounded, so a log of
 * many bad lines costs linear time and yields one readable sentence.
 */
static void
session_alert_add(char **alert, size_t *nalerts, const char *fmt, size_t line,
	const char *path)
{
	char *msg, *joined;

	if (++*nalerts > SESSION_MAX_ALERTS) {
		if (*nalerts == SESSION_MAX_ALERTS + 1) {
			joined = xstrfmt(
				"%s; further problems not listed", *alert);
			free(*alert);
			*alert = joined;
		}
		return;
	}
	msg = xstrfmt(fmt, path, line);
	if (*alert == NULL) {
		*alert = msg;
		return;
	}
	joined = xstrfmt("%s; %s", *alert, msg);
	free(*alert);
	free(msg);
	*alert = joined;
}

/*
 * One log line as a JSON object, with the rules of every channel (strict
 * UTF-8, depth, nothing after the object), so a damaged line is never
 * replayed into a provider request.
 */
static struct json_object *
session_parse_line(const char *line, size_t len)
{
	struct json_object *obj;
	char *err = NULL;

	obj = msg_parse_json(line, len, &err);
	free(err);
	if (obj != NULL && !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		obj = NULL;
	}
	return obj;
}

/* Reopen an existing segment and replay its entries. */
int
session_restore(const char *dir, const char *session_id, const char *segment,
	struct session **ret, char **ret_alert, char **reterr_msg)
{
	struct session *s;
	struct json_object *obj, *v;
	struct stat st;
	char *buf = NULL, *p, *nl, *alert = NULL;
	size_t len, good = 0, lineno = 0, nalerts = 0;
	ssize_t n;
	int r;

	if (!session_valid_segment(segment)) {
		*reterr_msg = xstrfmt("invalid segment id \"%s\"", segment);
		return -EINVAL;
	}
	s = session_alloc(dir, session_id, segment);
	s->fd = open(s->path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (s->fd == -1) {
		r = -errno;
		goto fail;
	}
	if (fstat(s->fd, &st) == -1) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > SESSION_MAX_BYTES) {
		r = -EFBIG;
		goto fail;
	}
	len = (size_t)st.st_size;
	buf = xmalloc(len + 1);
	for (size_t off = 0; off < len;) {
		n = pread(s->fd, buf + off, len - off, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n == 0 ? -EIO : -errno;
			goto fail;
		}
		off += (size_t)n;
	}
	buf[len] = '\0';

	for (p = buf; p < buf + len; p = nl + 1) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(buf + len - p));
		if (nl == NULL) {
			session_alert_add(&alert, &nalerts,
				"%s: torn last line %zu (no newline) truncated",
				lineno, s->path);
			break;
		}
		if (nl == p) {
			good = (size_t)(nl + 1 - buf);
			continue;
		}
		obj = session_parse_line(p, (size_t)(nl - p));
		if (obj == NULL) {
			if (nl + 1 == buf + len) {
				session_alert_add(&alert, &nalerts,
					"%s: invalid last line %zu truncated",
					lineno, s->path);
				break;
			}
			session_alert_add(&alert, &nalerts,
				"%s: invalid line %zu skipped", lineno,
				s->path);
			good = (size_t)(nl + 1 - buf);
			continue;
		}
		if (json_object_array_length(s->entries) == 0 &&
			strcmp(session_kind(obj), "segment_start") != 0)
			session_alert_add(&alert, &nalerts,
				"%s: line %zu is not segment_start", lineno,
				s->path);
		json_object_array_add(s->entries, obj);
		good = (size_t)(nl + 1 - buf);
	}
	/* Without a given session id, the segment's own one holds. */
	if (session_id == NULL && json_object_array_length(s->entries) > 0 &&
		json_object_object_get_ex(
			json_object_array_get_idx(s->entries, 0), "session",
			&v) &&
		json_object_is_type(v, json_type_string)) {
		free(s->id);
		s->id = xstrdup(json_object_get_string(v));
	}
	if (good < len) {
		if (ftruncate(s->fd, (off_t)good) == -1 || fsync(s->fd) == -1) {
			r = -errno;
			goto fail;
		}
	}
	s->nwritten = s->nsynced = json_object_array_length(s->entries);
	s->written_size = s->synced_size = (off_t)good;
	free(buf);
	if (ret_alert != NULL)
		*ret_alert = alert;
	else
		free(alert);
	*ret = s;
	return 0;

fail:
	*reterr_msg = xstrfmt("%s: %s", s->path, strerror(-r));
	free(buf);
	free(alert);
	session_free(s);
	return r;
}

/*
 * A write or fsync failed: cut the file back to what is known durable
 * (no torn fragment may stay for the next line to be glued to) and mark
 * everything after it as pending.  If even the truncation fails, the
 * next flush tries it again before writing anything.
 */
static int
session_fail(struct session *s, int r)
{
	s->err = r;
	s->need_sync = true;
	s->nwritten = s->nsynced;
	s->written_size = s->synced_size;
	if (ftruncate(s->fd, s->synced_size) == -1)
		s->written_size = -1;
	return r;
}

/* Write the pending entries in order, then fsync if sync or owed. */
static int
session_write_pending(struct session *s, bool sync)
{
	struct json_object *e;
	const char *text;
	char *line;
	size_t len, n;
	int r;

	if (s->fd == -1)
		return s->err = -EBADF;
	if (s->written_size == -1) {
		if (ftruncate(s->fd, s->synced_size) == -1)
			return s->err = -errno;
		s->written_size = s->synced_size;
	}
	n = json_object_array_length(s->entries);
	while (s->nwritten < n) {
		e = json_object_array_get_idx(s->entries, s->nwritten);
		text = json_object_to_json_string_ext(e, SESSION_JSON_FLAGS);
		len = strlen(text);
		line = xmalloc(len + 1);
		memcpy(line, text, len);
		line[len] = '\n';
		r = fd_write_all(s->fd, line, len + 1);
		free(line);
		if (r < 0)
			return session_fail(s, r);
		s->nwritten++;
		s->written_size += (off_t)(len + 1);
	}
	if ((sync || s->need_sync) && s->nsynced < s->nwritten) {
		if (fsync(s->fd) == -1)
			return session_fail(s, -errno);
		if (s->dir_unsynced && (r = session_sync_dir(s->dir)) < 0)
			return session_fail(s, r);
		s->dir_unsynced = false;
		s->nsynced = s->nwritten;
		s->synced_size = s->written_size;
	}
	s->need_sync = false;
	s->err = 0;
	return 0;
}

/*
 * Keep entry in memory, then write every pending entry in order (fsync
 * if sync).  On failure nothing torn stays in the file and the entry
 * waits for the next append or session_flush().
 */
int
session_append(struct session *s, struct json_object *entry, bool sync)
{
	json_object_array_add(s->entries, entry);
	return session_write_pending(s, sync);
}

/* Write and fsync whatever is pending. */
int
session_flush(struct session *s)
{
	return session_write_pending(s, true);
}

/* Number of entries in memory but not yet written to the file. */
size_t
session_pending(const struct session *s)
{
	return json_object_array_length(s->entries) - s->nwritten;
}

/* Number of leading entries that are fsynced. */
size_t
session_durable(const struct session *s)
{
	return s->nsynced;
}

/* The last write error while entries are pending, 0 if none. */
int
session_error(const struct session *s)
{
	return s->err;
}

/* The in-memory entries (borrowed). */
struct json_object *
session_entries(const struct session *s)
{
	return s->entries;
}

/* Number of committed entries. */
size_t
session_count(const struct session *s)
{
	return json_object_array_length(s->entries);
}

/* The session id (borrowed). */
const char *
session_id(const struct session *s)
{
	return s->id;
}

/* The segment id (borrowed). */
const char *
session_segment(const struct session *s)
{
	return s->segment;
}

/* The segment's file path (borrowed). */
const char *
session_path(const struct session *s)
{
	return s->path;
}

/* Find the newest system_item carrying eid, in memory. */
bool
session_find_eid(const struct session *s, const char *eid, size_t *ret_idx)
{
	struct json_object *e, *item;
	size_t i, n;

	if (eid == NULL || eid[0] == '\0')
		return false;
	n = json_object_array_length(s->entries);
	for (i = n; i > 0; i--) {
		e = json_object_array_get_idx(s->entries, i - 1);
		if (strcmp(session_kind(e), "system_item") != 0)
			continue;
		if (!json_object_object_get_ex(e, "item", &item))
			continue;
		if (strcmp(session_str(item, "eid"), eid) == 0) {
			if (ret_idx != NULL)
				*ret_idx = i - 1;
			return true;
		}
	}
	return false;
}

/* Is a pod event with this eid durably (fsynced) in the log? */
bool
session_has_eid(const struct session *s, const char *eid)
{
	size_t idx;

	return session_find_eid(s, eid, &idx) && idx < s->nsynced;
}

/* Highest turn number of the log's turn_end entries. */
int
session_last_turn(const struct session *s)
{
	struct json_object *e, *v;
	size_t i, n;

	n = json_object_array_length(s->entries);
	for (i = n; i > 0; i--) {
		e = json_object_array_get_idx(s->entries, i - 1);
		if (strcmp(session_kind(e), "turn_end") == 0 &&
			json_object_object_get_ex(e, "turn", &v))
			return json_object_get_int(v);
	}
	return 0;
}

static bool
session_has_result(const struct session *s, size_t from, const char *id)
{
	struct json_object *e;
	size_t i, n;

	if (id[0] == '\0')
		return false;
	n = json_object_array_length(s->entries);
	for (i = from; i < n; i++) {
		e = json_object_array_get_idx(s->entries, i);
		if (strcmp(session_kind(e), "tool_result") != 0)
			continue;
		if (strcmp(session_str(e, "id"), id) == 0)
			return true;
	}
	return false;
}

/* Unanswered tool calls of the last assistant entry (new array). */
struct json_object *
session_dangling_calls(const struct session *s)
{
	struct json_object *out, *e = NULL, *calls, *call, *id;
	size_t i, n, at = 0;

	out = json_object_new_array();
	n = json_object_array_length(s->entries);
	for (i = n; i > 0; i--) {
		e = json_object_array_get_idx(s->entries, i - 1);
		if (strcmp(session_kind(e), "assistant") == 0) {
			at = i;
			break;
		}
	}
	if (at == 0 || !json_object_object_get_ex(e, "tool_calls", &calls) ||
		!json_object_is_type(calls, json_type_array))
		return out;
	for (i = 0; i < json_object_array_length(calls); i++) {
		call = json_object_array_get_idx(calls, i);
		if (!json_object_object_get_ex(call, "id", &id) ||
			!json_object_is_type(id, json_type_string))
			continue;
		if (!session_has_result(s, at, json_object_get_string(id)))
			json_object_array_add(out, json_object_get(call));
	}
	return out;
}

/* Answer every dangling tool call with an error result. */
size_t
session_close_dangling(struct session *s, const char *output)
{
	struct json_object *calls, *call, *e, *v;
	size_t i, n;

	calls = session_dangling_calls(s);
	n = json_object_array_length(calls);
	for (i = 0; i < n; i++) {
		call = json_object_array_get_idx(calls, i);
		json_object_object_get_ex(call, "id", &v);
		e = session_entry_new("tool_result");
		json_object_object_add(e, "id", json_object_get(v));
		json_object_object_add(
			e, "summary", json_object_new_string(output));
		json_object_object_add(
			e, "output", json_object_new_string(output));
		json_object_object_add(
			e, "is_error", json_object_new_boolean(1));
		(void)session_append(s, e, i + 1 == n);
	}
	json_object_put(calls);
	return n;
}

/* Text of the newest assistant entry with text (borrowed). */
const char *
session_last_text(const struct session *s)
{
	struct json_object *e, *v;
	size_t i, n;

	n = json_object_array_length(s->entries);
	for (i = n; i > 0; i--) {
		e = json_object_array_get_idx(s->entries, i - 1);
		if (strcmp(session_kind(e), "assistant") == 0 &&
			json_object_object_get_ex(e, "text", &v) &&
			json_object_is_type(v, json_type_string))
			return json_object_get_string(v);
	}
	return NULL;
}
