/* SPDX-License-Identifier: ISC */
#include "worker/compact_seg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/atomicfile.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "worker/session.h"

#define COMPACT_SEG_JSON_FLAGS \
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define COMPACT_SEG_HEAD_MAX (8u * 1024 * 1024)
#define COMPACT_SEG_MAX_FILES 100000
/* Freeing a history: prefetch this far ahead (see compact_seg_release). */
#define COMPACT_SEG_PREFETCH_ENTRIES 2
#define COMPACT_SEG_PREFETCH_BYTES 4096

struct compact_seg_buf {
	char *p;
	size_t len;
	size_t cap;
};

static void
compact_seg_add(struct compact_seg_buf *b, struct json_object *e)
{
	const char *text;
	size_t len;

	text = json_object_to_json_string_ext(e, COMPACT_SEG_JSON_FLAGS);
	len = strlen(text);
	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, text, len);
	b->p[b->len + len] = '\n';
	b->len += len + 1;
}

static const char *
compact_seg_kind(struct json_object *e)
{
	struct json_object *v;

	if (!json_object_object_get_ex(e, "kind", &v) ||
		!json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static struct json_object *
compact_seg_start(const struct compact_seg *cs)
{
	struct json_object *e;

	e = session_entry_new("segment_start");
	json_object_object_add(
		e, "session", json_object_new_string(cs->session_id));
	json_object_object_add(
		e, "segment", json_object_new_string(cs->segment));
	json_object_object_add(e, "model",
		cs->model ? json_object_new_string(cs->model) : NULL);
	json_object_object_add(e, "system",
		cs->system ? json_object_new_string(cs->system) : NULL);
	json_object_object_add(e, "compacted_from",
		json_object_new_string(cs->compacted_from));
	json_object_object_add(
		e, "summary", json_object_new_string(cs->summary));
	if (cs->usage_total != NULL)
		json_object_object_add(
			e, "usage_total", json_object_get(cs->usage_total));
	return e;
}

/* Write the compacted segment atomically (tmp, fsync, rename, fsync dir). */
int
compact_seg_write(const struct compact_seg *cs, struct json_object *entries,
	size_t from, char **reterr_msg)
{
	struct compact_seg_buf b = { 0 };
	struct json_object *e, *item;
	bool first = true;
	char *path;
	size_t i, n;
	int r;

	e = compact_seg_start(cs);
	compact_seg_add(&b, e);
	json_object_put(e);
	n = json_object_array_length(entries);
	for (i = from; i < n; i++) {
		e = json_object_array_get_idx(entries, i);
		if (strcmp(compact_seg_kind(e), "usage") == 0)
			continue;
		/* Keep the roles alternating after the summary. */
		if (first && strcmp(compact_seg_kind(e), "assistant") == 0) {
			item = json_object_new_object();
			json_object_object_add(item, "type",
				json_object_new_string("compaction"));
			json_object_object_add(item, "text",
				json_object_new_string("The conversation "
						       "continues after the "
						       "summary."));
			e = session_entry_new("system_item");
			json_object_object_add(e, "item", item);
			compact_seg_add(&b, e);
			json_object_put(e);
			e = json_object_array_get_idx(entries, i);
		}
		first = false;
		compact_seg_add(&b, e);
	}
	path = xstrfmt("%s/%s.jsonl", cs->dir, cs->segment);
	r = atomicfile_write(path, b.p, b.len, 0600);
	if (r < 0)
		*reterr_msg = xstrfmt("writing %s: %s", path, strerror(-r));
	free(path);
	free(b.p);
	return r;
}

/*
 * Free the entries of a history, oldest first.  Freeing a long history
 * is bound by memory latency, not instructions: each free() reads the
 * headers of the chunks around it, cold by then.  The entries' chunks
 * lie mostly in allocation order, an entry's close after its object,
 * so the memory from the object of the entry after next on is
 * prefetched while one entry is freed.  (The same frees, in the order
 * json_object_put() of the array would do them.)
 */
static void
compact_seg_release(struct json_object *entries)
{
	uintptr_t at, from, to, done = 0;
	size_t i, n;

	n = json_object_array_length(entries);
	for (i = 0; i < n; i++) {
		if (i + COMPACT_SEG_PREFETCH_ENTRIES < n) {
			at = (uintptr_t)json_object_array_get_idx(
				entries, i + COMPACT_SEG_PREFETCH_ENTRIES);
			to = at + COMPACT_SEG_PREFETCH_BYTES;
			/* Lines asked for already (the usual overlap with
			 * the previous entry's range) are skipped. */
			from = at < done && to > done ? done : at;
			for (; from < to; from += 64)
				__builtin_prefetch((const void *)from);
			done = to;
		}
		json_object_array_put_idx(entries, i, NULL);
	}
}

/* Write, reopen, swap, free the old session. */
int
compact_seg_switch(const struct compact_seg *cs, struct session **sessionp,
	size_t cut, char **reterr_msg)
{
	struct session *old = *sessionp, *ns = NULL;
	char *alert = NULL, *path;
	int r;

	r = compact_seg_write(cs, session_entries(old), cut, reterr_msg);
	if (r < 0)
		return r;
	r = session_restore(
		cs->dir, cs->session_id, cs->segment, &ns, &alert, reterr_msg);
	free(alert);
	if (r < 0) {
		/* Not announced yet: the old segment stays the newest. */
		path = xstrfmt("%s/%s.jsonl", cs->dir, cs->segment);
		unlink(path);
		free(path);
		return r;
	}
	*sessionp = ns;
	compact_seg_release(session_entries(old));
	session_free(old);
	/* A long history leaves many small free chunks: return them. */
	malloc_trim(0);
	return 0;
}

/* Fast bins off: a switch frees a whole history at once. */
void
compact_seg_tune_malloc(void)
{
	(void)mallopt(M_MXFAST, 0);
}

/* The first line of path parsed, or NULL. */
static struct json_object *
compact_seg_head(const char *dir, const char *name)
{
	struct json_object *obj = NULL;
	char *path, *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd;

	path = xstrfmt("%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd == -1)
		return NULL;
	for (;;) {
		if (len + 65536 > cap) {
			cap = len + 65536;
			buf = xreallocarray(buf, cap + 1, 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (memchr(buf + len, '\n', (size_t)n) != NULL) {
			len += (size_t)n;
			break;
		}
		len += (size_t)n;
		if (len > COMPACT_SEG_HEAD_MAX)
			break;
	}
	close(fd);
	if (buf != NULL && memchr(buf, '\n', len) != NULL) {
		*(char *)memchr(buf, '\n', len) = '\0';
		obj = json_tokener_parse(buf);
	}
	free(buf);
	return obj;
}

/* Follow compacted_from links forward from segment. */
char *
compact_seg_resolve(const char *dir, const char *segment)
{
	struct json_object *links, *head, *v;
	struct dirent *de;
	struct stat st;
	const char *cur;
	char *out = NULL, *base;
	time_t since = 0;
	size_t len, steps;
	DIR *d;

	d = opendir(dir);
	if (d == NULL)
		return NULL;
	/*
	 * Successors are written after the segment's last entry: older
	 * files (with a margin for coarse clocks) need not be read.
	 */
	base = xstrfmt("%s/%s.jsonl", dir, segment);
	if (stat(base, &st) == 0)
		since = st.st_mtime - 2;
	free(base);
	links = json_object_new_object(); /* compacted_from → segment */
	steps = 0;
	while ((de = readdir(d)) != NULL && steps++ < COMPACT_SEG_MAX_FILES) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 6 ||
			strcmp(de->d_name + len - 6, ".jsonl") != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
				-1 ||
			!S_ISREG(st.st_mode) || st.st_mtime < since)
			continue;
		head = compact_seg_head(dir, de->d_name);
		if (head != NULL &&
			json_object_object_get_ex(head, "compacted_from", &v) &&
			json_object_is_type(v, json_type_string)) {
			base = xstrndup(de->d_name, len - 6);
			json_object_object_add(links, json_object_get_string(v),
				json_object_new_string(base));
			free(base);
		}
		json_object_put(head);
	}
	closedir(d);
	cur = segment;
	for (steps = 0; steps <= (size_t)json_object_object_length(links);
		steps++) {
		if (!json_object_object_get_ex(links, cur, &v))
			break;
		cur = json_object_get_string(v);
	}
	if (cur != segment)
		out = xstrdup(cur);
	json_object_put(links);
	return out;
}

/* Unlink ".<segment>.jsonl.tmp-*" files left by a crash. */
void
compact_seg_cleanup(const char *dir)
{
	struct dirent *de;
	char *path;
	DIR *d;

	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' ||
			strstr(de->d_name, ".jsonl.tmp-") == NULL)
			continue;
		path = xstrfmt("%s/%s", dir, de->d_name);
		if (unlink(path) == 0)
			log_info("removed %s left by an interrupted compaction",
				path);
		free(path);
	}
	closedir(d);
}
