/* SPDX-License-Identifier: ISC */
#ifndef FAKELLM_SCENARIO_H
#define FAKELLM_SCENARIO_H

#include "conv.h"
#include "reply.h"

/* A scenario file: ordered rules, each a match and a reply (README.md). */
struct scenario;

enum scenario_fallback {
	SCENARIO_AGENT,
	SCENARIO_ECHO,
	SCENARIO_ERROR,
};

/*
 * Load and check a scenario file.  Returns 0, or a negative errno with a
 * message naming the problem (and where) in *reterr_msg (caller frees).
 */
int scenario_load(
	const char *path, struct scenario **ret_scenario, char **reterr_msg);
/*
 * The reply of the first rule that matches request number request_no
 * (1-based), or NULL when none does.  Counts the rule's use.
 */
struct reply *scenario_reply(struct scenario *s, const struct conv *c,
	unsigned request_no, unsigned *tool_seq);
/* What happens when no rule matched. */
enum scenario_fallback scenario_fallback(const struct scenario *s);
/* Whether requests get the tool pairing check. */
int scenario_validates(const struct scenario *s);
/* Free a scenario; NULL-safe. */
void scenario_free(struct scenario *s);

#endif
