/* Pricing: exact decimal money, each provider's token semantics on every
 * corpus case (through the real path: the shim's tracker makes the record,
 * the collector decodes and prices it), name resolution, long-context tiers,
 * 1-hour cache writes, overrides and bad price files.
 *
 * Expected costs are worked by hand from data/pricing.json's prices (the
 * comment beside each shows the sum, in dollars per million tokens). Two
 * are the providers' own bills: OpenRouter's usage.cost and xAI's
 * cost_in_usd_ticks (1e-10 USD) are checked against our figure. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/money.h"
#include "../../collector/pricing.h"
#include "../../collector/record.h"
#include "../../shim/config.h"
#include "../../shim/conn.h"
#include "../../shim/record.h"
#include "corpus.h"
#include "helpers.h"

static struct spz_pricing *prices;

static void setup(void)
{
	char err[512];
	prices = spz_pricing_load(NULL, false, err, sizeof(err));
	ck_assert_msg(prices != NULL, "%s", err);
}

static void teardown(void)
{
	spz_pricing_free(prices);
}

static const char *fmt(int64_t pusd)
{
	static char buf[4][40];
	static int k;
	k = (k + 1) % 4;
	spz_money_format(pusd, 0, buf[k], sizeof(buf[k]));
	return buf[k];
}

START_TEST(decimals_parse_and_print_exactly)
{
	int64_t v;
	ck_assert_int_eq(spz_price_parse("2.50", 4, &v), 0);
	ck_assert_int_eq(v, 2500000);
	ck_assert_int_eq(spz_price_parse("0.00875", 7, &v), 0);
	ck_assert_int_eq(v, 8750);
	ck_assert_int_eq(spz_price_parse("15", 2, &v), 0);
	ck_assert_int_eq(v, 15000000);
	ck_assert_int_eq(spz_price_parse("0.1000000", 9, &v), 0); /* zeros beyond precision are exact */
	ck_assert_int_eq(v, 100000);
	ck_assert_int_eq(spz_price_parse("0.0000001", 9, &v), -1); /* never rounded away */
	ck_assert_int_eq(spz_price_parse("-1", 2, &v), -1);
	ck_assert_int_eq(spz_price_parse("1e3", 3, &v), -1);
	ck_assert_int_eq(spz_price_parse("2.", 2, &v), -1);
	ck_assert_int_eq(spz_price_parse(".5", 2, &v), -1);
	ck_assert_int_eq(spz_price_parse("", 0, &v), -1);
	ck_assert_int_eq(spz_price_parse("1000001", 7, &v), -1);
	ck_assert_int_eq(spz_money_parse("1.2345000000", 12, &v), 0);
	ck_assert_int_eq(v, 1234500000000);
	ck_assert_str_eq(fmt(139900000), "0.0001399");
	ck_assert_str_eq(fmt(0), "0");
	ck_assert_str_eq(fmt(2 * SPZ_PUSD_PER_USD), "2");
	ck_assert_str_eq(fmt(1), "0.000000000001");
	ck_assert_str_eq(fmt(-1500000000000), "-1.5");
	char two[40];
	spz_money_format(2500000000000, 2, two, sizeof(two));
	ck_assert_str_eq(two, "2.50");
	/* 0.1 + 0.2 is 0.3 here, as it is not in binary floats */
	int64_t acc = 0;
	ck_assert(spz_money_muladd(&acc, 100000, 1));
	ck_assert(spz_money_muladd(&acc, 200000, 1));
	ck_assert_str_eq(fmt(acc), "0.0000003");
	acc = 0;
	ck_assert(!spz_money_muladd(&acc, INT64_MAX / 2, 3));
}
END_TEST

/* ---- the corpus through the shim's record path ---- */

static struct spz_call captured;
static int captured_count;

static void capture(const struct spz_call *call)
{
	captured = *call;
	captured_count++;
}

static void feed_write(void *ctx, const char *buf, size_t len)
{
	spz_conn_on_write(ctx, buf, len, 1000);
}

static void feed_read(void *ctx, const char *buf, size_t len)
{
	spz_conn_on_read(ctx, buf, len, 2000);
}

