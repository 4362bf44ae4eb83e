/* SPDX-License-Identifier: ISC */
#include "worker/attach.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/scope.h"
#include "common/xmalloc.h"

/* Bytes of the valid UTF-8 sequence at p (0 if invalid or cut short). */
static size_t
attach_utf8_seq(const unsigned char *p, size_t left)
{
	size_t n, i;
	unsigned int cp;

	if (p[0] < 0x80)
		return p[0] == 0 ? 0 : 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		(n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		(cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Longest valid UTF-8 prefix of buf. */
size_t
attach_utf8_prefix(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t off = 0, n;

	while (off < len) {
		n = attach_utf8_seq(p + off, len - off);
		if (n == 0)
			break;
		off += n;
	}
	return off;
}

/* Is all of buf valid UTF-8 (and free of NUL bytes)? */
bool
attach_utf8_valid(const char *buf, size_t len)
{
	return attach_utf8_prefix(buf, len) == len;
}

/* Read path (in scope, UTF-8) into a file_attachment item. */
struct json_object *
attach_file(const struct scope *scope, const char *cwd, const char *path,
	char **reterr_msg)
{
	struct json_object *item;
	struct stat st;
	char *norm = NULL, *buf;
	size_t len = 0, keep;
	ssize_t n;
	int r, fd;

	r = scope_normalize(path, cwd, &norm);
	if (r < 0) {
		*reterr_msg = xstrfmt("file_ref %s: %s", path, strerror(-r));
		return NULL;
	}
	if (scope == NULL || scope_check_path(scope, norm, cwd) < SCOPE_READ) {
		*reterr_msg =
			xstrfmt("file_ref %s is outside the pod's scope", path);
		free(norm);
		return NULL;
	}
	fd = open(norm, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*reterr_msg = xstrfmt("file_ref %s: %s", path,
			fd == -1 ? strerror(errno) : "not a regular file");
		if (fd != -1)
			close(fd);
		free(norm);
		return NULL;
	}
	buf = xmalloc(ATTACH_MAX + 4);
	while (len < ATTACH_MAX + 4) {
		n = read(fd, buf + len, ATTACH_MAX + 4 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	keep = attach_utf8_prefix(buf, len);
	/* Only a sequence cut by the size limit may be invalid. */
	if (keep < len && (len <= ATTACH_MAX || keep < ATTACH_MAX - 3)) {
		*reterr_msg = xstrfmt("file_ref %s is not UTF-8 text", path);
		free(buf);
		free(norm);
		return NULL;
	}
	if (keep > ATTACH_MAX)
		keep = attach_utf8_prefix(buf, ATTACH_MAX);
	item = json_object_new_object();
	json_object_object_add(
		item, "type", json_object_new_string("file_attachment"));
	json_object_object_add(item, "path", json_object_new_string(norm));
	json_object_object_add(
		item, "content", json_object_new_string_len(buf, (int)keep));
	json_object_object_add(
		item, "bytes", json_object_new_int64((int64_t)st.st_size));
	json_object_object_add(item, "truncated",
		json_object_new_boolean((off_t)keep < st.st_size));
	free(buf);
	free(norm);
	return item;
}
