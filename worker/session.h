/* SPDX-License-Identifier: ISC */
#ifndef WORKER_SESSION_H
#define WORKER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/*
 * The session log (DESIGN.md "Session log", PROTOCOL.md §4): one JSON
 * object per line in <session_dir>/<segment>.jsonl, append-only, first
 * line segment_start.  Every entry is also kept in memory (a json array)
 * for the snapshot prelude and as the provider history.
 */
struct session;

/*
 * Create a new segment in dir (created 0700 if missing): segment may be
 * NULL for a fresh id; session_id NULL for a fresh id.  The
 * segment_start line (model, system) is written, and made durable (with
 * the file's directory entry) by the first append with sync or flush.
 */
int session_create(const char *dir, const char *session_id, const char *segment,
	const char *model, const char *system, struct session **ret,
	char **reterr_msg);

/*
 * Reopen segment in dir and replay it.  A torn tail (last line without
 * '\n' or not valid JSON) is truncated away; invalid lines are dropped;
 * each such repair adds a sentence to *ret_alert (caller frees, NULL if
 * none).  A missing segment file gives -ENOENT.
 */
int session_restore(const char *dir, const char *session_id,
	const char *segment, struct session **ret, char **ret_alert,
	char **reterr_msg);

void session_free(struct session *s);

/* New {"kind":kind,"ms":now} object; the caller owns it. */
struct json_object *session_entry_new(const char *kind);

/*
 * Append entry (ownership taken) to the in-memory list, then write every
 * entry not yet in the file, in order, this one last; fsync when sync
 * (an entry that ends a step).  Returns 0 or -errno.  On failure the
 * file is truncated back to its last fsynced size (no torn line stays)
 * and the entries stay in memory, pending, for the next append or
 * session_flush() to write.
 */
int session_append(struct session *s, struct json_object *entry, bool sync);

/* Write and fsync the pending entries. 0 (also if none) or -errno. */
int session_flush(struct session *s);

/* Entries in memory that are not in the file yet (0 when healthy). */
size_t session_pending(const struct session *s);

/* How many leading entries are fsynced in the file. */
size_t session_durable(const struct session *s);

/* The last write error while entries are pending, else 0. */
int session_error(const struct session *s);

/* The committed entries, oldest first (borrowed). */
struct json_object *session_entries(const struct session *s);
size_t session_count(const struct session *s);
const char *session_id(const struct session *s);
const char *session_segment(const struct session *s);
const char *session_path(const struct session *s);

/* True if a system_item with item.eid == eid is fsynced in the log. */
bool session_has_eid(const struct session *s, const char *eid);

/*
 * True if a system_item with item.eid == eid is in memory (durable or
 * pending); *ret_idx is its index (compare with session_durable()).
 */
bool session_find_eid(
	const struct session *s, const char *eid, size_t *ret_idx);

/* The highest turn number in the log (turn_end entries), 0 if none. */
int session_last_turn(const struct session *s);

/*
 * Tool calls of the last assistant entry that have no tool_result yet:
 * a new array of {id,name,arguments} (empty if none).
 */
struct json_object *session_dangling_calls(const struct session *s);

/*
 * Close every dangling tool call with an is_error tool_result carrying
 * output (e.g. "[interrupted]").  Returns how many were closed.
 */
size_t session_close_dangling(struct session *s, const char *output);

/* Text of the last assistant entry that has text, NULL if none. */
const char *session_last_text(const struct session *s);

#endif
