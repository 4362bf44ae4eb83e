/* SPDX-License-Identifier: ISC */
#ifndef FAKELLM_RECORD_H
#define FAKELLM_RECORD_H

#include <stddef.h>

struct evhttp_request;

/* Open (create, append) the record file; 0 or -errno. */
int record_open(const char *path, int *ret_fd);
/*
 * Append one request as a JSON line and fsync it: chat request number n
 * (0 for other paths), method, path, headers (secrets redacted), body.
 * Errors are logged, never fatal.
 */
void record_request(int fd, unsigned n, struct evhttp_request *req,
	const char *path, const char *body, size_t len);

#endif
