/* SPDX-License-Identifier: ISC */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <cmocka.h>
#include <event2/event.h>

#include "common/id.h"
#include "common/xmalloc.h"
#include "supervisord/daemon.h"
#include "supervisord/reap.h"

#include "sup_fixture.h"

/* Milliseconds until p's timer fires. */
static long
timer_ms(struct pod *p)
{
	struct timeval tv, now;

	assert_non_null(p->timer);
	assert_true(event_pending(p->timer, EV_TIMEOUT, &tv));
	event_base_gettimeofday_cached(p->d->base, &now);
	return (tv.tv_sec - now.tv_sec) * 1000 +
		(tv.tv_usec - now.tv_usec) / 1000;
}

static void
test_backoff_and_give_up(void **state)
{
	struct daemon d;
	char root[PATH_MAX];
	struct pod *p;
	long want[4] = { 1000, 2000, 4000, 8000 };
	int i;

	(void)state;
	sup_fixture_init(&d, root, sizeof(root));
	d.base = event_base_new();
	p = pod_new(&d, "a");
	p->cwd = xstrdup(root);
	id_new(p->session_id);
	p->policy = RESTART_ON_FAILURE;
	for (i = 0; i < 4; i++) {
		long ms;

		p->status = POD_CRASHED;
		reap_crashed(p);
		assert_int_equal(p->status, POD_CRASHED);
		ms = timer_ms(p);
		assert_true(ms > want[i] - 200 && ms <= want[i] + 50);
	}
	/* the fifth crash within 60 s: failed, no timer armed anew */
	event_free(p->timer);
	p->timer = NULL;
	reap_crashed(p);
	assert_int_equal(p->status, POD_FAILED);
	assert_null(p->timer);

	/* never: crashed stays crashed, nothing scheduled */
	p = pod_new(&d, "b");
	p->cwd = xstrdup(root);
	id_new(p->session_id);
	p->status = POD_CRASHED;
	reap_crashed(p);
	assert_int_equal(p->status, POD_CRASHED);
	assert_null(p->timer);
	sup_fixture_drain(&d);
	while ((p = TAILQ_FIRST(&d.pods)) != NULL)
		pod_free(p);
	event_base_free(d.base);
	sup_fixture_free(&d, root);
}

static void
test_old_crashes_forgotten(void **state)
{
	struct daemon d;
	char root[PATH_MAX];
	struct pod *p;
	int i;

	(void)state;
	sup_fixture_init(&d, root, sizeof(root));
	d.base = event_base_new();
	p = pod_new(&d, "a");
	p->cwd = xstrdup(root);
	id_new(p->session_id);
	p->policy = RESTART_ON_FAILURE;
	/* four crashes long ago do not count */
	for (i = 0; i < 4; i++)
		p->crash_ms[p->ncrash++] = 1000 + i;
	p->status = POD_CRASHED;
	reap_crashed(p);
	assert_int_equal(p->status, POD_CRASHED);
	assert_true(timer_ms(p) <= 1050);
	sup_fixture_drain(&d);
	pod_free(p);
	event_base_free(d.base);
	sup_fixture_free(&d, root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_and_give_up),
		cmocka_unit_test(test_old_crashes_forgotten),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
