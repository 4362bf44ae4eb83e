/* SPDX-License-Identifier: ISC */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdarg.h>

/*
 * Logging to stderr with the "<N>" priority prefix that journald (and
 * systemd's stderr capture) understands: <3> err, <4> warning, <5> notice,
 * <6> info, <7> debug.  The threshold comes from PODVISOR_LOG
 * (err|warn|notice|info|debug, default info).  Secrets are never passed
 * to these functions: callers log names, never keys or headers.
 */

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/* Set the program tag and read PODVISOR_LOG. The tag is borrowed. */
void log_init(const char *tag);
/* Override the threshold (tests, --verbose). */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "err", "warn", "notice", "info", "debug"; -EINVAL otherwise. */
int log_level_parse(const char *s, enum log_level *ret_level);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* Log at err level and exit(1). Only before the event loop runs. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

#endif
