/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_REAP_H
#define SUPERVISORD_REAP_H

struct daemon;
struct pod;

/*
 * Noticing that workers ended: waitpid(-1, WNOHANG) on SIGCHLD for our
 * own children, a pidfd for workers re-adopted after a daemon restart.
 * The moment a worker is gone its scope is released, its live children
 * move up to its parent, the parent gets child_exited and the restart
 * policy runs.
 */

/* Reap every exited child (SIGCHLD). */
void reap_children(struct daemon *d);
/* Watch a re-adopted (non-child) worker through a pidfd. 0 or -errno. */
int reap_watch_pidfd(struct pod *p);
/* p's worker ended with code (-1 unknown) or signal (0 none). */
void reap_pod_exited(struct pod *p, int code, int sig);
/* p's worker did not re-attach in time: crashed, nothing restarted. */
void reap_pod_lost(struct pod *p);
/* p starts again: take back the children re-parented when it ended. */
void reap_readopt(struct pod *p);
/* p just crashed: apply its restart policy. */
void reap_crashed(struct pod *p);

#endif
