/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

#include "reply.h"

/* Allocate a reply with every option off. */
struct reply *
reply_new(void)
{
	struct reply *r = xcalloc(1, sizeof(*r));

	r->retry_after = -1;
	r->retry_after_ms = -1;
	r->text_chunks = 4;
	r->args_chunks = 3;
	r->input_tokens = -1;
	r->output_tokens = -1;
	r->initial_delay_ms = -1;
	r->delay_ms = -1;
	r->cut_after = -1;
	r->stall_after = -1;
	r->malformed_after = -1;
	r->error_after = -1;
	r->pieces_seed = -1;
	r->source = "agent";
	r->rule = -1;
	return r;
}

/* Free a reply; NULL-safe. */
void
reply_free(struct reply *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->err_type);
	free(r->err_code);
	free(r->err_message);
	free(r->text);
	free(r->thinking);
	free(r->signature);
	for (i = 0; i < r->ntools; i++) {
		free(r->tools[i].id);
		free(r->tools[i].name);
		free(r->tools[i].args);
	}
	free(r->tools);
	free(r->stop_reason);
	free(r->error_type);
	free(r->error_message);
	free(r->replay);
	free(r);
}

/* Set the text (copied). */
void
reply_set_text(struct reply *r, const char *text)
{
	free(r->text);
	r->text = xstrdup(text);
}

/* Append one tool call (all strings copied). */
void
reply_add_tool(
	struct reply *r, const char *id, const char *name, const char *args)
{
	struct reply_tool *t;

	r->tools = xreallocarray(r->tools, r->ntools + 1, sizeof(*r->tools));
	t = &r->tools[r->ntools++];
	t->id = id != NULL ? xstrdup(id) : NULL;
	t->name = xstrdup(name);
	t->args = xstrdup(args);
}

static char *
reply_dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Make r a failure with that status (copies the strings, NULL: default). */
void
reply_set_fail(struct reply *r, int status, const char *type, const char *code,
	const char *message)
{
	r->status = status;
	free(r->err_type);
	free(r->err_code);
	free(r->err_message);
	r->err_type = reply_dup_or_null(type);
	r->err_code = reply_dup_or_null(code);
	r->err_message = reply_dup_or_null(message);
}

/* The stop reason, derived from the content when none was set. */
const char *
reply_stop_reason(const struct reply *r)
{
	if (r->stop_reason != NULL)
		return r->stop_reason;
	return r->ntools > 0 ? "tool_use" : "end_turn";
}

/* Split s into at most n pieces on UTF-8 boundaries; returns the count. */
size_t
reply_split(const char *s, int n, char ***ret_pieces)
{
	size_t len = strlen(s), step, start = 0, end, count = 0;
	char **v;

	if (n < 1)
		n = 1;
	if (len == 0) {
		*ret_pieces = NULL;
		return 0;
	}
	step = (len + (size_t)n - 1) / (size_t)n;
	if (step == 0)
		step = 1;
	v = xcalloc((size_t)n, sizeof(*v));
	while (start < len && count < (size_t)n) {
		end = count + 1 == (size_t)n ? len : start + step;
		if (end > len)
			end = len;
		/* never cut inside a UTF-8 sequence */
		while (end < len && ((unsigned char)s[end] & 0xc0) == 0x80)
			end++;
		v[count++] = xstrndup(s + start, end - start);
		start = end;
	}
	*ret_pieces = v;
	return count;
}

/* Free pieces returned by reply_split(). */
void
reply_split_free(char **pieces, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(pieces[i]);
	free(pieces);
}
