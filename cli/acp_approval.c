/* SPDX-License-Identifier: ISC */
/*
 * Approvals through ACP.  A pod's approval_request (live, or pending in
 * the snapshot of a loaded session) is asked of the editor as
 * session/request_permission; the option chosen is sent to the pod as
 * 'approve'.  The pod is the one truth: if another client (the CLI, a
 * parent pod, a timeout, a cancelled turn) decides first, the pod's
 * approval_decided withdraws the editor's question with
 * $/cancel_request and its late answer is dropped.  An editor that
 * answers "cancelled" (its prompt was cancelled) leaves the request to
 * the pod, whose cancel withdraws it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/acp.h"
#include "cli/cli.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/msg.h"

/* Approval ids are 8 characters; anything up to this is accepted. */
#define ACP_APPROVAL_ID_MAX 64

struct acp_approval {
	struct acp_session *s;
	char *id; /* the pod's approval id */
	int64_t call; /* our session/request_permission id */
	struct acp_approval *next;
};

static struct acp_approval **
acp_approval_find(struct acp_session *s, const char *id)
{
	struct acp_approval **pp;

	for (pp = &s->approvals; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0)
			return pp;
	return NULL;
}

static void
acp_approval_unlink(struct acp_approval *ap)
{
	struct acp_approval **pp;

	for (pp = &ap->s->approvals; *pp != NULL; pp = &(*pp)->next)
		if (*pp == ap) {
			*pp = ap->next;
			return;
		}
}

static void
acp_approval_free(struct acp_approval *ap)
{
	free(ap->id);
	free(ap);
}

static void
acp_approval_approved_cb(struct conn *c, struct msg *m, void *arg)
{
	char *name = arg;
	const char *code;

	(void)c;
	if (m != NULL && strcmp(m->name, "error") == 0) {
		code = msg_json_str(m->params, "code");
		/* already_decided: another client was first; fine. */
		if (code == NULL || strcmp(code, "already_decided") != 0)
			fprintf(stderr,
				"podvisor: acp: pod %s refused the answer: "
				"%s [%s]\n",
				name,
				msg_json_str(m->params, "message") != NULL
					? msg_json_str(m->params, "message")
					: "failed",
				code != NULL ? code : "error");
	}
	free(name);
}

/* The editor answered. */
static void
acp_approval_answer_cb(struct acp *a, struct json_object *result,
	struct json_object *error, void *arg)
{
	struct acp_approval *ap = arg;
	struct acp_session *s = ap->s;
	struct json_object *outcome, *p;
	const char *kind, *decision;

	(void)a;
	acp_approval_unlink(ap);
	if (result == NULL ||
		!json_object_object_get_ex(result, "outcome", &outcome)) {
		fprintf(stderr,
			"podvisor: acp: session/request_permission for pod %s "
			"failed: %s; the request stays pending\n",
			s->name,
			error != NULL ? json_object_to_json_string(error)
				      : "no outcome");
		goto out;
	}
	kind = msg_json_str(outcome, "outcome");
	if (kind == NULL || strcmp(kind, "selected") != 0)
		goto out; /* cancelled: the pod's cancel withdraws it */
	decision = acp_map_decision(msg_json_str(outcome, "optionId"));
	if (decision == NULL) {
		fprintf(stderr,
			"podvisor: acp: the editor chose an option podvisor "
			"did not offer for %s; the request stays pending\n",
			ap->id);
		goto out;
	}
	if (s->pod == NULL)
		goto out;
	p = json_object_new_object();
	json_object_object_add(p, "id", json_object_new_string(ap->id));
	json_object_object_add(p, "decision", json_object_new_string(decision));
	json_object_object_add(
		p, "reason", json_object_new_string("answered in the editor"));
	conn_call(s->pod, "approve", p, 0, acp_approval_approved_cb,
		xstrdup(s->name));
out:
	acp_approval_free(ap);
}

/* Ask the editor about an approval_request (once per id). */
void
acp_approval_ask(struct acp_session *s, struct json_object *data)
{
	struct json_object *p;
	struct acp_approval *ap;
	const char *id = msg_json_str(data, "id");

	if (id == NULL || strlen(id) > ACP_APPROVAL_ID_MAX ||
		acp_approval_find(s, id) != NULL)
		return;
	p = acp_map_permission(data, s->cwd);
	if (p == NULL)
		return;
	json_object_object_add(p, "sessionId", json_object_new_string(s->name));
	ap = xcalloc(1, sizeof(*ap));
	ap->s = s;
	ap->id = xstrdup(id);
	ap->next = s->approvals;
	s->approvals = ap;
	ap->call = acp_call(s->acp, "session/request_permission", p,
		acp_approval_answer_cb, ap);
}

/* Withdraw the editor's question: its answer would come too late. */
static void
acp_approval_withdraw(struct acp_approval *ap)
{
	struct json_object *p = json_object_new_object();

	acp_call_forget(ap->s->acp, ap->call);
	json_object_object_add(p, "requestId", json_object_new_int64(ap->call));
	acp_notify(ap->s->acp, "$/cancel_request", p);
	acp_approval_unlink(ap);
	acp_approval_free(ap);
}

/* approval_decided: whoever decided, the question is settled. */
void
acp_approval_decided(struct acp_session *s, struct json_object *data)
{
	struct acp_approval **pp;
	const char *id = msg_json_str(data, "id");

	if (id != NULL && (pp = acp_approval_find(s, id)) != NULL)
		acp_approval_withdraw(*pp);
}

/* Withdraw every open question of s. */
void
acp_approval_drop_all(struct acp_session *s)
{
	while (s->approvals != NULL)
		acp_approval_withdraw(s->approvals);
}
