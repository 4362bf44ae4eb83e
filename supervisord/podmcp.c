/* SPDX-License-Identifier: ISC */
#include "supervisord/podmcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/podname.h"
#include "common/xmalloc.h"
#include "supervisord/conf.h"
#include "supervisord/daemon.h"

#define PODMCP_MAX 32

static const struct config_mcp *
podmcp_config(const struct daemon *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->config->nmcp; i++)
		if (strcmp(d->config->mcp[i].name, name) == 0)
			return &d->config->mcp[i];
	return NULL;
}

static struct json_object *
podmcp_inline_find(struct json_object *inl, const char *name)
{
	struct json_object *e, *v;
	size_t i, n;

	n = inl != NULL ? json_object_array_length(inl) : 0;
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(inl, i);
		if (json_object_object_get_ex(e, "name", &v) &&
			strcmp(json_object_get_string(v), name) == 0)
			return e;
	}
	return NULL;
}

/* An inline {type:"http", name, url, headers:[{name,value}]} as the
 * worker's {name, url, headers:{}}; NULL with a sentence. */
static struct json_object *
podmcp_inline_http(struct json_object *e, const char *name, char **reterr_msg)
{
	struct json_object *o, *v, *h, *a, *x, *y;
	const char *url;
	size_t i, n;

	if (!json_object_object_get_ex(e, "url", &v) ||
		!json_object_is_type(v, json_type_string) ||
		(strncmp((url = json_object_get_string(v)), "http://", 7) !=
				0 &&
			strncmp(url, "https://", 8) != 0)) {
		*reterr_msg = xstrfmt("MCP server %s needs a \"url\" that is "
				      "http:// or https://",
			name);
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "url", json_object_get(v));
	h = json_object_new_object();
	n = json_object_object_get_ex(e, "headers", &v) &&
			json_object_is_type(v, json_type_array)
		? json_object_array_length(v)
		: 0;
	for (i = 0; i < n; i++) {
		a = json_object_array_get_idx(v, i);
		if (!json_object_object_get_ex(a, "name", &x) ||
			!json_object_object_get_ex(a, "value", &y) ||
			!json_object_is_type(x, json_type_string) ||
			!json_object_is_type(y, json_type_string) ||
			json_object_get_string_len(x) == 0 ||
			strpbrk(json_object_get_string(x), ": \t\r\n") ||
			strpbrk(json_object_get_string(y), "\r\n")) {
			*reterr_msg = xstrfmt("MCP server %s: \"headers\" are "
					      "{name, value} strings, one line "
					      "each",
				name);
			json_object_put(h);
			json_object_put(o);
			return NULL;
		}
		json_object_object_add(
			h, json_object_get_string(x), json_object_get(y));
	}
	json_object_object_add(o, "headers", h);
	return o;
}

/* One inline server {name, command, args:[…], env:[{name,value}]} as
 * the worker's {name, command, args, env:{}}; NULL with a sentence. */
static struct json_object *
podmcp_inline_one(struct json_object *e, char **reterr_msg)
{
	struct json_object *o, *v, *a, *env, *x, *y;
	const char *name;
	size_t i, n;

	if (!json_object_is_type(e, json_type_object) ||
		!json_object_object_get_ex(e, "name", &v) ||
		!json_object_is_type(v, json_type_string) ||
		!mcp_name_valid(json_object_get_string(v))) {
		*reterr_msg = xstrdup("an \"mcp_servers\" entry needs a "
				      "\"name\" of letters, digits, '-' and "
				      "single '_' (at most 32)");
		return NULL;
	}
	name = json_object_get_string(v);
	if (json_object_object_get_ex(e, "type", &v) &&
		strcmp(json_object_get_string(v), "http") == 0)
		return podmcp_inline_http(e, name, reterr_msg);
	if (json_object_object_get_ex(e, "type", &v) &&
		strcmp(json_object_get_string(v), "stdio") != 0) {
		*reterr_msg = xstrfmt("MCP server %s: transport \"%s\" is not "
				      "supported (stdio or http)",
			name, json_object_get_string(v));
		return NULL;
	}
	if (!json_object_object_get_ex(e, "command", &v) ||
		!json_object_is_type(v, json_type_string) ||
		json_object_get_string_len(v) == 0) {
		*reterr_msg = xstrfmt("MCP server %s has no \"command\"", name);
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "command", json_object_get(v));
	a = json_object_new_array();
	if (json_object_object_get_ex(e, "args", &v) &&
		json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			x = json_object_array_get_idx(v, i);
			if (!json_object_is_type(x, json_type_string)) {
				*reterr_msg = xstrfmt("MCP server %s: \"args\" "
						      "must be strings",
					name);
				json_object_put(a);
				json_object_put(o);
				return NULL;
			}
			json_object_array_add(a, json_object_get(x));
		}
	}
	json_object_object_add(o, "args", a);
	env = json_object_new_object();
	if (json_object_object_get_ex(e, "env", &v) &&
		json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			a = json_object_array_get_idx(v, i);
			if (!json_object_object_get_ex(a, "name", &x) ||
				!json_object_object_get_ex(a, "value", &y) ||
				!json_object_is_type(x, json_type_string) ||
				!json_object_is_type(y, json_type_string)) {
				*reterr_msg = xstrfmt("MCP server %s: \"env\" "
						      "entries are {name, "
						      "value} strings",
					name);
				json_object_put(env);
				json_object_put(o);
				return NULL;
			}
			json_object_object_add(env, json_object_get_string(x),
				json_object_get(y));
		}
	}
	json_object_object_add(o, "env", env);
	return o;
}