/* The record the shim would send for this case, decoded by the collector. */
static void record_of(const struct corpus_case *c, struct spz_record *rec)
{
	size_t qlen, rlen;
	char *req = corpus_request(c, &qlen);
	char *resp = corpus_response(c, FRAME_LENGTH, 1, &rlen);
	spz_conn_set_sink(capture);
	captured_count = 0;
	struct spz_conn *conn = spz_conn_new();
	feed_sliced(feed_write, conn, req, qlen, SLICE_WHOLE, 1);
	feed_sliced(feed_read, conn, resp, rlen, SLICE_WHOLE, 2);
	spz_conn_free(conn, 3000);
	free(req);
	free(resp);
	ck_assert_msg(captured_count == 1, "%s: %d records", c->name, captured_count);
	static char buf[SPZ_RECORD_MAX];
	size_t n = spz_record_build(&captured, spz_config(), buf, sizeof(buf));
	ck_assert_uint_gt(n, 0);
	char why[160];
	ck_assert_msg(spz_record_decode(buf, n, rec, why, sizeof(why)) == 0, "%s: %s", c->name, why);
}

struct expected_cost {
	const char *provider, *name;
	const char *usd;	/* NULL: unknown */
	const char *priced_as;
};

static const struct expected_cost expected[] = {
	/* 20 x 15 + 10 x 75 (claude-3-opus-latest -> claude-3-opus) */
	{ "anthropic", "messages_nonstream_basic", "0.00105", "anthropic/claude-3-opus" },
	/* 3 x 3 + 1111 x 3.75 (5-minute writes) + 391 x 15: input excludes writes */
	{ "anthropic", "messages_nonstream_cache_write", "0.01004025", "anthropic/claude-sonnet-4-5" },
	/* 17 x 3 + 10 x 15 */
	{ "anthropic", "messages_stream_basic", "0.000201", "anthropic/claude-sonnet-4-5" },
	/* iterations summed: 281 x 3 + 55096 x 0.30 + 91 x 15; 55377 input < 200k */
	{ "anthropic", "messages_stream_cache_read_compaction", "0.0187368", "anthropic/claude-sonnet-4-6" },
	/* deployment "gpt-4o" answered by gpt-4o-2024-11-20: 14 x 2.50 + 9 x 10 */
	{ "azure_openai", "chat_nonstream_content_filter", "0.000125", "openai/gpt-4o" },
	/* us. region, -v1:0 and the date stripped, anthropic. -> Anthropic's
	 * table: 2 x 3 + 1322 x 3.75 + 5 x 15 */
	{ "bedrock", "converse_nonstream_cache_write", "0.0050385", "anthropic/claude-sonnet-4-5" },
	/* 19 x 3 + 100 x 15 */
	{ "bedrock", "converse_nonstream_claude_sonnet4", "0.001557", "anthropic/claude-sonnet-4" },
	/* 13 x 0.035 + 82 x 0.14 */
	{ "bedrock", "converse_stream_nova_micro_eventstream", "0.000011935", "bedrock/amazon.nova-micro" },
	/* 4 x 0.02 (":0" stripped, "-v2" kept) */
	{ "bedrock", "invoke_model_titan_embed_v2_dims256", "0.00000008", "bedrock/amazon.titan-embed-text-v2" },
	/* command-r7b-12-2024: 2935 x 0.0375 (cached part of input, no cache
	 * price) + 4 x 0.15 */
	{ "cohere", "chat_v2_nonstream_cached_tokens", "0.0001106625", "cohere/command-r7b" },
	/* reasoning inside completion: 12 x 0.28 + 789 x 0.42 */
	{ "deepseek", "chat_nonstream_reasoner_reasoning_tokens", "0.00033474", "deepseek/deepseek-reasoner" },
	/* thoughts outside candidates, billed as output: 15 x 1.25 + (8 + 285) x 10 */
	{ "gemini", "generate_content_thinking_25pro", "0.00294875", "gemini/gemini-2.5-pro" },
	/* 9 x 0.075 + 2 x 0.30 */
	{ "gemini", "stream_json_array_gzip_15flash_usage_changes", "0.000001275", "gemini/gemini-1.5-flash" },
	/* 15 x 0.30 + (8 + 16) x 2.50 */
	{ "gemini", "stream_sse_single_chunk_25flash", "0.0000645", "gemini/gemini-2.5-flash" },
	/* replayed on the harness's gemini-2.5-flash path: (12 - 4 cached + 65
	 * tool prompt) x 0.30 + 4 x 0.03 + (71 + 89 thoughts) x 2.50 */
	{ "gemini", "stream_sse_usage_only_fragment_cached_tooluse", "0.00042202", "gemini/gemini-2.5-flash" },
	/* 48 x 0.59 + 8 x 0.79 */
	{ "groq", "chat_nonstream_llama33_70b", "0.00003464", "groq/llama-3.3-70b-versatile" },
	/* 28 x 0.50 + 4 x 1.50 */
	{ "mistral", "chat_nonstream_magistral_fixture", "0.00002", "mistral/magistral-small" },
	{ "mistral", "chat_stream_magistral_usage_in_finish_chunk", "0.00002", "mistral/magistral-small" },
	/* 14 x 2.50 + 30 x 10 */
	{ "openai", "chat_nonstream_gpt4o_usage_details", "0.000335", "openai/gpt-4o" },
	/* reasoning inside completion: 7 x 1.10 + 87 x 4.40 */
	{ "openai", "chat_nonstream_o3mini_reasoning_tokens", "0.0003905", "openai/o3-mini" },
	/* 78 x 0.15 + 9 x 0.60 */
	{ "openai", "chat_stream_include_usage_text", "0.0000171", "openai/gpt-4o-mini" },
	/* 4 x 0.02 */
	{ "openai", "embeddings_base64_te3small", "0.00000008", "openai/text-embedding-3-small" },
	/* 32 x 2.50 + 8 x 10 */
	{ "openai", "responses_nonstream_gpt4o", "0.00016", "openai/gpt-4o" },
	/* 11 x 5 + 5 x 30 */
	{ "openai", "responses_stream_gpt55", "0.000205", "openai/gpt-5.5" },
	/* OpenRouter's own bill, usage.cost 0.002103: 566 x 3 + 27 x 15 */
	{ "openrouter", "chat_nonstream_anthropic_via_bedrock_cost", "0.002103", "anthropic/claude-sonnet-4-6" },
	/* xAI's own bill, cost_in_usd_ticks 1399000 (1e-10 USD): (291 - 244)
	 * x 0.30 + 244 x 0.075 + 26 x 0.50 + 189 reasoning x 0.50 */
	{ "xai", "chat_nonstream_cached_and_reasoning_separate", "0.0001399", "xai/grok-3-mini" },
};

