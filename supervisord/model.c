/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/atomicfile.h"
#include "common/xmalloc.h"
#include "supervisord/conf.h"
#include "supervisord/conf_responses.h"
#include "supervisord/daemon.h"
#include "supervisord/fakellm.h"
#include "supervisord/model.h"

#define MODEL_DEFAULT_WINDOW 128000
#define MODEL_DEFAULT_MAX_TOKENS 8192

static const char *
model_builtin_default(const struct config_provider *p)
{
	if (p->is_fake)
		return "fake";
	if (strcmp(p->name, "anthropic") == 0 && p->scheme == SCHEME_ANTHROPIC)
		return "claude-sonnet-4-5";
	if (strcmp(p->name, "openai") == 0)
		return "gpt-4.1";
	if (p->naliases > 0)
		return p->aliases[0].model;
	return "default";
}

static const struct config_alias *
model_find_alias(const struct config *c, const char *name,
	const struct config_provider **ret_p)
{
	size_t i, j;

	for (i = 0; i < c->nproviders; i++)
		for (j = 0; j < c->providers[i].naliases; j++)
			if (strcmp(c->providers[i].aliases[j].alias, name) ==
				0) {
				*ret_p = &c->providers[i];
				return &c->providers[i].aliases[j];
			}
	return NULL;
}

static int
model_resolve_one(const struct config *c, const char *spec, int depth,
	struct model_choice *ret, char **reterr_msg)
{
	const struct config_provider *p = NULL;
	const struct config_alias *a;
	const char *slash;

	if (spec == NULL || spec[0] == '\0') {
		if (c->default_model != NULL && depth == 0)
			return model_resolve_one(
				c, c->default_model, 1, ret, reterr_msg);
		if (c->nproviders == 0) {
			*reterr_msg = xstrdup("no model provider configured");
			return -EINVAL;
		}
		p = &c->providers[0];
		spec = model_builtin_default(p);
	} else if ((a = model_find_alias(c, spec, &p)) != NULL) {
		spec = a->model;
	} else if ((slash = strchr(spec, '/')) != NULL) {
		char *pname = xstrndup(spec, (size_t)(slash - spec));

		p = conf_provider_find(c, pname);
		free(pname);
		if (p != NULL)
			spec = slash + 1;
	}
	if (p == NULL && c->default_model != NULL && depth == 0) {
		struct model_choice def = { 0 };

		/* A bare model goes to the default model's provider. */
		if (model_resolve_one(c, NULL, 0, &def, reterr_msg) != 0)
			return -EINVAL;
		p = def.provider;
		model_choice_clear(&def);
	}
	if (p == NULL) {
		if (c->nproviders == 0) {
			*reterr_msg = xstrdup("no model provider configured");
			return -EINVAL;
		}
		p = &c->providers[0];
	}
	if (spec[0] == '\0') {
		*reterr_msg = xstrdup("empty model name");
		return -EINVAL;
	}
	ret->provider = p;
	ret->model = xstrdup(spec);
	ret->resolved = xstrfmt("%s/%s", p->name, spec);
	return 0;
}

/* Resolve a spawn's model spec against the config. */
int
model_resolve(struct daemon *d, const char *spec, struct model_choice *ret,
	char **reterr_msg)
{
	memset(ret, 0, sizeof(*ret));
	if (spec != NULL && strlen(spec) > 256) {
		*reterr_msg = xstrdup("model name too long");
		return -EINVAL;
	}
	return model_resolve_one(d->config, spec, 0, ret, reterr_msg);
}

/* Free the strings of a choice. */
void
model_choice_clear(struct model_choice *mc)
{
	free(mc->model);
	free(mc->resolved);
	mc->model = mc->resolved = NULL;
	mc->provider = NULL;
}

static char *
model_read_key(const struct config_provider *p, char **reterr_msg)
{
	char *buf = NULL;
	size_t len;
	const char *v;

	if (p->api_key_env != NULL) {
		v = getenv(p->api_key_env);
		if (v == NULL || v[0] == '\0') {
			*reterr_msg = xstrfmt("provider %s: $%s is not set",
				p->name, p->api_key_env);
			return NULL;
		}
		return xstrdup(v);
	}
	if (p->api_key_file != NULL) {
		if (atomicfile_read(p->api_key_file, 64 * 1024, &buf, &len) <
			0) {
			*reterr_msg = xstrfmt("provider %s: cannot read %s",
				p->name, p->api_key_file);
			return NULL;
		}
		while (len > 0 &&
			(buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
				buf[len - 1] == ' '))
			buf[--len] = '\0';
		return buf;
	}
	return xstrdup("");
}

/* Build the start config's model object. */
int
model_start_json(struct daemon *d, const struct model_choice *mc,
	struct json_object **ret_obj, char **reterr_msg)
{
	const struct config_provider *p = mc->provider;
	struct json_object *o;
	char *key, *url;

	if (p->is_fake) {
		int port = fakellm_ensure(d);

		if (port < 0) {
			if (port == -EAGAIN)
				return -EAGAIN;
			*reterr_msg = xstrdup(
				"the bundled fakellm could not be started");
			return -EINVAL;
		}
		url = xstrfmt("http://127.0.0.1:%d/v1", port);
	} else
		url = xstrdup(p->base_url);
	if ((key = model_read_key(p, reterr_msg)) == NULL) {
		free(url);
		return -EINVAL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "provider", json_object_new_string(p->name));
	json_object_object_add(o, "scheme",
		json_object_new_string(conf_scheme_name(p->scheme)));
	json_object_object_add(o, "base_url", json_object_new_string(url));
	json_object_object_add(o, "model", json_object_new_string(mc->model));
	json_object_object_add(o, "api_key", json_object_new_string(key));
	json_object_object_add(o, "context_window",
		json_object_new_int64(p->context_window > 0
				? p->context_window
				: MODEL_DEFAULT_WINDOW));
	json_object_object_add(o, "max_tokens",
		json_object_new_int64(p->max_tokens > 0
				? p->max_tokens
				: MODEL_DEFAULT_MAX_TOKENS));
	if (p->no_prompt_cache)
		json_object_object_add(
			o, "prompt_cache", json_object_new_boolean(0));
	conf_responses_model(p, o);
	explicit_bzero(key, strlen(key));
	free(key);
	free(url);
	*ret_obj = o;
	return 0;
}
