/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/xmalloc.h"

#include "record.h"
#include "scenario.h"
#include "server.h"

static void
usage(void)
{
	fprintf(stderr,
		"usage: fakellm [--port PORT] [--scenario FILE] "
		"[--record FILE] [--require-key KEY]\n");
	exit(2);
}

static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	log_info("signal %d: exiting", (int)sig);
	event_base_loopbreak(base);
}

/* Parse options, load the scenario, serve until SIGTERM or SIGINT. */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "scenario", required_argument, NULL, 's' },
		{ "record", required_argument, NULL, 'r' },
		{ "require-key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fakellm fl = { .record_fd = -1 };
	struct event *sigterm, *sigint;
	const char *scenario_path = NULL, *record_path = NULL;
	char *err = NULL, *end;
	long port = 0;
	int ch, r, bound;

	log_init("fakellm");
	while ((ch = getopt_long(argc, argv, "p:s:r:k:h", longopts, NULL)) !=
		-1) {
		switch (ch) {
		case 'p':
			errno = 0;
			port = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || port < 0 ||
				port > 65535) {
				fprintf(stderr, "fakellm: bad port: %s\n",
					optarg);
				return 2;
			}
			break;
		case 's':
			scenario_path = optarg;
			break;
		case 'r':
			record_path = optarg;
			break;
		case 'k':
			fl.require_key = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (scenario_path != NULL &&
		scenario_load(scenario_path, &fl.scenario, &err) < 0) {
		fprintf(stderr, "fakellm: scenario %s: %s\n", scenario_path,
			err);
		free(err);
		return 2;
	}
	if (record_path != NULL &&
		(r = record_open(record_path, &fl.record_fd)) < 0) {
		fprintf(stderr, "fakellm: record file %s: %s\n", record_path,
			strerror(-r));
		scenario_free(fl.scenario);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	fl.base = event_base_new();
	if (fl.base == NULL)
		fatal("event_base_new failed");
	sigterm = evsignal_new(fl.base, SIGTERM, main_signal_cb, fl.base);
	sigint = evsignal_new(fl.base, SIGINT, main_signal_cb, fl.base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	r = server_start(&fl, (int)port, &bound);
	if (r < 0) {
		fprintf(stderr, "fakellm: cannot listen on 127.0.0.1:%ld: %s\n",
			port, strerror(-r));
		return 1;
	}
	printf("listening http://127.0.0.1:%d\n", bound);
	fflush(stdout);
	event_base_dispatch(fl.base);
	server_stop(&fl);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(fl.base);
	scenario_free(fl.scenario);
	if (fl.record_fd >= 0)
		close(fl.record_fd);
	return 0;
}
