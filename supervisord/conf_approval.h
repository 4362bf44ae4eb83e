/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_CONF_APPROVAL_H
#define SUPERVISORD_CONF_APPROVAL_H

struct config;
struct config_approval;

/* The approval keys of config.ini (docs/approvals.md). */

/*
 * One approval* key of [defaults] or [pod.NAME] into a: 1 if taken, 0 if
 * the key is unknown, -EINVAL with a sentence if its value is bad.
 */
int conf_approval_key(struct config_approval *a, const char *name,
	const char *value, char **reterr_msg);
/* The [pod.NAME] entry for name, added if missing (borrowed). */
struct config_approval *conf_approval_pod(struct config *c, const char *name);

#endif
