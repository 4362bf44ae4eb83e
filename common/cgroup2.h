/* SPDX-License-Identifier: ISC */
#ifndef COMMON_CGROUP2_H
#define COMMON_CGROUP2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * cgroup v2, as podvisord uses it (docs/isolation.md "Resource limits"):
 * finding the subtree systemd delegated to it, reading and writing the
 * interface files.  Shared by podvisord (supervisord/cgroup.c), the
 * worker (memory.events after a tool child) and `podvisor doctor`.
 */

/* The controllers podvisord uses. */
enum {
	CG2_MEMORY = 1U << 0,
	CG2_PIDS = 1U << 1,
	CG2_CPU = 1U << 2,
};
#define CG2_ALL (CG2_MEMORY | CG2_PIDS | CG2_CPU)

/* The fix every refusal names. */
#define CG2_FIX \
	"run podvisord as the systemd user unit podvisord.service " \
	"(Delegate=yes) on a system booted with the unified cgroup v2 " \
	"hierarchy"

struct cgroup2_info {
	char *root; /* the delegated subtree (podvisord's own cgroup), or NULL */
	char *error; /* root == NULL: why, ending in the fix; else NULL */
	bool in_leaf; /* podvisord already runs in <root>/podvisord */
	unsigned avail; /* CG2_* listed in <root>/cgroup.controllers */
	char controllers[128]; /* that file's text, for messages */
};

/*
 * Find the subtree podvisord may use: override (PODVISOR_CGROUP_ROOT, a
 * directory on a cgroup2 file system the caller made for podvisord), or
 * this process's cgroup (the 0:: line of /proc/self/cgroup) if it is
 * delegated (systemd's trusted.delegate / user.delegate mark, or owned by
 * a non-root caller) and writable.  No side effects.  Clear with
 * cgroup2_info_clear().
 */
void cgroup2_probe(const char *override, struct cgroup2_info *ci);
void cgroup2_info_clear(struct cgroup2_info *ci);
/* This process's cgroup directory (mount + 0:: path), or NULL. */
char *cgroup2_self_dir(void);

/* Controller names in "memory pids cpu" -> CG2_* mask. */
unsigned cgroup2_parse_controllers(const char *s);
/* The first controller of mask ("memory", "pids", "cpu"), or "?". */
const char *cgroup2_controller_name(unsigned mask);

/*
 * The refusal for limits needing controllers missing from ci (caller
 * frees), or NULL if ci has them all.
 */
char *cgroup2_missing(const struct cgroup2_info *ci, unsigned need);

/* <dir>/<file> into buf (NUL-terminated); length or -errno. */
ssize_t cgroup2_read(const char *dir, const char *file, char *buf, size_t size);
/*
 * The integer after "key " in a flat-keyed file (memory.events,
 * cpu.stat), or the file's single value with key NULL ("max" is
 * INT64_MAX).  0 or -errno.
 */
int cgroup2_read_int(
	const char *dir, const char *file, const char *key, int64_t *ret);
/* Write value to <dir>/<file>; 0 or -errno. */
int cgroup2_write(const char *dir, const char *file, const char *value);

/*
 * A size as config and the CLI spell it: bytes, or a number with K, M,
 * G or T (powers of 1024; an optional trailing "B" or "iB").  0 or
 * -EINVAL / -ERANGE.
 */
int cgroup2_parse_size(const char *s, int64_t *ret);

#endif
