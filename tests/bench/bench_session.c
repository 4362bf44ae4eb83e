/* SPDX-License-Identifier: ISC */
/*
 * Session log cost (worker/session.h) on the disk of DIR (argv[1], default
 * $TMPDIR or /var/tmp):
 *   session_append_fsync   µs per committed entry (write + fsync) of a
 *                          realistic assistant entry; baseline: a bare
 *                          write+fsync loop of a line of the same size in
 *                          the same directory, rounds interleaved A/B.
 *   session_append_nosync  the same without fsync; baseline bare write.
 *   atomic_write_state     µs per atomicfile_write() of a 700-byte pod
 *                          state file (tmp + fsync + rename + fsync dir,
 *                          what podvisord does per state change);
 *                          baseline: the bare write+fsync of the same
 *                          bytes appended to one file, interleaved.
 *   session_restore_100k   ms to reopen and replay a 100,000-entry
 *                          segment; baseline: read the file and parse
 *                          each line with json-c (the least a replay does).
 * Medians of per-entry latencies / of repeated runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bench.h"
#include "common/atomicfile.h"
#include "common/xmalloc.h"
#include "worker/session.h"

#define ROUNDS 6
#define PER_ROUND 100
#define RESTORE_ENTRIES 100000
#define RESTORE_REPS 5

static const char *lorem =
	"I looked at conn.c: the read callback drains every complete line, "
	"then checks the remaining buffer length against the line limit, so "
	"a line without a newline can no longer stall the connection. I will "
	"now add a regression test that writes 1 MiB + 1 bytes without a "
	"newline and expects line_too_long followed by EOF.";

static struct json_object *
make_entry(unsigned i)
{
	struct json_object *e, *calls, *call;
	char id[32];

	e = session_entry_new("assistant");
	json_object_object_add(e, "text", json_object_new_string(lorem));
	calls = json_object_new_array();
	call = json_object_new_object();
	snprintf(id, sizeof(id), "call_%08u", i);
	json_object_object_add(call, "id", json_object_new_string(id));
	json_object_object_add(call, "name", json_object_new_string("edit"));
	json_object_object_add(call, "arguments",
		json_object_new_string(
			"{\"path\":\"/home/u/proj/tests/it/test_conn.py\","
			"\"old\":\"def test_limit(env):\\n    pass\\n\","
			"\"new\":\"def test_limit(env):\\n    c = env.control()"
			"\\n    c.send_raw(b'x' * (1 << 20 + 1))\\n\"}"));
	json_object_array_add(calls, call);
	json_object_object_add(e, "tool_calls", calls);
	return e;
}

static void
die(const char *what, int r)
{
	fprintf(stderr, "bench_session: %s: %s\n", what, strerror(-r));
	exit(1);
}

/* Per-entry seconds of session_append into t[0..PER_ROUND). */
static void
round_session(struct session *s, bool sync, double *t, unsigned *seq)
{
	struct json_object *e;
	double t0;
	int i, r;

	for (i = 0; i < PER_ROUND; i++) {
		e = make_entry((*seq)++);
		t0 = bench_now();
		if ((r = session_append(s, e, sync)) != 0)
			die("session_append", r);
		t[i] = bench_now() - t0;
	}
}

/* Per-entry seconds of a bare write (+ fsync) of len bytes. */
static void
round_bare(int fd, const char *line, size_t len, bool sync, double *t)
{
	double t0;
	int i;

	for (i = 0; i < PER_ROUND; i++) {
		t0 = bench_now();
		if (write(fd, line, len) != (ssize_t)len)
			die("write", -errno);
		if (sync && fsync(fd) == -1)
			die("fsync", -errno);
		t[i] = bench_now() - t0;
	}
}

