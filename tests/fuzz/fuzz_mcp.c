/* SPDX-License-Identifier: ISC */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "worker/mcp.h"
#include "worker/mcp_int.h"
#include "worker/tools.h"

/*
 * What an MCP server sends the worker: each input line is one JSON-RPC
 * message to the client (mcp_server_recv: responses, requests,
 * notifications, batches, garbage), also taken as a tools/call result
 * (mcp_result_convert); the whole input is also tried as the start
 * config's "mcp" array (mcp_configs_from_json).
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_mcp_done_cb(void *arg, struct tool_result *res)
{
	*(struct mcp_call **)arg = NULL; /* finished: not to be cancelled */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcp_server_config *cfgs, *one;
	struct tool_result res = { 0 };
	struct mcp_host host = { 0 };
	struct json_object *o;
	struct event_base *base;
	struct mcp_call *call;
	struct mcp *m;
	const char *p = (const char *)data, *end = p + size, *nl;
	char *err = NULL, *text;
	size_t n, i;

	log_set_level(LOG_LVL_ERR);
	text = xstrndup(p, size);
	o = json_tokener_parse(text);
	free(text);
	if (mcp_configs_from_json(o, &cfgs, &n, &err) == 0) {
		for (i = 0; i < n; i++)
			mcp_server_config_clear(&cfgs[i]);
		free(cfgs);
	}
	free(err);
	json_object_put(o);

	base = event_base_new();
	host.base = base;
	one = xcalloc(2, sizeof(*one));
	one[0].name = xstrdup("f");
	one[0].command = xstrdup("/bin/false");
	one[0].timeout_s = 1;
	one[0].init_timeout_s = 1;
	m = mcp_new(&host, one, 1);
	call = mcp_call_start(
		m, "mcp__f__t", "{}", "c1", fuzz_mcp_done_cb, &call);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		(void)mcp_server_recv(mcp_server_at(m, 0), p, (size_t)(nl - p));
		text = xstrndup(p, (size_t)(nl - p));
		o = json_tokener_parse(text);
		free(text);
		if (o != NULL) {
			mcp_result_convert("f", "t", o, &res);
			tool_result_clear(&res);
			json_object_put(o);
		}
		p = nl + 1;
	}
	mcp_call_cancel(call);
	mcp_free(m);
	event_base_free(base);
	return 0;
}
