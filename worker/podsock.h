/* SPDX-License-Identifier: ISC */
#ifndef WORKER_PODSOCK_H
#define WORKER_PODSOCK_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;
struct worker;
struct podsock;
struct dispatch_entry;

/*
 * The pod socket (PROTOCOL.md §2): a listener on <runtime>/pods/<name>/
 * sock and any number of attached clients.  Each client first gets a
 * snapshot prelude, then the one ordered live stream; replies go only to
 * the requester.  A client more than PODSOCK_OUT_LIMIT bytes behind (not
 * counting its snapshot) is dropped without slowing anyone else.
 */

#define PODSOCK_OUT_LIMIT (8u * 1024u * 1024u)
#define PODSOCK_MAX_CLIENTS 256

/* Bind path (its directory made private first) and start accepting. */
int podsock_new(struct worker *w, const char *path, struct podsock **ret,
	char **reterr_msg);
/* Close every client and the listener, unlink the socket. NULL-safe. */
void podsock_free(struct podsock *ps);

/* Serialise event name + data (ownership taken) once, send to all. */
void podsock_broadcast(
	struct podsock *ps, const char *event, struct json_object *data);

/* Stop accepting and close every client after its output is flushed. */
void podsock_close_all(struct podsock *ps);
/* Number of clients still connected. */
size_t podsock_nclients(const struct podsock *ps);

/* The greeting object of PROTOCOL.md §2 (new reference). */
/* The data of a snapshot event, computed now; new reference. */
struct json_object *podsock_snapshot_data(struct worker *w);
struct json_object *podsock_greeting(struct worker *w);

/* The client method table (tests check it is sorted). */
const struct dispatch_entry *podsock_dispatch_table(size_t *ret_n);

#endif