START_TEST(every_corpus_case_priced_by_its_provider_semantics)
{
	size_t checked = 0;
	for (size_t e = 0; e < sizeof(expected) / sizeof(expected[0]); e++) {
		struct corpus_case cases[16];
		size_t n = corpus_load(expected[e].provider, cases, 16);
		for (size_t i = 0; i < n; i++) {
			if (strcmp(cases[i].name, expected[e].name) != 0 &&
			    !(strlen(cases[i].name) > strlen(expected[e].name) &&
			      strcmp(cases[i].name + strlen(cases[i].name) - strlen(expected[e].name), expected[e].name) ==
				      0))
				continue;
			struct spz_record rec;
			record_of(&cases[i], &rec);
			struct spz_cost cost;
			spz_price_call(prices, rec.provider, rec.model, rec.response_model, rec.status, rec.tokens, &cost);
			if (expected[e].usd) {
				ck_assert_msg(cost.kind == SPZ_COST_PRICED, "%s: not priced (model %s / %s)",
					      expected[e].name, rec.model, rec.response_model);
				ck_assert_msg(strcmp(fmt(cost.pusd), expected[e].usd) == 0, "%s: %s, expected %s",
					      expected[e].name, fmt(cost.pusd), expected[e].usd);
				ck_assert_str_eq(cost.priced_as, expected[e].priced_as);
			} else {
				ck_assert_msg(cost.kind == SPZ_COST_UNKNOWN, "%s: priced %s", expected[e].name,
					      fmt(cost.pusd));
			}
			/* The providers' own bills, read from the corpus itself. */
			json_t *raw = json_object_get(json_object_get(cases[i].meta, "expected_usage"), "provider_usage_raw");
			json_t *or_cost = json_object_get(raw, "cost"), *ticks = json_object_get(raw, "cost_in_usd_ticks");
			if (json_is_real(or_cost)) {
				char want[40];
				snprintf(want, sizeof(want), "%.6f", json_real_value(or_cost));
				ck_assert_str_eq(fmt(cost.pusd), "0.002103");
				ck_assert_str_eq(want, "0.002103");
			}
			if (json_is_integer(ticks))
				ck_assert_int_eq(cost.pusd, json_integer_value(ticks) * 100);
			spz_record_clear(&rec);
			checked++;
		}
		for (size_t i = 0; i < n; i++)
			corpus_free(&cases[i]);
	}
	ck_assert_uint_eq(checked, sizeof(expected) / sizeof(expected[0]));
}
END_TEST

