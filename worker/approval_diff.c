/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/xmalloc.h"
#include "worker/approval_diff.h"

#define APPROVAL_DIFF_FILE_MAX (4 * 1024 * 1024)
#define APPROVAL_DIFF_CONTEXT 3

struct approval_diff_lines {
	const char **p; /* line starts */
	size_t *len; /* with the '\n' if any */
	size_t n;
};

static void
approval_diff_split(const char *s, struct approval_diff_lines *l)
{
	const char *e;
	size_t cap = 0;

	memset(l, 0, sizeof *l);
	while (*s != '\0') {
		e = strchr(s, '\n');
		if (l->n == cap) {
			cap = cap ? cap * 2 : 64;
			l->p = xreallocarray(l->p, cap, sizeof *l->p);
			l->len = xreallocarray(l->len, cap, sizeof *l->len);
		}
		l->p[l->n] = s;
		l->len[l->n] = e ? (size_t)(e - s) + 1 : strlen(s);
		s += l->len[l->n];
		l->n++;
	}
}

static bool
approval_diff_eq(const struct approval_diff_lines *a, size_t i,
	const struct approval_diff_lines *b, size_t j)
{
	return a->len[i] == b->len[j] &&
		memcmp(a->p[i], b->p[j], a->len[i]) == 0;
}

struct approval_diff_out {
	char *p;
	size_t len, cap;
	bool cut;
};

static void
approval_diff_put(
	struct approval_diff_out *o, char mark, const char *s, size_t len)
{
	bool nl = len > 0 && s[len - 1] == '\n';
	size_t need = len + 2 + (nl ? 0 : 30);

	if (o->cut)
		return;
	if (o->len + need > APPROVAL_DIFF_MAX) {
		o->cut = true;
		return;
	}
	if (o->len + need + 1 > o->cap) {
		o->cap = (o->len + need + 1) * 2;
		o->p = xreallocarray(o->p, o->cap, 1);
	}
	if (mark != '\0')
		o->p[o->len++] = mark;
	memcpy(o->p + o->len, s, len);
	o->len += len;
	if (mark != '\0' && !nl) {
		static const char tail[] = "\n\\ No newline at end of file\n";

		memcpy(o->p + o->len, tail, sizeof tail - 1);
		o->len += sizeof tail - 1;
	}
	o->p[o->len] = '\0';
}

/* The diff turning a into b. */
char *
approval_diff_text(
	const char *label, const char *a, const char *b, int a_exists)
{
	struct approval_diff_lines la, lb;
	struct approval_diff_out o = { 0 };
	size_t pre = 0, suf = 0, s0, ea, eb, i;
	char *hdr;

	approval_diff_split(a, &la);
	approval_diff_split(b, &lb);
	while (pre < la.n && pre < lb.n && approval_diff_eq(&la, pre, &lb, pre))
		pre++;
	while (suf < la.n - pre && suf < lb.n - pre &&
		approval_diff_eq(&la, la.n - 1 - suf, &lb, lb.n - 1 - suf))
		suf++;
	s0 = pre > APPROVAL_DIFF_CONTEXT ? pre - APPROVAL_DIFF_CONTEXT : 0;
	ea = la.n - suf +
		(suf > APPROVAL_DIFF_CONTEXT ? APPROVAL_DIFF_CONTEXT : suf);
	eb = lb.n - suf +
		(suf > APPROVAL_DIFF_CONTEXT ? APPROVAL_DIFF_CONTEXT : suf);
	hdr = xstrfmt("--- %s\n+++ %s\n@@ -%zu,%zu +%zu,%zu @@\n",
		a_exists ? label : "/dev/null", label,
		ea - s0 == 0 ? s0 : s0 + 1, ea - s0, eb - s0 == 0 ? s0 : s0 + 1,
		eb - s0);
	approval_diff_put(&o, '\0', hdr, strlen(hdr));
	free(hdr);
	for (i = s0; i < pre; i++)
		approval_diff_put(&o, ' ', la.p[i], la.len[i]);
	for (i = pre; i < la.n - suf; i++)
		approval_diff_put(&o, '-', la.p[i], la.len[i]);
	for (i = pre; i < lb.n - suf; i++)
		approval_diff_put(&o, '+', lb.p[i], lb.len[i]);
	for (i = la.n - suf; i < ea; i++)
		approval_diff_put(&o, ' ', la.p[i], la.len[i]);
	if (o.cut) {
		o.cut = false;
		o.len = o.len > APPROVAL_DIFF_MAX - 40 ? APPROVAL_DIFF_MAX - 40
						       : o.len;
		approval_diff_put(&o, '\0', "[diff cut at 64 KiB]\n", 21);
	}
	free(la.p);
	free(la.len);
	free(lb.p);
	free(lb.len);
	return o.p;
}

