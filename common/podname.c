/* SPDX-License-Identifier: ISC */
#include "common/podname.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

static bool
podname_char_ok(unsigned char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '.' || c == '_' || c == '-');
}

/* A printable rendering of byte c for an error message; caller frees. */
static char *
podname_show(unsigned char c)
{
	if (c > 0x20 && c < 0x7f && c != '\'')
		return xstrfmt("'%c'", c);
	return xstrfmt("byte 0x%02x", c);
}

static bool
podname_fail(char **reterr_msg, char *msg)
{
	if (reterr_msg != NULL)
		*reterr_msg = msg;
	else
		free(msg);
	return false;
}

/* Check name against the pod name rules; explain a failure in reterr_msg. */
bool
podname_valid(const char *name, char **reterr_msg)
{
	size_t len, i;
	char *c, *msg;

	if (name == NULL || *name == '\0')
		return podname_fail(reterr_msg, xstrdup("pod name is empty"));
	len = strnlen(name, PODNAME_MAX + 1);
	if (len > PODNAME_MAX)
		return podname_fail(reterr_msg,
			xstrfmt("pod name is longer than %d bytes",
				PODNAME_MAX));
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return podname_fail(reterr_msg,
			xstrfmt("pod name must not be \"%s\"", name));
	for (i = 0; i < len; i++) {
		if (podname_char_ok((unsigned char)name[i], i == 0))
			continue;
		c = podname_show((unsigned char)name[i]);
		if (i == 0)
			msg = xstrfmt("pod name must start with a lowercase "
				      "letter or digit, not %s",
				c);
		else
			msg = xstrfmt("pod name has %s at position %zu; only "
				      "a-z, 0-9, '.', '_' and '-' are allowed",
				c, i + 1);
		free(c);
		return podname_fail(reterr_msg, msg);
	}
	return true;
}

/* See podname.h. */
bool
mcp_name_valid(const char *name)
{
	size_t i, n;

	if (name == NULL)
		return false;
	n = strlen(name);
	if (n == 0 || n > MCP_NAME_MAX || name[0] == '_' || name[n - 1] == '_')
		return false;
	for (i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
		if (ch == '_' && name[i + 1] == '_')
			return false;
	}
	return true;
}
