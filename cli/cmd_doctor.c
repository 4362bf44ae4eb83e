/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ini.h>
#include <json-c/json.h>
#include <linux/landlock.h>

#include "cli/cli.h"
#include "cli/curl_lazy.h"
#include "cli/client.h"
#include "common/mountns.h"
#include "common/xmalloc.h"
#include "proto/msg.h"

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

#define CMD_DOCTOR_HTTP_TIMEOUT_MS 3000L
#define CMD_DOCTOR_MAX_PROVIDERS 16

enum cmd_doctor_level { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL };

struct cmd_doctor_provider {
	char *name;
	char *base_url;
	char *key_env; /* the variable holding the key, or NULL */
	bool key_file;
};

struct cmd_doctor {
	struct cli *cli;
	int fails;
	int warns;
	struct cmd_doctor_provider providers[CMD_DOCTOR_MAX_PROVIDERS];
	size_t nproviders;
	char *current; /* section being read */
	int bad_line;
	bool any_provider_section;
	struct json_object *cgroups; /* podvisord's hello "cgroups" */
};

/* One line: "ok    what  (fix: ...)". */
static void cmd_doctor_line(struct cmd_doctor *dr, enum cmd_doctor_level lvl,
	const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
cmd_doctor_line(struct cmd_doctor *dr, enum cmd_doctor_level lvl,
	const char *fix, const char *fmt, ...)
{
	static const char *const names[] = { "ok", "warn", "fail" };
	va_list ap;

	if (lvl == DOCTOR_FAIL)
		dr->fails++;
	else if (lvl == DOCTOR_WARN)
		dr->warns++;
	printf("%-4s  ", names[lvl]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (fix != NULL && lvl != DOCTOR_OK)
		printf("  (fix: %s)", fix);
	putchar('\n');
	fflush(stdout);
}

/* A private directory: exists, ours, 0700. */
static void
cmd_doctor_dir(struct cmd_doctor *dr, const char *what, const char *path)
{
	struct stat st;
	char *fix;

	if (stat(path, &st) < 0) {
		cmd_doctor_line(dr, DOCTOR_WARN,
			"it is created when podvisord starts ('podvisor "
			"daemon')",
			"%s %s does not exist yet (%s)", what, path,
			strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		fix = xstrfmt("remove %s or point the PODVISOR_* variable "
			      "elsewhere",
			path);
		cmd_doctor_line(dr, DOCTOR_FAIL, fix,
			"%s %s is not a directory", what, path);
		free(fix);
	} else if (st.st_uid != getuid()) {
		cmd_doctor_line(dr, DOCTOR_FAIL,
			"use a directory you own (PODVISOR_RUNTIME_DIR / "
			"PODVISOR_STATE_DIR)",
			"%s %s belongs to uid %u, not to you (%u)", what, path,
			(unsigned)st.st_uid, (unsigned)getuid());
	} else if ((st.st_mode & 077) != 0) {
		fix = xstrfmt("chmod 700 %s", path);
		cmd_doctor_line(dr, DOCTOR_FAIL, fix,
			"%s %s has mode %04o; others can reach it", what, path,
			(unsigned)(st.st_mode & 07777));
		free(fix);
	} else {
		cmd_doctor_line(
			dr, DOCTOR_OK, NULL, "%s %s (mode 0700)", what, path);
	}
}

/* Connect and ping the daemon. */
static void
cmd_doctor_control(struct cmd_doctor *dr)
{
	struct cli *cli = dr->cli;
	struct client *c;
	struct msg hello, reply;
	char *err = NULL, *text;
	struct json_object *v;
	int r;

	r = client_connect(cli->paths.control_sock, &c);
	if (r < 0) {
		text = cli_connect_error(cli->paths.control_sock, -r);
		cmd_doctor_line(dr, DOCTOR_FAIL,
			"start it with 'podvisor daemon' or 'systemctl --user "
			"start podvisord.socket'",
			"control socket: %s", text);
		free(text);
		return;
	}
	r = client_expect(c, "hello", 3000, &hello, &err);
	if (r == 0) {
		r = client_call(c, "ping", NULL, 3000, &reply, &err);
		if (r == 0) {
			if (json_object_object_get_ex(
				    hello.params, "cgroups", &v))
				dr->cgroups = json_object_get(v);
			json_object_object_get_ex(hello.params, "pid", &v);
			cmd_doctor_line(dr, DOCTOR_OK, NULL,
				"podvisord %s answers on %s (pid %lld)",
				msg_json_str(hello.params, "version")
					? msg_json_str(hello.params, "version")
					: "?",
				cli->paths.control_sock,
				v != NULL ? (long long)json_object_get_int64(v)
					  : 0LL);
			msg_clear(&reply);
		}
		msg_clear(&hello);
	}
	if (r < 0)
		cmd_doctor_line(dr, DOCTOR_FAIL,
			"see <runtime>/podvisord.log or 'journalctl --user -u "
			"podvisord'",
			"podvisord on %s does not answer: %s",
			cli->paths.control_sock,
			err != NULL ? err : strerror(-r));
	free(err);
	client_free(c);
}

static struct cmd_doctor_provider *
cmd_doctor_provider(struct cmd_doctor *dr, const char *name)
{
	struct cmd_doctor_provider *p;
	size_t i;

	for (i = 0; i < dr->nproviders; i++)
		if (strcmp(dr->providers[i].name, name) == 0)
			return &dr->providers[i];
	if (dr->nproviders == CMD_DOCTOR_MAX_PROVIDERS)
		return NULL;
	p = &dr->providers[dr->nproviders++];
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name);
	return p;
}

/* inih callback: remember the providers; stop at a bad value. */
static int
cmd_doctor_ini_cb(
	void *arg, const char *section, const char *key, const char *value)
{
	struct cmd_doctor *dr = arg;
	struct cmd_doctor_provider *p;

	if (strncmp(section, "provider.", 9) != 0 || section[9] == '\0')
		return 1;
	dr->any_provider_section = true;
	if ((p = cmd_doctor_provider(dr, section + 9)) == NULL)
		return 1;
	if (strcmp(key, "base_url") == 0) {
		free(p->base_url);
		p->base_url = xstrdup(value);
	} else if (strcmp(key, "api_key_env") == 0) {
		free(p->key_env);
		p->key_env = xstrdup(value);
	} else if (strcmp(key, "api_key_file") == 0) {
		p->key_file = true;
	}
	return 1;
}

/* The config file: where it is, whether it parses. */
static void
cmd_doctor_config(struct cmd_doctor *dr)
{
	const char *path = dr->cli->paths.config;
	char line[4096];
	FILE *f;
	int r, n = 0;

	f = fopen(path, "r");
	if (f == NULL) {
		cmd_doctor_line(dr, DOCTOR_OK, NULL,
			"no config at %s: the daemon uses OPENAI_API_KEY, "
			"ANTHROPIC_API_KEY or PODVISOR_BASE_URL, else the "
			"bundled fake model",
			path);
		return;
	}
	/* Debian's inih cuts lines at 200 bytes: find them first. */
	while (fgets(line, sizeof(line), f) != NULL) {
		n++;
		if (strlen(line) > 198) {
			fclose(f);
			cmd_doctor_line(dr, DOCTOR_FAIL,
				"shorten it (values must fit in 198 bytes)",
				"config %s: line %d is too long", path, n);
			return;
		}
	}
	rewind(f);
	r = ini_parse_file(f, cmd_doctor_ini_cb, dr);
	fclose(f);
	if (r != 0)
		cmd_doctor_line(dr, DOCTOR_FAIL, "fix the INI syntax there",
			"config %s: line %d does not parse", path, r);
	else
		cmd_doctor_line(dr, DOCTOR_OK, NULL,
			"config %s parses (%zu provider section%s)", path,
			dr->nproviders, dr->nproviders == 1 ? "" : "s");
}

/* Providers from the environment, when the config names none. */
static void
cmd_doctor_env_providers(struct cmd_doctor *dr)
{
	struct cmd_doctor_provider *p;
	const char *url = getenv("PODVISOR_BASE_URL");

	if (dr->any_provider_section)
		return;
	if (getenv("ANTHROPIC_API_KEY") != NULL &&
		(p = cmd_doctor_provider(dr, "anthropic")) != NULL) {
		p->base_url = xstrdup(
			url != NULL ? url : "https://api.anthropic.com");
		p->key_env = xstrdup("ANTHROPIC_API_KEY");
	}
	if (getenv("OPENAI_API_KEY") != NULL &&
		(p = cmd_doctor_provider(dr, "openai")) != NULL) {
		p->base_url = xstrdup(
			url != NULL ? url : "https://api.openai.com/v1");
		p->key_env = xstrdup("OPENAI_API_KEY");
	}
	if (dr->nproviders == 0 && url != NULL &&
		(p = cmd_doctor_provider(dr, "env")) != NULL)
		p->base_url = xstrdup(url);
	if (dr->nproviders == 0)
		cmd_doctor_line(dr, DOCTOR_OK, NULL,
			"no provider configured: pods use the bundled fake "
			"model (set OPENAI_API_KEY or ANTHROPIC_API_KEY for a "
			"real one)");
}

static size_t
cmd_doctor_discard_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

/* HEAD base_url with a short timeout; any HTTP answer is reachable. */
static void
cmd_doctor_http(struct cmd_doctor *dr, struct cmd_doctor_provider *p)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;
	CURL *h;

	if (p->base_url == NULL) {
		cmd_doctor_line(dr, DOCTOR_FAIL, "add base_url to the section",
			"provider %s has no base_url", p->name);
		return;
	}
	if (p->key_env != NULL && getenv(p->key_env) == NULL)
		cmd_doctor_line(dr, DOCTOR_WARN,
			"export the key in the daemon's environment",
			"provider %s: %s is not set here", p->name, p->key_env);
	h = curl_lazy.easy_init();
	if (h == NULL) {
		cmd_doctor_line(
			dr, DOCTOR_FAIL, NULL, "libcurl does not start");
		return;
	}
	curl_lazy.easy_setopt(h, CURLOPT_URL, p->base_url);
	curl_lazy.easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_lazy.easy_setopt(
		h, CURLOPT_TIMEOUT_MS, CMD_DOCTOR_HTTP_TIMEOUT_MS);
	curl_lazy.easy_setopt(
		h, CURLOPT_CONNECTTIMEOUT_MS, CMD_DOCTOR_HTTP_TIMEOUT_MS);
	curl_lazy.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_lazy.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_lazy.easy_setopt(h, CURLOPT_WRITEFUNCTION, cmd_doctor_discard_cb);
	rc = curl_lazy.easy_perform(h);
	if (rc == CURLE_OK) {
		curl_lazy.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		cmd_doctor_line(dr, DOCTOR_OK, NULL,
			"provider %s reachable at %s (HTTP %ld)", p->name,
			p->base_url, status);
	} else {
		cmd_doctor_line(dr, DOCTOR_FAIL,
			"check base_url and the network or proxy settings",
			"provider %s unreachable at %s: %s", p->name,
			p->base_url,
			*errbuf != '\0' ? errbuf : curl_lazy.easy_strerror(rc));
	}
	curl_lazy.easy_cleanup(h);
}

/* The Landlock ABI the running kernel offers. */
static void
cmd_doctor_landlock(struct cmd_doctor *dr)
{
	long abi;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
		LANDLOCK_CREATE_RULESET_VERSION);
	if (abi >= 1)
		cmd_doctor_line(dr, DOCTOR_OK, NULL,
			"Landlock ABI %ld: bash tool commands are confined to "
			"the pod's write scope",
			abi);
	else
		cmd_doctor_line(dr, DOCTOR_WARN,
			"a kernel >= 5.13 with Landlock enabled (lsm=landlock)",
			"no Landlock (%s): bash tool commands run unconfined",
			strerror(errno));
}

