/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "worker/landlock.h"
#include "common/mountns.h"
#include "worker/provider.h"
#include "worker/tools.h"
#include "worker/tools_impl.h"

/* Bound on the paths remembered by the read-before-write set. */
#define TOOLS_READSET_MAX 4096

struct tools_readent {
	char *path;
	uint64_t hash;
	off_t size;
	struct timespec mtime;
};

struct tool_readset {
	struct tools_readent *v;
	size_t n;
};

struct tool_run {
	struct tool_env *env;
	tool_done_cb cb;
	void *arg;
	struct tool_result res;
	struct event *ev; /* deferred completion of a sync tool */
	struct tool_bash *bash; /* running bash, NULL otherwise */
};

typedef void (*tools_sync_fn)(
	struct tool_env *, struct json_object *, struct tool_result *);

static const struct tools_entry {
	struct llm_tool_def def;
	tools_sync_fn run; /* NULL: bash */
} tools_table[] = {
	{ { "bash",
		  "Run a shell command with /bin/bash -c in the pod's working "
		  "directory. stdin is /dev/null; stdout and stderr are "
		  "returned together (first 64 KiB). Writes are confined to "
		  "the pod's write scope; bash cannot create new entries "
		  "directly in a directory that contains a child pod's area: "
		  "use the write tool there. The process group is killed "
		  "after timeout_s seconds (default 120, max 600).",
		  "{\"type\":\"object\",\"properties\":{"
		  "\"command\":{\"type\":\"string\",\"description\":"
		  "\"The shell command to run.\"},"
		  "\"timeout_s\":{\"type\":\"integer\",\"minimum\":1,"
		  "\"maximum\":600,\"description\":"
		  "\"Seconds before the command is killed (default 120).\"}},"
		  "\"required\":[\"command\"]}" },
		NULL },
	{ { "edit",
		  "Replace the exact text old with new in a file. old must "
		  "occur exactly once unless replace_all is true. The file must "
		  "have been read with the read tool in this session and be "
		  "unchanged since.",
		  "{\"type\":\"object\",\"properties\":{"
		  "\"path\":{\"type\":\"string\",\"description\":"
		  "\"File path, absolute or relative to the pod cwd.\"},"
		  "\"old\":{\"type\":\"string\",\"description\":"
		  "\"Exact text to replace.\"},"
		  "\"new\":{\"type\":\"string\",\"description\":"
		  "\"Replacement text.\"},"
		  "\"replace_all\":{\"type\":\"boolean\",\"description\":"
		  "\"Replace every occurrence (default false).\"}},"
		  "\"required\":[\"path\",\"old\",\"new\"]}" },
		tool_edit_run },
	{ { "glob",
		  "Find files by name pattern (shell wildcards, ** matches any "
		  "number of directories), e.g. src/**/*.c. Returns matching "
		  "paths sorted by name.",
		  "{\"type\":\"object\",\"properties\":{"
		  "\"pattern\":{\"type\":\"string\",\"description\":"
		  "\"Glob pattern, relative to path or absolute.\"},"
		  "\"path\":{\"type\":\"string\",\"description\":"
		  "\"Directory to search (default: the pod cwd).\"}},"
		  "\"required\":[\"pattern\"]}" },
		tool_glob_run },
	{ { "grep",
		  "Search file contents with a POSIX extended regular "
		  "expression. Prints file:line:text for each matching line; "
		  "binary files are skipped.",
		  "{\"type\":\"object\",\"properties\":{"
		  "\"pattern\":{\"type\":\"string\",\"description\":"
		  "\"POSIX extended regular expression.\"},"
		  "\"path\":{\"type\":\"string\",\"description\":"
		  "\"File or directory to search (default: the pod cwd).\"},"
		  "\"glob\":{\"type\":\"string\",\"description\":"
		  "\"Only search files whose name (or relative path, if it "
		  "contains /) matches this glob.\"},"
		  "\"max\":{\"type\":\"integer\",\"minimum\":1,\"description\":"
		  "\"Maximum number of matching lines (default 200).\"}},"
		  "\"required\":[\"pattern\"]}" },
		tool_grep_run },
	{ { "read",
		  "Read a text file. Lines are numbered like cat -n. offset is "
		  "the first line to show (1-based), limit the number of "
		  "lines.",
		  "{\"type\":\"object\",\"properties\":{"
		  "\"path\":{\"type\":\"string\",\"description\":"
		  "\"File path, absolute or relative to the pod cwd.\"},"
		  "\"offset\":{\"type\":\"integer\",\"minimum\":1,"
		  "\"description\":\"First line to show (default 1).\"},"
		  "\"limit\":{\"type\":\"integer\",\"minimum\":1,"
		  "\"description\":\"Number of lines to show (default 2000).\"}},"
		  "\"required\":[\"path\"]}" },
		tool_read_run },
	{ { "write",
		  "Write content to a file, creating it and its parent "
		  "directories if needed. An existing file must have been read "
		  "with the read tool in this session and be unchanged since.",
		  "{\"type\":\"object\",\"properties\":{"
		  "\"path\":{\"type\":\"string\",\"description\":"
		  "\"File path, absolute or relative to the pod cwd.\"},"
		  "\"content\":{\"type\":\"string\",\"description\":"
		  "\"The complete new content of the file.\"}},"
		  "\"required\":[\"path\",\"content\"]}" },
		tool_write_run },
};