static int
podmcp_inline_parse(struct daemon *d, struct json_object *inl,
	struct json_object **ret, char **reterr_msg)
{
	struct json_object *out, *o, *v;
	size_t i, n;

	n = json_object_array_length(inl);
	if (n > PODMCP_MAX) {
		*reterr_msg = xstrfmt("more than %d MCP servers", PODMCP_MAX);
		return -EINVAL;
	}
	out = json_object_new_array();
	for (i = 0; i < n; i++) {
		o = podmcp_inline_one(
			json_object_array_get_idx(inl, i), reterr_msg);
		if (o == NULL) {
			json_object_put(out);
			return -EINVAL;
		}
		json_object_object_get_ex(o, "name", &v);
		if (podmcp_inline_find(out, json_object_get_string(v)) ||
			(d != NULL &&
				podmcp_config(d, json_object_get_string(v)))) {
			*reterr_msg = xstrfmt("MCP server %s is defined twice "
					      "(config.ini or mcp_servers)",
				json_object_get_string(v));
			json_object_put(o);
			json_object_put(out);
			return -EINVAL;
		}
		json_object_array_add(out, o);
	}
	*ret = out;
	return 0;
}

/* Resolve spawn's "mcp" and "mcp_servers". */
int
podmcp_resolve(struct daemon *d, struct pod *viewer, struct json_object *names,
	struct json_object *inl, struct namelist *ret_names,
	struct json_object **ret_inline, char **reterr_msg)
{
	struct json_object *out = NULL, *v, *def;
	struct namelist l = { 0 };
	const char *name;
	size_t i, n;

	if (inl != NULL && json_object_array_length(inl) > 0) {
		if (viewer != NULL) {
			*reterr_msg = xstrdup("a pod cannot define MCP servers "
					      "(\"mcp_servers\"); name its "
					      "own in \"mcp\"");
			return -EINVAL;
		}
		if (podmcp_inline_parse(d, inl, &out, reterr_msg) < 0)
			return -EINVAL;
	}
	if (names == NULL) {
		/* The parent's, or the defaults (+ every inline server). */
		if (viewer != NULL)
			for (i = 0; i < viewer->mcp.n; i++)
				namelist_add(&l, viewer->mcp.v[i]);
		else
			for (i = 0; i < d->config->ndefault_mcp; i++)
				namelist_add(&l, d->config->default_mcp[i]);
		n = out != NULL ? json_object_array_length(out) : 0;
		for (i = 0; i < n; i++) {
			json_object_object_get_ex(
				json_object_array_get_idx(out, i), "name", &v);
			if (!namelist_has(&l, json_object_get_string(v)))
				namelist_add(&l, json_object_get_string(v));
		}
	} else {
		n = json_object_array_length(names);
		for (i = 0; i < n; i++) {
			v = json_object_array_get_idx(names, i);
			name = json_object_get_string(v);
			if (!json_object_is_type(v, json_type_string) ||
				!mcp_name_valid(name)) {
				*reterr_msg = xstrdup("\"mcp\" must be a list "
						      "of MCP server names");
				goto fail;
			}
			if (viewer != NULL &&
				!namelist_has(&viewer->mcp, name)) {
				*reterr_msg = xstrfmt("mcp: server %s is not "
						      "one of pod %s's",
					name, viewer->name);
				namelist_clear(&l);
				json_object_put(out);
				return -EPERM;
			}
			if (viewer == NULL && podmcp_config(d, name) == NULL &&
				podmcp_inline_find(out, name) == NULL) {
				*reterr_msg = xstrfmt("mcp: no MCP server %s "
						      "(add a [mcp.%s] "
						      "section to config.ini)",
					name, name);
				goto fail;
			}
			if (!namelist_has(&l, name))
				namelist_add(&l, name);
		}
	}
	if (viewer != NULL) {
		/* The child runs the parent's inline servers it names. */
		for (i = 0; i < l.n; i++) {
			def = podmcp_inline_find(viewer->mcp_inline, l.v[i]);
			if (def == NULL)
				continue;
			if (out == NULL)
				out = json_object_new_array();
			json_object_array_add(out, json_object_get(def));
		}
	}
	*ret_names = l;
	*ret_inline = out;
	return 0;
fail:
	namelist_clear(&l);
	json_object_put(out);
	return -EINVAL;
}

