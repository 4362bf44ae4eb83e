/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_JOURNAL_H
#define SUPERVISORD_JOURNAL_H

struct daemon;
struct json_object;
struct pod;

/*
 * The supervisor journal <state>/supervisor.json: a snapshot of the
 * registry (who holds which write allows, with which worker pid) and
 * the restart counters, rewritten atomically once per loop iteration
 * in which something changed (journal_write() only marks it dirty).
 */

/* The journal object (new reference). */
struct json_object *journal_to_json(struct daemon *d);
/* Mark the journal dirty: written at the end of this loop iteration. */
void journal_write(struct daemon *d);
/* Write the journal now if its content changed; errors are logged. */
void journal_flush(struct daemon *d);
/* Flush a pending write, free the deferred event and the cached text. */
void journal_close(struct daemon *d);
/* Free p's cached journal text (pod_free()). */
void journal_pod_free(struct pod *p);
/* Read restart counters back into the loaded pods. Missing file = 0. */
int journal_load(struct daemon *d);

#endif
