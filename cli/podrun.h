/* SPDX-License-Identifier: ISC */
#ifndef CLI_PODRUN_H
#define CLI_PODRUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/msg.h"

struct cli;
struct client;
struct render;

/*
 * A client attached to one pod's socket (PROTOCOL.md §2), used by
 * 'attach', 'run' and 'demo': it keeps the snapshot and the pod's
 * status, renders each event (when render is set) or prints it as JSON
 * (json), and passes it to an optional callback.
 */
typedef void (*podrun_event_cb)(void *arg, const struct msg *m);

struct podrun {
	struct cli *cli;
	char *name;
	struct client *client;
	struct msg snapshot;
	char status[24];
	struct render *render; /* borrowed, may be NULL */
	bool json; /* print each event as a JSON line */
	bool quiet; /* print nothing (waiting for another turn to end) */
	podrun_event_cb cb;
	void *cb_arg;
};

/* SIGINTs received since podrun_sigint_install(). */
extern volatile sig_atomic_t podrun_sigints;
/*
 * Catch SIGINT: the handler counts it and writes to a self-pipe whose
 * read end (podrun_sigint_fd()) wakes every wait, so none can miss it.
 */
void podrun_sigint_install(void);
/* The self-pipe's read end, -1 before podrun_sigint_install(). */
int podrun_sigint_fd(void);
/* Empty the self-pipe (after handling the signals counted). */
void podrun_sigint_drain(void);

/*
 * Attach to pod name and read its snapshot.  Returns an exit code and
 * prints the problem (pod not live: 1 with the fix; daemon unreachable
 * while finding out why: 3).
 */
int podrun_open(struct cli *cli, const char *name, int timeout_ms,
	struct podrun **ret_pr);
void podrun_free(struct podrun *pr);

/*
 * Read one message and handle it (status, render, callback).  Returns 0
 * with the message in *ret if ret is not NULL (else it is freed), or
 * -ETIMEDOUT, -EINTR, -EPIPE (the pod went away), -EBADMSG.
 */
int podrun_pump(struct podrun *pr, int64_t deadline, struct msg *ret);

/* Wait until the pod is idle or paused. 0 or a podrun_pump() error. */
int podrun_wait_idle(struct podrun *pr, int64_t deadline);

/*
 * Run text as a turn and stream it until its run_end: waits for the pod
 * to be idle first and retries on already_running.  Returns 0 with the
 * result in *ret_result ("finished", "error", ...; caller frees) and the
 * error message if any in *ret_error (caller frees), or an exit code
 * (> 0) after printing the problem.  deadline < 0: none.
 */
int podrun_turn(struct podrun *pr, const char *text, int64_t deadline,
	char **ret_result, char **ret_error);

/* Monotonic deadline in timeout_ms, or -1 for timeout_ms < 0. */
int64_t podrun_deadline(int timeout_ms);

#endif
