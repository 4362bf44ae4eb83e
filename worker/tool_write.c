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
tool_write_count_lines(const char *s, size_t len)
{
	size_t n = 0, i;

	for (i = 0; i < len; i++)
		if (s[i] == '\n')
			n++;
	if (len > 0 && s[len - 1] != '\n')
		n++;
	return n;
}

/* write {path, content}: create a file or replace a read, unchanged one. */
void
tool_write_run(
	struct tool_env *env, struct json_object *args, struct tool_result *res)
{
	const char *path = NULL, *content = NULL;
	char *abs = NULL, *err = NULL;
	struct json_object *v;
	bool created = false;
	struct stat st;
	size_t len;
	int fd, r;

	if (tools_arg_string(args, "path", true, &path, res) < 0 ||
		tools_arg_string(args, "content", true, &content, res) < 0)
		return;
	json_object_object_get_ex(args, "content", &v);
	len = (size_t)json_object_get_string_len(v);
	fd = fscheck_open(env->scope, env->cwd, path, O_RDWR, &abs, &err);
	if (fd == -ENOENT) {
		free(err);
		err = NULL;
		fd = fscheck_create(
			env->scope, env->cwd, path, 0666, &abs, &err);
		created = true;
	}
	if (fd < 0) {
		tools_result_error(res, "%s", err);
		free(err);
		return;
	}
	if (!created && tools_readset_verify(env, abs, fd, NULL, NULL, res) < 0)
		goto out;
	r = tools_write_fd(fd, content, len);
	if (r < 0) {
		tools_result_error(
			res, "cannot write %s: %s", abs, strerror(-r));
		goto out;
	}
	if (fstat(fd, &st) == 0)
		tools_readset_record(env, abs,
			tools_hash(TOOLS_HASH_INIT, content, len), &st);
	res->summary = xstrfmt("wrote %zu bytes to %s%s", len, abs,
		created ? " (new file)" : "");
	res->output = xstrfmt("%s %s: %zu bytes, %zu lines.",
		created ? "Created" : "Replaced", abs, len,
		tool_write_count_lines(content, len));
out:
	free(abs);
	close(fd);
}
