/* SPDX-License-Identifier: ISC */
#ifndef COMMON_XMALLOC_H
#define COMMON_XMALLOC_H

#include <stddef.h>

/*
 * Checked allocators: they abort with a message on OOM or on a size
 * overflow and never return NULL.  free() pairs with all of them.
 */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
int xasprintf(char **ret, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Returns the formatted string; never NULL. */
char *xstrfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
