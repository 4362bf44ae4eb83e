/* SPDX-License-Identifier: ISC */
#ifndef FAKELLM_REPLAY_H
#define FAKELLM_REPLAY_H

#include "sse.h"

/*
 * Recorded streams sent back as they were (tests/fixtures): a .jsonl
 * file holds one event's data JSON a line; each is framed
 * "event: TYPE\ndata: LINE\n\n" (TYPE = the line's "type"), or
 * "data: LINE\n\n" for a line without one.
 */

/* Append the file's events to out; 0 or -errno with a sentence. */
int replay_load(const char *path, struct sse_events *out, char **reterr_msg);
/*
 * Re-cut the stream's bytes into pieces of size bytes (seed >= 0:
 * random sizes 1..size from that seed), each sent as its own chunk.
 */
void replay_pieces(struct sse_events *ev, int size, int seed);

#endif
