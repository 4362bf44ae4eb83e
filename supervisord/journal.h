/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_JOURNAL_H
#define SUPERVISORD_JOURNAL_H

struct daemon;
struct json_object;

/*
 * The supervisor journal <state>/supervisor.json: a snapshot of the
 * registry (who holds which write allows, with which worker pid) and
 * the restart counters, rewritten atomically on every change.
 */

/* The journal object (new reference). */
struct json_object *journal_to_json(struct daemon *d);
/* Write the journal; errors are logged. */
void journal_write(struct daemon *d);
/* Read restart counters back into the loaded pods. Missing file = 0. */
int journal_load(struct daemon *d);

#endif
