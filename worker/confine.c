/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "worker/confine.h"
#include "worker/landlock.h"
#include "worker/tools.h"

/* Release what confine_prepare made. */
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

/* The pod's private temp dirs, made if missing (the user may rm them). */
static int
confine_tmp_dirs(const char *dir, char *tmp[MOUNTNS_NTMP], char **reterr_msg)
{
	static const char *const sub[MOUNTNS_NTMP] = { "tmp", "var_tmp" };
	size_t i;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*reterr_msg = xstrfmt("cannot make the pod's temp dir %s: %s",
			dir, strerror(errno));
		return -errno;
	}
	for (i = 0; i < MOUNTNS_NTMP; i++) {
		tmp[i] = xstrfmt("%s/%s", dir, sub[i]);
		if (mkdir(tmp[i], 0700) < 0 && errno != EEXIST) {
			int r = -errno;

			*reterr_msg = xstrfmt("cannot make the pod's temp "
					      "dir %s: %s",
				tmp[i], strerror(-r));
			return r;
		}
	}
	return 0;
}

/*
 * The scratch dirs without the shared temp dirs (the private ones stand
 * in for them), and then with the private ones added (for Landlock, which
 * follows inodes, so the private dir granted is the /tmp bash sees).
 */
static void
confine_scratch(const char *const *scratch, char *const tmp[MOUNTNS_NTMP],
	const char ***ret_mnt, const char ***ret_ll)
{
	char real[PATH_MAX];
	size_t i, n = 0, k = 0;
	const char **mnt, **ll;

	while (scratch != NULL && scratch[n] != NULL)
		n++;
	mnt = xcalloc(n + 1, sizeof(*mnt));
	ll = xcalloc(n + MOUNTNS_NTMP + 1, sizeof(*ll));
	for (i = 0; i < n; i++) {
		if (realpath(scratch[i], real) != NULL &&
			mountns_is_shared_tmp(real))
			continue;
		mnt[k] = scratch[i];
		ll[k++] = scratch[i];
	}
	for (i = 0; i < MOUNTNS_NTMP; i++)
		ll[k++] = tmp[i];
	*ret_mnt = mnt;
	*ret_ll = ll;
}

/*
 * What must stay visible beneath a private /tmp besides the scope's
 * allow targets: the pod's cwd and env->visible (control.sock's dir).
 */
static const char **
confine_visible(const struct tool_env *env)
{
	size_t i, n = 0, k = 0;
	const char **v;

	while (env->visible != NULL && env->visible[n] != NULL)
		n++;
	v = xcalloc(n + 2, sizeof(*v));
	for (i = 0; i < n; i++)
		v[k++] = env->visible[i];
	if (env->cwd != NULL)
		v[k++] = env->cwd;
	return v;
}

/* Build the confinement for env's pod as it is now; see confine.h. */
int
confine_prepare(struct confine *cf, struct tool_env *env, char **reterr_msg)
{
	char *tmp[MOUNTNS_NTMP] = { NULL };
	const char *const *scratch_mnt = env->scratch;
	const char *const *scratch_ll = env->scratch;
	const char **mnt = NULL, **ll = NULL, **visible = NULL;
	bool net = env->network != MOUNTNS_NET_ON, tcp;
	size_t i;
	int r = 0;

	memset(cf, 0, sizeof(*cf));
	cf->rule_mounted = cf->rule_carved = -1;
	*reterr_msg = NULL;
	cf->cwd = env->cwd != NULL ? xstrdup(env->cwd) : NULL;
	cf->mountns = tools_bash_mountns(env);
	if (env->tmp_dir != NULL) {
		if ((r = confine_tmp_dirs(env->tmp_dir, tmp, reterr_msg)) < 0)
			goto out;
		confine_scratch(env->scratch, tmp, &mnt, &ll);
		scratch_mnt = mnt;
		scratch_ll = ll;
	}
	if (cf->mountns) {
		mountns_plan_build(&cf->plan, env->scope, scratch_mnt);
		if (env->tmp_dir != NULL) {
			visible = confine_visible(env);
			r = mountns_plan_private_tmp(&cf->plan, env->scope,
				(const char *const *)tmp, visible, reterr_msg);
		}
		if (r < 0)
			goto out;
		if (net && mountns_net_available())
			cf->plan.net = (enum mountns_net)env->network;
	}
	/*
	 * Where no network namespace holds the policy (none here, or it
	 * fails in the child), Landlock's TCP rules do: the carved ruleset
	 * denies every TCP bind and connect.  With neither: refused.
	 */
	tcp = net && env->landlock && env->landlock_abi >= 4;
	cf->net_fallback = !net || tcp;
	if (net && cf->plan.net == MOUNTNS_NET_ON && !tcp) {
		*reterr_msg = xstrfmt("network = %s needs a network namespace "
				      "(unprivileged user namespaces) or "
				      "Landlock ABI 4 (kernel >= 6.7), and "
				      "neither is available here",
			confine_network_name(env->network));
		r = -EOPNOTSUPP;
		goto out;
	}
	if (!env->landlock)
		goto out;
	cf->rule_carved = landlock_ruleset_build(env->landlock_abi, env->scope,
		scratch_ll, NULL, tcp, reterr_msg);
	cf->rule_mounted = cf->rule_carved;
	/* The namespace holds the network: its ruleset needs no TCP rules. */
	if (cf->rule_carved >= 0 && cf->mountns &&
		(cf->plan.nro > 0 || (tcp && cf->plan.net != MOUNTNS_NET_ON)))
		cf->rule_mounted = landlock_ruleset_build(env->landlock_abi,
			env->scope, scratch_ll, &cf->plan,
			cf->plan.net == MOUNTNS_NET_ON && tcp, reterr_msg);
	if (cf->rule_carved < 0 || cf->rule_mounted < 0)
		r = cf->rule_carved < 0 ? cf->rule_carved : cf->rule_mounted;
out:
	for (i = 0; i < MOUNTNS_NTMP; i++)
		free(tmp[i]);
	free(mnt);
	free(ll);
	free(visible);
	if (r < 0)
		confine_clear(cf);
	return r;
}