START_TEST(a_stream_without_usage_gets_an_estimated_cost)
{
	struct corpus_case cases[16];
	size_t n = corpus_load("openai", cases, 16);
	bool seen = false;
	for (size_t i = 0; i < n; i++) {
		if (!strstr(cases[i].name, "chat_stream_no_usage_gpt35_2023"))
			continue;
		struct spz_record rec;
		record_of(&cases[i], &rec);
		ck_assert_str_eq(rec.usage_source, "tiktoken");
		struct spz_cost cost;
		spz_price_call(prices, rec.provider, rec.model, rec.response_model, rec.status, rec.tokens, &cost);
		ck_assert_int_eq(cost.kind, SPZ_COST_PRICED);
		ck_assert_str_eq(cost.priced_as, "openai/gpt-3.5-turbo-0301");
		/* 1.50 in, 2.00 out, on the estimate */
		ck_assert_int_eq(cost.pusd, rec.tokens[SPZ_TOK_PROMPT] * 1500000 + rec.tokens[SPZ_TOK_COMPLETION] * 2000000);
		spz_record_clear(&rec);
		seen = true;
	}
	for (size_t i = 0; i < n; i++)
		corpus_free(&cases[i]);
	ck_assert(seen);
}
END_TEST

/* ---- names, tiers, semantics on synthetic calls ---- */

static struct spz_cost price(const char *provider, const char *model, const char *response_model, int64_t in,
			     int64_t out, int64_t cached, int64_t write, int64_t write_1h, int64_t reasoning)
{
	int64_t t[SPZ_TOK_COUNT];
	for (int i = 0; i < SPZ_TOK_COUNT; i++)
		t[i] = -1;
	t[SPZ_TOK_PROMPT] = in;
	t[SPZ_TOK_COMPLETION] = out;
	t[SPZ_TOK_CACHED_INPUT] = cached;
	t[SPZ_TOK_CACHE_WRITE] = write;
	t[SPZ_TOK_CACHE_WRITE_1H] = write_1h;
	t[SPZ_TOK_REASONING] = reasoning;
	struct spz_cost c;
	spz_price_call(prices, provider, model, response_model, 200, t, &c);
	return c;
}

static void check_name(const char *provider, const char *model, const char *priced_as)
{
	struct spz_cost c = price(provider, model, NULL, 1000, 0, -1, -1, -1, -1);
	if (!priced_as) {
		ck_assert_msg(c.kind == SPZ_COST_UNKNOWN, "%s/%s priced as %s", provider, model, c.priced_as);
		return;
	}
	ck_assert_msg(c.kind == SPZ_COST_PRICED && strcmp(c.priced_as, priced_as) == 0, "%s/%s: %s, expected %s",
		      provider, model, c.kind == SPZ_COST_PRICED ? c.priced_as : "unknown", priced_as);
}

