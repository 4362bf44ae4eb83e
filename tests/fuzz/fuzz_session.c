/* SPDX-License-Identifier: ISC */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "worker/session.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A private directory for the segment file (tmpfs when there is one). */
static char fuzz_session_dir[64];
static char fuzz_session_file[128];

static void
fuzz_session_cleanup(void)
{
	unlink(fuzz_session_file);
	rmdir(fuzz_session_dir);
}

/* Make the directory the segment is written into, removed at exit. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct stat st;

	snprintf(fuzz_session_dir, sizeof(fuzz_session_dir), "%s",
		stat("/dev/shm", &st) == 0 ? "/dev/shm/fuzz-session-XXXXXX"
					   : "/tmp/fuzz-session-XXXXXX");
	if (mkdtemp(fuzz_session_dir) == NULL)
		abort();
	snprintf(fuzz_session_file, sizeof(fuzz_session_file), "%s/seg.jsonl",
		fuzz_session_dir);
	atexit(fuzz_session_cleanup);
	return 0;
}

static char *
fuzz_session_read(size_t *ret_len)
{
	struct stat st;
	char *buf;
	int fd;

	fd = open(fuzz_session_file, O_RDONLY | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1)
		abort();
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL || read(fd, buf, (size_t)st.st_size) != st.st_size)
		abort();
	close(fd);
	*ret_len = (size_t)st.st_size;
	return buf;
}

/*
 * What restore leaves on disk is a prefix of the input made of whole
 * lines; after appends the file still ends with a newline.
 */
static void
fuzz_session_check_file(const uint8_t *data, size_t size, bool exact_prefix)
{
	size_t len;
	char *buf;

	buf = fuzz_session_read(&len);
	if (exact_prefix &&
		(len > size || (len > 0 && memcmp(buf, data, len) != 0)))
		__builtin_trap();
	if (len > 0 && buf[len - 1] != '\n')
		__builtin_trap();
	free(buf);
}

/* The input is the whole segment file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *e, *calls;
	struct session *s = NULL;
	char *alert = NULL, *err = NULL;
	size_t n, closed;
	int fd, r;

	fd = open(fuzz_session_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		0600);
	if (fd == -1 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);

	r = session_restore(fuzz_session_dir, "sess", "seg", &s, &alert, &err);
	if (r != 0) {
		/* Only I/O can fail: every content is restorable. */
		__builtin_trap();
	}
	if (s == NULL || err != NULL)
		__builtin_trap();
	fuzz_session_check_file(data, size, true);
	if (alert != NULL)
		(void)strlen(alert);
	free(alert);

	n = session_count(s);
	if (n != json_object_array_length(session_entries(s)))
		__builtin_trap();
	(void)session_has_eid(s, "e1");
	(void)session_last_turn(s);
	if (session_last_text(s) != NULL)
		(void)strlen(session_last_text(s));
	calls = session_dangling_calls(s);
	closed = session_close_dangling(s, "[interrupted]");
	if (closed != json_object_array_length(calls))
		__builtin_trap();
	json_object_put(calls);
	calls = session_dangling_calls(s);
	if (json_object_array_length(calls) != 0 && closed != 0)
		__builtin_trap();
	json_object_put(calls);
	e = session_entry_new("turn_end");
	json_object_object_add(e, "turn", json_object_new_int(1));
	if (session_append(s, e, false) != 0)
		__builtin_trap();
	if (session_count(s) != n + closed + 1)
		__builtin_trap();
	fuzz_session_check_file(data, size, false);
	session_free(s);
	return 0;
}