#define TOOLS_N (sizeof(tools_table) / sizeof(tools_table[0]))

static struct llm_tool_def tools_defs[TOOLS_N];

/* Definitions of the built-in tools for the provider request (static). */
const struct llm_tool_def *
tools_builtin_defs(size_t *ret_n)
{
	size_t i;

	for (i = 0; i < TOOLS_N; i++)
		tools_defs[i] = tools_table[i].def;
	*ret_n = TOOLS_N;
	return tools_defs;
}

static const struct tools_entry *
tools_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < TOOLS_N; i++)
		if (strcmp(tools_table[i].def.name, name) == 0)
			return &tools_table[i];
	return NULL;
}

/* True if name is one of the built-in tools. */
bool
tools_is_builtin(const char *name)
{
	return tools_find(name) != NULL;
}

/* Free the strings of res and zero it. */
void
tool_result_clear(struct tool_result *res)
{
	if (res == NULL)
		return;
	free(res->summary);
	free(res->output);
	memset(res, 0, sizeof(*res));
}

/* Set res to a tool error: summary and output both carry the message. */
void
tools_result_error(struct tool_result *res, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	tool_result_clear(res);
	res->summary = msg;
	res->output = xstrdup(msg);
	res->is_error = true;
}

/* Set up env for a pod: no scope until the worker sets env->scope. */
void
tool_env_init(struct tool_env *env, struct event_base *base, const char *cwd)
{
	memset(env, 0, sizeof(*env));
	env->base = base;
	env->cwd = cwd;
	env->bash_timeout_default_s = 120;
	env->landlock_abi = landlock_abi();
	env->landlock = env->landlock_abi > 0;
	env->mountns = -1;
	env->oom_seen = -1;
	env->readset = xcalloc(1, sizeof(*env->readset));
}

/* Free the read set and reap cancelled bash runs. */
void
tool_env_clear(struct tool_env *env)
{
	size_t i;

	if (env == NULL)
		return;
	tool_bash_reap_all(env);
	if (env->readset != NULL) {
		for (i = 0; i < env->readset->n; i++)
			free(env->readset->v[i].path);
		free(env->readset->v);
		free(env->readset);
		env->readset = NULL;
	}
}

/* The greeting's bash_confinement: "landlock" or "none". */
const char *
tools_bash_confinement(const struct tool_env *env)
{
	return env->landlock ? "landlock" : "none";
}

/* Does bash run under read-only mounts (common/mountns.h)?  Probes once. */
bool
tools_bash_mountns(struct tool_env *env)
{
	if (env->mountns < 0)
		env->mountns = mountns_available();
	return env->mountns > 0;
}

