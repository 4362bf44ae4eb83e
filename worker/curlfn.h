/* SPDX-License-Identifier: ISC */
#ifndef WORKER_CURLFN_H
#define WORKER_CURLFN_H

#include <curl/curl.h>

/*
 * libcurl, loaded (dlopen of libcurl.so.4) the first time a pod calls its
 * provider, not linked.  Linked, it costs every worker exec about 7 ms
 * (it pulls some 35 libraries: TLS, GSSAPI, LDAP, ...) and its relocated
 * data, which a spawn pays in full and a pod that is only waiting never
 * needs.  The worker reaches libcurl only through this table.
 */
struct curlfn {
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	const char *(*multi_strerror)(CURLMcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
};

extern struct curlfn curlfn;

/*
 * Load libcurl and run curl_global_init() once (later calls return at
 * once).  0, or -1 with a sentence in *reterr_msg (caller frees).
 */
int curlfn_load(char **reterr_msg);

/* Is libcurl loaded (tests, benchmarks)? */
int curlfn_loaded(void);

/* curl_global_cleanup() if it was loaded; the library stays mapped. */
void curlfn_unload(void);

#endif
