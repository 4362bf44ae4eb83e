/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_SUMMARY_H
#define SUPERVISORD_SUMMARY_H

#include <stddef.h>

struct daemon;
struct pod;

/*
 * The pod-summary of PROTOCOL.md written straight as JSON text (the
 * same fields as podops_summary()), for `list` replies: 1,000 pods cost
 * one growing buffer instead of ~30,000 json-c objects.
 */

/* A growable text buffer; zero-initialise, free s. */
struct textbuf {
	char *s;
	size_t len, cap;
};

/* Append len bytes of s. */
void textbuf_add(struct textbuf *tb, const char *s, size_t len);
/* Append a NUL-terminated string. */
void textbuf_puts(struct textbuf *tb, const char *s);
/* Append s as a JSON string (quoted, escaped); NULL as null. */
void textbuf_json_str(struct textbuf *tb, const char *s);

struct scope_rules;
/* Append key (raw text, e.g. ",\"scope\":") and rules as a JSON array. */
void summary_rules(
	struct textbuf *tb, const char *key, const struct scope_rules *rules);

/* Append p's pod-summary object. */
void summary_text(struct daemon *d, struct pod *p, struct textbuf *tb);

#endif
