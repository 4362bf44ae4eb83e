/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_PODSTORE_H
#define SUPERVISORD_PODSTORE_H

struct daemon;
struct pod;
struct json_object;

/*
 * Pod state files <state>/pods/<name>.json (DESIGN.md "Pod state"),
 * written only here, always with atomicfile_write().  A file that fails
 * to parse becomes a pod with status corrupt that is never written.
 */

/* The state-file JSON of p (new reference). */
struct json_object *podstore_to_json(const struct pod *p);
/*
 * Fill p (fresh from pod_new()) from its state JSON.  Returns 0 or
 * -EINVAL with a sentence in *reterr_msg (caller frees).
 */
int podstore_from_json(
	struct pod *p, struct json_object *obj, char **reterr_msg);

/* Write p's state file; -EPERM for a corrupt pod. */
int podstore_write(struct daemon *d, struct pod *p);
/* Load every <state>/pods/NAME.json as a pod (corrupt ones included). */
int podstore_load_all(struct daemon *d);
/* Delete p's state file and session logs (forget). */
int podstore_remove(struct daemon *d, struct pod *p);

/*
 * Make a and b peers of each other and write both state files, or
 * neither: if writing b fails, a's old file content is restored and the
 * in-memory peer lists are left as they were.
 */
int podstore_register_peer(struct daemon *d, struct pod *a, struct pod *b);

#endif
