/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/proc.h"
#include "supervisord/daemon.h"
#include "supervisord/peer.h"

/* Become the child subreaper. */
int
peer_init(void)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

static struct pod *
peer_worker(struct daemon *d, pid_t pid)
{
	struct pod *p;

	TAILQ_FOREACH(p, &d->pods, entry)
	{
		if (p->pid == pid && daemon_pod_running(p))
			return p;
	}
	return NULL;
}

struct peer_walk {
	struct daemon *d;
	pid_t self;
	struct pod *pod;
};

static bool
peer_match(pid_t pid, void *arg)
{
	struct peer_walk *w = arg;

	if ((w->pod = peer_worker(w->d, pid)) != NULL)
		return true;
	return pid == w->self;
}

/*
 * Is pid a descendant of podvisord or of a worker (then *ret_pod is that
 * worker's pod, or NULL)?  A process we cannot trace back to init counts
 * as inside: only a client proven to live outside podvisord's tree is the
 * user.  Orphans of a pod's tools are re-parented to podvisord (the child
 * subreaper), never to init, so they stay inside too.
 */
bool
peer_inside(struct daemon *d, pid_t pid, struct pod **ret_pod)
{
	struct peer_walk w = { d, getpid(), NULL };
	bool inside;

	inside = proc_descends_from(pid, peer_match, &w);
	*ret_pod = inside ? w.pod : NULL;
	return inside;
}
