/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/msg.h"
#include "supervisord/approvals.h"
#include "supervisord/conf.h"
#include "supervisord/daemon.h"
#include "supervisord/podops.h"
#include "supervisord/podstore.h"
#include "supervisord/registry.h"
#include "supervisord/route.h"
#include "proto/conn.h"

static void
approvals_overlay(struct approval_policy *p, const struct config_approval *a)
{
	size_t i;

	if (a->set & CONF_APPROVAL_LEVEL)
		p->level = a->pol.level;
	if (a->set & CONF_APPROVAL_TIMEOUT)
		p->timeout_s = a->pol.timeout_s;
	if (a->set & CONF_APPROVAL_ASK)
		p->ask = a->pol.ask;
	if (a->set & CONF_APPROVAL_ALLOW) {
		for (i = 0; i < p->nallow; i++)
			free(p->allow[i]);
		p->nallow = 0;
		for (i = 0; i < a->pol.nallow; i++)
			(void)approval_policy_add(p, a->pol.allow[i], NULL);
	}
}

/* The policy a new pod gets. */
int
approvals_resolve(struct daemon *d, struct pod *viewer, const char *name,
	struct json_object *requested, struct approval_policy *ret,
	char **reterr_msg)
{
	struct approval_policy p = { 0 };
	size_t i;
	int r;

	if (viewer != NULL) {
		approval_policy_copy(&p, &viewer->approval);
	} else {
		approvals_overlay(&p, &d->config->approval);
		for (i = 0; i < d->config->npod_approvals; i++)
			if (strcmp(d->config->pod_approvals[i].pod, name) == 0)
				approvals_overlay(
					&p, &d->config->pod_approvals[i]);
	}
	if (requested != NULL) {
		r = approval_policy_from_json(&p, requested, reterr_msg);
		if (r < 0) {
			approval_policy_clear(&p);
			return r;
		}
	}
	if (viewer != NULL) {
		r = approval_policy_narrows(&p, &viewer->approval, reterr_msg);
		if (r < 0) {
			approval_policy_clear(&p);
			return r;
		}
	}
	*ret = p;
	return 0;
}

/* A rule the pod's clients allowed for good: keep it in pod state. */
void
approvals_worker_rule(struct pod *p, struct msg *m)
{
	const char *rule = msg_param_str(m, "rule");
	char *err = NULL;

	if (rule == NULL || approval_policy_has(&p->approval, rule))
		return;
	if (approval_policy_add(&p->approval, rule, &err) < 0) {
		log_warn("pod %s: approval rule not kept: %s", p->name,
			err ? err : "bad rule");
		free(err);
		return;
	}
	podstore_write_later(p->d, p);
}

/* Relay p's request to its parent as a pod event. */
void
approvals_worker_request(struct pod *p, struct msg *m)
{
	struct pod *parent = registry_parent(p->d, p);
	struct json_object *f;

	if (parent == NULL || m->params == NULL) {
		log_info("pod %s: approval request for a parent it does not "
			 "have",
			p->name);
		return;
	}
	f = json_object_new_object();
	json_object_object_add(f, "request", json_object_get(m->params));
	(void)route_event(p->d, parent, "child_approval_request", p->name, f);
}

struct approvals_relay {
	struct conn *c;
	struct json_object *id;
};

static void
approvals_relay_cb(struct conn *wc, struct msg *m, void *arg)
{
	struct approvals_relay *r = arg;

	if (m == NULL)
		conn_send_error(r->c, r->id, PERR_NOT_LIVE, NULL,
			"the pod went away before it answered");
	else
		conn_send_event(r->c, m->name,
			m->params != NULL ? json_object_get(m->params)
					  : json_object_new_object(),
			r->id);
	conn_unref(r->c);
	json_object_put(r->id);
	free(r);
}

/* answer_approval from a parent pod. */
void
approvals_answer(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m)
{
	const char *name = msg_param_str(m, "pod");
	const char *reason = msg_param_str(m, "reason");
	struct approvals_relay *r;
	struct json_object *p;
	struct pod *target, *up;

	target = name != NULL ? daemon_pod_find(d, name) : NULL;
	if (target == NULL) {
		conn_send_error(c, m->id, PERR_NOT_FOUND, NULL,
			"no pod named %.64s", name != NULL ? name : "");
		return;
	}
	for (up = target; up != NULL && up != viewer;)
		up = up->parent != NULL ? daemon_pod_find(d, up->parent) : NULL;
	if (viewer == NULL || up != viewer || target == viewer) {
		conn_send_error(c, m->id, PERR_NOT_VISIBLE, NULL,
			"pod %s is not a descendant of %s: only its parent "
			"pods may answer its approvals",
			target->name, viewer != NULL ? viewer->name : "?");
		return;
	}
	if (target->chan == NULL || !daemon_pod_running(target)) {
		conn_send_error(c, m->id, PERR_NOT_LIVE, NULL,
			"pod %s is not live", target->name);
		return;
	}
	p = json_object_new_object();
	json_object_object_add(p, "id", json_object_get(msg_param(m, "id")));
	json_object_object_add(
		p, "decision", json_object_get(msg_param(m, "decision")));
	if (reason != NULL)
		json_object_object_add(
			p, "reason", json_object_new_string(reason));
	r = xcalloc(1, sizeof *r);
	r->c = conn_ref(c);
	r->id = json_object_get(m->id);
	if (conn_call(target->chan->c, "approve", p, 10 * 1000,
		    approvals_relay_cb, r) < 0) {
		conn_send_error(c, m->id, PERR_NOT_LIVE, NULL,
			"pod %s is not live", target->name);
		conn_unref(r->c);
		json_object_put(r->id);
		free(r);
	}
}

