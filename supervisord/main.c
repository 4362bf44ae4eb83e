/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "config.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "supervisord/activation.h"
#include "supervisord/conf.h"
#include "supervisord/control.h"
#include "supervisord/daemon.h"
#include "supervisord/fakellm.h"
#include "supervisord/journal.h"
#include "supervisord/spare.h"
#include "supervisord/notify.h"
#include "supervisord/peer.h"
#include "supervisord/podstore.h"
#include "supervisord/reap.h"
#include "supervisord/reattach.h"
#include "supervisord/registry.h"

static void
main_usage(FILE *f)
{
	fprintf(f,
		"usage: podvisord [--config FILE] [--release-cgroup] [--help] "
		"[--version]\n"
		"\n"
		"The podvisor supervisor daemon; runs in the foreground.\n"
		"  --config FILE  config.ini to use (default: "
		"$PODVISOR_CONFIG or ~/.config/podvisor/config.ini)\n"
		"  --release-cgroup  turn podvisord's cgroup controllers off "
		"in the unit's\n"
		"                 cgroup and exit (the unit's ExecStartPre; "
		"docs/isolation.md)\n");
}

static void
main_reload(struct daemon *d)
{
	struct config *c = NULL;
	char *err = NULL;

	(void)notify_send(d, "RELOADING=1");
	if (conf_load(d->config_path, &c, &err) != 0) {
		log_err("config reload failed, keeping the old one: %s", err);
		free(err);
	} else {
		conf_add_env_providers(c);
		conf_free(d->config);
		d->config = c;
		log_notice("config reloaded from %s", d->config_path);
	}
	(void)notify_send(d, "READY=1");
	notify_status(d);
}

static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	switch (sig) {
	case SIGCHLD:
		reap_children(d);
		break;
	case SIGHUP:
		main_reload(d);
		break;
	default:
		daemon_shutdown(d, false);
		break;
	}
}

static void
main_init(struct daemon *d, const char *config_arg)
{
	static const int sigs[4] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };
	char *err = NULL;
	int i, r;

	TAILQ_INIT(&d->pods);
	TAILQ_INIT(&d->clients);
	d->listen_fd = -1;
	d->fakellm_fd = -1;
	notify_init(d);
	if ((r = paths_init(&d->paths)) < 0)
		fatal("cannot determine the podvisor directories: %s",
			strerror(-r));
	d->config_path =
		xstrdup(config_arg != NULL ? config_arg : d->paths.config);
	if (conf_load(d->config_path, &d->config, &err) != 0)
		fatal("%s", err);
	conf_add_env_providers(d->config);
	cgroup_init(d); /* before any child: the spare, the fakellm */
	if ((r = paths_ensure_dirs(&d->paths)) < 0 ||
		(r = dir_ensure_private(d->paths.state_pods)) < 0 ||
		(r = dir_ensure_private(d->paths.runtime_pods)) < 0 ||
		(r = dir_ensure_private(d->paths.sessions)) < 0)
		fatal("cannot create the podvisor directories: %s",
			strerror(-r));
	if ((r = peer_init()) < 0)
		log_warn("cannot become a child subreaper: %s", strerror(-r));
	d->worker_bin = paths_worker_binary();
	if (d->worker_bin == NULL)
		fatal("cannot find podvisor-worker");

	r = activation_listen_fd();
	if (r >= 0) {
		d->listen_fd = r;
		d->socket_activated = true;
		log_info("socket activated (fd %d)", r);
	} else if (r != -ENOENT) {
		fatal("socket activation: %s", strerror(-r));
	} else {
		r = sock_listen_unix(d->paths.control_sock, 128);
		if (r == -EADDRINUSE)
			fatal("%s is in use: another podvisord is running",
				d->paths.control_sock);
		if (r < 0)
			fatal("cannot listen on %s: %s", d->paths.control_sock,
				strerror(-r));
		d->listen_fd = r;
	}

	if ((d->base = event_base_new()) == NULL)
		fatal("event_base_new failed");
	d->registry = registry_new();
	if ((r = podstore_load_all(d)) < 0)
		fatal("cannot read %s: %s", d->paths.state_pods, strerror(-r));
	(void)journal_load(d);
	reattach_begin(d);
	for (i = 0; i < 4; i++) {
		d->sig_ev[i] =
			evsignal_new(d->base, sigs[i], main_signal_cb, d);
		if (d->sig_ev[i] == NULL ||
			evsignal_add(d->sig_ev[i], NULL) < 0)
			fatal("cannot install the signal handlers");
	}
	if ((r = control_start(d)) < 0)
		fatal("cannot accept on the control socket: %s", strerror(-r));
	journal_write(d);
}

static void
main_cleanup(struct daemon *d)
{
	struct pod *p;
	int i;

	control_stop(d);
	/* Loop once more so closing connections run their on_close. */
	event_base_loop(d->base, EVLOOP_NONBLOCK);
	fakellm_stop(d);
	spare_stop(d);
	podstore_flush(d);
	if (d->dirty_ev != NULL)
		event_free(d->dirty_ev);
	free(d->dirty);
	journal_close(d);
	while ((p = TAILQ_FIRST(&d->pods)) != NULL) {
		/* Pods left running keep their state: the next daemon
		 * re-adopts them. */
		pod_free(p);
	}
	event_base_loop(d->base, EVLOOP_NONBLOCK);
	for (i = 0; i < 4; i++)
		if (d->sig_ev[i] != NULL)
			event_free(d->sig_ev[i]);
	if (d->reattach_timer != NULL)
		event_free(d->reattach_timer);
	if (d->exit_ev != NULL)
		event_free(d->exit_ev);
	notify_free(d);
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	if (!d->socket_activated)
		(void)unlink(d->paths.control_sock);
	registry_free(d->registry);
	cgroup_free(d);
	conf_free(d->config);
	event_base_free(d->base);
	paths_free(&d->paths);
	free(d->config_path);
	free(d->worker_bin);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "release-cgroup", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d;
	const char *config_arg = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_arg = optarg;
			break;
		case 'h':
			main_usage(stdout);
			return 0;
		case 'V':
			printf("podvisord %s\n", PODVISOR_VERSION);
			return 0;
		case 'R':
			log_init("podvisord");
			return cgroup_release();
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		main_usage(stderr);
		return 2;
	}
	log_init("podvisord");
	(void)signal(SIGPIPE, SIG_IGN);
	memset(&d, 0, sizeof(d));
	main_init(&d, config_arg);
	log_notice("podvisord %s ready on %s (%zu pods)", PODVISOR_VERSION,
		d.paths.control_sock, daemon_live_count(&d));
	(void)notify_send(&d, "READY=1");
	notify_status(&d);
	notify_watchdog_start(&d);
	event_base_dispatch(d.base);
	log_notice("podvisord exiting");
	main_cleanup(&d);
	return d.exit_code;
}
