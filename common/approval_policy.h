/* SPDX-License-Identifier: ISC */
#ifndef COMMON_APPROVAL_POLICY_H
#define COMMON_APPROVAL_POLICY_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

/*
 * A pod's approval policy (docs/approvals.md): which tool calls wait for
 * a yes.  Levels, each stricter than the one before:
 *   never   nothing waits;
 *   writes  write and edit wait;
 *   bash    write, edit, bash and every tool that is neither built-in
 *           nor a pod tool (MCP tools mcp__SERVER__TOOL) wait;
 *   always  every tool call waits.
 * An allow rule lets a call through that would wait:
 *   "bash:PREFIX"  a bash command that is PREFIX or PREFIX + " " + more,
 *                  with no shell control character (; & | ` $ ( ) < >
 *                  newline) anywhere in the command;
 *   "path:GLOB"    write/edit of an absolute path fnmatch(GLOB) (no
 *                  FNM_PATHNAME: '*' crosses '/');
 *   "tool:GLOB"    any call of a tool whose name matches GLOB.
 */

#define APPROVAL_MAX_RULES 64
#define APPROVAL_MAX_RULE_LEN 512

enum approval_level {
	APPROVAL_NEVER = 0,
	APPROVAL_WRITES,
	APPROVAL_BASH,
	APPROVAL_ALWAYS,
};

/*
 * Who is asked: auto = the pod's attached clients, or its parent pod when
 * no client is attached (a top-level pod always asks its clients);
 * clients = only clients; parent = the parent pod first (it may escalate).
 */
enum approval_ask {
	APPROVAL_ASK_AUTO = 0,
	APPROVAL_ASK_CLIENTS,
	APPROVAL_ASK_PARENT,
};

struct approval_policy {
	enum approval_level level;
	enum approval_ask ask;
	char **allow; /* owned strings */
	size_t nallow;
	long timeout_s; /* 0 = no timeout */
};

/* "never", "writes", "bash" or "always". */
const char *approval_level_name(enum approval_level l);
/* Parse a level name; -EINVAL if it is none of them. */
int approval_level_parse(const char *s, enum approval_level *ret);

/* "auto", "clients" or "parent"; parse: -EINVAL if none. */
const char *approval_ask_name(enum approval_ask a);
int approval_ask_parse(const char *s, enum approval_ask *ret);

/* Check a rule's syntax; -EINVAL with a sentence naming the fix. */
int approval_rule_check(const char *rule, char **reterr_msg);

/* Add rule (copied) unless present; -EINVAL if bad or -E2BIG if full
 * (reterr_msg may be NULL). */
int approval_policy_add(
	struct approval_policy *p, const char *rule, char **reterr_msg);
bool approval_policy_has(const struct approval_policy *p, const char *rule);
void approval_policy_copy(
	struct approval_policy *dst, const struct approval_policy *src);
void approval_policy_clear(struct approval_policy *p);

/* {policy, allow:[…], timeout_s?, ask} (new reference). */
struct json_object *approval_policy_to_json(const struct approval_policy *p);
/*
 * Overlay the fields present in o ({policy?, allow?, timeout_s?, ask?})
 * on p:
 * a given allow replaces p's.  Returns 0 or -EINVAL with a sentence
 * (p unchanged then).
 */
int approval_policy_from_json(struct approval_policy *p,
	const struct json_object *o, char **reterr_msg);

/*
 * Is child as strict as parent or stricter?  Its level must be at least
 * the parent's and each of its allow rules covered by one of the
 * parent's (a bash prefix by a shorter prefix of it, a glob by an equal
 * glob or one that matches it as a string).  Returns 0 or -EPERM with a
 * sentence naming what is looser.
 */
int approval_policy_narrows(const struct approval_policy *child,
	const struct approval_policy *parent, char **reterr_msg);

/*
 * Does a call of tool need a yes under p?  args is the call's parsed
 * arguments (may be NULL); path the absolute target of write/edit (NULL
 * otherwise).
 */
bool approval_policy_needs(const struct approval_policy *p, const char *tool,
	const struct json_object *args, const char *path);

/*
 * The allow rule that "allow always" adds for this call: bash:COMMAND
 * for bash, path:PATH (glob characters escaped) for write/edit,
 * tool:NAME otherwise; NULL if no rule fits in APPROVAL_MAX_RULE_LEN
 * (caller frees).
 */
char *approval_rule_for_call(
	const char *tool, const struct json_object *args, const char *path);

#endif
