/* SPDX-License-Identifier: ISC */
#ifndef COMMON_PODNAME_H
#define COMMON_PODNAME_H

#include <stdbool.h>

#define PODNAME_MAX 63

/*
 * Pod names: [a-z0-9][a-z0-9._-]{0,62}, not "." or "..".  Returns true if
 * valid; otherwise false and, if reterr_msg is not NULL, a sentence
 * naming the problem (caller frees).
 */
bool podname_valid(const char *name, char **reterr_msg);

#define MCP_NAME_MAX 32

/*
 * MCP server names, the same rule for config, spawn and the worker:
 * [A-Za-z0-9_-]{1,32}, no "__", neither starting nor ending with '_' (a
 * server's tools reach the model as mcp__<server>__<tool>).
 */
bool mcp_name_valid(const char *name);

#endif
