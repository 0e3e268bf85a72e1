/* The record the shim builds (shim/record.c), for what the corpus-driven
 * suites do not vary: the start time, written by hand, against the C
 * library's gmtime_r and strftime over the whole range of years a record
 * can carry; and strings that must be escaped, against a JSON reader. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../shim/call.h"
#include "../../shim/config.h"
#include "../../shim/record.h"
#include "helpers.h"

static char buf[65536];

/* The record of call c, as parsed JSON. */
static json_t *build(struct spz_call *c)
{
	size_t n = spz_record_build(c, spz_config(), buf, sizeof(buf) - 1);
	ck_assert_uint_gt(n, 0);
	json_error_t err;
	json_t *doc = json_loadb(buf, n, 0, &err);
	ck_assert_msg(doc != NULL, "%s: %s", err.text, buf);
	return doc;
}

static void expect_started_at(struct spz_call *c, int64_t ms)
{
	c->start_wall_ms = ms;
	json_t *doc = build(c);
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	ck_assert_ptr_nonnull(gmtime_r(&secs, &tm));
	char want[40];
	size_t k = strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(want + k, sizeof(want) - k, ".%03dZ", (int)(ms % 1000));
	ck_assert_str_eq(json_string_value(json_object_get(doc, "startedAt")), want);
	json_decref(doc);
}

/* A call as a request to OpenAI starts it. */
static struct spz_call *openai_call(void)
{
	struct spz_call *c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	strcpy(c->id, "019a0000-0000-7000-8000-000000000000");
	strcpy(c->provider, "openai");
	strcpy(c->host, "api.openai.com");
	return c;
}

START_TEST(started_at_matches_the_c_library)
{
	struct spz_call *c = openai_call();
	strcpy(c->endpoint, "/v1/chat/completions");
	c->status = 200;
	/* Epoch, leap days, century rules (1900 no, 2000 yes, 2100 no), the
	 * ends of months and years, and the last millisecond of 9999. */
	static const int64_t edges[] = {
		0, 999, 951782400000, 951868799999, 951868800000, 4107456000000, 4107542399999, 4107542400000,
		1767225599999, 1767225600000, 1709164800123, 253402300799999,
	};
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		expect_started_at(c, edges[i]);
	srand(11);
	for (int i = 0; i < 20000; i++) {
		int64_t ms = ((int64_t)rand() << 31 | rand()) % 253402300800000;
		expect_started_at(c, ms);
	}
	free(c);
}
END_TEST

START_TEST(strings_are_escaped_for_a_json_reader)
{
	struct spz_call *c = openai_call();
	/* quotes, a backslash, a control byte and invalid UTF-8, past the
	 * sixteen bytes the vector scan takes at once */
	strcpy(c->endpoint, "/v1/chat/completions/\"quoted\"/back\\slash/\x01/\xff/end");
	strcpy(c->model, "gpt-4o \xe2\x82\xac");
	json_t *doc = build(c);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "endpoint")),
			 "/v1/chat/completions/\"quoted\"/back\\slash/\x01/\xef\xbf\xbd/end");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "model")), "gpt-4o \xe2\x82\xac");
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "status")), 500); /* no status: 500 */
	json_decref(doc);
	free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("shimrecord");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, started_at_matches_the_c_library);
	tcase_add_test(tc, strings_are_escaped_for_a_json_reader);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
