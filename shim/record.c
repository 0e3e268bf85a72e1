/* Record construction. Tokens a provider did not report are left out, not
 * written as 0; the requested model is "unknown" when the request named none,
 * as the gateway expects. */
#include "record.h"

#include "../common/money.h"

#include <string.h>
#include <unistd.h>

#include "jsonw.h"

static void digits(char *out, unsigned v, int n)
{
	while (n--) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (out has 25 bytes), by hand rather than
 * gmtime_r and strftime, which were a measurable part of a call's cost.
 * The date from days since 1970 is the proleptic Gregorian calendar's
 * (H. Hinnant's civil_from_days); years stay within 0000-9999. */
static void rfc3339(char out[25], int64_t unix_ms)
{
	int64_t secs = unix_ms / 1000, ms = unix_ms % 1000;
	if (ms < 0)
		ms += 1000, secs--;
	int64_t days = secs / 86400, sod = secs % 86400;
	if (sod < 0)
		sod += 86400, days--;
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t day = doy - (153 * mp + 2) / 5 + 1;
	int64_t month = mp < 10 ? mp + 3 : mp - 9;
	int64_t year = yoe + era * 400 + (month <= 2);
	if (year < 0)
		year = 0;
	if (year > 9999)
		year = 9999;
	digits(out, (unsigned)year, 4);
	out[4] = '-';
	digits(out + 5, (unsigned)month, 2);
	out[7] = '-';
	digits(out + 8, (unsigned)day, 2);
	out[10] = 'T';
	digits(out + 11, (unsigned)(sod / 3600), 2);
	out[13] = ':';
	digits(out + 14, (unsigned)(sod / 60 % 60), 2);
	out[16] = ':';
	digits(out + 17, (unsigned)(sod % 60), 2);
	out[19] = '.';
	digits(out + 20, (unsigned)ms, 3);
	out[23] = 'Z';
	out[24] = '\0';
}

/* Written with the comma before them, their quotes and colon, as literal
 * keys are. */
#define USAGE_KEY(name) { ",\"" name "\":", sizeof(",\"" name "\":") - 1 }
static const struct {
	const char *quoted;
	size_t len;
} usage_keys[SPZ_U_COUNT] = {
	[SPZ_U_INPUT] = USAGE_KEY("promptTokens"),
	[SPZ_U_OUTPUT] = USAGE_KEY("completionTokens"),
	[SPZ_U_CACHE_READ] = USAGE_KEY("cachedInputTokens"),
	[SPZ_U_CACHE_WRITE] = USAGE_KEY("cacheWriteTokens"),
	[SPZ_U_REASONING] = USAGE_KEY("reasoningTokens"),
	[SPZ_U_CACHE_WRITE_1H] = USAGE_KEY("cacheWrite1hTokens"),
	[SPZ_U_TOOL_INPUT] = USAGE_KEY("toolPromptTokens"),
};

/* Members with literal keys (every key here is plain), each after another
 * member: the comma is part of the literal, not looked for in the buffer. */
#define KEY(key) spz_jw_raw(&w, ",\"" key "\":", sizeof(",\"" key "\":") - 1)
/* An object's first member's key, with the brace that opens it. */
#define FIRST_KEY(key) spz_jw_raw(&w, "{\"" key "\":", sizeof("{\"" key "\":") - 1)
#define KSTR(key, value)                        \
	do {                                    \
		const char *v_ = (value);       \
		KEY(key);                       \
		spz_jw_str(&w, v_, strlen(v_)); \
	} while (0)
#define KINT(key, value)                 \
	do {                             \
		KEY(key);                \
		spz_jw_int(&w, (value)); \
	} while (0)

size_t spz_record_build(const struct spz_call *c, const struct spz_config *cfg, char *buf, size_t cap)
{
	struct spz_jw w;
	char when[25];
	rfc3339(when, c->start_wall_ms);

	spz_jw_init(&w, buf, cap);
	FIRST_KEY("id");
	spz_jw_str(&w, c->id, strlen(c->id));
	KSTR("provider", c->provider);
	KSTR("model", c->model[0] ? c->model : "unknown");
	if (c->response_model[0])
		KSTR("responseModel", c->response_model);
	if (c->attribution) {
		spz_jw_raw(&w, ",", 1);
		spz_jw_raw(&w, c->attribution, strlen(c->attribution));
	} else {
		/* No memory for the full attribution: the process's, untagged. */
		const struct spz_agent_path *p = &cfg->attr.path;
		KSTR("runId", cfg->attr.run_id);
		KSTR("agentName", p->depth ? p->agent[p->depth - 1] : "unknown");
	}
	for (int f = 0; f < SPZ_U_COUNT; f++)
		if (c->usage.present & (1u << f)) {
			spz_jw_raw(&w, usage_keys[f].quoted, usage_keys[f].len);
			spz_jw_int(&w, c->usage.v[f]);
		}
	if (c->usage.present)
		KSTR("usageSource", c->usage_estimated ? "tiktoken" : "provider");
	/* A transport failure with no HTTP status is 500 (GATEWAY.md). */
	KINT("status", c->no_response || c->status == 0 ? 500 : c->status);
	if (c->refused) {
		char amount[40];
		KEY("refused");
		FIRST_KEY("budgetId");
		spz_jw_str(&w, c->refusal.budget_id, strlen(c->refusal.budget_id));
		KSTR("scope", c->refusal.scope == SPZ_BUDGET_AGENT ? "agent" : "project");
		KSTR("period", c->refusal.period == SPZ_BUDGET_MONTHLY ? "monthly" : "daily");
		spz_money_format(c->refusal.limit_pusd, 2, amount, sizeof(amount));
		KSTR("limitCost", amount);
		spz_money_format(c->refusal.current_pusd, 2, amount, sizeof(amount));
		KSTR("currentCost", amount);
		spz_jw_raw(&w, "}", 1);
	} else if (c->no_response)
		KSTR("error", "no_response");
	else if (c->truncated)
		KSTR("error", "truncated");
	int64_t end = c->end_ns ? c->end_ns : c->start_ns;
	KINT("latencyMs", (end - c->start_ns) / 1000000);
	KEY("stream");
	spz_jw_raw(&w, c->stream ? "true" : "false", c->stream ? 4 : 5);
	if (c->stream && c->first_byte_ns)
		KINT("ttftMs", (c->first_byte_ns - c->start_ns) / 1000000);
	KSTR("startedAt", when);
	KSTR("host", c->host);
	KSTR("endpoint", c->endpoint);
	if (c->request_id[0])
		KSTR("requestId", c->request_id);
	KINT("pid", (int64_t)spz_pid());
	KSTR("exe", cfg->exe);
	spz_jw_raw(&w, "}", 1);
	return w.overflow ? 0 : w.len;
}
