/* SPDX-License-Identifier: ISC */
#ifndef WORKER_TOOLS_H
#define WORKER_TOOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct json_object;
struct scope;
struct llm_tool_def;

/*
 * The built-in tools of PROTOCOL.md §5 (read, write, edit, glob, grep,
 * bash; one file each: tool_<name>.c) behind one interface.  Every path
 * is checked against the pod's current scope; outputs are capped at
 * TOOL_OUTPUT_MAX with an explicit truncation note.
 */

#define TOOL_OUTPUT_MAX (64 * 1024)

struct tool_result {
	char *summary; /* one line for humans */
	char *output; /* for the model; may be NULL */
	bool is_error;
};

/* Free the strings of res and zero it. */
void tool_result_clear(struct tool_result *res);

/* Per-pod tool state; the worker owns it and updates scope on change. */
struct tool_env {
	struct event_base *base;
	const char *cwd; /* borrowed */
	const struct scope *scope; /* borrowed: own rules + effective write */
	const char *const *scratch; /* NULL-terminated extra writable dirs */
	int bash_timeout_default_s;
	bool landlock; /* set by tools_env_init from the kernel */
	int landlock_abi;
	int mountns; /* read-only mounts for bash: -1 not probed yet, 0, 1 */
	/* Isolation (worker/confine.h); zero: none (the old behaviour). */
	const char *tmp_dir; /* the pod's private temp dir, or NULL */
	int network; /* enum mountns_net: 0 on, 1 loopback, 2 off */
	const char *const *visible; /* beneath /tmp, kept visible */
	struct tool_readset *readset; /* read-before-write hashes */
	struct tool_bash *bash_dying; /* cancelled bash runs not yet reaped */
	struct tool_bash *bash_all; /* every bash run not yet freed */
	/* The pod's cgroup (docs/isolation.md): OOM kills of tool children. */
	const char *cgroup; /* NULL: none */
	int64_t memory_max; /* for the tool error, 0 if unknown */
	int64_t oom_seen; /* memory.events oom_kill reported; -1 unknown */
	void (*on_oom)(void *arg, int64_t killed);
	void *on_oom_arg;
	/* Children the orphan reaper leaves alone (MCP stdio servers). */
	bool (*owns_pid)(void *arg, int pid);
	void *owns_pid_arg;
};

/* Set up env for a pod: no scope (all access refused) until the worker
 * sets env->scope; Landlock support is probed from the kernel. */
void tool_env_init(
	struct tool_env *env, struct event_base *base, const char *cwd);
/* Free the read set and reap cancelled bash runs (kills them if needed). */
void tool_env_clear(struct tool_env *env);
/*
 * The worker is a child subreaper: what a bash run leaves running when
 * its parent dies becomes the worker's child.  Reap those that ended (on
 * SIGCHLD); kill and reap them all (the worker is ending: they must not
 * outlive its scope).  Every other child but a bash run's leader counts
 * as such an orphan.
 */
void tool_bash_reap_orphans(struct tool_env *env);
void tool_bash_kill_orphans(struct tool_env *env);
/* The greeting's bash_confinement: "landlock" or "none". */
const char *tools_bash_confinement(const struct tool_env *env);
/* Does bash run under read-only mounts (common/mountns.h)?  Probes once. */
bool tools_bash_mountns(struct tool_env *env);

typedef void (*tool_done_cb)(void *arg, struct tool_result *res);

struct tool_run;

/*
 * Run built-in tool name with arguments (JSON text).  cb is called exactly
 * once, always from the event loop (never before tool_run_start returns),
 * unless the run is cancelled first.  Returns NULL if name is not a
 * built-in tool.  The result passed to cb is the callee's: cb may steal
 * its strings (set them to NULL) and the rest is freed after cb returns.
 */
struct tool_run *tool_run_start(struct tool_env *env, const char *name,
	const char *args_json, tool_done_cb cb, void *arg);
/* Cancel: kills a bash process group; no callback afterwards. */
void tool_run_cancel(struct tool_run *run);

/* Definitions of the built-in tools for the provider request (static). */
const struct llm_tool_def *tools_builtin_defs(size_t *ret_n);
/* True if name is one of the built-in tools. */
bool tools_is_builtin(const char *name);

#endif
