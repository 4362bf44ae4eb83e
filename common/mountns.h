/* SPDX-License-Identifier: ISC */
#ifndef COMMON_MOUNTNS_H
#define COMMON_MOUNTNS_H

#include <stdbool.h>
#include <stddef.h>

struct scope;

/*
 * Read-only mounts around a bash child, the second layer of its
 * confinement (Landlock is the first).  In a private mount namespace
 * (inside a user namespace unless the worker runs as root) every mount is
 * made read-only except binds of the scope's write allows and the
 * scratch directories; the deny targets inside those (a child's
 * delegated area, a deny rule) are bound again read-only over them.  The
 * namespace is then entered once more from a new user namespace, which
 * locks every mount and its read-only flag: nothing bash runs, root
 * included, can unmount or remount them.
 *
 * What this adds to Landlock: a hole needs no carving (a pod's bash can
 * create files next to the area it delegated), and metadata changes
 * (chmod, chown, utimes) outside the write scope fail with EROFS, which
 * Landlock does not handle.  Hard links a user made into the scope stay
 * writable through both layers (both are path based).
 */

struct mountns_plan {
	char **rw; /* existing writable paths, none beneath another */
	size_t nrw;
	char **ro; /* existing holes beneath an rw path, none nested */
	size_t nro;
	bool userns; /* not root: the first namespace needs a user ns too */
	char uid_map[48];
	char gid_map[48];
};

/* Can this worker build such a namespace?  Probed once (a fork). */
bool mountns_available(void);

/*
 * The plan for the scope's write allows and deny rules plus the
 * NULL-terminated scratch dirs (may be NULL); paths that do not exist
 * are left out (see mountns_covers()).
 */
void mountns_plan_build(struct mountns_plan *plan, const struct scope *scope,
	const char *const *scratch);
void mountns_plan_clear(struct mountns_plan *plan);

/* Is path (a deny target) bound read-only by the plan? */
bool mountns_covers(const struct mountns_plan *plan, const char *path);

/*
 * In the forked child: enter the namespaces and set the mounts up, then
 * lock them.  Async-signal-safe (no allocation).  Returns 0, or -errno
 * with the failed step in *ret_what; on failure the mounts are at least
 * as restrictive as before the call, but holes may be unprotected.
 */
int mountns_enter(const struct mountns_plan *plan, const char **ret_what);

#endif