/* The read-only mounts around bash (common/mountns.h). */
static void
cmd_doctor_mountns(struct cmd_doctor *dr)
{
	if (mountns_available()) {
		cmd_doctor_line(dr, DOCTOR_OK, NULL,
			"user and mount namespaces: bash tool commands run "
			"under read-only mounts outside the write scope");
		cmd_doctor_line(dr, DOCTOR_OK, NULL,
			"private /tmp and /var/tmp per pod (%s/tmp/NAME)",
			dr->cli->paths.state);
	} else {
		cmd_doctor_line(dr, DOCTOR_WARN,
			"allow unprivileged user namespaces "
			"(sysctl kernel.unprivileged_userns_clone=1, or the "
			"AppArmor userns restriction)",
			"no user namespaces: bash relies on Landlock alone "
			"(no new files beside a delegated area, chmod and "
			"timestamps outside the scope not refused)");
		cmd_doctor_line(dr, DOCTOR_WARN, "the same: user namespaces",
			"no private /tmp: bash sees the shared /tmp and "
			"/var/tmp but cannot write them; TMPDIR points at the "
			"pod's own %s/tmp/NAME/tmp",
			dr->cli->paths.state);
	}
}

/* What holds network = off | loopback (docs/isolation.md). */
static void
cmd_doctor_network(struct cmd_doctor *dr)
{
	long abi;

	if (mountns_net_available()) {
		cmd_doctor_line(dr, DOCTOR_OK, NULL,
			"network namespaces: network = off | loopback runs "
			"bash with only lo (down | up)");
		return;
	}
	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
		LANDLOCK_CREATE_RULESET_VERSION);
	if (abi >= 4)
		cmd_doctor_line(dr, DOCTOR_WARN,
			"allow unprivileged user namespaces",
			"no network namespaces: network = off | loopback "
			"denies bash every TCP bind and connect (Landlock "
			"ABI %ld); UDP and other sockets stay open",
			abi);
	else
		cmd_doctor_line(dr, DOCTOR_WARN,
			"allow unprivileged user namespaces, or a kernel >= "
			"6.7 (Landlock ABI 4)",
			"no network namespaces and no Landlock TCP rules: "
			"pods with network = off | loopback cannot run bash");
}

