/* Extraction end to end through the connection tracker: every case of the
 * corpus, of every provider, with every response framing and input slicing,
 * gives exactly the provider's usage and model; several calls on one
 * keep-alive connection each give their own record. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/conn.h"
#include "../../shim/estimate.h"
#include "../../shim/exchange.h"
#include "../../shim/extract.h"
#include "../../shim/provider.h"
#include "corpus.h"
#include "helpers.h"

#include <zlib.h>

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

START_TEST(stream_without_usage_is_estimated)
{
	/* The exact figures are checked against tiktoken in test_tokenizer.py;
	 * here: an estimate, said to be one, never zeros. */
	struct spz_conn *c = exchange(find_case("openai/chat_stream_no_usage_gpt35_2023"), 1.0);
	ck_assert_uint_eq(captured_count, 1);
	ck_assert(captured[0].stream);
	ck_assert(captured[0].usage_estimated);
	ck_assert_uint_eq(captured[0].usage.present, (1u << SPZ_U_INPUT) | (1u << SPZ_U_OUTPUT));
	ck_assert_int_gt(captured[0].usage.v[SPZ_U_INPUT], 5);
	ck_assert_int_gt(captured[0].usage.v[SPZ_U_OUTPUT], 5);
	spz_conn_free(c, 3);
	/* A stream that reports usage keeps the provider's figures. */
	c = exchange(find_case("openai/chat_stream_include_usage_text"), 1.0);
	ck_assert(!captured[0].usage_estimated);
	spz_conn_free(c, 3);
}
END_TEST

/* A thread keeps its last estimate for its next call (estimate.c): the next
 * call's starts empty, whatever the last one kept, and a large text buffer
 * is not kept at all. */
START_TEST(estimates_start_clean_on_the_next_call)
{
	const struct corpus_case *no_usage = find_case("openai/chat_stream_no_usage_gpt35_2023");
	struct spz_conn *c = exchange(no_usage, 1.0);
	ck_assert_uint_eq(captured_count, 1);
	int64_t input = captured[0].usage.v[SPZ_U_INPUT], output = captured[0].usage.v[SPZ_U_OUTPUT];
	spz_conn_free(c, 3);
	/* A call with usage: its prompt and messages are kept, then not needed. */
	c = exchange(find_case("openai/chat_nonstream_gpt4o_usage_details"), 1.0);
	ck_assert(!captured[0].usage_estimated);
	spz_conn_free(c, 3);
	c = exchange(no_usage, 1.0);
	ck_assert(captured[0].usage_estimated);
	ck_assert_int_eq(captured[0].usage.v[SPZ_U_INPUT], input);
	ck_assert_int_eq(captured[0].usage.v[SPZ_U_OUTPUT], output);
	spz_conn_free(c, 3);

	static char big[20000];
	memset(big, 'x', sizeof(big));
	struct spz_call *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	spz_estimate_message(a, true);
	spz_estimate_prompt(a, big, sizeof(big), true);
	spz_estimate_completion(a, 1, big, 100);
	ck_assert_uint_ge(a->estimate->prompt.cap, sizeof(big));
	spz_estimate_free(a);
	spz_estimate_prompt(b, "hi", 2, true);
	struct spz_estimate *e = b->estimate;
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->prompt.used, 4 + 2);
	ck_assert_uint_eq(e->prompt.segments, 1);
	ck_assert_uint_eq(e->prompt.overflow, 0);
	ck_assert_uint_le(e->prompt.cap, 4096);
	ck_assert_uint_eq(e->completion.used, 0);
	ck_assert_uint_eq(e->messages + e->names, 0);
	ck_assert_int_eq(e->completion_field, 0);
	spz_estimate_free(b);
	free(a);
	free(b);
}
END_TEST

/* A response's kind is fixed when its body begins (only that kind's parser
 * is set up then): a Content-Type or Content-Encoding after it (a trailer)
 * changes nothing, and the body is read to its end as what it began as. */
