/* SPDX-License-Identifier: ISC */
#include "cli/curl_lazy.h"

#include <dlfcn.h>
#include <stddef.h>

#include "common/xmalloc.h"

#define CURL_LAZY_LIBRARY "libcurl.so.4"

struct curl_lazy curl_lazy;

static void *curl_lazy_handle;

/* dlopen libcurl and look up what doctor calls. */
int
curl_lazy_load(char **reterr_msg)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
		{ "curl_global_init", offsetof(struct curl_lazy, global_init) },
		{ "curl_global_cleanup",
			offsetof(struct curl_lazy, global_cleanup) },
		{ "curl_easy_init", offsetof(struct curl_lazy, easy_init) },
		{ "curl_easy_cleanup",
			offsetof(struct curl_lazy, easy_cleanup) },
		{ "curl_easy_setopt", offsetof(struct curl_lazy, easy_setopt) },
		{ "curl_easy_perform",
			offsetof(struct curl_lazy, easy_perform) },
		{ "curl_easy_getinfo",
			offsetof(struct curl_lazy, easy_getinfo) },
		{ "curl_easy_strerror",
			offsetof(struct curl_lazy, easy_strerror) },
	};
	void *h, *f;
	size_t i;

	if (curl_lazy_handle != NULL)
		return 0;
	h = dlopen(CURL_LAZY_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		*reterr_msg = xstrfmt("cannot load %s: %s (install libcurl4)",
			CURL_LAZY_LIBRARY, dlerror());
		return -1;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		f = dlsym(h, syms[i].name);
		if (f == NULL) {
			*reterr_msg = xstrfmt("%s has no %s", CURL_LAZY_LIBRARY,
				syms[i].name);
			dlclose(h);
			return -1;
		}
		*(void **)((char *)&curl_lazy + syms[i].off) = f;
	}
	curl_lazy_handle = h;
	return 0;
}
