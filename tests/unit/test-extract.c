/* Extraction end to end through the connection tracker: every case of the
 * corpus, of every provider, with every response framing and input slicing,
 * gives exactly the provider's usage and model; several calls on one
 * keep-alive connection each give their own record. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/conn.h"
#include "../../shim/provider.h"
#include "corpus.h"
#include "helpers.h"

#define CALLS_MAX 64
static struct spz_call captured[CALLS_MAX];
static size_t captured_count;

static void capture(const struct spz_call *call)
{
	ck_assert_uint_lt(captured_count, CALLS_MAX);
	captured[captured_count++] = *call;
}

static int64_t clock_ns;

static void feed_write(void *ctx, const char *buf, size_t len)
{
	spz_conn_on_write(ctx, buf, len, clock_ns += 1000);
}

static void feed_read(void *ctx, const char *buf, size_t len)
{
	spz_conn_on_read(ctx, buf, len, clock_ns += 1000);
}

static const char *const providers[] = {
	"openai", "anthropic", "azure_openai", "bedrock", "cohere", "deepseek",
	"gemini", "groq", "mistral", "openrouter", "xai",
};

static struct corpus_case cases[64];
static size_t case_count;

static void setup(void)
{
	case_count = 0;
	for (size_t p = 0; p < sizeof(providers) / sizeof(providers[0]); p++)
		case_count += corpus_load(providers[p], cases + case_count, 64 - case_count);
	ck_assert_uint_ge(case_count, 27);
	spz_conn_set_sink(capture);
	captured_count = 0;
}

static void teardown(void)
{
	for (size_t i = 0; i < case_count; i++)
		corpus_free(&cases[i]);
}

START_TEST(each_case_each_framing_each_slicing)
{
	for (size_t i = 0; i < case_count; i++) {
		for (int f = 0; f < FRAME_COUNT; f++) {
			for (int mode = 0; mode < SLICE_MODES; mode++) {
				size_t qlen, rlen;
				char *req = corpus_request(&cases[i], &qlen);
				char *resp = corpus_response(&cases[i], (enum framing)f, (unsigned)(i * 31 + 7), &rlen);
				struct spz_conn *c = spz_conn_new();
				captured_count = 0;
				feed_sliced(feed_write, c, req, qlen, (enum slicing)mode, (uint32_t)(i + 1));
				feed_sliced(feed_read, c, resp, rlen, (enum slicing)mode, (uint32_t)(i + 2));
				if (f == FRAME_CLOSE)
					spz_conn_on_eof(c, clock_ns);
				ck_assert_msg(captured_count == 1, "%s framing %d slicing %d: %zu records", cases[i].name,
					      f, mode, captured_count);
				corpus_check_call(&cases[i], &captured[0]);
				const char *want = json_string_value(json_object_get(cases[i].meta, "provider"));
				ck_assert_str_eq(captured[0].provider, want);
				spz_conn_free(c, clock_ns);
				ck_assert_uint_eq(captured_count, 1); /* nothing more at teardown */
				free(req);
				free(resp);
			}
		}
	}
}
END_TEST

START_TEST(keep_alive_many_calls_one_connection)
{
	struct spz_conn *c = spz_conn_new();
	captured_count = 0;
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < case_count; i++) {
			size_t qlen, rlen;
			char *req = corpus_request(&cases[i], &qlen);
			char *resp = corpus_response(&cases[i], (enum framing)((i + (size_t)round) % 3), 3, &rlen);
			feed_sliced(feed_write, c, req, qlen, SLICE_RANDOM, (uint32_t)i + 5);
			feed_sliced(feed_read, c, resp, rlen, SLICE_RANDOM, (uint32_t)i + 9);
			free(req);
			free(resp);
		}
	}
	ck_assert_uint_eq(captured_count, 2 * case_count);
	for (size_t k = 0; k < captured_count; k++)
		corpus_check_call(&cases[k % case_count], &captured[k]);
	spz_conn_free(c, clock_ns);
	ck_assert_uint_eq(captured_count, 2 * case_count);
}
END_TEST

static const struct corpus_case *find_case(const char *name)
{
	for (size_t i = 0; i < case_count; i++)
		if (strcmp(cases[i].name, name) == 0)
			return &cases[i];
	ck_abort_msg("corpus case %s missing", name);
	return NULL;
}

/* Writes the case's request and the first `part` of its chunked response
 * (a whole response when part is 1.0) on a new connection. */
static struct spz_conn *exchange(const struct corpus_case *cc, double part)
{
	size_t qlen, rlen;
	char *req = corpus_request(cc, &qlen);
	char *resp = corpus_response(cc, FRAME_CHUNKED, 1, &rlen);
	struct spz_conn *c = spz_conn_new();
	captured_count = 0;
	spz_conn_on_write(c, req, qlen, 1);
	spz_conn_on_read(c, resp, (size_t)((double)rlen * part), 2);
	free(req);
	free(resp);
	return c;
}

