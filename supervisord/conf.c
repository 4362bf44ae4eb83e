/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "common/atomicfile.h"
#include "common/cgroup2.h"
#include "common/podname.h"
#include "common/xmalloc.h"
#include "supervisord/conf_approval.h"
#include "supervisord/conf_mcp.h"
#include "supervisord/conf_responses.h"
#include "supervisord/conf.h"
#include "supervisord/isolation.h"

#define CONF_MAX_FILE (1024u * 1024u)

struct conf_parse {
	struct config *c;
	const char *path;
	const char *buf; /* file contents (reader input) */
	size_t len;
	size_t off;
	int line; /* line the reader handed out last */
	int section_line; /* line of the last [section] header */
	char *err; /* first error, "path:line: ..." */
	struct config_provider *cur;
	int *provider_lines;
};

/* A config with the built-in defaults and no providers. */
struct config *
conf_new(void)
{
	struct config *c = xcalloc(1, sizeof(*c));

	c->max_pods = 1024;
	c->max_depth = 8;
	c->max_children = 32;
	c->git_timeout_s = 60;
	c->compaction.enabled = true;
	c->compaction.threshold = 0.8;
	c->compaction.retain_tokens = 8000;
	return c;
}

static void
conf_provider_clear(struct config_provider *p)
{
	size_t i;

	free(p->name);
	free(p->base_url);
	free(p->api_key_env);
	free(p->api_key_file);
	for (i = 0; i < p->naliases; i++) {
		free(p->aliases[i].alias);
		free(p->aliases[i].model);
	}
	free(p->aliases);
	conf_responses_clear(p);
}

/* Free c and everything it owns (NULL-safe). */
void
conf_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nproviders; i++)
		conf_provider_clear(&c->providers[i]);
	free(c->providers);
	free(c->default_model);
	free(c->compaction.model);
	approval_policy_clear(&c->approval.pol);
	for (i = 0; i < c->npod_approvals; i++) {
		free(c->pod_approvals[i].pod);
		approval_policy_clear(&c->pod_approvals[i].pol);
	}
	free(c->pod_approvals);
	conf_mcp_clear(c);
	free(c);
}

/* Find a provider by name. */
struct config_provider *
conf_provider_find(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nproviders; i++)
		if (strcmp(c->providers[i].name, name) == 0)
			return &c->providers[i];
	return NULL;
}

/* The config spelling of a scheme. */
const char *
conf_scheme_name(enum provider_scheme s)
{
	if (s == SCHEME_OPENAI_RESPONSES)
		return "openai_responses";
	return s == SCHEME_ANTHROPIC ? "anthropic" : "openai_chat";
}

static struct config_provider *
conf_provider_add(struct config *c, const char *name)
{
	struct config_provider *p;

	c->providers = xreallocarray(
		c->providers, c->nproviders + 1, sizeof(*c->providers));
	p = &c->providers[c->nproviders++];
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name);
	return p;
}

static int
conf_error(struct conf_parse *cp, const char *fmt, const char *what)
{
	if (cp->err == NULL) {
		char *msg = xstrfmt(fmt, what);

		cp->err = xstrfmt("%s:%d: %s", cp->path, cp->line, msg);
		free(msg);
	}
	return 0;
}

static int
conf_long(struct conf_parse *cp, const char *name, const char *value, long min,
	long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < min || v > max)
		return conf_error(cp, "%s: not a number in range", name);
	*ret = v;
	return 1;
}

static int
conf_budget(struct conf_parse *cp, const char *name, const char *value,
	long long *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < 1 ||
		v > 1000000000000000LL)
		return conf_error(cp, "%s: not a number of tokens", name);
	*ret = v;
	return 1;
}

static int
conf_bool(struct conf_parse *cp, const char *name, const char *value, bool *ret)
{
	if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 ||
		strcmp(value, "1") == 0)
		*ret = true;
	else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 ||
		strcmp(value, "0") == 0)
		*ret = false;
	else
		return conf_error(cp, "%s: expected true or false", name);
	return 1;
}

static int
conf_handle_compaction(
	struct conf_parse *cp, const char *name, const char *value)
{
	struct config_compaction *cc = &cp->c->compaction;
	char *end;
	double v;

	if (strcmp(name, "enabled") == 0)
		return conf_bool(cp, name, value, &cc->enabled);
	if (strcmp(name, "retain_tokens") == 0)
		return conf_long(
			cp, name, value, 0, 100000000, &cc->retain_tokens);
	if (strcmp(name, "threshold") == 0) {
		errno = 0;
		v = strtod(value, &end);
		if (errno != 0 || end == value || *end != '\0' || !(v > 0.0) ||
			v >= 1.0)
			return conf_error(cp,
				"%s: expected a fraction of the "
				"window between 0 and 1, such as 0.8",
				name);
		cc->threshold = v;
		return 1;
	}
	if (strcmp(name, "model") == 0) {
		free(cc->model); /* empty: the pod's own model */
		cc->model = value[0] != '\0' ? xstrdup(value) : NULL;
		return 1;
	}
	return conf_error(cp, "unknown key \"%s\" in [compaction]", name);
}

