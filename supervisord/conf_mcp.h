/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_CONF_MCP_H
#define SUPERVISORD_CONF_MCP_H

struct config;

/*
 * The MCP keys of config.ini:
 *
 *   [defaults]  mcp = NAME[,NAME…]     servers a top-level pod gets
 *   [mcp.NAME]  command = PROGRAM      stdio transport (PATH searched)
 *               args = A B C           appended, split at blanks;
 *                                      repeatable
 *               arg = ONE ARGUMENT     one argument, blanks kept
 *               env.VAR = value        the server's environment
 *               env_env.VAR = HOSTVAR  …taken from podvisord's own
 *                                      environment when a pod starts
 *                                      (secrets: never in state/logs)
 *               url = http(s)://…      Streamable HTTP instead of command
 *               header.NAME = value    a request header (url servers)
 *               header_env.NAME = VAR  …its value from podvisord's
 *                                      environment (secrets)
 *               timeout_s = N          per tool call (default 60)
 *               init_timeout_s = N     initialize + tools/list (20)
 */

/* One key of [mcp.NAME]: 1 done, 0 unknown key, -EINVAL with a
 * sentence in *reterr_msg. */
int conf_mcp_key(struct config *c, const char *server, const char *name,
	const char *value, char **reterr_msg);
/* [defaults] mcp = …: 1, or -EINVAL with a sentence. */
int conf_mcp_defaults(struct config *c, const char *value, char **reterr_msg);
/* After the file: every server has a command, defaults name servers.
 * 0 or -EINVAL with a sentence. */
int conf_mcp_validate(const struct config *c, char **reterr_msg);
/* Free what the MCP keys hold. */
void conf_mcp_clear(struct config *c);

#endif
