/* SPDX-License-Identifier: ISC */
#ifndef WORKER_TOOL_POD_H
#define WORKER_TOOL_POD_H

#include <stdbool.h>
#include <stddef.h>

#include "worker/tools.h"

struct llm_tool_def;
struct worker;
struct tool_pod_run;

/*
 * The pod tools of PROTOCOL.md §5 (spawn_pod, send_to_pod,
 * read_pod_output, stop_pod, list_pods, restore_pod, send_to_peer): each
 * a request to podvisord over the supervisor link.  Errors come back to
 * the model as tool errors "code: message".
 *
 * read_pod_output checks visibility with a list_pods request, then reads
 * the child's newest session segment directly from
 * <state>/sessions/<name>/ (segment ids sort by time) and returns the
 * assistant text committed since the previous call for that pod.
 */

const struct llm_tool_def *tool_pod_defs(size_t *ret_n);
bool tool_pod_is_pod_tool(const char *name);

/*
 * Run pod tool name with arguments (JSON text).  cb runs exactly once,
 * from the event loop, unless cancelled first; NULL if name is not a pod
 * tool.
 */
struct tool_pod_run *tool_pod_start(struct worker *w, const char *name,
	const char *args_json, tool_done_cb cb, void *arg);
/* No callback after this; a request in flight is left to finish. */
void tool_pod_cancel(struct tool_pod_run *run);

/*
 * New assistant text in the segment file at path after *cursor entries
 * (updated).  Returns a new string (possibly empty) or NULL on error.
 */
char *tool_pod_read_output(const char *path, size_t *cursor);

#endif