static int
conf_handle_provider(struct conf_parse *cp, const char *name, const char *value)
{
	struct config_provider *p = cp->cur;
	char *err = NULL;
	int r;

	if (strcmp(name, "scheme") == 0) {
		if (strcmp(value, "openai_chat") == 0)
			p->scheme = SCHEME_OPENAI_CHAT;
		else if (strcmp(value, "anthropic") == 0)
			p->scheme = SCHEME_ANTHROPIC;
		else if (strcmp(value, "openai_responses") == 0)
			p->scheme = SCHEME_OPENAI_RESPONSES;
		else
			return conf_error(cp,
				"unknown scheme \"%s\" (openai_chat, "
				"openai_responses or anthropic)",
				value);
		p->has_scheme = true;
	} else if (strcmp(name, "base_url") == 0) {
		if (strncmp(value, "http://", 7) != 0 &&
			strncmp(value, "https://", 8) != 0)
			return conf_error(
				cp, "base_url \"%s\" is not http(s)", value);
		free(p->base_url);
		p->base_url = xstrdup(value);
	} else if (strcmp(name, "api_key_env") == 0) {
		free(p->api_key_env);
		p->api_key_env = xstrdup(value);
	} else if (strcmp(name, "api_key_file") == 0) {
		if (value[0] != '/')
			return conf_error(cp,
				"api_key_file \"%s\" is not absolute", value);
		free(p->api_key_file);
		p->api_key_file = xstrdup(value);
	} else if (strcmp(name, "context_window") == 0) {
		return conf_long(
			cp, name, value, 1024, 100000000, &p->context_window);
	} else if (strcmp(name, "max_tokens") == 0) {
		return conf_long(cp, name, value, 1, 10000000, &p->max_tokens);
	} else if (strcmp(name, "prompt_cache") == 0) {
		bool on = true;

		r = conf_bool(cp, name, value, &on);
		p->no_prompt_cache = !on;
		return r;
	} else if (strncmp(name, "model.", 6) == 0 && name[6] != '\0') {
		if (value[0] == '\0')
			return conf_error(cp, "alias %s has no model", name);
		p->aliases = xreallocarray(
			p->aliases, p->naliases + 1, sizeof(*p->aliases));
		p->aliases[p->naliases].alias = xstrdup(name + 6);
		p->aliases[p->naliases].model = xstrdup(value);
		p->naliases++;
	} else if ((r = conf_responses_key(p, name, value, &err)) != 0) {
		if (r > 0)
			return 1;
		r = conf_error(cp, "%s", err);
		free(err);
		return r;
	} else
		return conf_error(cp, "unknown key \"%s\" in a provider", name);
	return 1;
}

static int
conf_handle_approval(struct conf_parse *cp, struct config_approval *a,
	const char *name, const char *value)
{
	char *err = NULL, *msg;
	int r;

	r = conf_approval_key(a, name, value, &err);
	if (r > 0)
		return 1;
	if (r == 0)
		return conf_error(cp,
			"unknown key \"%s\" (approval, approval_allow, "
			"approval_timeout, approval_ask)",
			name);
	msg = xstrfmt("%s: %s", name, err ? err : "bad value");
	r = conf_error(cp, "%s", msg);
	free(msg);
	free(err);
	return r;
}

static int
conf_handle_mcp(struct conf_parse *cp, const char *server, const char *name,
	const char *value)
{
	char *err = NULL;
	int r;

	if (server == NULL)
		r = conf_mcp_defaults(cp->c, value, &err);
	else if ((r = conf_mcp_key(cp->c, server, name, value, &err)) == 0)
		err = xstrfmt("unknown key \"%s\" in [mcp.%s] (command, args, "
			      "arg, env.VAR, env_env.VAR, timeout_s, "
			      "init_timeout_s)",
			name, server);
	if (r > 0)
		return 1;
	r = conf_error(cp, "%s", err ? err : "bad value");
	free(err);
	return r;
}

/* [defaults] memory, memory_swap (sizes), pids, cpu_weight. */
static int
conf_limit(struct conf_parse *cp, const char *name, const char *value,
	struct pod_limits *l)
{
	int64_t v;
	long n;