/*
 * The pods whose policy must still hold after p's becomes pol: pol no
 * looser than p's parent's, and each child of p no looser than pol.
 */
static int
approvals_set_check(struct daemon *d, struct pod *p,
	const struct approval_policy *pol, char **reterr_msg)
{
	struct pod *parent = registry_parent(d, p), *child;
	char *why = NULL;
	size_t i;

	if (parent != NULL &&
		approval_policy_narrows(pol, &parent->approval, &why) < 0) {
		*reterr_msg = xstrfmt("pod %s is a child of %s: %s", p->name,
			parent->name, why != NULL ? why : "looser");
		free(why);
		return -EPERM;
	}
	for (i = 0; i < p->children.n; i++) {
		if ((child = daemon_pod_find(d, p->children.v[i])) == NULL)
			continue;
		if (approval_policy_narrows(&child->approval, pol, &why) < 0) {
			*reterr_msg = xstrfmt("child pod %s would be looser "
					      "than %s (%s): make its policy "
					      "stricter first, or forget it",
				child->name, p->name,
				why != NULL ? why : "looser");
			free(why);
			return -EPERM;
		}
	}
	return 0;
}

struct approvals_setting {
	struct conn *c;
	struct json_object *id;
	char *name;
	struct json_object *policy;
};

/* Reply approval_set {name, approval, live} and free s. */
static void
approvals_set_done(struct approvals_setting *s, bool live)
{
	struct json_object *data = json_object_new_object();

	json_object_object_add(data, "name", json_object_new_string(s->name));
	json_object_object_add(data, "approval", s->policy);
	json_object_object_add(data, "live", json_object_new_boolean(live));
	conn_send_event(s->c, "approval_set", data, s->id);
	conn_unref(s->c);
	json_object_put(s->id);
	free(s->name);
	free(s);
}

static void
approvals_set_cb(struct conn *wc, struct msg *m, void *arg)
{
	(void)wc;
	/*
	 * The state is written already: a worker that went away gets the
	 * policy in its next start; one that refused it is a bug, logged.
	 */
	if (m != NULL && strcmp(m->name, "error") == 0)
		log_warn("set_approval: the worker refused the policy: %s",
			msg_param_str(m, "message") != NULL
				? msg_param_str(m, "message")
				: "?");
	approvals_set_done(arg, m != NULL && strcmp(m->name, "error") != 0);
}

/* set_approval {name, approval}: a pod's policy, changed for good. */
void
approvals_set(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m)
{
	const char *name = msg_param_str(m, "name");
	struct approval_policy pol = { 0 };
	struct approvals_setting *s;
	struct json_object *params;
	struct pod *p;
	char *err = NULL;
	int r;

	if ((p = podops_lookup(d, viewer, c, m, name)) == NULL)
		return;
	if (viewer != NULL && !registry_is_ancestor(d, viewer, p)) {
		conn_send_error(c, m->id, PERR_NOT_VISIBLE, NULL,
			"pod %s is not a descendant of %s: a pod may change "
			"only its descendants' approval policy",
			p->name, viewer->name);
		return;
	}
	if (p->status == POD_CORRUPT) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"the state file of %s is corrupt", p->name);
		return;
	}
	approval_policy_copy(&pol, &p->approval);
	if ((r = approval_policy_from_json(
		     &pol, msg_param(m, "approval"), &err)) == 0)
		r = approvals_set_check(d, p, &pol, &err);
	if (r < 0) {
		conn_send_error(c, m->id,
			r == -EPERM ? PERR_NOT_SUBSET : PERR_INVALID_REQUEST,
			NULL, "%s", err != NULL ? err : "bad \"approval\"");
		free(err);
		approval_policy_clear(&pol);
		return;
	}
	approval_policy_clear(&p->approval);
	p->approval = pol;
	if ((r = podstore_write(d, p)) != 0) {
		conn_send_error(c, m->id, PERR_INTERNAL, NULL,
			"cannot write the state of pod %s: %s (the policy "
			"takes effect at its next start only if the write "
			"is retried)",
			p->name, strerror(-r));
		return;
	}
	log_info("pod %s: approval policy now %s", p->name,
		approval_level_name(p->approval.level));
	s = xcalloc(1, sizeof *s);
	s->c = conn_ref(c);
	s->id = json_object_get(m->id);
	s->name = xstrdup(p->name);
	s->policy = approval_policy_to_json(&p->approval);
	if (p->chan == NULL || !daemon_pod_running(p)) {
		approvals_set_done(s, false);
		return;
	}
	params = json_object_new_object();
	json_object_object_add(
		params, "approval", approval_policy_to_json(&p->approval));
	if (conn_call(p->chan->c, "set_approval", params, 10 * 1000,
		    approvals_set_cb, s) < 0)
		approvals_set_done(s, false);
}
