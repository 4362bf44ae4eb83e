/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "worker/confine.h"
#include "worker/landlock.h"
#include "worker/tools.h"

void
confine_clear(struct confine *cf)
{
	if (cf->rule_mounted >= 0 && cf->rule_mounted != cf->rule_carved)
		close(cf->rule_mounted);
	if (cf->rule_carved >= 0)
		close(cf->rule_carved);
	mountns_plan_clear(&cf->plan);
	free(cf->cwd);
	cf->cwd = NULL;
	cf->rule_mounted = cf->rule_carved = -1;
}

int
confine_prepare(struct confine *cf, struct tool_env *env, char **reterr_msg)
{
	memset(cf, 0, sizeof(*cf));
	cf->rule_mounted = cf->rule_carved = -1;
	*reterr_msg = NULL;
	cf->cwd = env->cwd != NULL ? xstrdup(env->cwd) : NULL;
	cf->mountns = tools_bash_mountns(env);
	if (cf->mountns)
		mountns_plan_build(&cf->plan, env->scope, env->scratch);
	if (!env->landlock)
		return 0;
	cf->rule_carved = landlock_ruleset_build(
		env->landlock_abi, env->scope, env->scratch, NULL, reterr_msg);
	cf->rule_mounted = cf->rule_carved;
	if (cf->rule_carved >= 0 && cf->mountns && cf->plan.nro > 0)
		cf->rule_mounted = landlock_ruleset_build(env->landlock_abi,
			env->scope, env->scratch, &cf->plan, reterr_msg);
	if (cf->rule_carved < 0 || cf->rule_mounted < 0) {
		int r = cf->rule_carved < 0 ? cf->rule_carved
					    : cf->rule_mounted;

		confine_clear(cf);
		return r;
	}
	return 0;
}

int
confine_child(const struct confine *cf, const char **ret_what)
{
	const char *what;
	int r, rulefd = cf->rule_carved;

	/* Failed mounts are never less restrictive; Landlock then carves. */
	if (cf->mountns && mountns_enter(&cf->plan, &what) == 0)
		rulefd = cf->rule_mounted;
	/* After the mounts: the directory is looked up through them. */
	if (cf->cwd != NULL && chdir(cf->cwd) < 0) {
		*ret_what = "cannot enter the pod's working directory";
		return -errno;
	}
	if (rulefd >= 0 && (r = landlock_restrict(rulefd)) < 0) {
		*ret_what = "cannot apply the Landlock ruleset";
		return r;
	}
	return 0;
}