	if (strcmp(name, "memory") == 0 || strcmp(name, "memory_swap") == 0) {
		if (cgroup2_parse_size(value, &v) < 0 ||
			(v == 0 && name[6] == '\0'))
			return conf_error(cp,
				name[6] == '\0'
					? "memory: expected a size (bytes, or "
					  "512M, 2G), not \"%s\""
					: "memory_swap: expected a size "
					  "(bytes, or 512M, 2G), not \"%s\"",
				value);
		if (name[6] == '\0')
			l->memory = v;
		else {
			l->memory_swap = v;
			l->swap_set = true;
		}
		return 1;
	}
	if (strcmp(name, "pids") == 0) {
		if (conf_long(cp, name, value, 1, 1 << 22, &n) != 1)
			return 0;
		l->pids = n;
		return 1;
	}
	if (conf_long(cp, name, value, 1, 10000, &n) != 1)
		return 0;
	l->cpu_weight = n;
	return 1;
}

static int
conf_handler(
	void *user, const char *section, const char *name, const char *value)
{
	struct conf_parse *cp = user;
	struct config *c = cp->c;

	if (name == NULL && value == NULL) {
		/* A new section (INI_CALL_HANDLER_ON_NEW_SECTION builds). */
		return 1;
	}
	if (strcmp(section, "daemon") == 0) {
		if (strcmp(name, "max_pods") == 0)
			return conf_long(
				cp, name, value, 1, 65536, &c->max_pods);
		if (strcmp(name, "max_depth") == 0)
			return conf_long(cp, name, value, 1, 64, &c->max_depth);
		if (strcmp(name, "max_children") == 0)
			return conf_long(
				cp, name, value, 1, 4096, &c->max_children);
		if (strcmp(name, "git_timeout_s") == 0)
			return conf_long(
				cp, name, value, 1, 3600, &c->git_timeout_s);
		return conf_error(cp, "unknown key \"%s\" in [daemon]", name);
	}
	if (strcmp(section, "defaults") == 0) {
		if (strcmp(name, "model") == 0) {
			free(c->default_model);
			c->default_model = xstrdup(value);
			return 1;
		}
		if (strncmp(name, "approval", 8) == 0)
			return conf_handle_approval(
				cp, &c->approval, name, value);
		if (strcmp(name, "network") == 0) {
			if ((c->network = isolation_network_parse(value)) < 0)
				return conf_error(cp,
					"network: expected on, loopback or "
					"off, not \"%s\"",
					value);
			return 1;
		}
		if (strcmp(name, "mcp") == 0)
			return conf_handle_mcp(cp, NULL, name, value);
		if (strcmp(name, "budget_tokens") == 0)
			return conf_budget(cp, name, value, &c->budget_tokens);
		if (strcmp(name, "memory") == 0 ||
			strcmp(name, "memory_swap") == 0 ||
			strcmp(name, "pids") == 0 ||
			strcmp(name, "cpu_weight") == 0)
			return conf_limit(cp, name, value, &c->limits);
		return conf_error(cp, "unknown key \"%s\" in [defaults]", name);
	}
	if (strncmp(section, "pod.", 4) == 0) {
		if (!podname_valid(section + 4, NULL))
			return conf_error(cp, "bad pod name in [%s]", section);
		if (strncmp(name, "approval", 8) != 0)
			return conf_error(cp,
				"unknown key \"%s\" in a [pod.NAME] section "
				"(approval, approval_allow, approval_timeout, "
				"approval_ask)",
				name);
		return conf_handle_approval(
			cp, conf_approval_pod(c, section + 4), name, value);
	}
	if (strncmp(section, "mcp.", 4) == 0)
		return conf_handle_mcp(cp, section + 4, name, value);
	if (strcmp(section, "compaction") == 0)
		return conf_handle_compaction(cp, name, value);
	if (strncmp(section, "provider.", 9) == 0) {
		const char *pname = section + 9;

		if (!podname_valid(pname, NULL))
			return conf_error(
				cp, "bad provider name \"%s\"", pname);
		cp->cur = conf_provider_find(c, pname);
		if (cp->cur == NULL) {
			cp->cur = conf_provider_add(c, pname);
			cp->provider_lines = xreallocarray(
				cp->provider_lines, c->nproviders, sizeof(int));
			cp->provider_lines[c->nproviders - 1] =
				cp->section_line;
		}
		return conf_handle_provider(cp, name, value);
	}
	return conf_error(cp, "unknown section [%s]", section);
}

/* fgets() over the in-memory file, counting lines. */
static char *
conf_reader(char *str, int num, void *stream)
{
	struct conf_parse *cp = stream;
	size_t n = 0;

	if (cp->off >= cp->len || num <= 1)
		return NULL;
	while (cp->off < cp->len && n < (size_t)num - 1) {
		char ch = cp->buf[cp->off++];

		str[n++] = ch;
		if (ch == '\n')
			break;
	}
	str[n] = '\0';
	cp->line++;
	if (str[strspn(str, " \t")] == '[')
		cp->section_line = cp->line;
	return str;
}

