/* SPDX-License-Identifier: ISC */
#ifndef CLI_CURL_LAZY_H
#define CLI_CURL_LAZY_H

#include <curl/curl.h>

/*
 * libcurl for 'podvisor doctor', loaded (dlopen of libcurl.so.4) when
 * doctor checks a provider, not linked: linked, its ~35 libraries are
 * resident in every CLI process, 'podvisor acp' serving an editor for
 * days included (about 6 MiB of its RSS).
 */
struct curl_lazy {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
};

extern struct curl_lazy curl_lazy;

/*
 * Load libcurl once (later calls return at once).  0, or -1 with a
 * sentence in *reterr_msg (caller frees).
 */
int curl_lazy_load(char **reterr_msg);

#endif
