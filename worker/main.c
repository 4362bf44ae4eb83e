/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "config.h"
#include "common/log.h"
#include "common/mountns.h"
#include "common/podname.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "worker/curlfn.h"
#include "worker/link.h"
#include "worker/tools.h"
#include "worker/worker.h"

#define WORKER_CHANNEL_FD 3

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: podvisor-worker --pod NAME [--restore]\n"
		"       podvisor-worker --spare\n"
		"\n"
		"Runs one podvisor pod.  Started by podvisord with the supervisor\n"
		"channel on fd 3 (a socket); not meant to be run by hand.\n"
		"\n"
		"  --pod NAME   the pod's name\n"
		"  --restore    reopen and replay the pod's session log\n"
		"  --spare      wait, warm, for a start naming the pod\n"
		"  --help       show this help\n");
}

/*
 * A spare tells podvisord it is up (libraries loaded, loop built) with
 * one line written before the channel carries anything else; podvisord
 * reads it raw and only then hands the channel to a pod's start.
 */
static int
main_spare_ready(void)
{
	static const char line[] = "{\"event\":\"spare_ready\"}\n";
	ssize_t n;

	do
		n = write(WORKER_CHANNEL_FD, line, sizeof(line) - 1);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)(sizeof(line) - 1) ? 0 : -EIO;
}

static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	log_notice("signal %d: shutting down", (int)sig);
	worker_shutdown(w);
}

static void
main_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	tool_bash_reap_orphans(&w->tenv);
}

/* Parse the arguments, check fd 3, run the pod's event loop. */
int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pod", required_argument, NULL, 'p' },
		{ "restore", no_argument, NULL, 'r' },
		{ "spare", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct worker w = { 0 };
	struct stat st;
	char *err = NULL;
	int c, code;
	bool spare = false;

	log_init("podvisor-worker");
	while ((c = getopt_long(argc, argv, "p:rsh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			free(w.name);
			w.name = xstrdup(optarg);
			break;
		case 'r':
			w.restore = true;
			break;
		case 's':
			spare = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* A spare has no name until start names its pod (w.name NULL); its
	 * blank argument only reserves room for the pod's process title. */
	while (spare && optind < argc &&
		strspn(argv[optind], " ") == strlen(argv[optind]))
		optind++;
	if (optind != argc || (w.name == NULL) != spare) {
		usage(stderr);
		free(w.name);
		return 2;
	}
	if (!spare && !podname_valid(w.name, &err)) {
		fprintf(stderr, "podvisor-worker: invalid pod name: %s\n",
			err ? err : w.name);
		free(err);
		free(w.name);
		return 2;
	}
	if (fstat(WORKER_CHANNEL_FD, &st) == -1 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr,
			"podvisor-worker: fd 3 is not a socket; the worker is "
			"started by podvisord with its channel on fd 3\n");
		free(w.name);
		return 2;
	}

	/* Tool children (bash) must not inherit the supervisor channel. */
	(void)fd_set_cloexec(WORKER_CHANNEL_FD, true);
	signal(SIGPIPE, SIG_IGN);
	w.base = event_base_new();
	if (w.base == NULL)
		fatal("event_base_new failed");
	w.alerts = json_object_new_array();
	w.pod_cursors = json_object_new_object();
	w.sigterm_ev = evsignal_new(w.base, SIGTERM, main_signal_cb, &w);
	w.sigint_ev = evsignal_new(w.base, SIGINT, main_signal_cb, &w);
	evsignal_add(w.sigterm_ev, NULL);
	evsignal_add(w.sigint_ev, NULL);
	/*
	 * Orphans of bash runs (setsid daemons, double forks) become ours,
	 * not podvisord's or init's: they are reaped here and killed when
	 * the pod ends (tool_bash_kill_orphans), like the rest of its tools.
	 */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		log_warn(
			"cannot become a child subreaper: %s", strerror(errno));
	w.sigchld_ev = evsignal_new(w.base, SIGCHLD, main_sigchld_cb, &w);
	evsignal_add(w.sigchld_ev, NULL);
	w.link = link_new(&w, WORKER_CHANNEL_FD);
	log_info("podvisor-worker %s for pod %s waiting for start",
		PODVISOR_VERSION, spare ? "(spare)" : w.name);
	/*
	 * A spare probes for bash's mount namespace (a fork, cached for the
	 * process) while it waits, not on its pod's first attach.
	 */
	if (spare)
		(void)mountns_available();
	if (spare && main_spare_ready() < 0) {
		log_err("cannot tell podvisord the spare is ready");
		w.exit_code = 1;
	} else
		event_base_dispatch(w.base);

	code = w.exit_code;
	log_info("pod %s exiting (%d)", w.name != NULL ? w.name : "(spare)",
		code);
	worker_clear(&w);
	event_base_free(w.base);
	curlfn_unload();
	return code;
}
