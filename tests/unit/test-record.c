/* The collector's record decoder: the fast path and the full decoder agree
 * on what they accept and on the values they read, on records as the shim
 * writes them and on the inputs the differential fuzz target found; a
 * packed record (the ring's form) is stored as the JSON it stands for. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../../collector/record.h"
#include "../../common/record_pack.h"
#include "helpers.h"

static const char shim_record[] =
	"{\"id\":\"01a20823-de33-737b-8dd5-3cf9528e8653\",\"provider\":\"openai\",\"model\":\"gpt-4o\","
	"\"responseModel\":\"gpt-4o-2024-08-06\",\"runId\":\"8fde08a2-d39e-4685-93f8-e7975b6d29f4\","
	"\"agentName\":\"nightly-report\",\"agentPath\":[\"nightly-report\"],\"tags\":{\"team\":\"core\"},"
	"\"promptTokens\":32,\"completionTokens\":8,\"cachedInputTokens\":0,\"reasoningTokens\":0,"
	"\"usageSource\":\"provider\",\"status\":200,\"latencyMs\":40,\"stream\":false,"
	"\"startedAt\":\"2026-11-23T11:21:38.099Z\",\"host\":\"api.openai.com\",\"endpoint\":\"/v1/responses\","
	"\"requestId\":\"resp_67e5\",\"pid\":21520,\"exe\":\"/usr/bin/python3.11\"}";

static void both(const char *in, int want)
{
	struct spz_record a, b;
	char why[160];
	int ra = spz_record_decode(in, strlen(in), &a, why, sizeof(why));
	int rb = spz_record_decode_full(in, strlen(in), &b, why, sizeof(why));
	ck_assert_msg(ra == want && rb == want, "%s: fast %d, full %d, wanted %d", in, ra, rb, want);
	if (want == 0) {
		ck_assert_str_eq(a.id, b.id);
		ck_assert_str_eq(a.model, b.model);
		ck_assert_int_eq(a.status, b.status);
		ck_assert_mem_eq(a.tokens, b.tokens, sizeof(a.tokens));
		ck_assert_int_eq(a.stream, b.stream);
		ck_assert_int_eq(a.pid, b.pid);
		spz_record_clear(&a);
		spz_record_clear(&b);
	}
}

START_TEST(shim_records_take_the_fast_path_and_agree)
{
	struct spz_record r;
	char why[160];
	ck_assert_int_eq(spz_record_decode(shim_record, strlen(shim_record), &r, why, sizeof(why)), 0);
	ck_assert_ptr_null(r.json); /* no jansson object: the fast path took it */
	ck_assert_str_eq(r.text, shim_record);
	ck_assert_str_eq(r.agent_name, "nightly-report");
	ck_assert_int_eq(r.tokens[SPZ_TOK_PROMPT], 32);
	ck_assert_int_eq(r.tokens[SPZ_TOK_CACHE_WRITE], -1);
	spz_record_clear(&r);
	both(shim_record, 0);
}
END_TEST

START_TEST(what_the_fuzzer_found)
{
	/* Several documents in one datagram: jansson refuses, so must we. */
	both("{}{}{\"id\":\"01a20778-1ee6-7468-9a2f-8e1a96c60595\", \"provider\": \"i\", \"model\": \"tho\", "
	     "\"status\": 199}",
	     -1);
	both("{\"id\":\"01a20778-1ee6-7468-9a2f-8e1a96c60595\",\"provider\":\"i\",\"model\":\"m\",\"status\":200}{}", -1);
	both("{\"id\":\"01a20778-1ee6-7468-9a2f-8e1a96c60595\",\"provider\":\"i\",\"model\":\"m\",\"status\":200}}", -1);
	/* A repeated tag key, a null, an unknown field: all decided by jansson. */
	both("{\"id\":\"01a20778-1ee6-7468-9a2f-8e1a96c60595\",\"provider\":\"i\",\"model\":\"m\",\"status\":200,"
	     "\"tags\":{\"a\":\"1\",\"a\":\"2\"}}",
	     -1);
	both("{\"id\":\"01a20778-1ee6-7468-9a2f-8e1a96c60595\",\"provider\":\"i\",\"model\":\"m\",\"status\":200,"
	     "\"responseModel\":null}",
	     0);
	both("{\"id\":\"01a20778-1ee6-7468-9a2f-8e1a96c60595\",\"provider\":\"i\",\"model\":\"m\",\"status\":200,"
	     "\"colour\":\"red\"}",
	     0);
}
END_TEST

