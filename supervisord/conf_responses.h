/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_CONF_RESPONSES_H
#define SUPERVISORD_CONF_RESPONSES_H

struct config_provider;
struct json_object;

/*
 * The openai_responses keys of a [provider.NAME] section:
 *
 *   reasoning_effort = none|minimal|low|medium|high|xhigh
 *   reasoning_summary = auto|concise|detailed
 *   store = true|false          (default false: encrypted reasoning)
 *   previous_response_id = true|false   (needs store = true)
 */

/* One key: 1 done, 0 not one of these, -EINVAL with a sentence. */
int conf_responses_key(struct config_provider *p, const char *name,
	const char *value, char **reterr_msg);
/* After the file: the keys fit the scheme. 0 or -EINVAL + sentence. */
int conf_responses_validate(const struct config_provider *p, char **reterr_msg);
/* Add the keys that are set to the worker's model object. */
void conf_responses_model(
	const struct config_provider *p, struct json_object *model);
/* Free what the keys hold. */
void conf_responses_clear(struct config_provider *p);

#endif
