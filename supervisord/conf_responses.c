/* SPDX-License-Identifier: ISC */
#include "supervisord/conf_responses.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"
#include "supervisord/conf.h"

static const char *const conf_responses_efforts[] = { "none", "minimal", "low",
	"medium", "high", "xhigh", NULL };
static const char *const conf_responses_summaries[] = { "auto", "concise",
	"detailed", NULL };

static int
conf_responses_word(const char *name, const char *value,
	const char *const *words, char **ret, char **reterr_msg)
{
	size_t i;

	for (i = 0; words[i] != NULL; i++)
		if (strcmp(value, words[i]) == 0) {
			free(*ret);
			*ret = xstrdup(value);
			return 1;
		}
	*reterr_msg = xstrfmt("%s \"%s\" is not one of %s", name, value,
		words == conf_responses_efforts
			? "none, minimal, low, medium, high, xhigh"
			: "auto, concise, detailed");
	return -EINVAL;
}

static int
conf_responses_bool(
	const char *name, const char *value, bool *ret, char **reterr_msg)
{
	if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 ||
		strcmp(value, "1") == 0)
		*ret = true;
	else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 ||
		strcmp(value, "0") == 0)
		*ret = false;
	else {
		*reterr_msg = xstrfmt("%s: expected true or false", name);
		return -EINVAL;
	}
	return 1;
}

int
conf_responses_key(struct config_provider *p, const char *name,
	const char *value, char **reterr_msg)
{
	if (strcmp(name, "reasoning_effort") == 0)
		return conf_responses_word(name, value, conf_responses_efforts,
			&p->reasoning_effort, reterr_msg);
	if (strcmp(name, "reasoning_summary") == 0)
		return conf_responses_word(name, value,
			conf_responses_summaries, &p->reasoning_summary,
			reterr_msg);
	if (strcmp(name, "store") == 0) {
		p->has_store = true;
		return conf_responses_bool(name, value, &p->store, reterr_msg);
	}
	if (strcmp(name, "previous_response_id") == 0)
		return conf_responses_bool(
			name, value, &p->previous_response_id, reterr_msg);
	return 0;
}

int
conf_responses_validate(const struct config_provider *p, char **reterr_msg)
{
	const char *key = NULL;

	if (p->reasoning_effort != NULL)
		key = "reasoning_effort";
	else if (p->reasoning_summary != NULL)
		key = "reasoning_summary";
	else if (p->has_store)
		key = "store";
	else if (p->previous_response_id)
		key = "previous_response_id";
	if (key != NULL && p->scheme != SCHEME_OPENAI_RESPONSES) {
		*reterr_msg = xstrfmt("provider %s: %s needs scheme = "
				      "openai_responses",
			p->name, key);
		return -EINVAL;
	}
	if (p->previous_response_id && !p->store) {
		*reterr_msg = xstrfmt("provider %s: previous_response_id "
				      "needs store = true",
			p->name);
		return -EINVAL;
	}
	return 0;
}

void
conf_responses_model(const struct config_provider *p, struct json_object *model)
{
	if (p->scheme != SCHEME_OPENAI_RESPONSES)
		return;
	if (p->reasoning_effort != NULL)
		json_object_object_add(model, "reasoning_effort",
			json_object_new_string(p->reasoning_effort));
	if (p->reasoning_summary != NULL)
		json_object_object_add(model, "reasoning_summary",
			json_object_new_string(p->reasoning_summary));
	if (p->store)
		json_object_object_add(
			model, "store", json_object_new_boolean(1));
	if (p->previous_response_id)
		json_object_object_add(model, "previous_response_id",
			json_object_new_boolean(1));
}

void
conf_responses_clear(struct config_provider *p)
{
	free(p->reasoning_effort);
	free(p->reasoning_summary);
	p->reasoning_effort = p->reasoning_summary = NULL;
}