START_TEST(stream_without_usage_reports_none)
{
	struct spz_conn *c = exchange(find_case("openai/chat_stream_no_usage_gpt35_2023"), 1.0);
	ck_assert_uint_eq(captured_count, 1);
	ck_assert_uint_eq(captured[0].usage.present, 0); /* unknown, never zeros */
	ck_assert(captured[0].stream);
	spz_conn_free(c, 3);
}
END_TEST

START_TEST(cut_stream_is_reported_truncated)
{
	struct spz_conn *c = exchange(find_case("openai/chat_stream_include_usage_text"), 0.5);
	ck_assert_uint_eq(captured_count, 0);
	spz_conn_on_eof(c, 3);
	ck_assert_uint_eq(captured_count, 1);
	ck_assert(captured[0].truncated);
	ck_assert_int_eq(captured[0].status, 200);
	spz_conn_free(c, 4);
	ck_assert_uint_eq(captured_count, 1);
}
END_TEST

START_TEST(unanswered_request_is_reported)
{
	size_t qlen;
	char *req = corpus_request(&cases[0], &qlen);
	struct spz_conn *c = spz_conn_new();
	captured_count = 0;
	spz_conn_on_write(c, req, qlen, 1);
	spz_conn_free(c, 2);
	ck_assert_uint_eq(captured_count, 1);
	ck_assert(captured[0].no_response);
	free(req);
}
END_TEST

START_TEST(non_llm_requests_make_no_record)
{
	const char *reqs[] = {
		"GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n",
		"POST /v1/files HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 2\r\n\r\n{}",
		"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n",
	};
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
	struct spz_conn *c = spz_conn_new();
	captured_count = 0;
	for (size_t i = 0; i < 3; i++) {
		spz_conn_on_write(c, reqs[i], strlen(reqs[i]), 1);
		spz_conn_on_read(c, resp, strlen(resp), 2);
	}
	spz_conn_free(c, 3);
	ck_assert_uint_eq(captured_count, 0);
}
END_TEST

START_TEST(llm_call_after_other_requests_on_same_connection)
{
	const char *first = "GET /v1/models HTTP/1.1\r\nHost: llm.internal.test\r\n\r\n";
	const char *first_resp = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"data\":[]}";
	struct spz_conn *c = spz_conn_new();
	captured_count = 0;
	spz_conn_on_write(c, first, strlen(first), 1);
	spz_conn_on_read(c, first_resp, strlen(first_resp), 2);
	const char *req = "POST /v1/chat/completions HTTP/1.1\r\nHost: llm.internal.test:8000\r\n"
			  "Content-Length: 21\r\n\r\n{\"model\":\"llama-3.1\"}";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 73\r\n\r\n"
			   "{\"model\":\"llama-3.1\",\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34}}";
	spz_conn_on_write(c, req, strlen(req), 3);
	spz_conn_on_read(c, resp, strlen(resp), 4);
	ck_assert_uint_eq(captured_count, 1);
	ck_assert_str_eq(captured[0].provider, "openai-compatible");
	ck_assert_str_eq(captured[0].host, "llm.internal.test");
	ck_assert_str_eq(captured[0].model, "llama-3.1");
	ck_assert_int_eq(captured[0].usage.v[SPZ_U_INPUT], 12);
	ck_assert_int_eq(captured[0].usage.v[SPZ_U_OUTPUT], 34);
	spz_conn_free(c, 5);
}
END_TEST

START_TEST(query_string_never_kept)
{
	const char *req = "POST /v1/chat/completions?key=SECRET-KEY-CANARY HTTP/1.1\r\nHost: api.openai.com\r\n"
			  "Content-Length: 2\r\n\r\n{}";
	const char *resp = "HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\n{}";
	struct spz_conn *c = spz_conn_new();
	captured_count = 0;
	spz_conn_on_write(c, req, strlen(req), 1);
	spz_conn_on_read(c, resp, strlen(resp), 2);
	ck_assert_uint_eq(captured_count, 1);
	ck_assert_str_eq(captured[0].endpoint, "/v1/chat/completions");
	ck_assert_int_eq(captured[0].status, 500);
	ck_assert_ptr_null(memmem(&captured[0], sizeof(captured[0]), "CANARY", 6));
	spz_conn_free(c, 3);
}
END_TEST

START_TEST(gemini_last_usage_object_counts_whole)
{
	/* Fields may vanish between cumulative chunks: the last object wins
	 * whole, nothing lingers from an earlier one. */
	const char *req = "POST /v1beta/models/gemini-2.5-flash:streamGenerateContent HTTP/1.1\r\n"
			  "Host: generativelanguage.googleapis.com\r\nContent-Length: 2\r\n\r\n{}";
	const char *body = "[{\"usageMetadata\":{\"promptTokenCount\":10,\"thoughtsTokenCount\":5}},\n"
			   "{\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":2},"
			   "\"modelVersion\":\"gemini-2.5-flash\"}]";
	char resp[512];
	snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(body), body);
	struct spz_conn *c = spz_conn_new();
	captured_count = 0;
	spz_conn_on_write(c, req, strlen(req), 1);
	feed_sliced(feed_read, c, resp, strlen(resp), SLICE_BYTES, 1);
	ck_assert_uint_eq(captured_count, 1);
	ck_assert_str_eq(captured[0].model, "gemini-2.5-flash");
	ck_assert(captured[0].stream);
	ck_assert_int_eq(captured[0].usage.v[SPZ_U_INPUT], 9);
	ck_assert_int_eq(captured[0].usage.v[SPZ_U_OUTPUT], 2);
	ck_assert_uint_eq(captured[0].usage.present & (1u << SPZ_U_REASONING), 0);
	spz_conn_free(c, 2);
}
END_TEST

