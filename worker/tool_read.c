/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "worker/fscheck.h"
#include "worker/tools_impl.h"

/* Longest part of one line shown; the rest is cut with a note. */
#define TOOL_READ_LINE_MAX 2000
#define TOOL_READ_DEFAULT_LIMIT 2000
/* Bytes looked at to tell a binary file (one with a NUL byte). */
#define TOOL_READ_SNIFF 8192
#define TOOL_READ_CHUNK 65536

struct tool_read_state {
	struct tools_out out;
	long long first; /* first line shown */
	long long last; /* last line shown (inclusive) */
	long long lineno; /* current line */
	long long shown; /* lines emitted */
	char line[TOOL_READ_LINE_MAX];
	size_t linelen; /* bytes kept of the current line */
	size_t linefull; /* bytes of the current line */
};

static void
tool_read_emit(struct tool_read_state *st)
{
	if (st->lineno >= st->first && st->lineno <= st->last) {
		tools_out_printf(&st->out, "%6lld\t%.*s%s\n", st->lineno,
			(int)st->linelen, st->line,
			st->linefull > st->linelen ? " [line truncated]" : "");
		st->shown++;
	}
	st->lineno++;
	st->linelen = 0;
	st->linefull = 0;
}

static void
tool_read_feed(struct tool_read_state *st, const char *p, size_t n)
{
	const char *nl;
	size_t seg, keep;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		seg = nl != NULL ? (size_t)(nl - p) : n;
		if (st->lineno >= st->first && st->lineno <= st->last &&
			st->linelen < TOOL_READ_LINE_MAX) {
			keep = TOOL_READ_LINE_MAX - st->linelen;
			if (keep > seg)
				keep = seg;
			memcpy(st->line + st->linelen, p, keep);
			st->linelen += keep;
		}
		st->linefull += seg;
		if (nl == NULL)
			return;
		/* Show "\r\n" files without the "\r". */
		if (st->linelen > 0 && st->linelen == st->linefull &&
			st->line[st->linelen - 1] == '\r')
			st->linelen--, st->linefull--;
		tool_read_emit(st);
		p += seg + 1;
		n -= seg + 1;
	}
}

/* read {path, offset?, limit?}: line-numbered text of a file. */
void
tool_read_run(
	struct tool_env *env, struct json_object *args, struct tool_result *res)
{
	struct tool_read_state *st;
	long long offset = 1, limit = TOOL_READ_DEFAULT_LIMIT, nlines;
	const char *path = NULL;
	char *abs = NULL, *err = NULL, *buf = NULL;
	uint64_t h = TOOLS_HASH_INIT;
	struct stat sb;
	bool first = true, partial = false;
	size_t nread = 0;
	ssize_t n;
	int fd;

	if (tools_arg_string(args, "path", true, &path, res) < 0 ||
		tools_arg_int(args, "offset", false, &offset, res) < 0 ||
		tools_arg_int(args, "limit", false, &limit, res) < 0)
		return;
	if (offset < 1 || limit < 1) {
		tools_result_error(res, "offset and limit must be at least 1");
		return;
	}
	fd = fscheck_open(env->scope, env->cwd, path, O_RDONLY, &abs, &err);
	if (fd < 0) {
		tools_result_error(res, "%s", err);
		free(err);
		return;
	}
	st = xcalloc(1, sizeof(*st));
	st->first = offset;
	st->last = limit > INT64_MAX - offset ? INT64_MAX : offset + limit - 1;
	st->lineno = 1;
	buf = xmalloc(TOOL_READ_CHUNK);
	for (;;) {
		n = read(fd, buf, TOOL_READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tools_result_error(res, "cannot read %s: %s", abs,
				strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (first &&
			memchr(buf, '\0',
				n < TOOL_READ_SNIFF ? (size_t)n
						    : TOOL_READ_SNIFF)) {
			tools_result_error(res,
				"%s is a binary file; read shows text files "
				"only",
				abs);
			goto out;
		}
		first = false;
		h = tools_hash(h, buf, (size_t)n);
		tool_read_feed(st, buf, (size_t)n);
		nread += (size_t)n;
		/*
		 * Past the window of a file too large to edit anyway: stop,
		 * it need not be hashed to the end.
		 */
		if (st->lineno > st->last && nread > TOOLS_FILE_MAX) {
			partial = true;
			break;
		}
	}
	if (st->linefull > 0 && !partial)
		tool_read_emit(st);
	nlines = st->lineno - 1;
	if (!partial && fstat(fd, &sb) == 0)
		tools_readset_record(env, abs, h, &sb);
	if (partial) {
		res->output = tools_out_finish(&st->out);
		res->summary = xstrfmt("read %s (lines %lld-%lld of a file "
				       "over %d MiB)",
			abs, st->first, st->first + st->shown - 1,
			TOOLS_FILE_MAX / (1024 * 1024));
	} else if (nlines == 0) {
		res->output = xstrdup("(empty file)");
		res->summary = xstrfmt("read %s (empty)", abs);
	} else if (st->shown == 0) {
		res->output = xstrfmt("(%s has %lld lines; offset %lld is past "
				      "the end)",
			abs, nlines, offset);
		res->summary = xstrfmt(
			"read %s (nothing past line %lld)", abs, nlines);
	} else {
		if (st->first + st->shown - 1 < nlines)
			tools_out_printf(&st->out,
				"(showing lines %lld-%lld of %lld)\n",
				st->first, st->first + st->shown - 1, nlines);
		res->output = tools_out_finish(&st->out);
		res->summary = xstrfmt("read %s (lines %lld-%lld of %lld)", abs,
			st->first, st->first + st->shown - 1, nlines);
	}
out:
	tools_out_clear(&st->out);
	free(st);
	free(buf);
	free(abs);
	close(fd);
}
