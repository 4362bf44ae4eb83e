/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_CONF_H
#define SUPERVISORD_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "common/approval_policy.h"
#include "supervisord/cgroup.h"

/*
 * config.ini (read with inih):
 *
 *   [daemon]        max_pods, max_depth, max_children,
 *                   git_timeout_s (each git run for worktrees)
 *   [defaults]      model = PROVIDER/MODEL | alias | bare model,
 *                   approval, approval_allow (repeatable),
 *                   approval_timeout, approval_ask,
 *                   network = on | loopback | off
 *                   budget_tokens = N (docs/budgets.md)
 *                   memory, memory_swap = SIZE, pids, cpu_weight
 *                   mcp = NAME[,NAME] (conf_mcp.h)
 *   [mcp.NAME]      an MCP server (conf_mcp.h)
 *   [pod.NAME]      approval* keys for a top-level pod of that name
 *   [provider.NAME] scheme = openai_chat|openai_responses|anthropic,
 *                   base_url, api_key_env | api_key_file,
 *                   context_window, max_tokens, model.ALIAS = real-model,
 *                   openai_responses: conf_responses.h
 *
 * Errors name file:line.  Lines longer than inih's 200 bytes are an
 * error, never truncated.
 */

/* inih reads lines into 200 bytes: text plus newline plus NUL. */
#define CONF_MAX_LINE 198

enum provider_scheme {
	SCHEME_OPENAI_CHAT = 0,
	SCHEME_ANTHROPIC,
	SCHEME_OPENAI_RESPONSES,
};

struct config_alias {
	char *alias;
	char *model;
};

struct config_provider {
	char *name;
	enum provider_scheme scheme;
	bool has_scheme;
	char *base_url;
	char *api_key_env;
	char *api_key_file;
	long context_window; /* 0 = default */
	long max_tokens; /* 0 = default */
	bool no_prompt_cache; /* prompt_cache = false */
	/* openai_responses (conf_responses.h) */
	char *reasoning_effort;
	char *reasoning_summary;
	bool store;
	bool has_store;
	bool previous_response_id;
	struct config_alias *aliases;
	size_t naliases;
	bool is_fake; /* the bundled fakellm (no config) */
};

/* [compaction]: passed to every worker in its start config. */
struct config_compaction {
	bool enabled; /* default true */
	double threshold; /* fraction of the window, default 0.8 */
	long retain_tokens; /* kept verbatim, default 8000 */
	char *model; /* summarising model; NULL = the pod's */
};

/* The approval keys of [defaults] or of one [pod.NAME] (approvals.c). */
#define CONF_APPROVAL_LEVEL 1u
#define CONF_APPROVAL_ALLOW 2u
#define CONF_APPROVAL_TIMEOUT 4u
#define CONF_APPROVAL_ASK 8u
struct config_approval {
	char *pod; /* NULL for [defaults] */
	struct approval_policy pol;
	unsigned set; /* CONF_APPROVAL_* given in the file */
};

/* [mcp.NAME] (conf_mcp.h). */
struct config_mcp_var {
	char *name;
	char *value; /* or the daemon's variable holding it (from_env) */
	bool from_env;
};
struct config_mcp {
	char *name;
	char *command;
	char **args;
	size_t nargs;
	struct config_mcp_var *env;
	size_t nenv;
	char *url; /* Streamable HTTP (instead of command) */
	struct config_mcp_var *headers; /* header.NAME, header_env.NAME */
	size_t nheaders;
	long timeout_s; /* 0 = the worker's default */
	long init_timeout_s;
};

struct config {
	long max_pods;
	long max_depth;
	long max_children;
	long git_timeout_s; /* worktree.c: bound on each git run */
	char *default_model;
	struct config_provider *providers;
	size_t nproviders;
	bool from_file; /* false: built from the environment */
	struct config_compaction compaction;
	int network; /* [defaults] network: enum iso_network, default on */
	long long budget_tokens; /* [defaults] budget_tokens, 0: none */
	struct pod_limits limits; /* [defaults] memory, pids, ... */
	struct config_approval approval; /* [defaults] */
	struct config_approval *pod_approvals; /* [pod.NAME] */
	size_t npod_approvals;
	struct config_mcp *mcp; /* [mcp.NAME] */
	size_t nmcp;
	char **default_mcp; /* [defaults] mcp */
	size_t ndefault_mcp;
};

/* Defaults only (no providers). */
struct config *conf_new(void);
void conf_free(struct config *c);

/*
 * Load path.  A missing file gives the defaults (from_file false).
 * Returns 0 or -EINVAL with "path:line: problem" in *reterr_msg.
 */
int conf_load(const char *path, struct config **ret_config, char **reterr_msg);

/*
 * Without providers in the file: derive them from the environment
 * (ANTHROPIC_API_KEY, OPENAI_API_KEY, PODVISOR_BASE_URL), else the
 * fake provider.
 */
void conf_add_env_providers(struct config *c);

struct config_provider *conf_provider_find(
	const struct config *c, const char *name);
const char *conf_scheme_name(enum provider_scheme s);

#endif
