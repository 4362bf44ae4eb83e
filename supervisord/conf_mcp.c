/* SPDX-License-Identifier: ISC */
#include "supervisord/conf_mcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/podname.h"
#include "common/xmalloc.h"
#include "supervisord/conf.h"

/* The server named name, made if missing. */
static struct config_mcp *
conf_mcp_get(struct config *c, const char *name)
{
	struct config_mcp *m;
	size_t i;

	for (i = 0; i < c->nmcp; i++)
		if (strcmp(c->mcp[i].name, name) == 0)
			return &c->mcp[i];
	c->mcp = xreallocarray(c->mcp, c->nmcp + 1, sizeof(*c->mcp));
	m = &c->mcp[c->nmcp++];
	memset(m, 0, sizeof(*m));
	m->name = xstrdup(name);
	return m;
}

static void
conf_mcp_arg(struct config_mcp *m, const char *a, size_t len)
{
	m->args = xreallocarray(m->args, m->nargs + 1, sizeof(*m->args));
	m->args[m->nargs++] = xstrndup(a, len);
}

static int
conf_mcp_var_add(struct config_mcp_var **v, size_t *n, const char *var,
	const char *value, bool from_env, bool header, char **reterr_msg)
{
	size_t i;

	if (var[0] == '\0' || strchr(var, '=') != NULL ||
		(header && strpbrk(var, ": \t\r\n") != NULL)) {
		*reterr_msg =
			xstrdup(header ? "a header name must be non-empty "
					 "and without ':' or blanks"
				       : "a variable name must be "
					 "non-empty and without '='");
		return -EINVAL;
	}
	if (header && strpbrk(value, "\r\n") != NULL) {
		*reterr_msg = xstrdup("a header value must be one line");
		return -EINVAL;
	}
	for (i = 0; i < *n; i++)
		if ((header ? strcasecmp((*v)[i].name, var)
			    : strcmp((*v)[i].name, var)) == 0) {
			*reterr_msg = xstrfmt("%s is set twice", var);
			return -EINVAL;
		}
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[*n].name = xstrdup(var);
	(*v)[*n].value = xstrdup(value);
	(*v)[*n].from_env = from_env;
	(*n)++;
	return 1;
}

static int
conf_mcp_var(struct config_mcp *m, const char *var, const char *value,
	bool from_env, char **reterr_msg)
{
	return conf_mcp_var_add(
		&m->env, &m->nenv, var, value, from_env, false, reterr_msg);
}

static int
conf_mcp_header(struct config_mcp *m, const char *var, const char *value,
	bool from_env, char **reterr_msg)
{
	return conf_mcp_var_add(&m->headers, &m->nheaders, var, value, from_env,
		true, reterr_msg);
}

static int
conf_mcp_long(const char *value, long *ret, char **reterr_msg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < 1 || v > 3600) {
		*reterr_msg = xstrdup("must be a number of seconds, 1 to 3600");
		return -EINVAL;
	}
	*ret = v;
	return 1;
}

/* One key of [mcp.NAME]. */
int
conf_mcp_key(struct config *c, const char *server, const char *name,
	const char *value, char **reterr_msg)
{
	struct config_mcp *m;
	const char *p, *e;

	if (!mcp_name_valid(server)) {
		*reterr_msg = xstrfmt("bad MCP server name \"%s\" (letters, "
				      "digits, '-', single '_', at most 32)",
			server);
		return -EINVAL;
	}
	m = conf_mcp_get(c, server);
	if (strcmp(name, "command") == 0) {
		if (value[0] == '\0') {
			*reterr_msg = xstrdup("command is empty");
			return -EINVAL;
		}
		free(m->command);
		m->command = xstrdup(value);
		return 1;
	}
	if (strcmp(name, "args") == 0) {
		for (p = value; *p != '\0'; p = e) {
			p += strspn(p, " \t");
			e = p + strcspn(p, " \t");
			if (e > p)
				conf_mcp_arg(m, p, (size_t)(e - p));
		}
		return 1;
	}
	if (strcmp(name, "arg") == 0) {
		conf_mcp_arg(m, value, strlen(value));
		return 1;
	}
	if (strncmp(name, "env.", 4) == 0)
		return conf_mcp_var(m, name + 4, value, false, reterr_msg);
	if (strncmp(name, "env_env.", 8) == 0)
		return conf_mcp_var(m, name + 8, value, true, reterr_msg);
	if (strcmp(name, "timeout_s") == 0)
		return conf_mcp_long(value, &m->timeout_s, reterr_msg);
	if (strcmp(name, "init_timeout_s") == 0)
		return conf_mcp_long(value, &m->init_timeout_s, reterr_msg);
	if (strcmp(name, "url") == 0) {
		if (strncmp(value, "http://", 7) != 0 &&
			strncmp(value, "https://", 8) != 0) {
			*reterr_msg =
				xstrdup("url must be http:// or https://");
			return -EINVAL;
		}
		free(m->url);
		m->url = xstrdup(value);
		return 1;
	}
	if (strncmp(name, "header.", 7) == 0)
		return conf_mcp_header(m, name + 7, value, false, reterr_msg);
	if (strncmp(name, "header_env.", 11) == 0)
		return conf_mcp_header(m, name + 11, value, true, reterr_msg);
	return 0;
}

