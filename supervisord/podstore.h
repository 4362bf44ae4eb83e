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
/*
 * Mark p's state file to be written at the end of this loop iteration,
 * together with every other marked pod: one round of fsyncs (then one
 * rename each and one fsync of the directory) instead of two fsyncs per
 * pod.  For transitions whose write error nobody acts on; replies and
 * requests queued in this iteration leave after the write.
 */
void podstore_write_later(struct daemon *d, struct pod *p);
/* Write every marked pod's state file now. */
void podstore_flush(struct daemon *d);

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
