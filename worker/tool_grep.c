/* SPDX-License-Identifier: ISC */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "worker/fscheck.h"
#include "worker/tools_impl.h"

#define TOOL_GREP_DEFAULT_MAX 200
#define TOOL_GREP_MAX_MAX 5000
/* Longest part of a matching line shown. */
#define TOOL_GREP_LINE_MAX 500
/* Files larger than this are skipped. */
#define TOOL_GREP_FILE_MAX (16 * 1024 * 1024)
/* Bytes searched in one call at most. */
#define TOOL_GREP_TOTAL_MAX (256 * 1024 * 1024)
#define TOOL_GREP_SNIFF 8192

struct tool_grep_state {
	struct tool_env *env;
	regex_t re;
	const char *glob;
	bool glob_path; /* glob has a '/': match the relative path */
	long long max;
	long long matches;
	size_t files; /* files with a match */
	size_t skipped_big; /* files over TOOL_GREP_FILE_MAX */
	size_t scanned; /* bytes searched */
	bool budget_out; /* stopped at TOOL_GREP_TOTAL_MAX */
	struct tools_out out;
};

/* Search one open regular file; returns TOOL_WALK_STOP at max. */
static int
tool_grep_file(struct tool_grep_state *gs, int fd, const char *abs)
{
	char *data = NULL, *line, *nl, *end;
	size_t len = 0, ll, sniff;
	long long lineno = 0;
	bool hit = false;
	int r;

	r = tools_read_fd(fd, TOOL_GREP_FILE_MAX, &data, &len);
	if (r == -EFBIG)
		gs->skipped_big++;
	if (r < 0)
		return 0;
	gs->scanned += len;
	sniff = len < TOOL_GREP_SNIFF ? len : TOOL_GREP_SNIFF;
	if (memchr(data, '\0', sniff) != NULL) {
		free(data);
		return 0;
	}
	end = data + len;
	for (line = data; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			nl = end; /* data[len] is NUL */
		*nl = '\0';
		lineno++;
		if (regexec(&gs->re, line, 0, NULL, 0) != 0)
			continue;
		if (!hit)
			gs->files++;
		hit = true;
		ll = (size_t)(nl - line);
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		tools_out_printf(&gs->out, "%s:%lld:%.*s%s\n",
			tools_display_path(gs->env, abs), lineno,
			(int)(ll > TOOL_GREP_LINE_MAX ? TOOL_GREP_LINE_MAX
						      : ll),
			line,
			ll > TOOL_GREP_LINE_MAX ? " [line truncated]" : "");
		if (++gs->matches >= gs->max) {
			free(data);
			return TOOL_WALK_STOP;
		}
	}
	free(data);
	if (gs->scanned > TOOL_GREP_TOTAL_MAX) {
		gs->budget_out = true;
		return TOOL_WALK_STOP;
	}
	return 0;
}