/* Report the first line too long for inih, or NUL bytes. */
static int
conf_prescan(struct conf_parse *cp)
{
	size_t i, start = 0;
	int line = 1;

	for (i = 0; i <= cp->len; i++) {
		size_t n;

		if (i < cp->len && cp->buf[i] == '\0') {
			cp->line = line;
			conf_error(cp, "%s", "NUL byte in the file");
			return -EINVAL;
		}
		if (i < cp->len && cp->buf[i] != '\n')
			continue;
		/* A '\r' before the '\n' takes a byte of inih's line
		 * buffer too, so it counts against the limit. */
		n = i - start;
		if (n > CONF_MAX_LINE) {
			cp->line = line;
			conf_error(cp,
				"line longer than 200 bytes (at most %s bytes of text per line)",
				"198");
			return -EINVAL;
		}
		start = i + 1;
		line++;
	}
	return 0;
}

static int
conf_validate(struct conf_parse *cp)
{
	struct config *c = cp->c;
	char *err = NULL;
	size_t i;
	int r;

	for (i = 0; i < c->nproviders; i++) {
		struct config_provider *p = &c->providers[i];

		cp->line = cp->provider_lines[i];
		if (!p->has_scheme)
			return conf_error(
				cp, "provider %s has no scheme", p->name);
		if (p->base_url == NULL)
			return conf_error(
				cp, "provider %s has no base_url", p->name);
		if (p->api_key_env != NULL && p->api_key_file != NULL)
			return conf_error(cp,
				"provider %s: api_key_env and api_key_file both set",
				p->name);
		if (conf_responses_validate(p, &err) < 0) {
			r = conf_error(cp, "%s", err);
			free(err);
			return r;
		}
	}
	if (conf_mcp_validate(c, &err) < 0) {
		r = conf_error(cp, "%s", err);
		free(err);
		return r;
	}
	return 0;
}

/* Load and validate path (missing file = defaults). */
int
conf_load(const char *path, struct config **ret_config, char **reterr_msg)
{
	struct conf_parse cp = { 0 };
	char *buf = NULL;
	size_t len = 0;
	int r;

	cp.c = conf_new();
	cp.path = path;
	r = path != NULL ? atomicfile_read(path, CONF_MAX_FILE, &buf, &len)
			 : -ENOENT;
	if (r == -ENOENT) {
		*ret_config = cp.c;
		return 0;
	}
	if (r < 0) {
		*reterr_msg = xstrfmt("%s: %s", path, strerror(-r));
		conf_free(cp.c);
		return r;
	}
	cp.buf = buf;
	cp.len = len;
	cp.c->from_file = true;
	if (conf_prescan(&cp) == 0) {
		r = ini_parse_stream(conf_reader, &cp, conf_handler, &cp);
		if (r != 0 && cp.err == NULL) {
			cp.line = r > 0 ? r : cp.line;
			conf_error(&cp, "%s", "syntax error");
		}
		if (cp.err == NULL)
			conf_validate(&cp);
	}
	free(buf);
	free(cp.provider_lines);
	if (cp.err != NULL) {
		*reterr_msg = cp.err;
		conf_free(cp.c);
		return -EINVAL;
	}
	*ret_config = cp.c;
	return 0;
}

/* Providers from the environment when the file names none. */
void
conf_add_env_providers(struct config *c)
{
	struct config_provider *p;
	const char *url = getenv("PODVISOR_BASE_URL");

	if (c->nproviders > 0)
		return;
	if (getenv("ANTHROPIC_API_KEY") != NULL) {
		p = conf_provider_add(c, "anthropic");
		p->scheme = SCHEME_ANTHROPIC;
		p->has_scheme = true;
		p->base_url = xstrdup("https://api.anthropic.com");
		p->api_key_env = xstrdup("ANTHROPIC_API_KEY");
	}
	if (getenv("OPENAI_API_KEY") != NULL) {
		p = conf_provider_add(c, "openai");
		p->has_scheme = true;
		p->base_url = xstrdup("https://api.openai.com/v1");
		p->api_key_env = xstrdup("OPENAI_API_KEY");
	}
	if (url != NULL && url[0] != '\0') {
		p = conf_provider_add(c, "local");
		p->has_scheme = true;
		p->base_url = xstrdup(url);
	}
	if (c->nproviders == 0) {
		p = conf_provider_add(c, "fake");
		p->has_scheme = true;
		p->is_fake = true;
	}
}