/* Say on stderr (the tool's output) that the namespace failed, and where. */
static void
confine_note(const char *what)
{
	static const char pre[] = "podvisor: the mount namespace failed (";
	static const char post[] = "): Landlock alone confines this command\n";
	ssize_t n;

	n = write(STDERR_FILENO, pre, sizeof(pre) - 1);
	n = write(STDERR_FILENO, what, strlen(what));
	n = write(STDERR_FILENO, post, sizeof(post) - 1);
	(void)n;
}

/* In the forked child, before exec: enter the confinement. */
int
confine_child(const struct confine *cf, const char **ret_what)
{
	const char *what;
	int r, rulefd = cf->rule_carved;

	/* Failed mounts are never less restrictive; Landlock then carves. */
	if (cf->mountns && mountns_enter(&cf->plan, &what) == 0)
		rulefd = cf->rule_mounted;
	else if (cf->mountns)
		confine_note(what);
	if (rulefd == cf->rule_carved && !cf->net_fallback) {
		*ret_what = "cannot isolate the network: the network "
			    "namespace failed and Landlock has no TCP rules";
		return -EPERM;
	}
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

/* "on", "loopback", "off" -> enum mountns_net, or -1. */
int
confine_network_parse(const char *s)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "on") == 0)
		return MOUNTNS_NET_ON;
	if (strcmp(s, "loopback") == 0)
		return MOUNTNS_NET_LOOPBACK;
	if (strcmp(s, "off") == 0)
		return MOUNTNS_NET_OFF;
	return -1;
}

/* enum mountns_net -> "on", "loopback", "off". */
const char *
confine_network_name(int net)
{
	return net == MOUNTNS_NET_OFF         ? "off"
		: net == MOUNTNS_NET_LOOPBACK ? "loopback"
					      : "on";
}

/* What holds the pod's network policy (the greeting's network_isolation). */
const char *
confine_network_how(struct tool_env *env)
{
	if (env->network == MOUNTNS_NET_ON)
		return "none";
	if (tools_bash_mountns(env) && mountns_net_available())
		return "netns";
	if (env->landlock && env->landlock_abi >= 4)
		return "landlock";
	return "refused";
}

/* Do the pod's tools get a private /tmp (the greeting's private_tmp)? */
bool
confine_private_tmp(struct tool_env *env)
{
	return env->tmp_dir != NULL && tools_bash_mountns(env);
}

/* Parse the start request's "confine" object; see confine.h. */
int
confine_cfg_parse(struct json_object *o, const char *control_sock,
	struct confine_cfg **ret_cfg, char **reterr_msg)
{
	struct confine_cfg *cfg = xcalloc(1, sizeof(*cfg));
	struct json_object *v;
	const char *slash;

	*ret_cfg = cfg;
	if (control_sock != NULL && (slash = strrchr(control_sock, '/')) &&
		slash != control_sock)
		cfg->visible[0] =
			xstrndup(control_sock, (size_t)(slash - control_sock));
	if (o == NULL || json_object_is_type(o, json_type_null))
		return 0;
	if (!json_object_is_type(o, json_type_object)) {
		*reterr_msg = xstrdup("\"confine\" must be an object");
		return -EINVAL;
	}
	if (json_object_object_get_ex(o, "tmp_dir", &v) && v != NULL) {
		const char *s = json_object_get_string(v);

		if (!json_object_is_type(v, json_type_string) || s[0] != '/') {
			*reterr_msg = xstrdup(
				"confine.tmp_dir must be an absolute path");
			return -EINVAL;
		}
		cfg->tmp_dir = xstrdup(s);
	}
	if (json_object_object_get_ex(o, "network", &v) && v != NULL) {
		cfg->network = confine_network_parse(
			json_object_is_type(v, json_type_string)
				? json_object_get_string(v)
				: NULL);
		if (cfg->network < 0) {
			*reterr_msg = xstrdup("confine.network must be \"on\", "
					      "\"loopback\" or \"off\"");
			return -EINVAL;
		}
	}
	return 0;
}

/* Point env's isolation fields at cfg. */
void
confine_cfg_apply(const struct confine_cfg *cfg, struct tool_env *env)
{
	char *tmp[MOUNTNS_NTMP] = { NULL }, *err = NULL;
	size_t i;

	if (cfg == NULL)
		return;
	env->tmp_dir = cfg->tmp_dir;
	env->network = cfg->network;
	env->visible = (const char *const *)cfg->visible;
	/*
	 * Without the namespace bash cannot write /tmp at all (Landlock
	 * grants the private dirs instead): point TMPDIR, which every tool
	 * child inherits, at the private /tmp.
	 */
	if (env->tmp_dir == NULL || tools_bash_mountns(env))
		return;
	if (confine_tmp_dirs(env->tmp_dir, tmp, &err) == 0)
		setenv("TMPDIR", tmp[0], 1);
	free(err);
	for (i = 0; i < MOUNTNS_NTMP; i++)
		free(tmp[i]);
}

/* Free what confine_cfg_parse made (NULL-safe). */
void
confine_cfg_free(struct confine_cfg *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->tmp_dir);
	free(cfg->visible[0]);
	free(cfg);
}
