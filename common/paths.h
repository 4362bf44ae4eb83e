/* SPDX-License-Identifier: ISC */
#ifndef COMMON_PATHS_H
#define COMMON_PATHS_H

/*
 * The XDG locations of DESIGN.md, each overridable by a PODVISOR_*
 * environment variable (PODVISOR_CONFIG, PODVISOR_RUNTIME_DIR,
 * PODVISOR_STATE_DIR, PODVISOR_WORKER).  All strings are owned by the
 * struct and freed by paths_free().
 */
struct paths {
	char *config; /* config.ini (may not exist) */
	char *runtime; /* runtime dir, 0700 */
	char *control_sock; /* <runtime>/control.sock */
	char *runtime_pods; /* <runtime>/pods */
	char *state; /* state dir, 0700 */
	char *state_pods; /* <state>/pods */
	char *sessions; /* <state>/sessions */
	char *supervisor_json; /* <state>/supervisor.json */
};

/* Fill p from the environment. Returns 0 or -errno (no HOME etc.). */
int paths_init(struct paths *p);
void paths_free(struct paths *p);
/* Create the runtime and state directories (0700). */
int paths_ensure_dirs(const struct paths *p);

/* Derived per-pod paths; the caller frees the result. */
char *paths_pod_runtime_dir(const struct paths *p, const char *name);
char *paths_pod_sock(const struct paths *p, const char *name);
char *paths_pod_stderr(const struct paths *p, const char *name);
char *paths_pod_state(const struct paths *p, const char *name);
char *paths_session_dir(const struct paths *p, const char *name);
char *paths_segment(
	const struct paths *p, const char *name, const char *segment);

/*
 * The worker binary: $PODVISOR_WORKER, else podvisor-worker next to the
 * running executable (/proc/self/exe), else <libexecdir>/podvisor-worker.
 * The caller frees the result.
 */
char *paths_worker_binary(void);

/* Same lookup for a sibling program by name (podvisord, fakellm, ...). */
char *paths_sibling_binary(const char *name, const char *env_override);

#endif