/* [defaults] mcp = a, b */
int
conf_mcp_defaults(struct config *c, const char *value, char **reterr_msg)
{
	const char *p, *e;
	char *name;

	for (p = value; *p != '\0'; p = *e ? e + 1 : e) {
		p += strspn(p, " \t");
		e = p + strcspn(p, ",");
		name = xstrndup(p, (size_t)(e - p));
		name[strcspn(name, " \t")] = '\0';
		if (name[0] == '\0') {
			free(name);
			continue;
		}
		if (!mcp_name_valid(name)) {
			*reterr_msg =
				xstrfmt("bad MCP server name \"%s\"", name);
			free(name);
			return -EINVAL;
		}
		c->default_mcp = xreallocarray(c->default_mcp,
			c->ndefault_mcp + 1, sizeof(*c->default_mcp));
		c->default_mcp[c->ndefault_mcp++] = name;
	}
	return 1;
}

/* Every server complete, every default defined. */
int
conf_mcp_validate(const struct config *c, char **reterr_msg)
{
	size_t i, j;

	for (i = 0; i < c->nmcp; i++) {
		const struct config_mcp *m = &c->mcp[i];

		if (m->command == NULL && m->url == NULL) {
			*reterr_msg = xstrfmt("[mcp.%s] has neither command "
					      "nor url",
				m->name);
			return -EINVAL;
		}
		if (m->command != NULL && m->url != NULL) {
			*reterr_msg = xstrfmt("[mcp.%s] has both command and "
					      "url: one transport per server",
				m->name);
			return -EINVAL;
		}
		if (m->url != NULL && (m->nargs > 0 || m->nenv > 0)) {
			*reterr_msg = xstrfmt("[mcp.%s]: args and env are for "
					      "a command, not a url",
				m->name);
			return -EINVAL;
		}
		if (m->command != NULL && m->nheaders > 0) {
			*reterr_msg = xstrfmt("[mcp.%s]: headers are for a "
					      "url, not a command",
				m->name);
			return -EINVAL;
		}
	}
	for (i = 0; i < c->ndefault_mcp; i++) {
		for (j = 0; j < c->nmcp; j++)
			if (strcmp(c->mcp[j].name, c->default_mcp[i]) == 0)
				break;
		if (j == c->nmcp) {
			*reterr_msg = xstrfmt("[defaults] mcp names %s, which "
					      "has no [mcp.%s] section",
				c->default_mcp[i], c->default_mcp[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* Free the MCP part of c. */
void
conf_mcp_clear(struct config *c)
{
	size_t i, j;

	for (i = 0; i < c->nmcp; i++) {
		struct config_mcp *m = &c->mcp[i];

		free(m->name);
		free(m->command);
		for (j = 0; j < m->nargs; j++)
			free(m->args[j]);
		free(m->args);
		for (j = 0; j < m->nenv; j++) {
			free(m->env[j].name);
			explicit_bzero(
				m->env[j].value, strlen(m->env[j].value));
			free(m->env[j].value);
		}
		free(m->env);
		free(m->url);
		for (j = 0; j < m->nheaders; j++) {
			free(m->headers[j].name);
			explicit_bzero(m->headers[j].value,
				strlen(m->headers[j].value));
			free(m->headers[j].value);
		}
		free(m->headers);
	}
	free(c->mcp);
	for (i = 0; i < c->ndefault_mcp; i++)
		free(c->default_mcp[i]);
	free(c->default_mcp);
	c->mcp = NULL;
	c->default_mcp = NULL;
	c->nmcp = c->ndefault_mcp = 0;
}