/* abs relative to the pod cwd when it lies beneath it. */
const char *
tools_display_path(const struct tool_env *env, const char *abs)
{
	size_t n;

	if (env->cwd == NULL)
		return abs;
	n = strlen(env->cwd);
	if (n > 1 && strncmp(abs, env->cwd, n) == 0 && abs[n] == '/' &&
		abs[n + 1] != '\0')
		return abs + n + 1;
	return abs;
}

/* FNV-1a 64 of data, continuing from h. */
uint64_t
tools_hash(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static struct tools_readent *
tools_readset_find(struct tool_env *env, const char *path)
{
	size_t i;

	if (env->readset == NULL)
		return NULL;
	for (i = 0; i < env->readset->n; i++)
		if (strcmp(env->readset->v[i].path, path) == 0)
			return &env->readset->v[i];
	return NULL;
}

/* Remember that path was read with this content hash and stat. */
void
tools_readset_record(struct tool_env *env, const char *path, uint64_t hash,
	const struct stat *st)
{
	struct tool_readset *rs = env->readset;
	struct tools_readent *e;

	if (rs == NULL)
		return;
	e = tools_readset_find(env, path);
	if (e == NULL) {
		if (rs->n == TOOLS_READSET_MAX) {
			/* Forget the oldest entry. */
			free(rs->v[0].path);
			memmove(&rs->v[0], &rs->v[1],
				(rs->n - 1) * sizeof(rs->v[0]));
			rs->n--;
		}
		rs->v = xreallocarray(rs->v, rs->n + 1, sizeof(rs->v[0]));
		e = &rs->v[rs->n++];
		e->path = xstrdup(path);
	}
	e->hash = hash;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
}

/* Check path was read and is unchanged; optionally return its content. */
int
tools_readset_verify(struct tool_env *env, const char *path, int fd,
	char **ret_data, size_t *ret_len, struct tool_result *res)
{
	struct tools_readent *e;
	struct stat st;
	char *data;
	size_t len;
	int r;

	e = tools_readset_find(env, path);
	if (e == NULL) {
		tools_result_error(res,
			"%s has not been read in this session; read it with "
			"the read tool before changing it",
			path);
		return -EPERM;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		tools_result_error(
			res, "cannot stat %s: %s", path, strerror(-r));
		return r;
	}
	if (st.st_size != e->size)
		goto changed;
	r = tools_read_fd(fd, TOOLS_FILE_MAX, &data, &len);
	if (r == -EFBIG) {
		tools_result_error(res,
			"%s is too large to change (over %d MiB)", path,
			TOOLS_FILE_MAX / (1024 * 1024));
		return r;
	}
	if (r < 0) {
		tools_result_error(
			res, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	if (tools_hash(TOOLS_HASH_INIT, data, len) != e->hash) {
		free(data);
		goto changed;
	}
	if (ret_data != NULL) {
		*ret_data = data;
		*ret_len = len;
	} else
		free(data);
	return 0;
changed:
	tools_result_error(res,
		"%s changed since it was last read; read it again before "
		"changing it",
		path);
	return -ESTALE;
}

/* Whole content of a regular file fd from offset 0, at most max bytes. */
int
tools_read_fd(int fd, size_t max, char **ret_data, size_t *ret_len)
{
	size_t len = 0, cap = 8192;
	char *buf = xmalloc(cap + 1);
	ssize_t n;

	for (;;) {
		if (len == cap) {
			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			buf = xreallocarray(buf, cap + 1, 1);
		}
		n = pread(fd, buf + len, cap - len, (off_t)len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		return -EFBIG;
	}
	buf[len] = '\0';
	*ret_data = buf;
	*ret_len = len;
	return 0;
}

/* Replace the content of fd with data (truncate + write). */
int
tools_write_fd(int fd, const void *data, size_t len)
{
	const char *p = data;
	size_t off = 0;
	ssize_t n;

	if (ftruncate(fd, 0) < 0)
		return -errno;
	while (off < len) {
		n = pwrite(fd, p + off, len - off, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	return 0;
}

/* Keep the first TOOL_OUTPUT_MAX bytes of what is offered, count all. */
void
tools_out_add(struct tools_out *out, const void *data, size_t len)
{
	size_t keep = 0;

	if (out->len < TOOL_OUTPUT_MAX)
		keep = TOOL_OUTPUT_MAX - out->len;
	if (keep > len)
		keep = len;
	if (keep > 0) {
		if (out->len + keep > out->cap) {
			out->cap = out->cap == 0 ? 4096 : out->cap;
			while (out->cap < out->len + keep)
				out->cap *= 2;
			if (out->cap > TOOL_OUTPUT_MAX)
				out->cap = TOOL_OUTPUT_MAX;
			out->buf = xreallocarray(out->buf, out->cap, 1);
		}
		memcpy(out->buf + out->len, data, keep);
		out->len += keep;
	}
	out->total += len;
}

/* printf into out. */
void
tools_out_printf(struct tools_out *out, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	tools_out_add(out, s, (size_t)n);
	free(s);
}

/* True once more than TOOL_OUTPUT_MAX bytes were offered. */
bool
tools_out_full(const struct tools_out *out)
{
	return out->total > TOOL_OUTPUT_MAX;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if bad. */
static size_t
tools_utf8_seq(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (p[0] < 0x80)
		return p[0] == 0 ? 0 : 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		(len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* Copy of text made valid UTF-8 (bad bytes and NULs become U+FFFD). */
char *
tools_utf8_clean(const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data;
	char *s = xmalloc(len * 3 + 1), *o = s;
	size_t i = 0, n;

	while (i < len) {
		n = tools_utf8_seq(p + i, len - i);
		if (n == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(o, p + i, n);
		o += n;
		i += n;
	}
	*o = '\0';
	return s;
}

/* Valid UTF-8 text of what was kept plus the truncation note. */
char *
tools_out_finish(struct tools_out *out)
{
	size_t len = out->len, i;
	char *text, *s;

	if (out->total > out->len) {
		/* Do not end in the middle of a UTF-8 sequence. */
		for (i = 0; i < 4 && i < len; i++) {
			unsigned char c = (unsigned char)out->buf[len - 1 - i];
			size_t need;

			if ((c & 0xc0) == 0x80)
				continue;
			if (c >= 0xc0) {
				need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
				if (need > i + 1)
					len = len - 1 - i;
			}
			break;
		}
	}
	text = tools_utf8_clean(out->buf != NULL ? out->buf : "", len);
	if (out->total > out->len) {
		s = xstrfmt("%s%s[output truncated: %zu bytes total, showing "
			    "the first %zu]",
			text,
			len > 0 && text[strlen(text) - 1] != '\n' ? "\n" : "",
			out->total, len);
		free(text);
		text = s;
	}
	tools_out_clear(out);
	return text;
}

/* Forget what out holds. */
void
tools_out_clear(struct tools_out *out)
{
	free(out->buf);
	memset(out, 0, sizeof(*out));
}

static struct json_object *
tools_arg_get(struct json_object *args, const char *name, bool required,
	enum json_type type, const char *tname, struct tool_result *res,
	int *ret_r)
{
	struct json_object *v;

	*ret_r = 0;
	if (!json_object_object_get_ex(args, name, &v) || v == NULL) {
		if (required) {
			tools_result_error(
				res, "missing argument \"%s\"", name);
			*ret_r = -EINVAL;
		}
		return NULL;
	}
	if (!json_object_is_type(v, type)) {
		tools_result_error(
			res, "argument \"%s\" must be %s", name, tname);
		*ret_r = -EINVAL;
		return NULL;
	}
	return v;
}

/* A string argument (borrowed). */
int
tools_arg_string(struct json_object *args, const char *name, bool required,
	const char **ret, struct tool_result *res)
{
	struct json_object *v;
	int r;

	v = tools_arg_get(
		args, name, required, json_type_string, "a string", res, &r);
	if (v != NULL)
		*ret = json_object_get_string(v);
	return r;
}

/* An integer argument (an integral double is accepted too). */
int
tools_arg_int(struct json_object *args, const char *name, bool required,
	long long *ret, struct tool_result *res)
{
	struct json_object *v;
	double d;
	int r;

	if (json_object_object_get_ex(args, name, &v) &&
		json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		if (d != (double)(long long)d) {
			tools_result_error(res,
				"argument \"%s\" must be an integer", name);
			return -EINVAL;
		}
		*ret = (long long)d;
		return 0;
	}
	v = tools_arg_get(
		args, name, required, json_type_int, "an integer", res, &r);
	if (v != NULL)
		*ret = json_object_get_int64(v);
	return r;
}

/* A boolean argument. */
int
tools_arg_bool(struct json_object *args, const char *name, bool required,
	bool *ret, struct tool_result *res)
{
	struct json_object *v;
	int r;

	v = tools_arg_get(
		args, name, required, json_type_boolean, "a boolean", res, &r);
	if (v != NULL)
		*ret = json_object_get_boolean(v);
	return r;
}

static struct json_object *
tools_parse_args(const char *text, struct tool_result *res)
{
	struct json_tokener *tok;
	struct json_object *obj;
	size_t len;

	if (text == NULL || *text == '\0')
		text = "{}";
	len = strlen(text);
	tok = json_tokener_new_ex(32);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	if (obj == NULL ||
		json_tokener_get_error(tok) != json_tokener_success ||
		json_tokener_get_parse_end(tok) != len) {
		json_object_put(obj);
		json_tokener_free(tok);
		tools_result_error(res,
			"the arguments are not valid JSON: expected one JSON "
			"object");
		return NULL;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		tools_result_error(res, "the arguments must be a JSON object");
		return NULL;
	}
	return obj;
}

static void
tools_run_free(struct tool_run *run)
{
	if (run->ev != NULL)
		event_free(run->ev);
	tool_result_clear(&run->res);
	free(run);
}

/* Make s valid UTF-8 in place (it may quote a path the model made up). */
static void
tools_run_clean(char **s)
{
	char *clean;

	if (*s == NULL)
		return;
	clean = tools_utf8_clean(*s, strlen(*s));
	free(*s);
	*s = clean;
}

static void
tools_run_deliver(struct tool_run *run)
{
	/* Both end up in JSON lines, which must be valid UTF-8. */
	tools_run_clean(&run->res.summary);
	tools_run_clean(&run->res.output);
	run->bash = NULL;
	run->cb(run->arg, &run->res);
	tools_run_free(run);
}

static void
tools_run_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	tools_run_deliver(arg);
}

static void
tools_run_bash_done_cb(void *arg)
{
	tools_run_deliver(arg);
}

/* Run a built-in tool; cb is called once from the event loop. */
struct tool_run *
tool_run_start(struct tool_env *env, const char *name, const char *args_json,
	tool_done_cb cb, void *arg)
{
	const struct tools_entry *t = tools_find(name);
	struct json_object *args;
	struct tool_run *run;

	if (t == NULL)
		return NULL;
	run = xcalloc(1, sizeof(*run));
	run->env = env;
	run->cb = cb;
	run->arg = arg;
	args = tools_parse_args(args_json, &run->res);
	if (args != NULL && t->run == NULL) {
		run->bash = tool_bash_start(
			env, args, &run->res, tools_run_bash_done_cb, run);
		json_object_put(args);
		if (run->bash != NULL)
			return run;
	} else if (args != NULL) {
		t->run(env, args, &run->res);
		json_object_put(args);
	}
	if (run->res.summary == NULL)
		run->res.summary =
			xstrdup(run->res.is_error ? "error" : "done");
	run->ev = event_new(env->base, -1, 0, tools_run_deferred_cb, run);
	event_active(run->ev, 0, 0);
	return run;
}

/* Cancel a run: kills a bash process group; no callback afterwards. */
void
tool_run_cancel(struct tool_run *run)
{
	if (run == NULL)
		return;
	if (run->bash != NULL)
		tool_bash_cancel(run->bash);
	tools_run_free(run);
}
