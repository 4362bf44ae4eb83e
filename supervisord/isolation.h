/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_ISOLATION_H
#define SUPERVISORD_ISOLATION_H

struct daemon;
struct json_object;
struct pod;

/*
 * Per-pod isolation that podvisord decides and the worker's confinement
 * (worker/confine.h) enforces on every tool child: the pod's private
 * temp dirs, <state>/tmp/<name>/{tmp,var_tmp}, bound over /tmp and
 * /var/tmp in the child's mount namespace; kept across turns, stops and
 * restores, removed by forget.  docs/isolation.md.
 */

/* <state>/tmp/<name> (caller frees). */
char *isolation_tmp_dir(const struct daemon *d, const char *name);

/* pod-summary and pod-detail (list, inspect/status): "tmp_dir". */
void isolation_detail(
	const struct daemon *d, const struct pod *p, struct json_object *o);

/*
 * The start request's "confine" object (new reference), making
 * <state>/tmp (the worker makes the pod's own dirs beneath it).
 */
struct json_object *isolation_start_config(
	const struct daemon *d, const struct pod *p);

/* forget: remove the pod's temp dirs and whatever its tools left there. */
void isolation_forget(const struct daemon *d, const struct pod *p);

#endif
