/* SPDX-License-Identifier: ISC */
#ifndef WORKER_CONFINE_H
#define WORKER_CONFINE_H

#include <stdbool.h>

#include "common/mountns.h"

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

#endif