/* One exchange on a new connection; returns the call. */
static const struct spz_call *one_call(const char *req, const char *resp_head, const char *body)
{
	char resp[4096];
	snprintf(resp, sizeof(resp), "%sContent-Length: %zu\r\n\r\n%s", resp_head, strlen(body), body);
	struct spz_conn *c = spz_conn_new();
	captured_count = 0;
	spz_conn_on_write(c, req, strlen(req), 1);
	feed_sliced(feed_read, c, resp, strlen(resp), SLICE_RANDOM, 5);
	spz_conn_free(c, 2);
	ck_assert_uint_eq(captured_count, 1);
	return &captured[0];
}

START_TEST(vertex_paths)
{
	const struct spz_call *call = one_call(
		"POST /v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.0-flash:streamGenerateContent"
		"?alt=sse HTTP/1.1\r\nHost: us-central1-aiplatform.googleapis.com\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n",
		"data: {\"usageMetadata\":{\"promptTokenCount\":7,\"candidatesTokenCount\":3},"
		"\"modelVersion\":\"gemini-2.0-flash-001\"}\r\n\r\n");
	ck_assert_str_eq(call->provider, "vertex");
	ck_assert_str_eq(call->model, "gemini-2.0-flash");
	ck_assert_str_eq(call->response_model, "gemini-2.0-flash-001");
	ck_assert(call->stream);
	ck_assert_int_eq(call->usage.v[SPZ_U_INPUT], 7);
	ck_assert_int_eq(call->usage.v[SPZ_U_OUTPUT], 3);
}
END_TEST

START_TEST(cohere_stream_message_end)
{
	/* docs.cohere.com/v2/docs/streaming: usage arrives on message-end. */
	const struct spz_call *call = one_call(
		"POST /v2/chat HTTP/1.1\r\nHost: api.cohere.com\r\nContent-Length: 43\r\n\r\n"
		"{\"model\":\"command-a-03-2025\",\"stream\":true}",
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n",
		"event: message-start\ndata: {\"id\":\"abc\",\"type\":\"message-start\"}\n\n"
		"event: content-delta\ndata: {\"type\":\"content-delta\",\"delta\":{\"message\":{\"content\":{\"text\":\"Hi\"}}}}\n\n"
		"event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"COMPLETE\","
		"\"usage\":{\"billed_units\":{\"input_tokens\":5,\"output_tokens\":2},"
		"\"tokens\":{\"input_tokens\":71,\"output_tokens\":2},\"cached_tokens\":64}}}\n\n");
	ck_assert_str_eq(call->model, "command-a-03-2025");
	ck_assert(call->stream);
	ck_assert_int_eq(call->usage.v[SPZ_U_INPUT], 71);
	ck_assert_int_eq(call->usage.v[SPZ_U_OUTPUT], 2);
	ck_assert_int_eq(call->usage.v[SPZ_U_CACHE_READ], 64);
}
END_TEST

START_TEST(provider_hosts)
{
	ck_assert_str_eq(spz_provider_for_host("api.openai.com", 14), "openai");
	ck_assert_str_eq(spz_provider_for_host("API.OPENAI.COM", 14), "openai");
	ck_assert_str_eq(spz_provider_for_host("x.openai.azure.com", 18), "azure_openai");
	ck_assert_str_eq(spz_provider_for_host("bedrock-runtime.us-east-1.amazonaws.com", 39), "bedrock");
	ck_assert_ptr_null(spz_provider_for_host("bedrock-runtime.example.com", 27));
	ck_assert_ptr_null(spz_provider_for_host("evil-api.openai.com.example", 27));
	spz_provider_set_extra_hosts("llm.corp=vllm,gw.test=openai");
	ck_assert_str_eq(spz_provider_for_host("llm.corp", 8), "vllm");
	ck_assert_str_eq(spz_provider_for_host("gw.test", 7), "openai");
	spz_provider_set_extra_hosts(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("extract");
	TCase *tc = tcase_create("corpus");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, each_case_each_framing_each_slicing);
	tcase_add_test(tc, keep_alive_many_calls_one_connection);
	tcase_add_test(tc, stream_without_usage_reports_none);
	tcase_add_test(tc, cut_stream_is_reported_truncated);
	tcase_add_test(tc, unanswered_request_is_reported);
	tcase_add_test(tc, non_llm_requests_make_no_record);
	tcase_add_test(tc, llm_call_after_other_requests_on_same_connection);
	tcase_add_test(tc, query_string_never_kept);
	tcase_add_test(tc, gemini_last_usage_object_counts_whole);
	tcase_add_test(tc, vertex_paths);
	tcase_add_test(tc, cohere_stream_message_end);
	tcase_add_test(tc, provider_hosts);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
