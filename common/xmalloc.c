/* SPDX-License-Identifier: ISC */
#include "common/xmalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void xmalloc_die(const char *what, size_t a, size_t b)
	__attribute__((noreturn));

static void
xmalloc_die(const char *what, size_t a, size_t b)
{
	char buf[128];
	int n;

	n = snprintf(buf, sizeof(buf), "<2>xmalloc: %s (%zu x %zu bytes)\n",
		what, a, b);
	if (n > 0) {
		if ((size_t)n >= sizeof(buf))
			n = sizeof(buf) - 1;
		(void)!write(STDERR_FILENO, buf, (size_t)n);
	}
	abort();
}

/* Allocate size bytes (at least 1); abort on failure. */
void *
xmalloc(size_t size)
{
	void *p;

	if (size == 0)
		size = 1;
	p = malloc(size);
	if (p == NULL)
		xmalloc_die("out of memory", 1, size);
	return p;
}

/* Allocate a zeroed array; abort on overflow or failure. */
void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if (SIZE_MAX / nmemb < size)
		xmalloc_die("size overflow", nmemb, size);
	p = calloc(nmemb, size);
	if (p == NULL)
		xmalloc_die("out of memory", nmemb, size);
	return p;
}

/* Resize ptr to nmemb * size bytes; abort on overflow or failure. */
void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void *p;
	size_t total;

	if (nmemb != 0 && SIZE_MAX / nmemb < size)
		xmalloc_die("size overflow", nmemb, size);
	total = nmemb * size;
	if (total == 0)
		total = 1;
	p = realloc(ptr, total);
	if (p == NULL)
		xmalloc_die("out of memory", nmemb, size);
	return p;
}

/* Duplicate a string; abort on failure. */
char *
xstrdup(const char *s)
{
	return xmemdup(s, strlen(s) + 1);
}

/* Duplicate at most n bytes of s plus a NUL; abort on failure. */
char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p;

	if (len == SIZE_MAX)
		xmalloc_die("size overflow", 1, len);
	p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* Duplicate n bytes of p; abort on failure. */
void *
xmemdup(const void *p, size_t n)
{
	void *q = xmalloc(n);

	if (n > 0)
		memcpy(q, p, n);
	return q;
}

static char *
xmalloc_vfmt(const char *fmt, va_list ap)
{
	char *s = NULL;
	int n;

	n = vasprintf(&s, fmt, ap);
	if (n < 0 || s == NULL)
		xmalloc_die("vasprintf failed", 1, 0);
	return s;
}

/* Format into a new string stored in *ret; returns its length. */
int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*ret = xmalloc_vfmt(fmt, ap);
	va_end(ap);
	return (int)strlen(*ret);
}

/* Format into a new string and return it; never NULL. */
char *
xstrfmt(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xmalloc_vfmt(fmt, ap);
	va_end(ap);
	return s;
}
