/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/approval_policy.h"
#include "common/xmalloc.h"
#include "supervisord/conf.h"
#include "supervisord/conf_approval.h"

/* One approval key of a config section. */
int
conf_approval_key(struct config_approval *a, const char *name,
	const char *value, char **reterr_msg)
{
	char *end;
	long v;

	if (strcmp(name, "approval") == 0) {
		if (approval_level_parse(value, &a->pol.level) < 0) {
			*reterr_msg = xstrdup("must be never, writes, bash or "
					      "always");
			return -EINVAL;
		}
		a->set |= CONF_APPROVAL_LEVEL;
		return 1;
	}
	if (strcmp(name, "approval_allow") == 0) {
		if (approval_policy_add(&a->pol, value, reterr_msg) < 0)
			return -EINVAL;
		a->set |= CONF_APPROVAL_ALLOW;
		return 1;
	}
	if (strcmp(name, "approval_timeout") == 0) {
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || v < 0 ||
			v > 30L * 86400) {
			*reterr_msg = xstrdup("must be seconds from 0 (none) "
					      "to 2592000");
			return -EINVAL;
		}
		a->pol.timeout_s = v;
		a->set |= CONF_APPROVAL_TIMEOUT;
		return 1;
	}
	if (strcmp(name, "approval_ask") == 0) {
		if (approval_ask_parse(value, &a->pol.ask) < 0) {
			*reterr_msg = xstrdup("must be auto, clients or "
					      "parent");
			return -EINVAL;
		}
		a->set |= CONF_APPROVAL_ASK;
		return 1;
	}
	return 0;
}

/* The [pod.NAME] entry for name. */
struct config_approval *
conf_approval_pod(struct config *c, const char *name)
{
	struct config_approval *a;
	size_t i;

	for (i = 0; i < c->npod_approvals; i++)
		if (strcmp(c->pod_approvals[i].pod, name) == 0)
			return &c->pod_approvals[i];
	c->pod_approvals = xreallocarray(c->pod_approvals,
		c->npod_approvals + 1, sizeof *c->pod_approvals);
	a = &c->pod_approvals[c->npod_approvals++];
	memset(a, 0, sizeof *a);
	a->pod = xstrdup(name);
	return a;
}
