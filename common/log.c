/* SPDX-License-Identifier: ISC */
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *log_tag = "podvisor";
static enum log_level log_level = LOG_LVL_INFO;

static const struct {
	const char *name;
	enum log_level level;
} log_names[] = {
	{ "err", LOG_LVL_ERR },
	{ "warn", LOG_LVL_WARN },
	{ "notice", LOG_LVL_NOTICE },
	{ "info", LOG_LVL_INFO },
	{ "debug", LOG_LVL_DEBUG },
};

/* Set the program tag (borrowed) and take the threshold from PODVISOR_LOG. */
void
log_init(const char *tag)
{
	const char *env;
	enum log_level level;

	if (tag != NULL && *tag != '\0')
		log_tag = tag;
	env = getenv("PODVISOR_LOG");
	if (env == NULL || *env == '\0')
		return;
	if (log_level_parse(env, &level) == 0)
		log_level = level;
	else
		log_warn("PODVISOR_LOG=%s is not one of "
			 "err|warn|notice|info|debug; using info",
			env);
}

/* Override the threshold. */
void
log_set_level(enum log_level level)
{
	if (level < LOG_LVL_ERR)
		level = LOG_LVL_ERR;
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	log_level = level;
}

/* Return the current threshold. */
enum log_level
log_get_level(void)
{
	return log_level;
}

/* Parse a level name into *ret_level; -EINVAL if unknown. */
int
log_level_parse(const char *s, enum log_level *ret_level)
{
	size_t i;

	if (s == NULL)
		return -EINVAL;
	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(s, log_names[i].name) == 0) {
			*ret_level = log_names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

/* Format one line "<N>tag: message\n" and write it to stderr in one go. */
void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char buf[4096];
	int saved_errno = errno;
	int n, m;
	size_t len;

	if (level > log_level)
		return;
	n = snprintf(buf, sizeof(buf), "<%d>%s: ", (int)level, log_tag);
	if (n < 0)
		goto out;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (m < 0)
		goto out;
	len = (size_t)n + (size_t)m;
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	/* Keep one record per line: no embedded newlines. */
	for (size_t i = (size_t)n; i < len; i++) {
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	}
	buf[len++] = '\n';
	{
		size_t off = 0;
		while (off < len) {
			ssize_t w = write(STDERR_FILENO, buf + off, len - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			off += (size_t)w;
		}
	}
out:
	errno = saved_errno;
}

/* Log a printf-style message at level if it passes the threshold. */
void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/* Log at err level and exit(1). */
void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
