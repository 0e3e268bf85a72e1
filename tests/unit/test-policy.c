/* The gateway's policy answers and budget_breach events as GATEWAY.md
 * writes them: what is read, and that an answer outside the contract is
 * refused whole rather than half-enforced. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../../collector/policy.h"
#include "../../common/money.h"
#include "helpers.h"

#define LIMIT(id, scope, period, lim, cur, breached, enf)                                                     \
	"{\"budgetId\":\"" id "\",\"scope\":\"" scope "\",\"period\":\"" period "\",\"limitCost\":\"" lim        \
	"\",\"currentCost\":\"" cur "\",\"pctUsed\":12.5,\"alertThresholdPct\":80,\"breached\":" breached      \
	",\"enforcement\":\"" enf "\"}"

static int parse(const char *json, struct spz_policy_answer *a)
{
	char err[300];
	return spz_policy_parse(json, strlen(json), a, err, sizeof(err));
}

START_TEST(answers_as_the_contract_writes_them)
{
	struct spz_policy_answer a;
	ck_assert_int_eq(parse("{\"agent\":\"writer\",\"agentId\":\"ag_1\",\"limits\":["
			       LIMIT("b-project", "project", "monthly", "100.0000000000", "12.5000000000", "false", "alert") ","
			       LIMIT("b-writer", "agent", "daily", "1.2345000000", "1.2345000001", "true", "hard_cap") "]}", &a),
			 0);
	ck_assert_str_eq(a.agent, "writer");
	ck_assert_uint_eq(a.count, 2);
	ck_assert_str_eq(a.limits[0].budget_id, "b-project");
	ck_assert_int_eq(a.limits[0].scope, SPZ_BUDGET_PROJECT);
	ck_assert_int_eq(a.limits[0].period, SPZ_BUDGET_MONTHLY);
	ck_assert_int_eq(a.limits[0].enforcement, SPZ_BUDGET_ALERT);
	ck_assert(!a.limits[0].breached);
	ck_assert_int_eq(a.limits[0].limit_pusd, 100 * SPZ_PUSD_PER_USD);
	ck_assert_int_eq(a.limits[0].alert_pct, 80);
	ck_assert_int_eq(a.limits[1].scope, SPZ_BUDGET_AGENT);
	ck_assert_int_eq(a.limits[1].enforcement, SPZ_BUDGET_HARD_CAP);
	ck_assert(a.limits[1].breached);
	/* Exact to the picodollar: no float in between. */
	ck_assert_int_eq(a.limits[1].limit_pusd, 1234500000000LL);
	ck_assert_int_eq(a.limits[1].current_pusd, 1234500000100LL);
	/* No limits is an answer too; agentId may be null. */
	ck_assert_int_eq(parse("{\"agent\":\"(untagged)\",\"agentId\":null,\"limits\":[]}", &a), 0);
	ck_assert_uint_eq(a.count, 0);
}
END_TEST

START_TEST(answers_outside_the_contract_are_refused_whole)
{
	struct spz_policy_answer a;
	const char *bad[] = {
		"",
		"[]",
		"{\"agent\":\"x\"}",
		"{\"limits\":{}}",
		"{\"limits\":[" LIMIT("b", "team", "daily", "1", "0", "true", "hard_cap") "]}",
		"{\"limits\":[" LIMIT("b", "agent", "weekly", "1", "0", "true", "hard_cap") "]}",
		"{\"limits\":[" LIMIT("b", "agent", "daily", "1", "0", "true", "block") "]}",
		"{\"limits\":[" LIMIT("b", "agent", "daily", "1", "0", "1", "hard_cap") "]}",
		"{\"limits\":[" LIMIT("b", "agent", "daily", "-1", "0", "true", "hard_cap") "]}",
		"{\"limits\":[" LIMIT("b", "agent", "daily", "1e3", "0", "true", "hard_cap") "]}",
		"{\"limits\":[" LIMIT("", "agent", "daily", "1", "0", "true", "hard_cap") "]}",
		"{\"limits\":[" LIMIT("0123456789012345678901234567890123456789", "agent", "daily", "1", "0", "true",
				      "hard_cap") "]}",
		"{\"limits\":[{\"budgetId\":\"b\",\"scope\":\"agent\",\"period\":\"daily\",\"limitCost\":1,"
		"\"currentCost\":\"0\",\"breached\":true,\"enforcement\":\"hard_cap\"}]}",
		"{\"limits\":[" LIMIT("b", "agent", "daily", "1", "0", "true", "hard_cap") "," LIMIT("c", "agent", "daily", "1", "0",
		"true", "hard_cap") ",5]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i], &a) == -1, "accepted: %s", bad[i]);
	/* More limits than kept. */
	char many[8192] = "{\"limits\":[";
	for (int i = 0; i <= SPZ_POLICY_LIMITS_MAX; i++)
		strcat(many, i ? "," LIMIT("b", "agent", "daily", "1", "0", "true", "hard_cap")
			       : LIMIT("b", "agent", "daily", "1", "0", "true", "hard_cap"));
	strcat(many, "]}");
	ck_assert_int_eq(parse(many, &a), -1);
}
END_TEST

START_TEST(breach_events)
{
	char agent[SPZ_BUDGET_AGENT_MAX] = "x";
	const char *p = "{\"scope\":\"project\",\"agentName\":null}";
	ck_assert_int_eq(spz_policy_parse_breach(p, strlen(p), agent, sizeof(agent)), 0);
	ck_assert_str_eq(agent, "");
	p = "{\"scope\":\"agent\",\"agentName\":\"support-triage\"}";
	ck_assert_int_eq(spz_policy_parse_breach(p, strlen(p), agent, sizeof(agent)), 0);
	ck_assert_str_eq(agent, "support-triage");
	const char *bad[] = { "{\"scope\":\"agent\",\"agentName\":null}", "{\"scope\":\"agent\"}", "{}", "{nonsense",
			      "{\"scope\":\"team\",\"agentName\":\"a\"}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(spz_policy_parse_breach(bad[i], strlen(bad[i]), agent, sizeof(agent)), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");
	tcase_add_test(tc, answers_as_the_contract_writes_them);
	tcase_add_test(tc, answers_outside_the_contract_are_refused_whole);
	tcase_add_test(tc, breach_events);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
