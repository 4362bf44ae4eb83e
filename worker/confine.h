/* SPDX-License-Identifier: ISC */
#ifndef WORKER_CONFINE_H
#define WORKER_CONFINE_H

#include <stdbool.h>

#include "common/mountns.h"

struct json_object;
struct tool_env;

/*
 * The one confinement of every process a pod's tools start (bash, MCP
 * stdio servers): whatever runs it is confined exactly like the others.
 *
 * Layers, applied in the child between fork and exec:
 * 1. a private mount namespace, locked (common/mountns.h): every mount
 *    read-only but the scope's write allows and the scratch dirs, deny
 *    holes inside those bound read-only again;
 * 2. Landlock (worker/landlock.h): the write-side rights beneath the
 *    same allows.  When the namespace is set up, the holes it binds are
 *    not carved out of the ruleset; when it is unavailable (probed once,
 *    tools_bash_mountns()) or fails in the child, the carved ruleset is
 *    applied instead, so a failure never leaves more writable.
 * 3. with env->tmp_dir: private /tmp and /var/tmp.  <tmp_dir>/tmp and
 *    <tmp_dir>/var_tmp are bound over them in the namespace, which
 *    hides the shared ones; the paths beneath them the pod uses (its
 *    scope's targets, its cwd, env->visible) are moved back into place.
 *    A scratch dir beneath the shared /tmp means the private one.
 *    Without the namespace, Landlock grants the private dirs instead of
 *    the shared ones (bash cannot write the shared /tmp at all then).
 * 4. with env->network loopback/off: a network namespace of the child's
 *    own (inside its user namespace) with only lo, up / down.  Without
 *    the namespace, Landlock ABI >= 4 denies every TCP bind and connect
 *    (for loopback too); with neither, the child is refused.
 * Without Landlock (no kernel support) only the mounts hold; without
 * both nothing is confined (the greeting and doctor say so).
 *
 * Use:
 *   struct confine cf;
 *   if (confine_prepare(&cf, env, &err) < 0) -> refuse to start (err)
 *   pid = fork();
 *   child:  set up stdio, signals, process group (caller's business),
 *           then confine_child(&cf, &what); on failure report what and
 *           _exit; close the fds not meant for the program; execve.
 *   parent: confine_clear(&cf) (after fork, whatever its result).
 *
 * confine_prepare allocates and opens fds (O_CLOEXEC); it reads env's
 * current scope, scratch dirs and cwd (copied: env may change after).
 */
struct confine {
	struct mountns_plan plan;
	bool mountns; /* try the mount namespace in the child */
	int rule_mounted; /* Landlock fd when the mounts hold, or -1 */
	int rule_carved; /* Landlock fd when they do not, or -1 */
	char *cwd; /* entered after the mounts; NULL: stay */
	bool net_fallback; /* the carved ruleset holds the network policy */
};

/*
 * Build the confinement for env's pod as it is now.  Returns 0, or a
 * negative errno with a sentence in *reterr_msg (caller frees); cf is
 * then cleared.
 */
int confine_prepare(
	struct confine *cf, struct tool_env *env, char **reterr_msg);

/* Release what confine_prepare made (the parent, after the fork). */
void confine_clear(struct confine *cf);

/*
 * In the forked child, before exec: enter the namespaces, enter the
 * pod's working directory, apply Landlock (PR_SET_NO_NEW_PRIVS set).
 * Async-signal-safe (no allocation).  Returns 0, or -errno with what
 * failed in *ret_what (a static phrase such as "cannot apply the
 * Landlock ruleset"): the child must not exec then.  A failed mount
 * namespace is not a failure (Landlock carves the holes instead).
 */
int confine_child(const struct confine *cf, const char **ret_what);

/* "on", "loopback", "off" <-> enum mountns_net; -1 if unknown. */
int confine_network_parse(const char *s);
const char *confine_network_name(int net);

/*
 * What holds env's network policy now: "none" (network on), "netns",
 * "landlock" (TCP only: every TCP bind/connect denied) or "refused"
 * (bash is not run).  May probe (a fork, once).
 */
const char *confine_network_how(struct tool_env *env);

/*
 * Do the pod's tools see a private /tmp and /var/tmp (the greeting's
 * private_tmp)?  False without a tmp_dir or a mount namespace: then
 * bash cannot write the shared /tmp at all (docs/isolation.md).
 */
bool confine_private_tmp(struct tool_env *env);

/*
 * The start request's "confine" object (docs/worker-channel.md):
 * {tmp_dir?: abs path, network?: "on"|"loopback"|"off"}.  Absent: no
 * private temp dirs, network on.  control_sock's
 * directory stays visible beneath a private /tmp.  *ret_cfg is set
 * (caller frees with confine_cfg_free) even on an error.
 */
struct confine_cfg {
	char *tmp_dir;
	int network; /* enum mountns_net */
	char *visible[2]; /* NULL-terminated */
};
int confine_cfg_parse(struct json_object *o, const char *control_sock,
	struct confine_cfg **ret_cfg, char **reterr_msg);
/* Point env's isolation fields at cfg (which must outlive env). */
void confine_cfg_apply(const struct confine_cfg *cfg, struct tool_env *env);
/* NULL-safe. */
void confine_cfg_free(struct confine_cfg *cfg);

#endif