static void
cmd_doctor_cgroups_line(void *arg, int level, const char *fix, const char *text)
{
	cmd_doctor_line(
		arg, level == 0 ? DOCTOR_OK : DOCTOR_WARN, fix, "%s", text);
}

/* A program podvisor needs, found and executable. */
static void
cmd_doctor_binary(
	struct cmd_doctor *dr, const char *what, char *path, const char *fix)
{
	if (path != NULL && access(path, X_OK) == 0)
		cmd_doctor_line(dr, DOCTOR_OK, NULL, "%s %s", what, path);
	else
		cmd_doctor_line(dr, DOCTOR_FAIL, fix, "%s not found%s%s", what,
			path != NULL ? " at " : "", path != NULL ? path : "");
	free(path);
}

/* git for worktree pods: present, and with merge-tree --write-tree. */
static void
cmd_doctor_git(struct cmd_doctor *dr)
{
	char *v = cmd_worktree_git_version();
	int major = 0, minor = 0;

	if (v == NULL)
		cmd_doctor_line(dr, DOCTOR_WARN, "install git",
			"git: not found; spawn --worktree, diff and merge "
			"need it");
	else if (sscanf(v, "git version %d.%d", &major, &minor) == 2 &&
		(major > 2 || (major == 2 && minor >= 38)))
		cmd_doctor_line(
			dr, DOCTOR_OK, NULL, "git: %s (worktree pods)", v + 12);
	else
		cmd_doctor_line(dr, DOCTOR_WARN, "install git 2.38 or later",
			"git: %s; podvisor merge needs git merge-tree "
			"--write-tree (2.38)",
			v);
	free(v);
}

