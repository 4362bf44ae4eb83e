/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_PODMCP_H
#define SUPERVISORD_PODMCP_H

struct daemon;
struct json_object;
struct namelist;
struct pod;

/*
 * Which MCP servers a pod has (CONTRACTS.md): spawn's "mcp" names
 * servers of config.ini ([mcp.NAME]) or of the parent; absent, a child
 * gets its parent's servers and a top-level pod [defaults] mcp.  A child
 * may only name servers its parent has (not_subset).  Inline servers
 * ("mcp_servers" on control spawn/restore, ACP's mcpServers) are kept in
 * memory only: their env values are secrets, never in pod state; their
 * names are in the state and a restore must be given them again.
 */

/*
 * Resolve spawn's "mcp" (names, may be NULL) and "mcp_servers" (inline,
 * may be NULL; only from the control socket: viewer NULL) for a pod
 * spawned by viewer.  Returns 0 with the names and the normalised
 * inline definitions (NULL if none), -EPERM (not_subset) or -EINVAL
 * with a sentence.
 */
int podmcp_resolve(struct daemon *d, struct pod *viewer,
	struct json_object *names, struct json_object *inl,
	struct namelist *ret_names, struct json_object **ret_inline,
	char **reterr_msg);
/* restore's "mcp_servers": replaces p's inline definitions (those it
 * names that p has).  0 or -EINVAL with a sentence. */
int podmcp_restore(struct pod *p, struct json_object *inl, char **reterr_msg);
/* The start config's "mcp": p's servers with their secrets resolved.
 * A server p names that is defined nowhere now is left out (logged). */
struct json_object *podmcp_start_json(struct pod *p);
/* The pod's server names as a JSON array (state, pod-summary). */
struct json_object *podmcp_names_json(const struct pod *p);
/* Read the optional "mcp" of a state file.  0 or -EINVAL. */
int podmcp_from_state(struct pod *p, struct json_object *o, char **reterr_msg);

#endif
