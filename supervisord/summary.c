/* SPDX-License-Identifier: ISC */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/paths.h"
#include "common/scope.h"
#include "common/xmalloc.h"
#include "supervisord/daemon.h"
#include "supervisord/registry.h"
#include "supervisord/summary.h"
#include "supervisord/worktree.h"

static void
textbuf_grow(struct textbuf *tb, size_t more)
{
	size_t cap = tb->cap != 0 ? tb->cap : 4096;

	if (tb->len + more + 1 <= tb->cap)
		return;
	while (cap < tb->len + more + 1)
		cap *= 2;
	tb->s = xreallocarray(tb->s, cap, 1);
	tb->cap = cap;
}

/* Append bytes. */
void
textbuf_add(struct textbuf *tb, const char *s, size_t len)
{
	textbuf_grow(tb, len);
	memcpy(tb->s + tb->len, s, len);
	tb->len += len;
	tb->s[tb->len] = '\0';
}

/* Append a C string. */
void
textbuf_puts(struct textbuf *tb, const char *s)
{
	textbuf_add(tb, s, strlen(s));
}

/* Append a quoted JSON string (escapes as json-c does), or null. */
void
textbuf_json_str(struct textbuf *tb, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, run = 0;
	char esc[8];

	if (s == NULL) {
		textbuf_add(tb, "null", 4);
		return;
	}
	textbuf_add(tb, "\"", 1);
	for (i = 0;; i++) {
		unsigned char ch = u[i];

		if (ch != '\0' && ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		textbuf_add(tb, s + run, i - run);
		run = i + 1;
		if (ch == '\0')
			break;
		switch (ch) {
		case '"':
			textbuf_add(tb, "\\\"", 2);
			break;
		case '\\':
			textbuf_add(tb, "\\\\", 2);
			break;
		case '\n':
			textbuf_add(tb, "\\n", 2);
			break;
		case '\r':
			textbuf_add(tb, "\\r", 2);
			break;
		case '\t':
			textbuf_add(tb, "\\t", 2);
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", ch);
			textbuf_add(tb, esc, 6);
			break;
		}
	}
	textbuf_add(tb, "\"", 1);
}

static void
summary_names(struct textbuf *tb, const char *key, const struct namelist *l)
{
	size_t i;

	textbuf_puts(tb, key);
	textbuf_add(tb, "[", 1);
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			textbuf_add(tb, ",", 1);
		textbuf_json_str(tb, l->v[i]);
	}
	textbuf_add(tb, "]", 1);
}

/* Append key (raw text) and rules as the JSON array of scope rules. */
void
summary_rules(
	struct textbuf *tb, const char *key, const struct scope_rules *rules)
{
	const struct scope_rule *r;
	size_t i;

	textbuf_puts(tb, key);
	textbuf_add(tb, "[", 1);
	for (i = 0; i < rules->n; i++) {
		r = &rules->v[i];
		textbuf_puts(tb, i > 0 ? ",{\"target\":" : "{\"target\":");
		textbuf_json_str(tb, r->target);
		textbuf_puts(tb,
			r->perm == SCOPE_WRITE ? ",\"permission\":\"write\""
					       : ",\"permission\":\"read\"");
		textbuf_puts(tb,
			r->recursive ? ",\"recursive\":true"
				     : ",\"recursive\":false");
		textbuf_puts(tb, r->deny ? ",\"deny\":true}" : "}");
	}
	textbuf_add(tb, "]", 1);
}

/* Write p's summary (see podops_summary()). */
void
summary_text(struct daemon *d, struct pod *p, struct textbuf *tb)
{
	struct scope_rules eff = { 0 };
	char num[32];
	char *sock;

	textbuf_puts(tb, "{\"name\":");
	textbuf_json_str(tb, p->name);
	textbuf_puts(tb, ",\"status\":");
	textbuf_json_str(tb, pod_status_name(p->status));
	if (p->status == POD_CORRUPT) {
		textbuf_puts(tb, ",\"error\":");
		textbuf_json_str(tb,
			p->corrupt_msg != NULL ? p->corrupt_msg : "corrupt");
		textbuf_puts(tb,
			",\"children\":[],\"peers\":[],\"scope\":[],"
			"\"effective_write\":[]}");
		return;
	}
	if (daemon_pod_running(p) && p->pid > 0) {
		snprintf(num, sizeof(num), ",\"pid\":%d", (int)p->pid);
		textbuf_puts(tb, num);
	}
	if (p->parent != NULL) {
		textbuf_puts(tb, ",\"parent\":");
		textbuf_json_str(tb, p->parent);
	}
	summary_names(tb, ",\"children\":", &p->children);
	summary_names(tb, ",\"peers\":", &p->peers);
	textbuf_puts(tb, ",\"model\":");
	textbuf_json_str(tb, p->model);
	textbuf_puts(tb, ",\"cwd\":");
	textbuf_json_str(tb, p->cwd);
	textbuf_puts(tb, ",\"network\":");
	textbuf_json_str(tb, isolation_network_name(p->iso.network));
	worktree_summary_text(p, tb);
	if (daemon_pod_running(p)) {
		sock = paths_pod_sock(&d->paths, p->name);
		textbuf_puts(tb, ",\"socket\":");
		textbuf_json_str(tb, sock);
		free(sock);
	}
	summary_rules(tb, ",\"scope\":", &p->scope);
	if (p->reserved)
		registry_effective_write(d, p, &eff);
	summary_rules(tb, ",\"effective_write\":", &eff);
	scope_rules_clear(&eff);
	summary_names(tb, ",\"mcp\":", &p->mcp);
	budget_summary_text(d, p, tb);
	cgroup_summary_text(p, tb);
	textbuf_add(tb, "}", 1);
}