/* restore's "mcp_servers". */
int
podmcp_restore(struct pod *p, struct json_object *inl, char **reterr_msg)
{
	struct json_object *out = NULL;

	if (inl == NULL)
		return 0;
	if (podmcp_inline_parse(p->d, inl, &out, reterr_msg) < 0)
		return -EINVAL;
	json_object_put(p->mcp_inline);
	p->mcp_inline = out;
	return 0;
}

static void
podmcp_config_timeouts(const struct config_mcp *m, struct json_object *o)
{
	if (m->timeout_s > 0)
		json_object_object_add(
			o, "timeout_s", json_object_new_int((int)m->timeout_s));
	if (m->init_timeout_s > 0)
		json_object_object_add(o, "init_timeout_s",
			json_object_new_int((int)m->init_timeout_s));
}

/* url, headers (header_env values read now), scrub, timeouts. */
static void
podmcp_config_http(const struct config_mcp *m, struct json_object *o)
{
	struct json_object *h = json_object_new_object(), *a;
	const char *val;
	size_t i;

	json_object_object_add(o, "url", json_object_new_string(m->url));
	a = json_object_new_array();
	for (i = 0; i < m->nheaders; i++) {
		val = m->headers[i].from_env ? getenv(m->headers[i].value)
					     : m->headers[i].value;
		if (m->headers[i].from_env)
			json_object_array_add(
				a, json_object_new_string(m->headers[i].value));
		if (val == NULL) {
			log_warn("MCP server %s: header_env.%s names %s, "
				 "which is not set in podvisord's "
				 "environment",
				m->name, m->headers[i].name,
				m->headers[i].value);
			continue;
		}
		json_object_object_add(
			h, m->headers[i].name, json_object_new_string(val));
	}
	json_object_object_add(o, "headers", h);
	json_object_object_add(o, "scrub", a);
	podmcp_config_timeouts(m, o);
}

static struct json_object *
podmcp_config_json(const struct config_mcp *m)
{
	struct json_object *o = json_object_new_object(), *a, *env;
	const char *val;
	size_t i;

	json_object_object_add(o, "name", json_object_new_string(m->name));
	if (m->url != NULL) {
		podmcp_config_http(m, o);
		return o;
	}
	json_object_object_add(
		o, "command", json_object_new_string(m->command));
	a = json_object_new_array();
	for (i = 0; i < m->nargs; i++)
		json_object_array_add(a, json_object_new_string(m->args[i]));
	json_object_object_add(o, "args", a);
	env = json_object_new_object();
	for (i = 0; i < m->nenv; i++) {
		val = m->env[i].from_env ? getenv(m->env[i].value)
					 : m->env[i].value;
		if (val == NULL) {
			log_warn("MCP server %s: env_env.%s names %s, which "
				 "is not set in podvisord's environment",
				m->name, m->env[i].name, m->env[i].value);
			continue;
		}
		json_object_object_add(
			env, m->env[i].name, json_object_new_string(val));
	}
	json_object_object_add(o, "env", env);
	/* The worker drops these from the environment its tools inherit. */
	a = json_object_new_array();
	for (i = 0; i < m->nenv; i++)
		if (m->env[i].from_env)
			json_object_array_add(
				a, json_object_new_string(m->env[i].value));
	json_object_object_add(o, "scrub", a);
	podmcp_config_timeouts(m, o);
	return o;
}

/* The start config's "mcp". */
struct json_object *
podmcp_start_json(struct pod *p)
{
	struct json_object *a = json_object_new_array(), *def;
	const struct config_mcp *m;
	size_t i;

	for (i = 0; i < p->mcp.n; i++) {
		if ((def = podmcp_inline_find(p->mcp_inline, p->mcp.v[i])))
			json_object_array_add(a, json_object_get(def));
		else if ((m = podmcp_config(p->d, p->mcp.v[i])) != NULL)
			json_object_array_add(a, podmcp_config_json(m));
		else
			log_warn("pod %s: MCP server %s is defined nowhere "
				 "now (config.ini, or give mcp_servers to "
				 "restore); left out",
				p->name, p->mcp.v[i]);
	}
	return a;
}

/* p's server names. */
struct json_object *
podmcp_names_json(const struct pod *p)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < p->mcp.n; i++)
		json_object_array_add(a, json_object_new_string(p->mcp.v[i]));
	return a;
}

/* The optional "mcp" of a state file. */
int
podmcp_from_state(struct pod *p, struct json_object *o, char **reterr_msg)
{
	struct json_object *a, *e;
	size_t i, n;

	if (!json_object_object_get_ex(o, "mcp", &a) || a == NULL)
		return 0;
	if (!json_object_is_type(a, json_type_array)) {
		*reterr_msg = xstrdup("\"mcp\" is not an array");
		return -EINVAL;
	}
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (!json_object_is_type(e, json_type_string) ||
			!mcp_name_valid(json_object_get_string(e))) {
			*reterr_msg =
				xstrdup("\"mcp\" holds a bad server name");
			return -EINVAL;
		}
		namelist_add(&p->mcp, json_object_get_string(e));
	}
	return 0;
}