START_TEST(fields_after_the_body_begins_change_nothing)
{
	const struct corpus_case *cc = find_case("openai/chat_nonstream_gpt4o_usage_details");
	struct spz_call *call = calloc(1, sizeof(*call));
	ck_assert_ptr_nonnull(call);
	call->api = &spz_api_openai_chat;
	static struct spz_resp_body b;
	memset(&b, 0xa5, sizeof(b)); /* as a reused connection's memory may be */
	spz_resp_body_init(&b, call);
	spz_resp_body_header(&b, "Content-Type", 12, "application/json", 16);
	size_t half = cc->body_len / 2;
	spz_resp_body_feed(&b, cc->body, half, 1);
	spz_resp_body_header(&b, "Content-Type", 12, "text/event-stream", 17);
	spz_resp_body_header(&b, "Content-Encoding", 16, "gzip", 4);
	spz_resp_body_feed(&b, cc->body + half, cc->body_len - half, 2);
	spz_resp_body_end(&b);
	ck_assert(!call->stream);
	ck_assert_int_eq(call->usage.v[SPZ_U_INPUT], 14);
	ck_assert_int_eq(call->usage.v[SPZ_U_OUTPUT], 30);
	free(call);
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

/* The figures of a streamed call: who, which model, the provider's counts. */
static void assert_stream_counts(const struct spz_call *call, const char *provider, const char *model, int64_t input,
				 int64_t output)
{
	ck_assert_str_eq(call->provider, provider);
	ck_assert_str_eq(call->model, model);
	ck_assert(call->stream);
	ck_assert(!call->usage_estimated);
	ck_assert_int_eq(call->usage.v[SPZ_U_INPUT], input);
	ck_assert_int_eq(call->usage.v[SPZ_U_OUTPUT], output);
}

START_TEST(vertex_paths)
{
	const struct spz_call *call = one_call(
		"POST /v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.0-flash:streamGenerateContent"
		"?alt=sse HTTP/1.1\r\nHost: us-central1-aiplatform.googleapis.com\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n",
		"data: {\"usageMetadata\":{\"promptTokenCount\":7,\"candidatesTokenCount\":3},"
		"\"modelVersion\":\"gemini-2.0-flash-001\"}\r\n\r\n");
	assert_stream_counts(call, "vertex", "gemini-2.0-flash", 7, 3);
	ck_assert_str_eq(call->response_model, "gemini-2.0-flash-001");
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

/* One AWS event stream message, as Bedrock frames it (CRCs included). */
static size_t es_message(uint8_t *out, const char *event_type, const char *payload)
{
	uint8_t h[256];
	size_t hl = 0;
	const char *names[] = { ":event-type", ":content-type", ":message-type" };
	const char *values[] = { event_type, "application/json", "event" };
	for (int i = 0; i < 3; i++) {
		size_t nl = strlen(names[i]), vl = strlen(values[i]);
		h[hl++] = (uint8_t)nl;
		memcpy(h + hl, names[i], nl);
		hl += nl;
		h[hl++] = 7;
		h[hl++] = (uint8_t)(vl >> 8);
		h[hl++] = (uint8_t)vl;
		memcpy(h + hl, values[i], vl);
		hl += vl;
	}
	size_t pl = strlen(payload), total = 12 + hl + pl + 4;
	uint8_t *o = out;
	uint32_t v[2] = { (uint32_t)total, (uint32_t)hl };
	for (int i = 0; i < 2; i++)
		for (int b = 0; b < 4; b++)
			*o++ = (uint8_t)(v[i] >> (24 - 8 * b));
	uint32_t crc = (uint32_t)crc32(0, out, 8);
	for (int b = 0; b < 4; b++)
		*o++ = (uint8_t)(crc >> (24 - 8 * b));
	memcpy(o, h, hl);
	o += hl;
	memcpy(o, payload, pl);
	o += pl;
	crc = (uint32_t)crc32(0, out, (uInt)(o - out));
	for (int b = 0; b < 4; b++)
		*o++ = (uint8_t)(crc >> (24 - 8 * b));
	return total;
}

static void base64(const char *in, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(uint8_t)in[i] << 16 | (i + 1 < n ? (uint32_t)(uint8_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? (uint8_t)in[i + 2] : 0);
		out[o++] = t[v >> 18];
		out[o++] = t[(v >> 12) & 63];
		out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = '\0';
}

START_TEST(bedrock_invoke_with_response_stream)
{
	/* docs.aws.amazon.com/bedrock: each chunk is {"bytes": base64 of the
	 * model's own chunk}; the last has amazon-bedrock-invocationMetrics. */
	const char *chunks[] = {
		"{\"type\":\"message_start\",\"message\":{\"model\":\"claude-3-haiku-20240307\","
		"\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}",
		"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
		"\"text\":\"A fairly long piece of generated text, long enough that its base64 runs past what the "
		"scanner keeps of a value, which is why the bytes are streamed and not captured.\"}}",
		"{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":10,"
		"\"outputTokenCount\":25,\"invocationLatency\":512,\"firstByteLatency\":99}}",
	};
	static uint8_t body[8192];
	size_t blen = 0;
	for (int i = 0; i < 3; i++) {
		char b64[2048], payload[2100];
		base64(chunks[i], b64);
		snprintf(payload, sizeof(payload), "{\"bytes\":\"%s\",\"p\":\"abcd\"}", b64);
		blen += es_message(body + blen, "chunk", payload);
	}
	const char *req = "POST /model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream HTTP/1.1\r\n"
			  "Host: bedrock-runtime.us-west-2.amazonaws.com\r\nContent-Length: 2\r\n\r\n{}";
	char head[256];
	int hl = snprintf(head, sizeof(head),
			  "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\n"
			  "Content-Length: %zu\r\n\r\n", blen);
	for (int mode = 0; mode < SLICE_MODES; mode++) {
		struct spz_conn *c = spz_conn_new();
		captured_count = 0;
		spz_conn_on_write(c, req, strlen(req), 1);
		spz_conn_on_read(c, head, (size_t)hl, 2);
		feed_sliced(feed_read, c, (const char *)body, blen, (enum slicing)mode, 9);
		spz_conn_free(c, 3);
		ck_assert_uint_eq(captured_count, 1);
		ck_assert_str_eq(captured[0].provider, "bedrock");
		ck_assert_str_eq(captured[0].model, "anthropic.claude-3-haiku-20240307-v1:0");
		ck_assert(captured[0].stream);
		ck_assert_int_eq(captured[0].usage.v[SPZ_U_INPUT], 10);
		ck_assert_int_eq(captured[0].usage.v[SPZ_U_OUTPUT], 25);
	}
}
END_TEST

START_TEST(embeddings_keep_no_text)
{
	/* Embeddings always report usage, so their input is never kept for an
	 * estimate: one that came back without usage stays unknown. */
	const struct spz_call *call = one_call(
		"POST /v1/embeddings HTTP/1.1\r\nHost: llm.internal.test\r\nContent-Length: 56\r\n\r\n"
		"{\"model\":\"text-embedding-3-small\",\"input\":\"a long text\"}",
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
		"{\"object\":\"list\",\"data\":[{\"embedding\":[0.1,0.2]}],\"model\":\"text-embedding-3-small\"}");
	ck_assert_str_eq(call->api->kind, "embeddings");
	ck_assert(!call->usage_estimated);
	ck_assert_uint_eq(call->usage.present, 0);
}
END_TEST

/* An embeddings list of float vectors is a number each: the list is passed
 * over unread (a value JSON does not allow inside it, as a server that
 * writes NaN makes, does not stop the reading), and the model and usage
 * after it are read. */
START_TEST(embeddings_vectors_passed_over)
{
	char body[3600];
	size_t n = (size_t)snprintf(body, sizeof(body), "{\"object\":\"list\",\"data\":[");
	for (int v = 0; v < 2; v++) {
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":[",
				      v ? "," : "", v);
		for (int i = 0; i < 150; i++)
			n += (size_t)snprintf(body + n, sizeof(body) - n, "%s%s", i ? "," : "", i == 77 ? "NaN" : "-0.0123456");
		n += (size_t)snprintf(body + n, sizeof(body) - n, "]}");
	}
	snprintf(body + n, sizeof(body) - n,
		 "],\"model\":\"text-embedding-3-small\",\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}");
	const struct spz_call *call = one_call(
		"POST /v1/embeddings HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 67\r\n\r\n"
		"{\"input\":[\"one text\",\"another\"],\"model\":\"text-embedding-3-small\"}",
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n", body);
	ck_assert_str_eq(call->api->kind, "embeddings");
	ck_assert_str_eq(call->model, "text-embedding-3-small");
	ck_assert_str_eq(call->response_model, "text-embedding-3-small");
	ck_assert_uint_eq(call->usage.present, 1u << SPZ_U_INPUT);
	ck_assert_int_eq(call->usage.v[SPZ_U_INPUT], 8);
}
END_TEST

/* A request's tools, schemas and metadata are passed over unread: the
 * model and stream flag after them are read (even past a value JSON does
 * not allow inside one), and a stream without usage is estimated exactly
 * as without them. Its logprobs, passed over too, leave the provider's
 * usage and the streamed text as they are. */
START_TEST(request_tools_and_stream_logprobs_passed_over)
{
	static const char messages[] = "\"messages\":[{\"role\":\"user\",\"content\":\"What is the weather in Paris?\"}]";
	static const char tools[] =
		"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather "
		"for a city\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\","
		"\"default\":NaN}},\"required\":[\"city\"]}}}],\"response_format\":{\"type\":\"text\"},"
		"\"metadata\":{\"messages\":\"not the prompt\"}";
	static const char answer[] =
		"data: {\"id\":\"c1\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
		"\"Sunny, 21 degrees.\"},\"logprobs\":{\"content\":[{\"token\":\"Sunny\",\"logprob\":-0.01,\"bytes\":[83,"
		"117],\"top_logprobs\":[]}]}}]}\n\ndata: [DONE]\n\n";
	char req[2048], with_tools[1024], plain[1024];
	snprintf(with_tools, sizeof(with_tools), "{%s,%s,\"model\":\"gpt-4o\",\"stream\":true}", messages, tools);
	snprintf(plain, sizeof(plain), "{%s,\"model\":\"gpt-4o\",\"stream\":true}", messages);
	int64_t estimate[2][2];
	const char *bodies[2] = { with_tools, plain };
	for (int k = 0; k < 2; k++) {
		snprintf(req, sizeof(req),
			 "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(bodies[k]), bodies[k]);
		const struct spz_call *call = one_call(req, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n", answer);
		ck_assert_str_eq(call->model, "gpt-4o");
		ck_assert(call->stream_requested);
		ck_assert_str_eq(call->response_model, "gpt-4o-2024-08-06");
		ck_assert(call->usage_estimated);
		estimate[k][0] = call->usage.v[SPZ_U_INPUT];
		estimate[k][1] = call->usage.v[SPZ_U_OUTPUT];
	}
	ck_assert_int_eq(estimate[0][0], estimate[1][0]);
	ck_assert_int_eq(estimate[0][1], estimate[1][1]);
	ck_assert_int_gt(estimate[0][1], 3); /* "Sunny, 21 degrees." alone, not the logprobs */
	ck_assert_int_lt(estimate[0][1], 9);
	/* With usage in the stream, the provider's figures stand. */
	char with_usage[1024];
	snprintf(with_usage, sizeof(with_usage),
		 "%.*sdata: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":61,\"completion_tokens\":6}}\n\n"
		 "data: [DONE]\n\n",
		 (int)(strlen(answer) - strlen("data: [DONE]\n\n")), answer);
	snprintf(req, sizeof(req),
		 "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(with_tools), with_tools);
	const struct spz_call *call = one_call(req, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n", with_usage);
	ck_assert(!call->usage_estimated);
	ck_assert_int_eq(call->usage.v[SPZ_U_INPUT], 61);
	ck_assert_int_eq(call->usage.v[SPZ_U_OUTPUT], 6);
}
END_TEST

/* gzip of in[0, n) into a new buffer (*out_len set). */
static char *gzip_of(const char *in, size_t n, size_t *out_len)
{
	z_stream z = { 0 };
	ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	size_t cap = deflateBound(&z, n);
	char *out = malloc(cap);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

/* A request body is held and read when its call ends if it is short and
 * not coded, and read as it passes otherwise (exchange.c), and one that
 * outgrows the bound on the way is read from where it got. Either way, in
 * any slicing, the call reads the same model and, with no usage in the
 * answer, the same estimate of its prompt (its content gzipped is read as it
 * passes, whatever its length); with usage, the model all the same. */
START_TEST(held_and_passing_request_bodies_read_alike)
{
	static const char answer[] =
		"data: {\"id\":\"c1\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
		"\"Sunny.\"}}]}\n\ndata: [DONE]\n\n";
	static const char answer_usage[] =
		"data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":61,\"completion_tokens\":6}}\n\n"
		"data: [DONE]\n\n";
	static const size_t pads[] = { 10, 3900, SPZ_REQ_HELD_MAX - 74, SPZ_REQ_HELD_MAX - 73, 9000 };
	static const size_t slices[] = { 1, 100, 4000, 0 /* whole */ };
	for (size_t p = 0; p < sizeof(pads) / sizeof(pads[0]); p++) {
		char *content = malloc(pads[p] + 1);
		for (size_t i = 0; i < pads[p]; i++)
			content[i] = "word "[i % 5];
		content[pads[p]] = '\0';
		size_t blen = pads[p] + 128;
		char *body = malloc(blen);
		blen = (size_t)snprintf(body, blen,
					"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}],"
					"\"stream\":true}",
					content);
		if (p == 2)
			ck_assert_uint_eq(blen, SPZ_REQ_HELD_MAX); /* the longest held */
		if (p == 3)
			ck_assert_uint_eq(blen, SPZ_REQ_HELD_MAX + 1);
		int64_t want = -1;
		for (int coded = 0; coded < 2; coded++) {
			size_t n = blen;
			char *bytes = coded ? gzip_of(body, blen, &n) : body;
			for (size_t k = 0; k < sizeof(slices) / sizeof(slices[0]); k++) {
				for (int with_usage = 0; with_usage < 2; with_usage++) {
					char head[256], resp[512];
					snprintf(head, sizeof(head),
						 "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n%s"
						 "Content-Length: %zu\r\n\r\n",
						 coded ? "Content-Encoding: gzip\r\n" : "", n);
					const char *a = with_usage ? answer_usage : answer;
					snprintf(resp, sizeof(resp),
						 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: "
						 "%zu\r\n\r\n%s",
						 strlen(a), a);
					struct spz_conn *c = spz_conn_new();
					captured_count = 0;
					feed_write(c, head, strlen(head));
					size_t step = slices[k] ? slices[k] : n;
					for (size_t i = 0; i < n; i += step) {
						size_t m = n - i < step ? n - i : step;
						char *copy = malloc(m);
						memcpy(copy, bytes + i, m);
						feed_write(c, copy, m);
						free(copy);
					}
					feed_read(c, resp, strlen(resp));
					ck_assert_uint_eq(captured_count, 1);
					const struct spz_call *call = &captured[0];
					ck_assert_str_eq(call->model, "gpt-4o");
					ck_assert(call->stream_requested);
					ck_assert(call->usage_estimated == !with_usage);
					if (with_usage) {
						ck_assert_int_eq(call->usage.v[SPZ_U_INPUT], 61);
					} else if (want < 0) {
						want = call->usage.v[SPZ_U_INPUT];
					} else {
						ck_assert_msg(call->usage.v[SPZ_U_INPUT] == want,
							      "body of %zu bytes%s in slices of %zu: %lld tokens, not %lld",
							      blen, coded ? " gzipped" : "", step,
							      (long long)call->usage.v[SPZ_U_INPUT], (long long)want);
					}
					spz_conn_free(c, clock_ns);
				}
			}
			if (coded)
				free(bytes);
		}
		/* The prompt was counted: "word " is a token a time, and more. */
		ck_assert_int_ge(want, (int64_t)pads[p] / 5);
		free(body);
		free(content);
	}
}
END_TEST

/* A held body whose top-level reading declines it (an escape in the model's
 * name) is read whole by the scanner, with usage in the answer too. */
START_TEST(held_body_the_top_reading_declines_is_read_whole)
{
	static const char body[] = "{\"model\":\"gpt\\u002d4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
	char req[512];
	snprintf(req, sizeof(req),
		 "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(body), body);
	const struct spz_call *call =
		one_call(req, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
			 "{\"id\":\"c1\",\"model\":\"gpt-4o-2024-08-06\",\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}");
	ck_assert_str_eq(call->model, "gpt-4o");
	ck_assert(!call->usage_estimated);
	ck_assert_int_eq(call->usage.v[SPZ_U_INPUT], 9);
}
END_TEST

/* Each API's response header fields are read (the HTTP/1.1 parser hands on
 * only those, by a filter made of their names), in any case, among a
 * provider's many others, whatever the order; a look-alike is not one. */
START_TEST(response_header_fields_each_api_reads)
{
	static const char noise[] = "Date: Tue, 01 Dec 2026 10:00:00 GMT\r\nX-Ratelimit-Remaining-Tokens: 29000\r\n"
				    "Set-Cookie: __cf_bm=abc; path=/\r\nX-Request-Ix: not-this\r\nServer: cloudflare\r\n";
	static const struct {
		const char *request;
		const char *fields;
		const char *request_id;
		int64_t input; /* -1: none from the headers */
	} cases[] = {
		{ "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n", "X-Request-ID: req_openai\r\n",
		  "req_openai", -1 },
		{ "POST /openai/deployments/gpt4o/chat/completions?api-version=2024-06-01 HTTP/1.1\r\nHost: "
		  "x.openai.azure.com\r\n",
		  "apim-request-id: 1d93fae1\r\n", "1d93fae1", -1 },
		{ "POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\n", "request-id: req_011CV8\r\n", "req_011CV8",
		  -1 },
		{ "POST /v2/chat HTTP/1.1\r\nHost: api.cohere.com\r\n", "X-Trace-Id: trace-7\r\n", "trace-7", -1 },
		{ "POST /model/amazon.titan-embed-text-v2:0/invoke HTTP/1.1\r\nHost: "
		  "bedrock-runtime.us-east-1.amazonaws.com\r\n",
		  "X-Amzn-RequestId: 5f0e\r\nX-Amzn-Bedrock-Input-Token-Count: 4\r\n", "5f0e", 4 },
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		for (int order = 0; order < 2; order++) {
			char req[512], head[1024];
			snprintf(req, sizeof(req), "%sContent-Length: 2\r\n\r\n{}", cases[k].request);
			snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n%s%s%sContent-Type: application/json\r\n",
				 order ? noise : "", cases[k].fields, order ? "" : noise);
			const struct spz_call *call = one_call(req, head, "{}");
			ck_assert_msg(strcmp(call->request_id, cases[k].request_id) == 0, "%s: request id \"%s\"",
				      cases[k].request, call->request_id);
			if (cases[k].input >= 0)
				ck_assert_int_eq(call->usage.v[SPZ_U_INPUT], cases[k].input);
		}
	}
}
END_TEST

/* Anthropic's and Cohere's requests are read for their model and stream
 * flag alone: the conversation and the tools before them are passed over
 * unread (a value JSON does not allow inside does not stop the reading). */
START_TEST(anthropic_request_read_for_model_and_stream)
{
	static const char body[] =
		"{\"system\":[{\"type\":\"text\",\"text\":\"You are terse.\"}],\"messages\":[{\"role\":\"user\","
		"\"content\":[{\"type\":\"text\",\"text\":\"Hi\"},{\"type\":\"image\",\"source\":{\"data\":NaN}}]}],"
		"\"tools\":[{\"name\":\"t\",\"input_schema\":{\"type\":\"object\"}}],\"max_tokens\":64,"
		"\"model\":\"claude-3-5-haiku-20241022\",\"stream\":true}";
	char req[1024];
	snprintf(req, sizeof(req),
		 "POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: %zu\r\n\r\n%s", strlen(body),
		 body);
	const struct spz_call *call = one_call(
		req, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n",
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":"
		"\"claude-3-5-haiku-20241022\",\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n"
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":5}}\n\n");
	assert_stream_counts(call, "anthropic", "claude-3-5-haiku-20241022", 12, 5);
	ck_assert(call->stream_requested);
}
END_TEST

START_TEST(legacy_completions)
{
	/* platform.openai.com/docs/api-reference/completions: choices[].text,
	 * usage as chat's; a stream's last chunk may carry usage. */
	const struct spz_call *call = one_call(
		"POST /v1/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 70\r\n\r\n"
		"{\"model\":\"gpt-3.5-turbo-instruct\",\"prompt\":\"Say this is a test\",\"n\":1}",
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
		"{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"model\":\"gpt-3.5-turbo-instruct\","
		"\"choices\":[{\"text\":\"This is a test.\",\"index\":0}],"
		"\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":5,\"total_tokens\":10}}");
	ck_assert_str_eq(call->api->kind, "completions");
	ck_assert_str_eq(call->model, "gpt-3.5-turbo-instruct");
	ck_assert_int_eq(call->usage.v[SPZ_U_INPUT], 5);
	ck_assert_int_eq(call->usage.v[SPZ_U_OUTPUT], 5);
	ck_assert(!call->usage_estimated);
}
END_TEST

START_TEST(groq_stream_usage_in_x_groq)
{
	/* console.groq.com/docs: streamed chunks put usage under x_groq. */
	const struct spz_call *call = one_call(
		"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: api.groq.com\r\nContent-Length: 46\r\n\r\n"
		"{\"model\":\"llama-3.1-8b-instant\",\"stream\":true}",
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n",
		"data: {\"id\":\"c1\",\"model\":\"llama-3.1-8b-instant\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
		"data: {\"id\":\"c1\",\"model\":\"llama-3.1-8b-instant\",\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],"
		"\"x_groq\":{\"id\":\"req_1\",\"usage\":{\"queue_time\":0.01,\"prompt_tokens\":40,\"completion_tokens\":2,"
		"\"total_tokens\":42}}}\n\ndata: [DONE]\n\n");
	assert_stream_counts(call, "groq", "llama-3.1-8b-instant", 40, 2);
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
	tcase_add_test(tc, stream_without_usage_is_estimated);
	tcase_add_test(tc, estimates_start_clean_on_the_next_call);
	tcase_add_test(tc, fields_after_the_body_begins_change_nothing);
	tcase_add_test(tc, cut_stream_is_reported_truncated);
	tcase_add_test(tc, unanswered_request_is_reported);
	tcase_add_test(tc, non_llm_requests_make_no_record);
	tcase_add_test(tc, llm_call_after_other_requests_on_same_connection);
	tcase_add_test(tc, query_string_never_kept);
	tcase_add_test(tc, gemini_last_usage_object_counts_whole);
	tcase_add_test(tc, vertex_paths);
	tcase_add_test(tc, embeddings_keep_no_text);
	tcase_add_test(tc, embeddings_vectors_passed_over);
	tcase_add_test(tc, request_tools_and_stream_logprobs_passed_over);
	tcase_add_test(tc, anthropic_request_read_for_model_and_stream);
	tcase_add_test(tc, held_and_passing_request_bodies_read_alike);
	tcase_add_test(tc, held_body_the_top_reading_declines_is_read_whole);
	tcase_add_test(tc, response_header_fields_each_api_reads);
	tcase_add_test(tc, legacy_completions);
	tcase_add_test(tc, groq_stream_usage_in_x_groq);
	tcase_add_test(tc, bedrock_invoke_with_response_stream);
	tcase_add_test(tc, cohere_stream_message_end);
	tcase_add_test(tc, provider_hosts);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
