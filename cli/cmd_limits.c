/* SPDX-License-Identifier: ISC */
/*
 * podvisor spawn --memory SIZE --pids N --cpu-weight W: the spawn
 * param "limits" (docs/isolation.md "Resource limits"); podvisord
 * checks the values against its cgroups and the parent's limits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "common/cgroup2.h"
#include "common/xmalloc.h"

int
cli_limits_opt(
	struct json_object **limits, int opt, const char *arg, char **reterr)
{
	const char *key;
	int64_t v;
	char *end;
	long long n;

	if (opt == 'Y') {
		key = "memory";
		if (cgroup2_parse_size(arg, &v) < 0 || v == 0) {
			*reterr = xstrfmt("--memory is a size (bytes, 512M, "
					  "2G), not '%s'",
				arg);
			return -EINVAL;
		}
	} else {
		key = opt == 'P' ? "pids" : "cpu_weight";
		errno = 0;
		n = strtoll(arg, &end, 10);
		if (errno != 0 || end == arg || *end != '\0' || n < 1 ||
			(opt != 'P' && n > 10000)) {
			*reterr = xstrfmt("--%s is %s, not '%s'",
				opt == 'P' ? "pids" : "cpu-weight",
				opt == 'P' ? "a positive number"
					   : "a weight from 1 to 10000",
				arg);
			return -EINVAL;
		}
		v = n;
	}
	if (*limits == NULL)
		*limits = json_object_new_object();
	json_object_object_add(*limits, key, json_object_new_int64(v));
	return 0;
}

/* text without its trailing "; " CG2_FIX: doctor prints the fix apart. */
static char *
cli_limits_no_fix(const char *text)
{
	size_t n = strlen(text), f = strlen("; " CG2_FIX);

	if (n >= f && strcmp(text + n - f, "; " CG2_FIX) == 0)
		return xstrndup(text, n - f);
	return xstrdup(text);
}

/* doctor: the "cgroups" object of podvisord's hello, or a local probe. */
void
cli_limits_doctor(struct json_object *hello_cgroups,
	void (*line)(void *arg, int level, const char *fix, const char *text),
	void *arg)
{
	struct cgroup2_info ci;
	struct json_object *v, *a;
	char *text, *names = NULL, *t;
	size_t i;

	if (hello_cgroups != NULL) {
		if (json_object_object_get_ex(hello_cgroups, "available", &v) &&
			json_object_get_boolean(v)) {
			json_object_object_get_ex(
				hello_cgroups, "controllers", &a);
			for (i = 0;
				a != NULL && i < json_object_array_length(a);
				i++) {
				t = xstrfmt("%s%s%s", names ? names : "",
					names ? " " : "",
					json_object_get_string(
						json_object_array_get_idx(
							a, i)));
				free(names);
				names = t;
			}
			json_object_object_get_ex(hello_cgroups, "root", &v);
			text = xstrfmt("cgroups: each pod runs in %s/pod-NAME; "
				       "limits can use: %s",
				json_object_get_string(v),
				names != NULL ? names : "no controller");
			line(arg,
				names != NULL && strstr(names, "memory") &&
						strstr(names, "pids") &&
						strstr(names, "cpu")
					? 0
					: 1,
				names != NULL && strstr(names, "memory") &&
						strstr(names, "pids") &&
						strstr(names, "cpu")
					? NULL
					: CG2_FIX,
				text);
			free(text);
			free(names);
			return;
		}
		json_object_object_get_ex(hello_cgroups, "error", &v);
		t = cli_limits_no_fix(
			v != NULL ? json_object_get_string(v) : "unknown");
		text = xstrfmt("no resource limits (podvisord says): %s", t);
		free(t);
		line(arg, 1, CG2_FIX, text);
		free(text);
		return;
	}
	/* No daemon to ask: what one started from this shell would find. */
	cgroup2_probe(getenv("PODVISOR_CGROUP_ROOT"), &ci);
	if (ci.root == NULL) {
		t = cli_limits_no_fix(ci.error);
		text = xstrfmt("no resource limits for a podvisord started "
			       "here: %s",
			t);
		free(t);
	} else
		text = xstrfmt("cgroups: a podvisord started here would use "
			       "%s (controllers: %s)",
			ci.root, ci.controllers);
	line(arg, ci.root != NULL && (ci.avail & CG2_ALL) == CG2_ALL ? 0 : 1,
		ci.root != NULL && (ci.avail & CG2_ALL) == CG2_ALL ? NULL
								   : CG2_FIX,
		text);
	free(text);
	cgroup2_info_clear(&ci);
}
