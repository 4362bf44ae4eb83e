/* SPDX-License-Identifier: ISC */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/approval_policy.h"
#include "worker/approval_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The approval policy a client or model sends (spawn's "approval") and
 * the tool arguments it is matched against: parse, match every kind of
 * call, derive allow_always rules, check narrowing both ways; and the
 * diff of the input's two halves.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tools[] = { "bash", "write", "edit", "read",
		"mcp__a__b", "spawn_pod" };
	struct approval_policy p = { 0 }, q = { 0 };
	struct json_object *o;
	char *s, *a, *b, *err = NULL, *rule, *d;
	size_t i, half;

	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	o = json_tokener_parse(s);
	if (o != NULL && approval_policy_from_json(&p, o, &err) == 0) {
		for (i = 0; i < sizeof tools / sizeof tools[0]; i++) {
			(void)approval_policy_needs(&p, tools[i], o, s);
			rule = approval_rule_for_call(
				tools[i], o, s[0] == '/' ? s : "/x/y");
			if (rule != NULL) {
				(void)approval_policy_add(&q, rule, NULL);
				(void)approval_policy_needs(
					&q, tools[i], o, "/x/y");
			}
			free(rule);
		}
		(void)approval_policy_narrows(&p, &q, &err);
		free(err);
		err = NULL;
		(void)approval_policy_narrows(&q, &p, &err);
		json_object_put(approval_policy_to_json(&p));
	}
	free(err);
	json_object_put(o);
	approval_policy_clear(&p);
	approval_policy_clear(&q);
	half = strlen(s) / 2;
	a = strndup(s, half);
	b = strdup(s + half);
	if (a != NULL && b != NULL) {
		d = approval_diff_text("/f", a, b, 1);
		free(d);
	}
	free(a);
	free(b);
	free(s);
	return 0;
}
