/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_APPROVALS_H
#define SUPERVISORD_APPROVALS_H

#include "common/approval_policy.h"

struct daemon;
struct pod;
struct json_object;
struct conn;
struct msg;

/*
 * podvisord's part of approvals (docs/approvals.md): the policy keys of
 * config.ini, the policy a spawn gets (and the check that a child's is
 * no looser than its parent's), rules a worker adds with allow_always,
 * and the route of a child's request to its parent pod.
 */

/*
 * The policy a new pod gets: the parent's (viewer) or, for a top-level
 * pod, [defaults] overlaid with [pod.NAME]; then the fields of requested
 * (the spawn's "approval" object, may be NULL).  Returns 0, -EINVAL (bad
 * request) or -EPERM (looser than the parent's: not_subset) with a
 * sentence in *reterr_msg.
 */
int approvals_resolve(struct daemon *d, struct pod *viewer, const char *name,
	struct json_object *requested, struct approval_policy *ret,
	char **reterr_msg);

/* Worker event approval_rule {rule}: keep an allow_always rule in p. */
void approvals_worker_rule(struct pod *p, struct msg *m);

/*
 * Worker event approval_request {…}: p asks its parent, which gets pod
 * event child_approval_request {request:{…}} (queued, never dropped).
 */
void approvals_worker_request(struct pod *p, struct msg *m);

/*
 * fd-3 request answer_approval {pod, id, decision, reason?} from viewer:
 * pod must be a descendant of viewer and live; its worker gets approve
 * {id, decision, reason?, by:"parent"} and its reply is relayed.
 */
void approvals_answer(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m);

/*
 * set_approval {name, approval:{policy?, allow?, timeout_s?, ask?}} from
 * the user (viewer NULL) or an ancestor pod: the fields given overlay
 * the pod's policy (a given allow replaces it); the result must be no
 * looser than the parent's and no child's may be looser than it
 * (not_subset otherwise).  Written to pod state (fsynced) before the
 * worker, if live, gets set_approval {approval} on fd 3; the reply is
 * approval_set {name, approval, live}.
 */
void approvals_set(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m);

#endif