START_TEST(names_resolve_through_aliases_and_snapshots)
{
	check_name("openai", "gpt-4o-2024-08-06", "openai/gpt-4o");
	check_name("openai", "gpt-4o-2024-05-13", "openai/gpt-4o-2024-05-13"); /* a snapshot priced apart */
	check_name("openai", "GPT-4o-Mini", "openai/gpt-4o-mini");
	check_name("openai", "chatgpt-4o-latest", "openai/gpt-4o");
	check_name("openai", "gpt-4.1-mini-2025-04-14", "openai/gpt-4.1-mini");
	check_name("anthropic", "claude-3-5-sonnet-20241022", "anthropic/claude-3-5-sonnet");
	check_name("anthropic", "claude-3-5-sonnet-latest", "anthropic/claude-3-5-sonnet");
	check_name("vertex", "claude-3-5-sonnet@20240620", NULL);		   /* Vertex serves Gemini here */
	check_name("vertex", "gemini-1.5-pro-002", "gemini/gemini-1.5-pro"); /* sameAs gemini */
	check_name("gemini", "gemini-2.5-pro-preview-05-06", "gemini/gemini-2.5-pro");
	check_name("bedrock", "eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic/claude-3-7-sonnet");
	check_name("bedrock", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0",
		   "anthropic/claude-haiku-4-5");
	check_name("bedrock", "amazon.nova-pro-v1:0", "bedrock/amazon.nova-pro");
	check_name("openrouter", "anthropic/claude-sonnet-4.5", "anthropic/claude-sonnet-4-5");
	check_name("openrouter", "openai/gpt-4o-mini", "openai/gpt-4o-mini");
	check_name("openrouter", "meta-llama/llama-3.3-70b-instruct", NULL);
	check_name("mistral", "mistral-large-2411", "mistral/mistral-large");
	check_name("mistral", "mistral-small-latest", "mistral/mistral-small");
	check_name("xai", "grok-4-0709", "xai/grok-4");
	check_name("cohere", "command-a-03-2025", "cohere/command-a");
	/* Never a neighbour's price: a newer model is unknown until listed. */
	check_name("anthropic", "claude-opus-4-7", NULL);
	check_name("openai", "gpt-5.6", NULL);
	check_name("openai", "gpt-4o-mini-tts", NULL);
	check_name("openai-compatible", "llama3:8b", NULL);
	check_name("nobody", "gpt-4o", NULL);
	check_name("openai", "", NULL);
	/* The response's model counts first, the request's when it is unknown. */
	struct spz_cost c = price("openai", "gpt-4o", "gpt-4o-2024-05-13", 1000000, 0, -1, -1, -1, -1);
	ck_assert_str_eq(fmt(c.pusd), "5");
	c = price("openai", "gpt-4o", "some-router-name", 1000000, 0, -1, -1, -1, -1);
	ck_assert_str_eq(fmt(c.pusd), "2.5");
}
END_TEST

START_TEST(long_context_tiers_and_cache_lifetimes)
{
	/* Gemini 2.5 Pro: 200k input or less at 1.25/10, above at 2.50/15. */
	struct spz_cost c = price("gemini", "gemini-2.5-pro", NULL, 200000, 1000, -1, -1, -1, -1);
	ck_assert_str_eq(fmt(c.pusd), "0.26"); /* 200000 x 1.25 + 1000 x 10 */
	c = price("gemini", "gemini-2.5-pro", NULL, 200001, 1000, -1, -1, -1, -1);
	ck_assert_str_eq(fmt(c.pusd), "0.5150025"); /* 200001 x 2.50 + 1000 x 15 */
	/* Anthropic: the tier counts cache reads and writes as input too. */
	c = price("anthropic", "claude-sonnet-4-5", NULL, 1000, 100, 199500, -1, -1, -1);
	ck_assert_str_eq(fmt(c.pusd), "0.12795"); /* 1000 x 6 + 199500 x 0.60 + 100 x 22.50 */
	/* 1-hour writes at their own price: 800 x 3.75 + 200 x 6 */
	c = price("anthropic", "claude-sonnet-4-5", NULL, 0, 0, 0, 1000, 200, -1);
	ck_assert_str_eq(fmt(c.pusd), "0.0042");
	/* OpenAI's prompt includes cached: 1000 prompt with 400 cached on gpt-4o
	 * = 600 x 2.50 + 400 x 1.25 */
	c = price("openai", "gpt-4o", NULL, 1000, 0, 400, -1, -1, -1);
	ck_assert_str_eq(fmt(c.pusd), "0.002");
	/* ...and never negative when a provider reports more cached than prompt. */
	c = price("openai", "gpt-4o", NULL, 10, 0, 400, -1, -1, -1);
	ck_assert_str_eq(fmt(c.pusd), "0.0005");
	/* No usage: an error costs nothing, a success is unknown. */
	int64_t none[SPZ_TOK_COUNT];
	for (int i = 0; i < SPZ_TOK_COUNT; i++)
		none[i] = -1;
	spz_price_call(prices, "openai", "gpt-4o", NULL, 429, none, &c);
	ck_assert_int_eq(c.kind, SPZ_COST_NO_USAGE);
	ck_assert_int_eq(c.pusd, 0);
	spz_price_call(prices, "openai", "gpt-4o", NULL, 200, none, &c);
	ck_assert_int_eq(c.kind, SPZ_COST_UNKNOWN);
	/* Gemini's tool-use prompt is outside promptTokenCount and billed as input. */
	none[SPZ_TOK_PROMPT] = 12;
	none[SPZ_TOK_TOOL_PROMPT] = 65;
	spz_price_call(prices, "gemini", "gemini-2.5-flash", NULL, 200, none, &c);
	ck_assert_str_eq(fmt(c.pusd), "0.0000231"); /* 77 x 0.30 */
}
END_TEST

