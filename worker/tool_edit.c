/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "worker/fscheck.h"
#include "worker/tools_impl.h"

static size_t
tool_edit_strlen(struct json_object *args, const char *name)
{
	struct json_object *v;

	json_object_object_get_ex(args, name, &v);
	return (size_t)json_object_get_string_len(v);
}

/* edit {path, old, new, replace_all?}: exact text replacement. */
void
tool_edit_run(
	struct tool_env *env, struct json_object *args, struct tool_result *res)
{
	const char *path = NULL, *old = NULL, *new = NULL, *p, *hit, *end;
	char *abs = NULL, *err = NULL, *data = NULL, *out = NULL, *o;
	size_t len = 0, oldlen, newlen, count = 0, outlen, line = 1;
	bool all = false;
	struct stat st;
	int fd, r;

	if (tools_arg_string(args, "path", true, &path, res) < 0 ||
		tools_arg_string(args, "old", true, &old, res) < 0 ||
		tools_arg_string(args, "new", true, &new, res) < 0 ||
		tools_arg_bool(args, "replace_all", false, &all, res) < 0)
		return;
	oldlen = tool_edit_strlen(args, "old");
	newlen = tool_edit_strlen(args, "new");
	if (oldlen == 0) {
		tools_result_error(res, "argument \"old\" must not be empty");
		return;
	}
	if (oldlen == newlen && memcmp(old, new, oldlen) == 0) {
		tools_result_error(res, "\"old\" and \"new\" are the same");
		return;
	}
	fd = fscheck_open(env->scope, env->cwd, path, O_RDWR, &abs, &err);
	if (fd < 0) {
		if (fd == -ENOENT)
			tools_result_error(res,
				"%s (use the write tool to create a file)",
				err);
		else
			tools_result_error(res, "%s", err);
		free(err);
		return;
	}
	if (tools_readset_verify(env, abs, fd, &data, &len, res) < 0)
		goto out;
	end = data + len;
	for (p = data; (hit = memmem(p, (size_t)(end - p), old, oldlen));
		p = hit + oldlen) {
		if (count == 0) {
			for (o = data; o < hit; o++)
				if (*o == '\n')
					line++;
		}
		count++;
	}
	if (count == 0) {
		tools_result_error(res,
			"the \"old\" text was not found in %s (it must match "
			"exactly, including whitespace)",
			abs);
		goto out;
	}
	if (count > 1 && !all) {
		tools_result_error(res,
			"the \"old\" text matches %zu times in %s; include "
			"more surrounding text to make it unique, or set "
			"replace_all",
			count, abs);
		goto out;
	}
	outlen = len - count * oldlen + count * newlen;
	out = xmalloc(outlen + 1);
	o = out;
	for (p = data; (hit = memmem(p, (size_t)(end - p), old, oldlen));
		p = hit + oldlen) {
		memcpy(o, p, (size_t)(hit - p));
		o += hit - p;
		memcpy(o, new, newlen);
		o += newlen;
	}
	memcpy(o, p, (size_t)(end - p));
	r = tools_write_fd(fd, out, outlen);
	if (r < 0) {
		tools_result_error(
			res, "cannot write %s: %s", abs, strerror(-r));
		goto out;
	}
	if (fstat(fd, &st) == 0)
		tools_readset_record(env, abs,
			tools_hash(TOOLS_HASH_INIT, out, outlen), &st);
	res->summary = xstrfmt("edited %s (%zu replacement%s)", abs, count,
		count == 1 ? "" : "s");
	res->output = xstrfmt("Edited %s: %zu replacement%s, the first at "
			      "line %zu.",
		abs, count, count == 1 ? "" : "s", line);
out:
	free(out);
	free(data);
	free(abs);
	close(fd);
}
