/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/xmalloc.h"
#include "supervisord/conf.h"
#include "supervisord/daemon.h"
#include "supervisord/model.h"

#include "sup_fixture.h"

struct fx {
	struct daemon d;
	char root[PATH_MAX];
};

static int
setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	struct config_provider *p;
	struct config *c;

	sup_fixture_init(&fx->d, fx->root, sizeof(fx->root));
	c = fx->d.config;
	c->providers = xcalloc(2, sizeof(*c->providers));
	c->nproviders = 2;
	p = &c->providers[0];
	p->name = xstrdup("oa");
	p->base_url = xstrdup("http://127.0.0.1:1/v1");
	p->api_key_env = xstrdup("PV_MODEL_TEST_KEY");
	p->aliases = xcalloc(1, sizeof(*p->aliases));
	p->naliases = 1;
	p->aliases[0].alias = xstrdup("fast");
	p->aliases[0].model = xstrdup("gpt-mini");
	p = &c->providers[1];
	p->name = xstrdup("an");
	p->scheme = SCHEME_ANTHROPIC;
	p->base_url = xstrdup("http://127.0.0.1:2");
	p->context_window = 200000;
	c->default_model = xstrdup("an/claude");
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	sup_fixture_free(&fx->d, fx->root);
	free(fx);
	return 0;
}

static void
expect(struct fx *fx, const char *spec, const char *resolved)
{
	struct model_choice mc;
	char *err = NULL;

	assert_int_equal(model_resolve(&fx->d, spec, &mc, &err), 0);
	assert_string_equal(mc.resolved, resolved);
	model_choice_clear(&mc);
}

static void
test_resolve(void **state)
{
	struct fx *fx = *state;
	struct model_choice mc;
	char *err = NULL, *big;

	expect(fx, NULL, "an/claude"); /* [defaults] model */
	expect(fx, "", "an/claude");
	expect(fx, "fast", "oa/gpt-mini"); /* alias */
	expect(fx, "oa/gpt-4", "oa/gpt-4"); /* PROVIDER/MODEL */
	expect(fx, "opus", "an/opus"); /* bare: default provider */
	/* an unknown prefix is part of a bare model name */
	expect(fx, "meta/llama", "an/meta/llama");
	big = xcalloc(1, 400);
	memset(big, 'm', 399);
	assert_int_equal(model_resolve(&fx->d, big, &mc, &err), -EINVAL);
	free(err);
	free(big);
}

static void
test_start_json(void **state)
{
	struct fx *fx = *state;
	struct json_object *o, *v;
	struct model_choice mc;
	char *err = NULL;

	unsetenv("PV_MODEL_TEST_KEY");
	assert_int_equal(model_resolve(&fx->d, "fast", &mc, &err), 0);
	/* the key variable is missing: a clear error, no secret */
	assert_int_equal(model_start_json(&fx->d, &mc, &o, &err), -EINVAL);
	assert_non_null(strstr(err, "PV_MODEL_TEST_KEY"));
	free(err);
	setenv("PV_MODEL_TEST_KEY", "secret-1", 1);
	assert_int_equal(model_start_json(&fx->d, &mc, &o, &err), 0);
	assert_true(json_object_object_get_ex(o, "api_key", &v));
	assert_string_equal(json_object_get_string(v), "secret-1");
	assert_true(json_object_object_get_ex(o, "scheme", &v));
	assert_string_equal(json_object_get_string(v), "openai_chat");
	assert_true(json_object_object_get_ex(o, "model", &v));
	assert_string_equal(json_object_get_string(v), "gpt-mini");
	assert_true(json_object_object_get_ex(o, "context_window", &v));
	assert_int_equal(json_object_get_int(v), 128000);
	json_object_put(o);
	model_choice_clear(&mc);

	assert_int_equal(model_resolve(&fx->d, NULL, &mc, &err), 0);
	assert_int_equal(model_start_json(&fx->d, &mc, &o, &err), 0);
	assert_true(json_object_object_get_ex(o, "api_key", &v));
	assert_string_equal(json_object_get_string(v), "");
	assert_true(json_object_object_get_ex(o, "context_window", &v));
	assert_int_equal(json_object_get_int(v), 200000);
	assert_true(json_object_object_get_ex(o, "base_url", &v));
	assert_string_equal(json_object_get_string(v), "http://127.0.0.1:2");
	json_object_put(o);
	model_choice_clear(&mc);
	unsetenv("PV_MODEL_TEST_KEY");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_start_json, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