/* The file's text, or NULL (missing, not regular, too big, has NUL). */
static char *
approval_diff_read(const char *path, bool *ret_exists)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t off = 0;
	int fd;

	*ret_exists = false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? xstrdup("") : NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		st.st_size > APPROVAL_DIFF_FILE_MAX) {
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size &&
		(n = read(fd, buf + off, (size_t)st.st_size - off)) > 0)
		off += (size_t)n;
	close(fd);
	buf[off] = '\0';
	if (memchr(buf, '\0', off) != NULL) {
		free(buf);
		return NULL;
	}
	*ret_exists = true;
	return buf;
}

static const char *
approval_diff_arg(const struct json_object *args, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(args, key, &v) ||
		!json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* old with the first (or every) occurrence of from replaced by to. */
static char *
approval_diff_replace(
	const char *old, const char *from, const char *to, bool all)
{
	size_t fl = strlen(from), tl = strlen(to), cap, len = 0;
	const char *s = old, *hit;
	char *out;

	if (fl == 0 || strstr(old, from) == NULL)
		return NULL;
	cap = strlen(old) + 1;
	out = xmalloc(cap);
	while ((hit = strstr(s, from)) != NULL) {
		size_t pre = (size_t)(hit - s);

		if (len + pre + tl + 1 > cap) {
			cap = (len + pre + tl + 1) * 2;
			out = xreallocarray(out, cap, 1);
		}
		memcpy(out + len, s, pre);
		memcpy(out + len + pre, to, tl);
		len += pre + tl;
		s = hit + fl;
		if (!all)
			break;
	}
	if (len + strlen(s) + 1 > cap)
		out = xreallocarray(out, len + strlen(s) + 1, 1);
	strcpy(out + len, s);
	return out;
}

/* The diff a write/edit call would make. */
char *
approval_diff(
	const char *tool, const char *path, const struct json_object *args)
{
	const char *content, *from, *to;
	struct json_object *v;
	char *old, *neu = NULL, *diff = NULL;
	bool exists, all = false;

	if (path == NULL || args == NULL)
		return NULL;
	if (strcmp(tool, "write") == 0) {
		if ((content = approval_diff_arg(args, "content")) == NULL)
			return NULL;
		if ((old = approval_diff_read(path, &exists)) == NULL)
			return NULL;
		diff = approval_diff_text(path, old, content, exists);
		free(old);
		return diff;
	}
	if (strcmp(tool, "edit") != 0)
		return NULL;
	from = approval_diff_arg(args, "old");
	to = approval_diff_arg(args, "new");
	if (from == NULL || to == NULL)
		return NULL;
	if (json_object_object_get_ex(args, "replace_all", &v))
		all = json_object_get_boolean(v);
	if ((old = approval_diff_read(path, &exists)) == NULL)
		return NULL;
	if (exists)
		neu = approval_diff_replace(old, from, to, all);
	if (neu != NULL)
		diff = approval_diff_text(path, old, neu, true);
	free(neu);
	free(old);
	return diff;
}
