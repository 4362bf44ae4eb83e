/* SPDX-License-Identifier: ISC */
#ifndef WORKER_LANDLOCK_H
#define WORKER_LANDLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct mountns_plan;
struct scope;

/*
 * Landlock confinement of bash tool children (DESIGN.md "Landlock
 * notes").  The ruleset handles only the write-side rights, so reads stay
 * open everywhere, and allows them beneath each write allow of the scope
 * that exists, beneath each scratch directory, and on /dev/null.
 *
 * Limits (Landlock rules always cover a whole hierarchy and cannot
 * subtract):
 * - a deny-write hole inside an allow (a child's delegated area, a deny
 *   rule) that the mount namespace does not bind read-only (worker/
 *   mountns.h: none is available, or the hole does not exist yet) is
 *   approximated by granting the allow's existing entries except the
 *   ones leading to the hole, recursively: new entries directly in a
 *   directory that contains such a hole cannot be created from bash;
 * - a non-recursive write rule on a directory grants writing its existing
 *   direct children files only (no new entries);
 * - a write allow whose target does not exist when the command starts is
 *   not writable from that command.
 * The file tools enforce the exact rules.
 */

/* The kernel's Landlock ABI version, 0 if Landlock is unavailable. */
int landlock_abi(void);

/* The write-side rights handled for abi. */
uint64_t landlock_handled_rights(int abi);

/*
 * Build a ruleset fd (O_CLOEXEC) for a bash child from the scope's write
 * allows and deny rules, the NULL-terminated scratch directories (may be
 * NULL) and /dev/null.  The holes mounted binds read-only (NULL: none)
 * are not carved.  With deny_tcp (ABI >= 4, else refused) every TCP
 * bind and connect is denied too: the network policy's fallback where
 * no network namespace can be made (UDP and unix sockets stay open).
 * Returns the fd or a negative errno with a sentence in *reterr_msg
 * (caller frees).
 */
int landlock_ruleset_build(int abi, const struct scope *scope,
	const char *const *scratch, const struct mountns_plan *mounted,
	bool deny_tcp, char **reterr_msg);

/*
 * Confine the calling process (the forked child, right before execve):
 * PR_SET_NO_NEW_PRIVS, then landlock_restrict_self.  Async-signal-safe.
 */
int landlock_restrict(int ruleset_fd);

#endif
