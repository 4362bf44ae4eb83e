/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cli/render.h"

/* Render events into a string. */
struct out {
	char *buf;
	size_t len;
	FILE *f;
	struct render r;
};

static void
out_open(struct out *o, bool tty)
{
	memset(o, 0, sizeof(*o));
	o->f = open_memstream(&o->buf, &o->len);
	assert_non_null(o->f);
	render_init(&o->r, o->f, tty);
}

static const char *
out_text(struct out *o)
{
	fflush(o->f);
	return o->buf;
}

static void
out_close(struct out *o)
{
	fclose(o->f);
	free(o->buf);
}

static void
event(struct out *o, const char *name, const char *data)
{
	struct json_object *d = data != NULL ? json_tokener_parse(data) : NULL;

	render_event(&o->r, name, d);
	json_object_put(d);
}

/* Streamed text, a tool call and its result, the end of the run. */
static void
test_turn_plain(void **state)
{
	struct out o;
	const char *s;

	(void)state;
	out_open(&o, false);
	event(&o, "user_message",
		"{\"segments\":[{\"kind\":\"text\",\"content\":\"hi\\nthere\"}]}");
	event(&o, "text_delta", "{\"text\":\"Hel\"}");
	event(&o, "text_delta", "{\"text\":\"lo\"}");
	event(&o, "tool_call_done",
		"{\"id\":\"c1\",\"name\":\"write\",\"arguments\":"
		"\"{\\\"path\\\":\\\"a.txt\\\",\\\"content\\\":\\\"x\\\"}\"}");
	event(&o, "tool_result",
		"{\"id\":\"c1\",\"summary\":\"wrote 1 byte\",\"is_error\":false}");
	event(&o, "tool_result",
		"{\"id\":\"c2\",\"summary\":\"denied\",\"is_error\":true}");
	event(&o, "usage", "{\"input_tokens\":1,\"output_tokens\":2}");
	event(&o, "run_end", "{\"result\":\"finished\"}");
	s = out_text(&o);
	assert_string_equal(s,
		"> hi\n  there\n"
		"Hello\n"
		"  -> write path=a.txt, content=x\n"
		"  <- ok wrote 1 byte\n"
		"  <- error denied\n"
		"[run finished]\n");
	out_close(&o);
}

/* Control characters from the model never reach the terminal. */
static void
test_no_escapes(void **state)
{
	struct out o;

	(void)state;
	out_open(&o, true);
	event(&o, "text_delta", "{\"text\":\"\\u001b[31mred\\u0007\"}");
	event(&o, "alert",
		"{\"level\":\"warn\",\"source\":\"x\",\"message\":\"a\\u001bb\"}");
	/* Only our own colour codes: each ESC starts one of ours. */
	assert_non_null(strstr(out_text(&o), "?[31mred?"));
	assert_non_null(strstr(out_text(&o), "a?b"));
	out_close(&o);
	out_open(&o, false);
	event(&o, "status", "{\"status\":\"running\"}");
	event(&o, "tool_result", "{\"summary\":\"s\",\"is_error\":true}");
	assert_null(strchr(out_text(&o), '\033'));
	assert_non_null(strstr(out_text(&o), "[status: running]"));
	out_close(&o);
}

/* A status line only on a change; errors of a run carry the reason. */
static void
test_status_and_errors(void **state)
{
	struct out o;

	(void)state;
	out_open(&o, false);
	event(&o, "status", "{\"status\":\"idle\"}");
	event(&o, "status", "{\"status\":\"idle\"}");
	event(&o, "run_end",
		"{\"result\":\"error\",\"error\":{\"code\":\"provider_error\","
		"\"message\":\"down\"}}");
	event(&o, "unknown_future_event", "{}");
	assert_string_equal(
		out_text(&o), "[status: idle]\n[run error: down]\n");
	out_close(&o);
}

/* Log entries: assistant text and calls, system items. */
static void
test_entries(void **state)
{
	struct json_object *e;
	struct out o;
	char *s;

	(void)state;
	out_open(&o, false);
	e = json_tokener_parse(
		"{\"kind\":\"assistant\",\"text\":\"ok\","
		"\"tool_calls\":[{\"id\":\"1\",\"name\":\"bash\","
		"\"arguments\":\"{\\\"command\\\":\\\"ls\\\"}\"}]}");
	render_entry(&o.r, e);
	json_object_put(e);
	e = json_tokener_parse("{\"kind\":\"system_item\",\"item\":{\"type\":"
			       "\"pod_event\",\"kind\":\"child_turn_ended\","
			       "\"from\":\"a.kid\",\"text\":\"done\"}}");
	render_entry(&o.r, e);
	s = render_item_text(json_object_object_get(e, "item"));
	assert_string_equal(s, "[child_turn_ended from a.kid] done");
	free(s);
	json_object_put(e);
	assert_string_equal(out_text(&o),
		"ok\n  -> bash command=ls\n[child_turn_ended from a.kid] done\n");
	out_close(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_turn_plain),
		cmocka_unit_test(test_no_escapes),
		cmocka_unit_test(test_status_and_errors),
		cmocka_unit_test(test_entries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
