/* SPDX-License-Identifier: ISC */
#include <sys/mman.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisord/conf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The config file: a memfd opened by path through /proc/self/fd. */
static int fuzz_config_fd = -1;
static char fuzz_config_path[64];

/* Create the memfd once; no provider keys come from the environment. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_config_fd = memfd_create("config.ini", MFD_CLOEXEC);
	if (fuzz_config_fd < 0)
		abort();
	snprintf(fuzz_config_path, sizeof(fuzz_config_path), "/proc/self/fd/%d",
		fuzz_config_fd);
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");
	unsetenv("PODVISOR_BASE_URL");
	return 0;
}

/* Number of lines in data (a last line without '\n' counts). */
static long
fuzz_config_lines(const uint8_t *data, size_t size)
{
	long n = 1;
	size_t i;

	for (i = 0; i < size; i++)
		if (data[i] == '\n')
			n++;
	return n;
}

static void
fuzz_config_check(const struct config *c)
{
	const struct config_provider *p;
	size_t i, j;

	if (c->max_pods < 1 || c->max_depth < 1 || c->max_children < 1)
		__builtin_trap();
	for (i = 0; i < c->nproviders; i++) {
		p = &c->providers[i];
		if (p->name == NULL || conf_provider_find(c, p->name) != p)
			__builtin_trap();
		if (!p->is_fake && (!p->has_scheme || p->base_url == NULL))
			__builtin_trap();
		(void)strlen(conf_scheme_name(p->scheme));
		for (j = 0; j < p->naliases; j++)
			if (p->aliases[j].alias == NULL ||
				p->aliases[j].model == NULL)
				__builtin_trap();
	}
}

/* The input is the whole config.ini. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = NULL;
	char *err = NULL, *end;
	size_t plen = strlen(fuzz_config_path);
	long line;
	int r;

	if (ftruncate(fuzz_config_fd, 0) != 0 ||
		pwrite(fuzz_config_fd, data, size, 0) != (ssize_t)size)
		abort();
	r = conf_load(fuzz_config_path, &c, &err);
	if (r == 0) {
		if (c == NULL || err != NULL || !c->from_file)
			__builtin_trap();
		fuzz_config_check(c);
		conf_add_env_providers(c);
		if (c->nproviders == 0)
			__builtin_trap();
		fuzz_config_check(c);
		conf_free(c);
		return 0;
	}
	/* Errors read "path:line: problem" with a line of the file. */
	if (r != -EINVAL || c != NULL || err == NULL ||
		strncmp(err, fuzz_config_path, plen) != 0 || err[plen] != ':')
		__builtin_trap();
	line = strtol(err + plen + 1, &end, 10);
	if (*end != ':' || line < 1 || line > fuzz_config_lines(data, size))
		__builtin_trap();
	free(err);
	return 0;
}
