/* SPDX-License-Identifier: ISC */
#ifndef WORKER_TOOLS_IMPL_H
#define WORKER_TOOLS_IMPL_H

/*
 * Private interface between tools.c (table, arguments, output cap,
 * read-before-write set, runs) and the tool_<name>.c files.  Not for the
 * rest of the worker: use tools.h.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "worker/tools.h"

struct json_object;

/* Bounded output: the first TOOL_OUTPUT_MAX bytes are kept, the rest
 * counted.  Zero-initialise. */
struct tools_out {
	char *buf;
	size_t len;
	size_t cap;
	size_t total;
};

void tools_out_add(struct tools_out *out, const void *data, size_t len);
void tools_out_printf(struct tools_out *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* True once more than TOOL_OUTPUT_MAX bytes were offered. */
bool tools_out_full(const struct tools_out *out);
/* Valid UTF-8 text of what was kept plus the truncation note (caller
 * frees); out is reset. */
char *tools_out_finish(struct tools_out *out);
void tools_out_clear(struct tools_out *out);

/* Set res to a tool error: summary and output both carry the message. */
void tools_result_error(struct tool_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Copy of text made valid UTF-8 (bad bytes and NULs become U+FFFD). */
char *tools_utf8_clean(const char *data, size_t len);

/*
 * Argument getters: on a missing required argument or a wrong type they
 * set a tool error in res and return -EINVAL; an absent optional argument
 * leaves *ret untouched and returns 0.  Strings are borrowed from args.
 */
int tools_arg_string(struct json_object *args, const char *name, bool required,
	const char **ret, struct tool_result *res);
int tools_arg_int(struct json_object *args, const char *name, bool required,
	long long *ret, struct tool_result *res);
int tools_arg_bool(struct json_object *args, const char *name, bool required,
	bool *ret, struct tool_result *res);

/* FNV-1a 64 of data, continuing from h (start with TOOLS_HASH_INIT). */
#define TOOLS_HASH_INIT 0xcbf29ce484222325ULL
uint64_t tools_hash(uint64_t h, const void *data, size_t len);

/* Read-before-write set, keyed by the normalised path. */
void tools_readset_record(struct tool_env *env, const char *path, uint64_t hash,
	const struct stat *st);
/*
 * Check that path was read in this session and that fd (open on it) still
 * has the recorded content.  On success returns 0 and, if ret_data is not
 * NULL, the file's whole content (caller frees) in *ret_data and *ret_len.
 * On failure sets a tool error in res and returns a negative errno.
 */
int tools_readset_verify(struct tool_env *env, const char *path, int fd,
	char **ret_data, size_t *ret_len, struct tool_result *res);

/* Whole content of a regular file fd (from offset 0), at most max bytes:
 * -EFBIG beyond. */
int tools_read_fd(int fd, size_t max, char **ret_data, size_t *ret_len);
/* Replace the content of fd with data (truncate + write). */
int tools_write_fd(int fd, const void *data, size_t len);

/* abs relative to the pod cwd when it lies beneath it (points into abs). */
const char *tools_display_path(const struct tool_env *env, const char *abs);

/* Largest file read whole (edit, write's check). */
#define TOOLS_FILE_MAX (32 * 1024 * 1024)

/* The synchronous tools fill res. */
void tool_read_run(struct tool_env *env, struct json_object *args,
	struct tool_result *res);
void tool_write_run(struct tool_env *env, struct json_object *args,
	struct tool_result *res);
void tool_edit_run(struct tool_env *env, struct json_object *args,
	struct tool_result *res);
void tool_glob_run(struct tool_env *env, struct json_object *args,
	struct tool_result *res);
void tool_grep_run(struct tool_env *env, struct json_object *args,
	struct tool_result *res);

/*
 * Walk the tree below root (an absolute normalised directory, rootfd open
 * on it through fscheck; taken over and closed) without following
 * symlinks, calling cb for every entry whose own path has read access in
 * env's scope; entries of a directory come in name order.  Directories
 * without read access are entered only when a rule beneath them grants
 * some.  rel is the path relative to root, dirfd the entry's directory.
 * cb returns 0 to go on, TOOL_WALK_SKIP to not descend into this
 * directory, TOOL_WALK_STOP to end the walk.  Returns 1 if the walk was
 * cut short by the entry bound, else 0.
 */
#define TOOL_WALK_SKIP 1
#define TOOL_WALK_STOP 2
#define TOOL_WALK_MAX_ENTRIES 200000
#define TOOL_WALK_MAX_DEPTH 64
typedef int (*tool_glob_walk_cb)(void *arg, const char *abs, const char *rel,
	int dirfd, const char *name, bool is_dir);
int tool_glob_walk(struct tool_env *env, int rootfd, const char *root,
	tool_glob_walk_cb cb, void *arg);
/* Match a slash-separated path against a pattern with ** components. */
bool tool_glob_match(const char *pattern, const char *path);

/* bash runs asynchronously. */
struct tool_bash;
typedef void (*tool_bash_done_cb)(void *arg);
/*
 * Start a bash run; on an argument or start error sets res and returns
 * NULL.  Otherwise fills res when the command ended and calls done (from
 * the event loop).
 */
struct tool_bash *tool_bash_start(struct tool_env *env,
	struct json_object *args, struct tool_result *res,
	tool_bash_done_cb done, void *arg);
/* Kill the process group; no done callback afterwards. */
void tool_bash_cancel(struct tool_bash *bash);
/* Kill and reap whatever cancelled runs are still dying (env teardown). */
void tool_bash_reap_all(struct tool_env *env);

#endif
