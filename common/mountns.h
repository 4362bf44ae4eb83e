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

/*
 * The network of the child (mountns_plan.net), least to most narrow.
 * loopback and off: a network namespace of its own, made in the first
 * unshare (inside its user namespace), with only lo: up (loopback) or
 * left down (off).  The locking user namespace owns no part of it, so
 * nothing the child runs can bring lo up or add a device.
 */
enum mountns_net {
	MOUNTNS_NET_ON = 0, /* the worker's own network */
	MOUNTNS_NET_LOOPBACK = 1,
	MOUNTNS_NET_OFF = 2,
};

/* The shared temp dirs a private one can replace: /tmp, /var/tmp. */
#define MOUNTNS_NTMP 2

struct mountns_plan {
	char **rw; /* existing writable paths, none beneath another */
	size_t nrw;
	char **ro; /* existing holes beneath an rw path, none nested */
	size_t nro;
	/*
	 * Private temp dirs (mountns_plan_private_tmp): tmp_src[i] is bound
	 * over tmp_dst[i] (the real path of /tmp, /var/tmp), which hides
	 * the shared one; the paths beneath tmp_dst that the pod must still
	 * see (its scope's allow targets, its cwd, the control socket's
	 * dir) are moved back into place on mountpoints made in tmp_src.
	 */
	char *tmp_src[MOUNTNS_NTMP];
	char *tmp_dst[MOUNTNS_NTMP];
	int *tmp_fd; /* [MOUNTNS_NTMP] the child's detached tmp_src */
	char **graft; /* outermost, each beneath a tmp_dst */
	size_t ngraft;
	int *graft_fd; /* the child's detached grafts (scratch) */
	enum mountns_net net; /* set by the caller after the build */
	bool userns; /* not root: the first namespace needs a user ns too */
	char uid_map[48];
	char gid_map[48];
};

/* Can this worker build such a namespace?  Probed once (a fork). */
bool mountns_available(void);
/* And one with a network namespace of its own?  Probed once (a fork). */
bool mountns_net_available(void);

/*
 * The plan for the scope's write allows and deny rules plus the
 * NULL-terminated scratch dirs (may be NULL); paths that do not exist
 * are left out (see mountns_covers()).
 */
void mountns_plan_build(struct mountns_plan *plan, const struct scope *scope,
	const char *const *scratch);
void mountns_plan_clear(struct mountns_plan *plan);

/*
 * Give the child private temp dirs.  tmp[i] (may be NULL) is the pod's
 * own directory for /tmp (i = 0) and /var/tmp (i = 1); visible is a
 * NULL-terminated list (may be NULL) of paths beneath them the child
 * must still reach besides the scope's allow targets.  Mountpoints for
 * those are made inside tmp[i] without following symlinks (and reached
 * in the child with RESOLVE_NO_SYMLINKS).  Returns 0 or -errno with a
 * sentence in *reterr_msg (caller frees).
 */
int mountns_plan_private_tmp(struct mountns_plan *plan,
	const struct scope *scope, const char *const tmp[MOUNTNS_NTMP],
	const char *const *visible, char **reterr_msg);

/* Is path beneath the real /tmp or /var/tmp?  (Then the plan hides it.) */
bool mountns_is_shared_tmp(const char *path);

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
