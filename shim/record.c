/* Record construction. Tokens a provider did not report are left out, not
 * written as 0; the requested model is "unknown" when the request named none,
 * as the gateway expects. */
#include "record.h"

#include "../common/money.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonw.h"

static void rfc3339(char *out, size_t cap, int64_t unix_ms)
{
	time_t secs = (time_t)(unix_ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n && n + 6 <= cap) {
		int ms = (int)(unix_ms % 1000);
		out[n++] = '.';
		out[n++] = (char)('0' + ms / 100);
		out[n++] = (char)('0' + ms / 10 % 10);
		out[n++] = (char)('0' + ms % 10);
		out[n++] = 'Z';
		out[n] = '\0';
	}
}

static const char *const usage_names[SPZ_U_COUNT] = {
	[SPZ_U_INPUT] = "promptTokens",
	[SPZ_U_OUTPUT] = "completionTokens",
	[SPZ_U_CACHE_READ] = "cachedInputTokens",
	[SPZ_U_CACHE_WRITE] = "cacheWriteTokens",
	[SPZ_U_REASONING] = "reasoningTokens",
	[SPZ_U_CACHE_WRITE_1H] = "cacheWrite1hTokens",
	[SPZ_U_TOOL_INPUT] = "toolPromptTokens",
};

size_t spz_record_build(const struct spz_call *c, const struct spz_config *cfg, char *buf, size_t cap)
{
	struct spz_jw w;
	char when[40];
	rfc3339(when, sizeof(when), c->start_wall_ms);

	spz_jw_init(&w, buf, cap);
	spz_jw_raw(&w, "{", 1);
	spz_jw_kstr(&w, "id", c->id);
	spz_jw_kstr(&w, "provider", c->provider);
	spz_jw_kstr(&w, "model", c->model[0] ? c->model : "unknown");
	if (c->response_model[0])
		spz_jw_kstr(&w, "responseModel", c->response_model);
	if (c->attribution) {
		spz_jw_raw(&w, ",", 1);
		spz_jw_raw(&w, c->attribution, strlen(c->attribution));
	} else {
		/* No memory for the full attribution: the process's, untagged. */
		const struct spz_agent_path *p = &cfg->attr.path;
		spz_jw_kstr(&w, "runId", cfg->attr.run_id);
		spz_jw_kstr(&w, "agentName", p->depth ? p->agent[p->depth - 1] : "unknown");
	}
	for (int f = 0; f < SPZ_U_COUNT; f++)
		if (c->usage.present & (1u << f))
			spz_jw_kint(&w, usage_names[f], c->usage.v[f]);
	if (c->usage.present)
		spz_jw_kstr(&w, "usageSource", c->usage_estimated ? "tiktoken" : "provider");
	/* A transport failure with no HTTP status is 500 (GATEWAY.md). */
	spz_jw_kint(&w, "status", c->no_response || c->status == 0 ? 500 : c->status);
	if (c->refused) {
		char amount[40];
		spz_jw_key(&w, "refused");
		spz_jw_raw(&w, "{", 1);
		spz_jw_kstr(&w, "budgetId", c->refusal.budget_id);
		spz_jw_kstr(&w, "scope", c->refusal.scope == SPZ_BUDGET_AGENT ? "agent" : "project");
		spz_jw_kstr(&w, "period", c->refusal.period == SPZ_BUDGET_MONTHLY ? "monthly" : "daily");
		spz_money_format(c->refusal.limit_pusd, 2, amount, sizeof(amount));
		spz_jw_kstr(&w, "limitCost", amount);
		spz_money_format(c->refusal.current_pusd, 2, amount, sizeof(amount));
		spz_jw_kstr(&w, "currentCost", amount);
		spz_jw_raw(&w, "}", 1);
	} else if (c->no_response)
		spz_jw_kstr(&w, "error", "no_response");
	else if (c->truncated)
		spz_jw_kstr(&w, "error", "truncated");
	int64_t end = c->end_ns ? c->end_ns : c->start_ns;
	spz_jw_kint(&w, "latencyMs", (end - c->start_ns) / 1000000);
	spz_jw_kbool(&w, "stream", c->stream);
	if (c->stream && c->first_byte_ns)
		spz_jw_kint(&w, "ttftMs", (c->first_byte_ns - c->start_ns) / 1000000);
	spz_jw_kstr(&w, "startedAt", when);
	spz_jw_kstr(&w, "host", c->host);
	spz_jw_kstr(&w, "endpoint", c->endpoint);
	if (c->request_id[0])
		spz_jw_kstr(&w, "requestId", c->request_id);
	else if (c->body_id[0])
		spz_jw_kstr(&w, "requestId", c->body_id);
	spz_jw_kint(&w, "pid", (int64_t)spz_pid());
	spz_jw_kstr(&w, "exe", cfg->exe);
	spz_jw_raw(&w, "}", 1);
	return w.overflow ? 0 : w.len;
}
