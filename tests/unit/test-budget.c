/* The shim's budget verdicts from the collector's map, and the refusal it
 * answers with: which budget covers which agent, hard cap against alert, a
 * state from an earlier period, a map that stays locked (the call goes
 * through), and refusal bodies in each provider's shape with the gateway
 * SDKs' message. */
#include <check.h>
#include <jansson.h>
#include <string.h>

#include "../../shim/budget.h"
#include "../../shim/refusal.h"
#include "helpers.h"

static struct spz_budget_map map;
static const int64_t NOW = 1795435200000; /* 2026-11-23T12:00:00Z */

static void add(const char *id, const char *agent, uint8_t period, uint8_t enforcement, bool breached,
		int64_t limit, int64_t current)
{
	struct spz_budget_entry *e = &map.entries[map.count++];
	memset(e, 0, sizeof(*e));
	snprintf(e->budget_id, sizeof(e->budget_id), "%s", id);
	snprintf(e->agent, sizeof(e->agent), "%s", agent ? agent : "");
	e->scope = agent ? SPZ_BUDGET_AGENT : SPZ_BUDGET_PROJECT;
	e->period = period;
	e->enforcement = enforcement;
	e->breached = breached;
	e->limit_pusd = limit;
	e->current_pusd = current;
}

static void setup(void)
{
	memset(&map, 0, sizeof(map));
	map.magic = SPZ_BUDGET_MAP_MAGIC;
	map.seq = 42;
	map.updated_ms = NOW - 500;
	spz_budget_use_map(&map);
}

START_TEST(verdicts_follow_scope_enforcement_and_period)
{
	struct spz_budget_verdict v;
	add("writer-daily", "writer", SPZ_BUDGET_DAILY, SPZ_BUDGET_HARD_CAP, true, 5000000000000, 5010000000000);
	add("triage-alert", "triage", SPZ_BUDGET_DAILY, SPZ_BUDGET_ALERT, true, 1000000000000, 2000000000000);
	add("ok-cap", "other", SPZ_BUDGET_MONTHLY, SPZ_BUDGET_HARD_CAP, false, 1, 0);
	spz_budget_check("writer", NOW, &v);
	ck_assert(v.refuse);
	ck_assert_str_eq(v.entry.budget_id, "writer-daily");
	spz_budget_check("triage", NOW, &v);
	ck_assert(!v.refuse && v.warn);
	spz_budget_check("other", NOW, &v);
	ck_assert(!v.refuse && !v.warn);
	spz_budget_check(NULL, NOW, &v);
	ck_assert(!v.refuse);
	/* A project cap covers every agent, and the first breached cap decides. */
	add("project-month", NULL, SPZ_BUDGET_MONTHLY, SPZ_BUDGET_HARD_CAP, true, 100, 100);
	spz_budget_check("other", NOW, &v);
	ck_assert(v.refuse);
	ck_assert_str_eq(v.entry.budget_id, "project-month");
	spz_budget_check("writer", NOW, &v);
	ck_assert_str_eq(v.entry.budget_id, "writer-daily");
	/* Yesterday's state says nothing of today's daily budget; this month's
	 * still holds for the monthly one. */
	map.updated_ms = NOW - 13 * 3600 * 1000;
	spz_budget_check("writer", NOW, &v);
	ck_assert_str_eq(v.entry.budget_id, "project-month");
	/* The collector never released the lock: the call goes through. */
	map.updated_ms = NOW;
	map.seq = 43;
	spz_budget_check("writer", NOW, &v);
	ck_assert(!v.refuse && !v.warn);
	map.seq = 44;
	map.magic = 0;
	spz_budget_check("writer", NOW, &v);
	ck_assert(!v.refuse);
}
END_TEST

START_TEST(refusals_in_each_providers_shape)
{
	add("writer-daily", "writer", SPZ_BUDGET_DAILY, SPZ_BUDGET_HARD_CAP, true, 5000000000000, 5010000000000);
	struct spz_budget_entry *e = &map.entries[0];
	char msg[300];
	spz_refusal_message(e, "writer", msg, sizeof(msg));
	ck_assert_str_eq(msg, "spaturzu: agent/daily budget exceeded (5.01 >= 5.00) for agent \"writer\"");
	spz_refusal_message(e, NULL, msg, sizeof(msg));
	ck_assert_str_eq(msg, "spaturzu: agent/daily budget exceeded (5.01 >= 5.00)");

	char body[2048];
	json_error_t err;
	size_t n = spz_refusal_body(SPZ_SHAPE_OPENAI, e, "wri\"ter", body, sizeof(body));
	json_t *j = json_loadb(body, n, 0, &err);
	ck_assert_msg(j != NULL, "%s: %s", body, err.text);
	json_t *er = json_object_get(j, "error");
	ck_assert_str_eq(json_string_value(json_object_get(er, "code")), "budget_exceeded");
	ck_assert_str_eq(json_string_value(json_object_get(er, "scope")), "agent");
	ck_assert_str_eq(json_string_value(json_object_get(er, "period")), "daily");
	ck_assert_str_eq(json_string_value(json_object_get(er, "limitCost")), "5.00");
	ck_assert_str_eq(json_string_value(json_object_get(er, "currentCost")), "5.01");
	ck_assert_str_eq(json_string_value(json_object_get(er, "agentName")), "wri\"ter");
	json_decref(j);

	n = spz_refusal_body(SPZ_SHAPE_ANTHROPIC, e, "writer", body, sizeof(body));
	j = json_loadb(body, n, 0, &err);
	ck_assert_msg(j != NULL, "%s", body);
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "error");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")), "budget_exceeded");
	json_decref(j);

	n = spz_refusal_body(SPZ_SHAPE_GOOGLE, e, "writer", body, sizeof(body));
	j = json_loadb(body, n, 0, &err);
	ck_assert_msg(j != NULL, "%s", body);
	er = json_object_get(j, "error");
	ck_assert_int_eq(json_integer_value(json_object_get(er, "code")), 429);
	json_t *info = json_array_get(json_object_get(er, "details"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(info, "reason")), "budget_exceeded");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(info, "metadata"), "limitCost")), "5.00");
	json_decref(j);

	n = spz_refusal_body(SPZ_SHAPE_MESSAGE, e, "writer", body, sizeof(body));
	j = json_loadb(body, n, 0, &err);
	ck_assert_msg(j != NULL, "%s", body);
	ck_assert_str_eq(json_string_value(json_object_get(j, "code")), "budget_exceeded");
	json_decref(j);

	char resp[2048];
	n = spz_refusal_http1(SPZ_SHAPE_OPENAI, e, "writer", false, resp, sizeof(resp));
	ck_assert_uint_gt(n, 0);
	ck_assert(strncmp(resp, "HTTP/1.1 429 Too Many Requests\r\n", 32) == 0);
	ck_assert_ptr_nonnull(strstr(resp, "x-should-retry: false\r\n"));
	const char *b = strstr(resp, "\r\n\r\n") + 4;
	char want[64];
	snprintf(want, sizeof(want), "content-length: %zu\r\n", (size_t)(resp + n - b));
	ck_assert_ptr_nonnull(strstr(resp, want));
	ck_assert_uint_eq(spz_refusal_http1(SPZ_SHAPE_OPENAI, e, "writer", false, resp, 100), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("budget");
	TCase *tc = tcase_create("budget");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, verdicts_follow_scope_enforcement_and_period);
	tcase_add_test(tc, refusals_in_each_providers_shape);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
