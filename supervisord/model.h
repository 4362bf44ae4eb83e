/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_MODEL_H
#define SUPERVISORD_MODEL_H

struct daemon;
struct json_object;
struct config_provider;

/*
 * Model resolution for the start config: a spawn's "model" is
 * "PROVIDER/MODEL", an alias (model.ALIAS in a provider section), or a
 * bare model on the default provider; none = [defaults] model.
 */
struct model_choice {
	const struct config_provider *provider; /* borrowed from config */
	char *model; /* real model name */
	char *resolved; /* "provider/model" */
};

/* Resolve spec (may be NULL). 0 or -EINVAL with *reterr_msg. */
int model_resolve(struct daemon *d, const char *spec, struct model_choice *ret,
	char **reterr_msg);
void model_choice_clear(struct model_choice *mc);

/*
 * The start config "model" object: provider, scheme, base_url, model,
 * api_key (read now from the env or the key file; never logged),
 * context_window, max_tokens.  -EAGAIN when the fake provider is not
 * listening yet (fakellm_ensure() was called).
 */
int model_start_json(struct daemon *d, const struct model_choice *mc,
	struct json_object **ret_obj, char **reterr_msg);

#endif