START_TEST(packed_records_are_stored_as_their_json)
{
	/* shim_record's fields, packed */
	struct spz_record_fields f = {
		.status = 200,
		.usage_present = 1u << SPZ_REC_PROMPT | 1u << SPZ_REC_COMPLETION | 1u << SPZ_REC_CACHED_INPUT |
				 1u << SPZ_REC_REASONING,
		.usage = { [SPZ_REC_PROMPT] = 32, [SPZ_REC_COMPLETION] = 8 },
		.latency_ms = 40,
		.started_ms = 1795432898099,
		.pid = 21520,
	};
	f.str[SPZ_REC_ID] = SPZ_REC_TEXT("01a20823-de33-737b-8dd5-3cf9528e8653");
	f.str[SPZ_REC_PROVIDER] = SPZ_REC_TEXT("openai");
	f.str[SPZ_REC_MODEL] = SPZ_REC_TEXT("gpt-4o");
	f.str[SPZ_REC_RESPONSE_MODEL] = SPZ_REC_TEXT("gpt-4o-2024-08-06");
	f.str[SPZ_REC_ATTRIBUTION] = SPZ_REC_TEXT("\"runId\":\"8fde08a2-d39e-4685-93f8-e7975b6d29f4\",\"agentName\":"
					  "\"nightly-report\",\"agentPath\":[\"nightly-report\"],\"tags\":{\"team\":\"core\"}");
	f.str[SPZ_REC_HOST] = SPZ_REC_TEXT("api.openai.com");
	f.str[SPZ_REC_ENDPOINT] = SPZ_REC_TEXT("/v1/responses");
	f.str[SPZ_REC_REQUEST_ID] = SPZ_REC_TEXT("resp_67e5");
	f.str[SPZ_REC_EXE] = SPZ_REC_TEXT("/usr/bin/python3.11");
	char packed[2048], why[160];
	size_t n = spz_record_pack(&f, packed, sizeof(packed));
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_lt(n, strlen(shim_record));
	struct spz_record a, b;
	ck_assert_int_eq(spz_record_decode(packed, n, &a, why, sizeof(why)), 0);
	ck_assert_int_eq(spz_record_decode_full(packed, n, &b, why, sizeof(why)), 0);
	ck_assert_str_eq(a.text, shim_record);
	ck_assert_str_eq(b.text, shim_record);
	ck_assert_str_eq(a.agent_name, "nightly-report");
	ck_assert_str_eq(b.started_at, "2026-11-23T11:21:38.099Z");
	ck_assert_mem_eq(a.tokens, b.tokens, sizeof(a.tokens));
	ck_assert_int_eq(a.tokens[SPZ_TOK_COMPLETION], 8);
	spz_record_clear(&a);
	spz_record_clear(&b);
	/* cut short: refused by both, saying why */
	ck_assert_int_eq(spz_record_decode(packed, n - 1, &a, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "packed"));
	ck_assert_int_eq(spz_record_decode_full(packed, n - 1, &b, why, sizeof(why)), -1);
	/* an attribution that is not JSON members makes a record jansson refuses */
	f.str[SPZ_REC_ATTRIBUTION] = SPZ_REC_TEXT("\"runId\":}");
	n = spz_record_pack(&f, packed, sizeof(packed));
	ck_assert_int_eq(spz_record_decode(packed, n, &a, why, sizeof(why)), -1);
	ck_assert_int_eq(spz_record_decode_full(packed, n, &b, why, sizeof(why)), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("record");
	tcase_add_test(tc, shim_records_take_the_fast_path_and_agree);
	tcase_add_test(tc, what_the_fuzzer_found);
	tcase_add_test(tc, packed_records_are_stored_as_their_json);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