static int
tool_grep_cb(void *arg, const char *abs, const char *rel, int dirfd,
	const char *name, bool is_dir)
{
	struct tool_grep_state *gs = arg;
	struct stat st;
	int fd, r;

	if (is_dir)
		return strcmp(name, ".git") == 0 ? TOOL_WALK_SKIP : 0;
	if (gs->glob != NULL &&
		!tool_glob_match(gs->glob, gs->glob_path ? rel : name))
		return 0;
	/* dirfd was reached without following symlinks: no escape here. */
	fd = openat(dirfd, name,
		O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	r = tool_grep_file(gs, fd, abs);
	close(fd);
	return r;
}

/*
 * How big an automaton glibc's regcomp() builds for an ERE, roughly: it
 * copies a subexpression for each repetition (x+ is x x*, x{2,5} is five
 * copies), so stacked or nested repetitions grow it exponentially: "a"
 * and twenty '+' take 700 MiB and a second; twenty-five would take the
 * pod down.  A pattern whose estimate passes TOOL_GREP_MAX_COST is
 * refused before regcomp() sees it.  Syntax errors are left to regcomp().
 */
#define TOOL_GREP_MAX_COST 50000.0
#define TOOL_GREP_MAX_DUP 32768 /* above glibc's RE_DUP_MAX */

static double tool_grep_alt(const char **pp, int depth);

/* One atom: a group, a bracket expression, an escape or a character. */
static double
tool_grep_atom(const char **pp, int depth)
{
	const char *p = *pp, *e;
	double c;

	if (*p == '(') {
		*pp = p + 1;
		c = depth > 1000 ? TOOL_GREP_MAX_COST
				 : tool_grep_alt(pp, depth + 1);
		if (**pp == ')')
			(*pp)++;
		return c + 1;
	}
	if (*p == '[') {
		p += p[1] == '^' ? 2 : 1;
		if (*p == ']')
			p++;
		while (*p != '\0' && *p != ']') {
			if (*p == '[' &&
				(p[1] == ':' || p[1] == '.' || p[1] == '=')) {
				for (e = p + 2; *e != '\0' &&
					!(e[0] == p[1] && e[1] == ']');)
					e++;
				p = *e != '\0' ? e + 2 : e;
			} else
				p++;
		}
		*pp = *p == ']' ? p + 1 : p;
		return 1;
	}
	*pp = p + (*p == '\\' && p[1] != '\0' ? 2 : 1);
	return 1;
}

/* A brace's "n" or "n,m" or "n,": the copies it makes, or 0 if none. */
static long
tool_grep_brace(const char **pp)
{
	const char *p = *pp + 1;
	long n = 0, m = -1;
	bool comma = false;

	if (!isdigit((unsigned char)*p))
		return 0;
	for (; isdigit((unsigned char)*p); p++)
		n = n < TOOL_GREP_MAX_DUP ? n * 10 + (*p - '0') : n;
	if (*p == ',') {
		comma = true;
		if (isdigit((unsigned char)*++p))
			m = 0;
		for (; isdigit((unsigned char)*p); p++)
			m = m < TOOL_GREP_MAX_DUP ? m * 10 + (*p - '0') : m;
	}
	if (*p != '}')
		return 0;
	*pp = p + 1;
	n = m >= 0 ? m : comma ? n + 1 : n;
	return n < 1 ? 1 : n;
}

/*
 * An atom and the repetition applied to it.  A repetition of a
 * repetition ("a+*", "x{2}{3}") adds nothing a single one cannot say,
 * and glibc's matcher can take seconds on it even where the estimate is
 * small (fuzz_tool_args): it is refused outright.
 */
static double
tool_grep_piece(const char **pp, int depth)
{
	double c = tool_grep_atom(pp, depth);
	int reps = 0;
	long k;

	for (;; reps++) {
		if (reps > 1)
			return 2 * TOOL_GREP_MAX_COST;
		if (**pp == '*' || **pp == '?')
			c += 1;
		else if (**pp == '+')
			c = 2 * c + 1;
		else if (**pp == '{' && (k = tool_grep_brace(pp)) > 0) {
			c = c * (double)k + 1;
			continue;
		} else
			return c;
		(*pp)++;
	}
}

/* Alternatives up to a ')' or the end. */
static double
tool_grep_alt(const char **pp, int depth)
{
	double c = 0;

	while (**pp != '\0' && **pp != ')') {
		if (**pp == '|') {
			(*pp)++;
			c += 1;
		} else
			c += tool_grep_piece(pp, depth);
	}
	return c;
}

/* The estimated size of pattern's automaton (see above). */
static double
tool_grep_cost(const char *pattern)
{
	const char *p = pattern;
	double c = 0;

	while (*p != '\0') {
		c += tool_grep_alt(&p, 0);
		if (*p == ')')
			p++; /* unmatched: regcomp() says so */
	}
	return c;
}

/* grep {pattern, path?, glob?, max?}: file:line:text of matching lines. */
void
tool_grep_run(
	struct tool_env *env, struct json_object *args, struct tool_result *res)
{
	const char *pattern = NULL, *path = ".";
	char *abs = NULL, *err = NULL, ebuf[256];
	struct tool_grep_state gs;
	int fd, r, cut = 0;

	memset(&gs, 0, sizeof(gs));
	gs.max = TOOL_GREP_DEFAULT_MAX;
	if (tools_arg_string(args, "pattern", true, &pattern, res) < 0 ||
		tools_arg_string(args, "path", false, &path, res) < 0 ||
		tools_arg_string(args, "glob", false, &gs.glob, res) < 0 ||
		tools_arg_int(args, "max", false, &gs.max, res) < 0)
		return;
	if (gs.max < 1) {
		tools_result_error(res, "argument \"max\" must be at least 1");
		return;
	}
	if (gs.max > TOOL_GREP_MAX_MAX)
		gs.max = TOOL_GREP_MAX_MAX;
	gs.env = env;
	gs.glob_path = gs.glob != NULL && strchr(gs.glob, '/') != NULL;
	if (tool_grep_cost(pattern) > TOOL_GREP_MAX_COST) {
		tools_result_error(res,
			"pattern too complex: its repetitions would expand to "
			"more than %.0f states; write a stacked or nested "
			"repetition (like a++ or (x{1,50}){1,50}) once",
			TOOL_GREP_MAX_COST);
		return;
	}
	r = regcomp(&gs.re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB);
	if (r != 0) {
		regerror(r, &gs.re, ebuf, sizeof(ebuf));
		tools_result_error(res, "invalid regular expression: %s", ebuf);
		return;
	}
	fd = fscheck_open(
		env->scope, env->cwd, path, O_RDONLY | O_DIRECTORY, &abs, &err);
	if (fd == -ENOTDIR) {
		free(err);
		err = NULL;
		fd = fscheck_open(
			env->scope, env->cwd, path, O_RDONLY, &abs, &err);
		if (fd >= 0) {
			tool_grep_file(&gs, fd, abs);
			close(fd);
		}
	} else if (fd >= 0)
		cut = tool_glob_walk(env, fd, abs, tool_grep_cb, &gs);
	regfree(&gs.re);
	if (fd < 0) {
		tools_result_error(res, "%s", err);
		free(err);
		return;
	}
	if (gs.matches >= gs.max)
		tools_out_printf(&gs.out,
			"[stopped after %lld matches (max)]\n", gs.max);
	if (gs.skipped_big > 0)
		tools_out_printf(&gs.out,
			"[%zu files over %d MiB were not searched]\n",
			gs.skipped_big, TOOL_GREP_FILE_MAX / (1024 * 1024));
	if (gs.budget_out)
		tools_out_printf(&gs.out,
			"[search stopped after %d MiB of files; narrow the "
			"path or glob]\n",
			TOOL_GREP_TOTAL_MAX / (1024 * 1024));
	if (cut)
		tools_out_printf(&gs.out,
			"[search stopped after %d entries; narrow the path "
			"or glob]\n",
			TOOL_WALK_MAX_ENTRIES);
	if (gs.matches == 0)
		tools_out_printf(
			&gs.out, "no matches for %s in %s\n", pattern, abs);
	res->output = tools_out_finish(&gs.out);
	res->summary = xstrfmt("%lld match%s in %zu file%s", gs.matches,
		gs.matches == 1 ? "" : "es", gs.files,
		gs.files == 1 ? "" : "s");
	free(abs);
}
