/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_PEER_H
#define SUPERVISORD_PEER_H

#include <stdbool.h>
#include <sys/types.h>

struct daemon;
struct pod;

/*
 * Who is on the other end of control.sock.  The user's clients never
 * descend from podvisord; a pod's bash (same uid, and Landlock cannot
 * restrict connect(2) on a pathname socket) does.  podvisord is a child
 * subreaper, so even a double-forked orphan of a worker is re-parented
 * to it and its ancestry still leads back here.  Such a client speaks
 * with the rights of the pod it came from, never as the user.
 */

/* Make podvisord the subreaper of its workers' descendants. */
int peer_init(void);

/*
 * Walk pid's ancestors: returns false if none is podvisord or a worker
 * (the user).  Otherwise true, and *ret_pod is the pod whose worker is
 * the nearest such ancestor (pid itself included), NULL if only
 * podvisord was found.
 */
bool peer_inside(struct daemon *d, pid_t pid, struct pod **ret_pod);

#endif