static void
bench_append(const char *dir, bool sync)
{
	static double ts[ROUNDS * PER_ROUND], tb[ROUNDS * PER_ROUND];
	struct json_object *e;
	struct session *s;
	char *err = NULL, *bare, *line;
	unsigned seq = 0;
	size_t len;
	int fd, r, k;

	if ((r = session_create(dir, NULL, NULL, "openai/gpt-4.1",
		     "You are a careful engineer.", &s, &err)) != 0)
		die(err ? err : "session_create", r);
	e = make_entry(0);
	line = xstrfmt("%s\n",
		json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
	len = strlen(line);
	json_object_put(e);
	bare = xstrfmt("%s/bare.jsonl", dir);
	fd = open(bare, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC,
		0600);
	if (fd == -1)
		die(bare, -errno);
	for (k = 0; k < ROUNDS; k++) {
		round_bare(fd, line, len, sync, tb + k * PER_ROUND);
		round_session(s, sync, ts + k * PER_ROUND, &seq);
	}
	bench_print(sync ? "session_append_fsync" : "session_append_nosync",
		bench_median(ts, ROUNDS * PER_ROUND) * 1e6, "us/entry",
		bench_median(tb, ROUNDS * PER_ROUND) * 1e6);
	if (sync)
		bench_print("session_append_fsync_p99",
			bench_quantile(ts, ROUNDS * PER_ROUND, 0.99) * 1e6,
			"us/entry",
			bench_quantile(tb, ROUNDS * PER_ROUND, 0.99) * 1e6);
	close(fd);
	unlink(bare);
	unlink(session_path(s));
	session_free(s);
	free(bare);
	free(line);
}

/* Seconds to read path and json-parse each line. */
static double
baseline_replay(const char *path)
{
	struct json_tokener *tok;
	struct json_object *o;
	char *buf, *p, *nl;
	size_t n = 0;
	double t0;
	FILE *f;
	long len;

	t0 = bench_now();
	if ((f = fopen(path, "r")) == NULL)
		die(path, -errno);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = xmalloc((size_t)len + 1);
	if (fread(buf, 1, (size_t)len, f) != (size_t)len)
		die("fread", -EIO);
	fclose(f);
	tok = json_tokener_new();
	o = json_object_new_array();
	for (p = buf; p < buf + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(buf + len - p));
		json_tokener_reset(tok);
		json_object_array_add(
			o, json_tokener_parse_ex(tok, p, (int)(nl - p)));
		n++;
	}
	json_tokener_free(tok);
	json_object_put(o);
	free(buf);
	return n > 0 ? bench_now() - t0 : 0;
}

static void
bench_restore(const char *dir)
{
	double ts[RESTORE_REPS], tb[RESTORE_REPS], t0;
	struct session *s;
	char *err = NULL, *alert = NULL, *sid, *seg, *path;
	unsigned i;
	int r, k;

	if ((r = session_create(dir, NULL, NULL, "openai/gpt-4.1",
		     "You are a careful engineer.", &s, &err)) != 0)
		die(err ? err : "session_create", r);
	for (i = 1; i < RESTORE_ENTRIES; i++)
		if ((r = session_append(s, make_entry(i), false)) != 0)
			die("session_append", r);
	sid = xstrdup(session_id(s));
	seg = xstrdup(session_segment(s));
	path = xstrdup(session_path(s));
	session_free(s);
	for (k = 0; k < RESTORE_REPS; k++) {
		tb[k] = baseline_replay(path);
		t0 = bench_now();
		if ((r = session_restore(dir, sid, seg, &s, &alert, &err)) != 0)
			die(err ? err : "session_restore", r);
		ts[k] = bench_now() - t0;
		if (alert != NULL || session_count(s) != RESTORE_ENTRIES) {
			fprintf(stderr,
				"bench_session: restore gave %zu "
				"entries (%s)\n",
				session_count(s), alert ? alert : "no alert");
			exit(1);
		}
		session_free(s);
	}
	bench_print("session_restore_100k",
		bench_median(ts, RESTORE_REPS) * 1e3, "ms",
		bench_median(tb, RESTORE_REPS) * 1e3);
	unlink(path);
	free(path);
	free(sid);
	free(seg);
}

static void
bench_atomic(const char *dir)
{
	static double ta[ROUNDS * PER_ROUND], tb[ROUNDS * PER_ROUND];
	char buf[700], *path, *bare;
	double t0;
	int fd, i, k, r;

	memset(buf, 'x', sizeof(buf));
	buf[sizeof(buf) - 1] = '\n';
	path = xstrfmt("%s/pod.json", dir);
	bare = xstrfmt("%s/bare.json", dir);
	fd = open(bare, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC,
		0600);
	if (fd == -1)
		die(bare, -errno);
	for (k = 0; k < ROUNDS; k++) {
		round_bare(fd, buf, sizeof(buf), true, tb + k * PER_ROUND);
		for (i = 0; i < PER_ROUND; i++) {
			t0 = bench_now();
			if ((r = atomicfile_write(
				     path, buf, sizeof(buf), 0600)) != 0)
				die("atomicfile_write", r);
			ta[k * PER_ROUND + i] = bench_now() - t0;
		}
	}
	bench_print("atomic_write_state",
		bench_median(ta, ROUNDS * PER_ROUND) * 1e6, "us/write",
		bench_median(tb, ROUNDS * PER_ROUND) * 1e6);
	close(fd);
	unlink(bare);
	unlink(path);
	free(bare);
	free(path);
}

int
main(int argc, char **argv)
{
	const char *base = argc > 1 ? argv[1] : getenv("TMPDIR");
	char *dir;

	if (base == NULL)
		base = "/var/tmp";
	dir = xstrfmt("%s/bench-session-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		die(dir, -errno);
	bench_append(dir, true);
	bench_append(dir, false);
	bench_atomic(dir);
	bench_restore(dir);
	rmdir(dir);
	free(dir);
	return 0;
}
