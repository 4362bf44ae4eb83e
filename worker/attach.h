/* SPDX-License-Identifier: ISC */
#ifndef WORKER_ATTACH_H
#define WORKER_ATTACH_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;
struct scope;

/* The cut of a file_ref attachment (PROTOCOL.md §2). */
#define ATTACH_MAX (256 * 1024)

/*
 * Build the file_attachment item for a file_ref segment: the path must
 * be readable in scope (normalised against cwd, last component opened
 * without following symlinks) and hold UTF-8 text; the content is cut
 * at ATTACH_MAX bytes on a character boundary.  Returns a new item, or
 * NULL with a sentence in *reterr_msg (caller frees).
 */
struct json_object *attach_file(const struct scope *scope, const char *cwd,
	const char *path, char **reterr_msg);

/* Length of the longest valid UTF-8 prefix of buf (≤ len). */
size_t attach_utf8_prefix(const char *buf, size_t len);

/* True if buf[0..len) is entirely valid UTF-8 without NUL bytes. */
bool attach_utf8_valid(const char *buf, size_t len);

#endif