/* podvisor doctor */
int
cmd_doctor(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_doctor dr;
	char *err = NULL;
	size_t i;
	int c, ex = 0;

	while ((c = cli_getopt(cli, cmd, argc, argv, "", opts, &ex)) != -2)
		if (c == -1)
			return ex;
	if (argc - optind != 0)
		return cli_usage_error(
			cmd, "unexpected argument '%s'", argv[optind]);
	memset(&dr, 0, sizeof(dr));
	dr.cli = cli;
	cmd_doctor_dir(&dr, "runtime dir", cli->paths.runtime);
	cmd_doctor_dir(&dr, "state dir", cli->paths.state);
	cmd_doctor_control(&dr);
	cmd_doctor_config(&dr);
	cmd_doctor_env_providers(&dr);
	if (dr.nproviders > 0 && curl_lazy_load(&err) < 0) {
		cmd_doctor_line(&dr, DOCTOR_FAIL, "install libcurl4",
			"providers not checked: %s", err);
		free(err);
	} else if (dr.nproviders > 0) {
		curl_lazy.global_init(CURL_GLOBAL_DEFAULT);
		for (i = 0; i < dr.nproviders; i++)
			cmd_doctor_http(&dr, &dr.providers[i]);
		curl_lazy.global_cleanup();
	}
	cmd_doctor_landlock(&dr);
	cmd_doctor_mountns(&dr);
	cmd_doctor_network(&dr);
	cli_limits_doctor(dr.cgroups, cmd_doctor_cgroups_line, &dr);
	json_object_put(dr.cgroups);
	cmd_doctor_git(&dr);
	cmd_doctor_binary(&dr, "worker binary", paths_worker_binary(),
		"install podvisor-worker or set PODVISOR_WORKER");
	cmd_doctor_binary(&dr, "daemon binary",
		paths_sibling_binary("podvisord", "PODVISORD"),
		"install podvisord next to podvisor or set PODVISORD");
	for (i = 0; i < dr.nproviders; i++) {
		free(dr.providers[i].name);
		free(dr.providers[i].base_url);
		free(dr.providers[i].key_env);
	}
	printf("%d failed, %d warning%s\n", dr.fails, dr.warns,
		dr.warns == 1 ? "" : "s");
	return dr.fails > 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
