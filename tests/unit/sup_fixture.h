/* SPDX-License-Identifier: ISC */
#ifndef TESTS_UNIT_SUP_FIXTURE_H
#define TESTS_UNIT_SUP_FIXTURE_H

/*
 * A struct daemon without an event loop for the supervisord unit tests:
 * a temporary state directory, the default config, an empty registry.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "common/paths.h"
#include "common/xmalloc.h"
#include "supervisord/conf.h"
#include "supervisord/daemon.h"
#include "supervisord/journal.h"
#include "supervisord/podstore.h"
#include "supervisord/registry.h"

static inline void
sup_fixture_init(struct daemon *d, char *root_out, size_t len)
{
	char tmpl[] = "/tmp/pvunit-XXXXXX";
	char *root = mkdtemp(tmpl);

	memset(d, 0, sizeof(*d));
	TAILQ_INIT(&d->pods);
	TAILQ_INIT(&d->clients);
	d->listen_fd = -1;
	d->fakellm_fd = -1;
	snprintf(root_out, len, "%s", root);
	d->paths.state = xstrdup(root);
	d->paths.runtime = xstrfmt("%s/run", root);
	d->paths.state_pods = xstrfmt("%s/pods", root);
	d->paths.sessions = xstrfmt("%s/sessions", root);
	d->paths.supervisor_json = xstrfmt("%s/supervisor.json", root);
	d->paths.runtime_pods = xstrfmt("%s/run/pods", root);
	d->paths.control_sock = xstrfmt("%s/run/control.sock", root);
	d->paths.config = xstrfmt("%s/config.ini", root);
	mkdir(d->paths.state_pods, 0700);
	mkdir(d->paths.sessions, 0700);
	d->config = conf_new();
	d->registry = registry_new();
}

/* Write what the daemon deferred and free its deferred events (before
 * the pods and the event base go). */
static inline void
sup_fixture_drain(struct daemon *d)
{
	podstore_flush(d);
	if (d->dirty_ev != NULL)
		event_free(d->dirty_ev);
	d->dirty_ev = NULL;
	free(d->dirty);
	d->dirty = NULL;
	d->ndirty = 0;
	journal_close(d);
}

static inline void
sup_fixture_free(struct daemon *d, const char *root)
{
	struct pod *p;
	char *cmd;

	while ((p = TAILQ_FIRST(&d->pods)) != NULL)
		pod_free(p);
	registry_free(d->registry);
	conf_free(d->config);
	paths_free(&d->paths);
	cmd = xstrfmt("rm -rf '%s'", root);
	if (system(cmd) != 0)
		abort();
	free(cmd);
}

#endif
