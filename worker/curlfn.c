/* SPDX-License-Identifier: ISC */
#include "worker/curlfn.h"

#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

#include "common/xmalloc.h"

#define CURLFN_LIBRARY "libcurl.so.4"

struct curlfn curlfn;

static void *curlfn_handle;
static int curlfn_state; /* 1 once loaded and initialised */

/* The table's members, in order, with the symbol each comes from. */
static const struct {
	const char *name;
	size_t off;
} curlfn_syms[] = {
#define CURLFN_SYM(m) \
	{ \
		"curl_" #m, offsetof(struct curlfn, m) \
	}
	CURLFN_SYM(easy_init),
	CURLFN_SYM(easy_cleanup),
	CURLFN_SYM(easy_setopt),
	CURLFN_SYM(easy_getinfo),
	CURLFN_SYM(easy_strerror),
	CURLFN_SYM(multi_init),
	CURLFN_SYM(multi_cleanup),
	CURLFN_SYM(multi_setopt),
	CURLFN_SYM(multi_add_handle),
	CURLFN_SYM(multi_remove_handle),
	CURLFN_SYM(multi_socket_action),
	CURLFN_SYM(multi_assign),
	CURLFN_SYM(multi_info_read),
	CURLFN_SYM(multi_strerror),
	CURLFN_SYM(slist_append),
	CURLFN_SYM(slist_free_all),
#undef CURLFN_SYM
};

int
curlfn_load(char **reterr_msg)
{
	CURLcode (*global_init)(long);
	const char *err;
	void *h, *sym;
	size_t i;

	if (curlfn_state == 1)
		return 0;
	h = dlopen(CURLFN_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		err = dlerror();
		*reterr_msg = xstrfmt("cannot load %s (install libcurl4): %s",
			CURLFN_LIBRARY, err != NULL ? err : "unknown error");
		return -1;
	}
	for (i = 0; i < sizeof(curlfn_syms) / sizeof(curlfn_syms[0]); i++) {
		sym = dlsym(h, curlfn_syms[i].name);
		if (sym == NULL) {
			*reterr_msg = xstrfmt("%s has no %s: too old a libcurl",
				CURLFN_LIBRARY, curlfn_syms[i].name);
			dlclose(h);
			return -1;
		}
		/* POSIX: a data pointer from dlsym converts to a function. */
		memcpy((char *)&curlfn + curlfn_syms[i].off, &sym, sizeof(sym));
	}
	sym = dlsym(h, "curl_global_init");
	if (sym != NULL)
		memcpy(&global_init, &sym, sizeof(sym));
	if (sym == NULL || global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*reterr_msg = xstrfmt("curl_global_init failed");
		dlclose(h);
		return -1;
	}
	curlfn_handle = h;
	curlfn_state = 1;
	return 0;
}

int
curlfn_loaded(void)
{
	return curlfn_state == 1;
}

void
curlfn_unload(void)
{
	void (*global_cleanup)(void);
	void *sym;

	if (curlfn_state != 1)
		return;
	sym = dlsym(curlfn_handle, "curl_global_cleanup");
	if (sym != NULL) {
		memcpy(&global_cleanup, &sym, sizeof(sym));
		global_cleanup();
	}
	curlfn_state = 0;
}
