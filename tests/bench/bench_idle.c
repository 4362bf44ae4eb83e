/* SPDX-License-Identifier: ISC */
/*
 * The idle-memory baseline: a process loading the same shared libraries
 * as the worker (libevent, json-c, libcurl), with one event base and one
 * JSON object, that waits in pause().  Prints "ready" once set up.
 * With an argument it exits at once instead (the exec cost of a program
 * linked like the worker).
 */
#include <stdio.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <json-c/json.h>

int
main(int argc, char **argv)
{
	struct event_base *base = event_base_new();
	struct json_object *o = json_object_new_object();

	if (base == NULL || o == NULL || curl_version() == NULL)
		return 1;
	(void)argv;
	if (argc > 1)
		return 0;
	printf("ready\n");
	fflush(stdout);
	pause();
	json_object_put(o);
	event_base_free(base);
	return 0;
}
