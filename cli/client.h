/* SPDX-License-Identifier: ISC */
#ifndef CLI_CLIENT_H
#define CLI_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

struct json_object;
struct msg;

/*
 * A small blocking JSON-lines client of a podvisor socket (control.sock
 * or a pod socket).  Every wait is bounded by poll(): timeout_ms < 0
 * waits forever, 0 takes only what is already readable.  Messages read
 * while waiting for a reply are queued and returned by client_read() in
 * order, so nothing is lost.
 *
 * Errors: -ETIMEDOUT (nothing in time), -EPIPE (the peer closed),
 * -EMSGSIZE (a line over CLIENT_MAX_LINE), -EBADMSG (a line that is not
 * a protocol message; *reterr_msg says why), other -errno from the
 * socket.
 */

#define CLIENT_MAX_LINE (256u * 1024u * 1024u)

struct client;

/* Connect to the Unix socket at path. Returns 0 or -errno. */
int client_connect(const char *path, struct client **ret_client);
/* Close and free (NULL-safe). */
void client_free(struct client *c);
/* The socket, for poll() together with other fds. */
int client_fd(const struct client *c);
/* True if a message can be returned without reading the socket. */
bool client_has_pending(const struct client *c);
/*
 * Also wake on fd (the read end of a self-pipe a signal handler writes
 * to): waits return -EINTR while fd is readable.  -1: none.
 */
void client_set_wake_fd(struct client *c, int fd);
/* The socket path (borrowed). */
const char *client_path(const struct client *c);

/* Next message; the caller owns ret (msg_clear()). */
int client_read(
	struct client *c, int timeout_ms, struct msg *ret, char **reterr_msg);

/*
 * Read until the event named name arrives (the prelude: "hello" or
 * "snapshot"); earlier messages are dropped.
 */
int client_expect(struct client *c, const char *name, int timeout_ms,
	struct msg *ret, char **reterr_msg);

/*
 * Send a request with a fresh integer id (takes ownership of params,
 * which may be NULL).  Returns the id (> 0) or -errno.
 */
int64_t client_send(
	struct client *c, const char *method, struct json_object *params);

/* True if m carries the integer id. */
bool client_msg_has_id(const struct msg *m, int64_t id);

/*
 * Send a request and wait for its reply or error (the message carrying
 * its id).  Returns 0 with the reply in ret (an "error" event is a
 * reply too) or a negative errno.
 */
int client_call(struct client *c, const char *method,
	struct json_object *params, int timeout_ms, struct msg *ret,
	char **reterr_msg);

#endif