static char *write_temp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/spz-pricing-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

START_TEST(overrides_merge_and_bad_files_say_where)
{
	char err[512];
	char *path = write_temp("{\"providers\": {\"openai\": {\"models\": {\"gpt-4o\": {\"input\": \"2.00\"},"
				" \"my-finetune\": {\"input\": \"1\", \"output\": \"2\", \"aliases\": [\"ft:gpt-4o:acme\"]}}},"
				" \"openai-compatible\": {\"models\": {\"llama3:8b\": {\"input\": \"0\", \"output\": \"0\"}}}}}");
	struct spz_pricing *p = spz_pricing_load(path, true, err, sizeof(err));
	unlink(path);
	ck_assert_msg(p != NULL, "%s", err);
	spz_pricing_free(prices);
	prices = p;
	struct spz_cost c = price("openai", "gpt-4o", NULL, 1000000, 1000000, -1, -1, -1, -1);
	ck_assert_str_eq(fmt(c.pusd), "12"); /* the new input price, the old output price */
	c = price("openai", "ft:gpt-4o:acme", NULL, 1000000, 0, -1, -1, -1, -1);
	ck_assert_str_eq(c.priced_as, "openai/my-finetune");
	c = price("openai-compatible", "llama3:8b", NULL, 1000, 1000, -1, -1, -1, -1);
	ck_assert_int_eq(c.kind, SPZ_COST_PRICED); /* a free local model is 0, because it says so */
	ck_assert_str_eq(fmt(c.pusd), "0");

	static const struct {
		const char *text, *says;
	} bad[] = {
		{ "{\"providers\": {\"openai\": {\"models\": {\"gpt-4o\": {\"input\": 2.5}}}}}", "gpt-4o: input must be a decimal string" },
		{ "{\"providers\": {\"openai\": {\"models\": {\"gpt-4o\": {\"ouput\": \"1\"}}}}}", "unknown field \"ouput\"" },
		{ "{\"providers\": {\"x\": {\"models\": {}}}}", "providers.x.usage" },
		{ "{\"providers\": {\"azure_openai\": {\"sameAs\": \"nobody\"}}}", "sameAs" },
		{ "{\"providers\": [", "line 1" },
		{ "[]", "not a JSON object" },
		{ "{\"providers\": {\"openai\": {\"models\": {\"m\": {\"input\": \"1\", \"output\": \"1\", \"aboveInputTokens\": 5}}}}}", "long-context tier" },
		{ "{\"providers\": {\"openai\": {\"models\": {\"m\": {\"input\": \"1\", \"output\": \"1\", \"aliases\": [\"gpt-4o\"]}}}}}", "given to two models" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		path = write_temp(bad[i].text);
		p = spz_pricing_load(path, true, err, sizeof(err));
		ck_assert_msg(p == NULL, "accepted: %s", bad[i].text);
		ck_assert_msg(strstr(err, bad[i].says) && strstr(err, path), "%s: said \"%s\"", bad[i].text, err);
		unlink(path);
	}
	/* A missing default file is fine; a named one is not. */
	ck_assert_ptr_nonnull(p = spz_pricing_load("/nonexistent/pricing.json", false, err, sizeof(err)));
	spz_pricing_free(p);
	ck_assert_ptr_null(spz_pricing_load("/nonexistent/pricing.json", true, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pricing");
	TCase *tc = tcase_create("pricing");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, decimals_parse_and_print_exactly);
	tcase_add_test(tc, every_corpus_case_priced_by_its_provider_semantics);
	tcase_add_test(tc, a_stream_without_usage_gets_an_estimated_cost);
	tcase_add_test(tc, names_resolve_through_aliases_and_snapshots);
	tcase_add_test(tc, long_context_tiers_and_cache_lifetimes);
	tcase_add_test(tc, overrides_merge_and_bad_files_say_where);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
