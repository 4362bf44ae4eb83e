/* SPDX-License-Identifier: ISC */
/*
 * ACP session modes are the pod's approval policy levels
 * (docs/approvals.md): session/new and session/load answer with
 * modes {currentModeId, availableModes}, session/set_mode changes the
 * pod's level through podvisord's set_approval (durable, checked against
 * the parent's and the children's policies), and an approval_policy
 * event from the pod — whoever changed it — becomes a current_mode_update.
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

#define ACP_MODE_TIMEOUT_MS (30 * 1000)

static const struct acp_mode {
	const char *id; /* the approval level */
	const char *name;
	const char *description;
} acp_modes[] = {
	{ "never", "Never ask", "Tool calls run without asking." },
	{ "writes", "Ask before edits",
		"write and edit wait for a yes; reads and commands run." },
	{ "bash", "Ask before edits and commands",
		"write, edit, bash and MCP tools wait for a yes." },
	{ "always", "Ask before every tool", "Every tool call waits." },
};

#define ACP_NMODES (sizeof(acp_modes) / sizeof(acp_modes[0]))

static bool
acp_mode_valid(const char *id)
{
	size_t i;

	for (i = 0; id != NULL && i < ACP_NMODES; i++)
		if (strcmp(acp_modes[i].id, id) == 0)
			return true;
	return false;
}

/* Remember the mode of a pod's policy object; false if it is unknown. */
bool
acp_mode_note(struct acp_session *s, struct json_object *approval)
{
	const char *level = msg_json_str(approval, "policy");

	if (!acp_mode_valid(level))
		return false;
	snprintf(s->mode, sizeof(s->mode), "%s", level);
	return true;
}

/* {currentModeId, availableModes} for a session/new or load answer. */
struct json_object *
acp_mode_state(const struct acp_session *s)
{
	struct json_object *st, *modes, *m;
	size_t i;

	st = json_object_new_object();
	json_object_object_add(st, "currentModeId",
		json_object_new_string(s->mode[0] != '\0' ? s->mode : "never"));
	modes = json_object_new_array();
	for (i = 0; i < ACP_NMODES; i++) {
		m = json_object_new_object();
		json_object_object_add(
			m, "id", json_object_new_string(acp_modes[i].id));
		json_object_object_add(
			m, "name", json_object_new_string(acp_modes[i].name));
		json_object_object_add(m, "description",
			json_object_new_string(acp_modes[i].description));
		json_object_array_add(modes, m);
	}
	json_object_object_add(st, "availableModes", modes);
	return st;
}

/* The pod's approval_policy event: tell the editor if the mode moved. */
void
acp_mode_event(struct acp_session *s, struct json_object *approval)
{
	struct json_object *u;
	char before[sizeof(s->mode)];

	memcpy(before, s->mode, sizeof(before));
	if (!acp_mode_note(s, approval) || strcmp(before, s->mode) == 0)
		return;
	u = json_object_new_object();
	json_object_object_add(u, "sessionUpdate",
		json_object_new_string("current_mode_update"));
	json_object_object_add(
		u, "currentModeId", json_object_new_string(s->mode));
	acp_session_notify(s, u);
}

struct acp_mode_call {
	struct acp *acp;
	struct json_object *id;
	char *session;
	char *mode;
};

static void
acp_mode_set_cb(struct conn *c, struct msg *m, void *arg)
{
	struct acp_mode_call *mc = arg;
	struct acp_session *s;
	struct json_object *data, *v;
	const char *code = "internal", *text = NULL;

	(void)c;
	if (m == NULL) {
		acp_error(mc->acp, mc->id, ACP_INTERNAL_ERROR, NULL,
			"session/set_mode: podvisord did not answer about pod "
			"%s",
			mc->session);
	} else if (strcmp(m->name, "error") == 0) {
		if (json_object_object_get_ex(m->params, "code", &v))
			code = json_object_get_string(v);
		text = msg_json_str(m->params, "message");
		data = json_object_new_object();
		json_object_object_add(
			data, "code", json_object_new_string(code));
		acp_error(mc->acp, mc->id, ACP_INTERNAL_ERROR, data,
			"session/set_mode %s: podvisord: %s [%s]", mc->mode,
			text != NULL ? text : "refused", code);
	} else {
		s = acp_session_find(mc->acp, mc->session);
		if (s != NULL)
			snprintf(s->mode, sizeof(s->mode), "%s", mc->mode);
		acp_reply(mc->acp, mc->id, NULL);
	}
	json_object_put(mc->id);
	free(mc->session);
	free(mc->mode);
	free(mc);
}

/* session/set_mode {sessionId, modeId}: the pod's approval level. */
void
acp_session_set_mode(
	struct acp *a, struct json_object *id, struct json_object *p)
{
	struct acp_mode_call *mc;
	struct acp_session *s;
	struct json_object *params, *appr;
	struct conn *ctl;
	const char *mode;
	char *err = NULL;

	if ((s = acp_session_lookup(a, id, "session/set_mode", p)) == NULL)
		return;
	if ((mode = acp_param_str(
		     a, id, "session/set_mode", p, "modeId", true)) == NULL)
		return;
	if (!acp_mode_valid(mode)) {
		acp_error(a, id, ACP_INVALID_PARAMS, NULL,
			"session/set_mode: params.modeId must be one of never, "
			"writes, bash, always (not \"%.32s\")",
			mode);
		return;
	}
	if (id == NULL)
		return; /* a request: a notification cannot be answered */
	if ((ctl = acp_control(a, &err)) == NULL) {
		acp_error(a, id, ACP_INTERNAL_ERROR, NULL,
			"session/set_mode: %s",
			err != NULL ? err : "no podvisord");
		free(err);
		return;
	}
	params = json_object_new_object();
	json_object_object_add(params, "name", json_object_new_string(s->name));
	appr = json_object_new_object();
	json_object_object_add(appr, "policy", json_object_new_string(mode));
	json_object_object_add(params, "approval", appr);
	mc = xcalloc(1, sizeof *mc);
	mc->acp = a;
	mc->id = json_object_get(id);
	mc->session = xstrdup(s->name);
	mc->mode = xstrdup(mode);
	if (conn_call(ctl, "set_approval", params, ACP_MODE_TIMEOUT_MS,
		    acp_mode_set_cb, mc) < 0) {
		acp_error(a, id, ACP_INTERNAL_ERROR, NULL,
			"session/set_mode: the control connection closed");
		json_object_put(mc->id);
		free(mc->session);
		free(mc->mode);
		free(mc);
	}
}
