/* SPDX-License-Identifier: ISC */
#ifndef WORKER_APPROVAL_DIFF_H
#define WORKER_APPROVAL_DIFF_H

struct json_object;

#define APPROVAL_DIFF_MAX (64 * 1024)

/*
 * A unified diff of what a write or edit call (args) would do to the
 * file at path (absolute): one hunk from the first to the last changed
 * line with up to 3 lines of context, cut at APPROVAL_DIFF_MAX.  NULL if
 * tool is neither or the edit's old text is not in the file.
 */
char *approval_diff(
	const char *tool, const char *path, const struct json_object *args);

/* The unified diff turning a into b (both NUL-terminated; exposed for
 * tests); label is the file's path. */
char *approval_diff_text(
	const char *label, const char *a, const char *b, int a_exists);

#endif
