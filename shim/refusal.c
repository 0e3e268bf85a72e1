/* The answer a client reads when a budget refuses its call: HTTP 429 and
 * the provider's own error shape, so that its SDK raises its usual error,
 * with code "budget_exceeded", the budget's scope, period, limit, current
 * cost and agent, and the gateway SDKs' message text. `x-should-retry:
 * false` tells the OpenAI and Anthropic SDKs not to retry a refusal. */
#include "refusal.h"

#include "http2.h"

#include <stdio.h>
#include <string.h>

#include "../common/money.h"
#include "hpack_enc.h"
#include "jsonw.h"

/* A local budget's figures with cents at least ("5.00"); a gateway's as the
 * gateway writes them, ten decimals ("1.2345000000"), so that the message is
 * the one its SDKs show. */
static void format_costs(const struct spz_budget_entry *e, char limit[40], char current[40])
{
	int frac = e->source == 1 ? 10 : 2;
	spz_money_format(e->limit_pusd, frac, limit, 40);
	spz_money_format(e->current_pusd, frac, current, 40);
}

size_t spz_refusal_message(const struct spz_budget_entry *e, const char *agent, char *out, size_t cap)
{
	char limit[40], current[40];
	format_costs(e, limit, current);
	int n;
	if (agent && *agent)
		n = snprintf(out, cap, "spaturzu: %s/%s budget exceeded (%s >= %s) for agent \"%s\"",
			     e->scope == SPZ_BUDGET_AGENT ? "agent" : "project",
			     e->period == SPZ_BUDGET_MONTHLY ? "monthly" : "daily", current, limit, agent);
	else
		n = snprintf(out, cap, "spaturzu: %s/%s budget exceeded (%s >= %s)",
			     e->scope == SPZ_BUDGET_AGENT ? "agent" : "project",
			     e->period == SPZ_BUDGET_MONTHLY ? "monthly" : "daily", current, limit);
	return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

static void budget_fields(struct spz_jw *w, const struct spz_budget_entry *e, const char *agent)
{
	char limit[40], current[40];
	format_costs(e, limit, current);
	spz_jw_kstr(w, "scope", e->scope == SPZ_BUDGET_AGENT ? "agent" : "project");
	spz_jw_kstr(w, "period", e->period == SPZ_BUDGET_MONTHLY ? "monthly" : "daily");
	spz_jw_kstr(w, "limitCost", limit);
	spz_jw_kstr(w, "currentCost", current);
	spz_jw_kstr(w, "agentName", agent ? agent : "");
	spz_jw_kstr(w, "budgetId", e->budget_id);
}

size_t spz_refusal_body(enum spz_error_shape shape, const struct spz_budget_entry *e, const char *agent, char *out,
			size_t cap)
{
	char msg[400];
	spz_refusal_message(e, agent, msg, sizeof(msg));
	struct spz_jw w;
	spz_jw_init(&w, out, cap);
	switch (shape) {
	case SPZ_SHAPE_ANTHROPIC:
		spz_jw_raw(&w, "{\"type\":\"error\",\"error\":{", 25);
		spz_jw_kstr(&w, "type", "rate_limit_error");
		spz_jw_kstr(&w, "message", msg);
		spz_jw_kstr(&w, "code", "budget_exceeded");
		budget_fields(&w, e, agent);
		spz_jw_raw(&w, "}}", 2);
		break;
	case SPZ_SHAPE_GOOGLE:
		/* Google's code is the HTTP status; ours goes in the reason. */
		spz_jw_raw(&w, "{\"error\":{\"code\":429", 20);
		spz_jw_kstr(&w, "message", msg);
		spz_jw_kstr(&w, "status", "RESOURCE_EXHAUSTED");
		spz_jw_raw(&w, ",\"details\":[{", 13);
		spz_jw_kstr(&w, "@type", "type.googleapis.com/google.rpc.ErrorInfo");
		spz_jw_kstr(&w, "reason", "budget_exceeded");
		spz_jw_kstr(&w, "domain", "spaturzu");
		spz_jw_raw(&w, ",\"metadata\":{", 13);
		budget_fields(&w, e, agent); /* a map of strings: agentName "" when none */
		spz_jw_raw(&w, "}}]}}", 5);
		break;
	case SPZ_SHAPE_MESSAGE: /* Bedrock, Cohere */
		spz_jw_raw(&w, "{", 1);
		spz_jw_kstr(&w, "message", msg);
		spz_jw_kstr(&w, "code", "budget_exceeded");
		budget_fields(&w, e, agent);
		spz_jw_raw(&w, "}", 1);
		break;
	case SPZ_SHAPE_OPENAI:
	default:
		spz_jw_raw(&w, "{\"error\":{", 10);
		spz_jw_kstr(&w, "message", msg);
		spz_jw_kstr(&w, "type", "budget_exceeded");
		spz_jw_raw(&w, ",\"param\":null", 13);
		spz_jw_kstr(&w, "code", "budget_exceeded");
		budget_fields(&w, e, agent);
		spz_jw_raw(&w, "}}", 2);
		break;
	}
	return w.overflow ? 0 : w.len;
}

size_t spz_refusal_http1(enum spz_error_shape shape, const struct spz_budget_entry *e, const char *agent,
			 bool close_connection, char *out, size_t cap)
{
	char body[1024];
	size_t blen = spz_refusal_body(shape, e, agent, body, sizeof(body));
	if (!blen)
		return 0;
	int n = snprintf(out, cap,
			 "HTTP/1.1 429 Too Many Requests\r\n"
			 "content-type: application/json\r\n"
			 "content-length: %zu\r\n"
			 "x-should-retry: false\r\n"
			 "x-spaturzu-refused: %s\r\n"
			 "%s"
			 "%s"
			 "\r\n",
			 blen, e->budget_id, shape == SPZ_SHAPE_MESSAGE ? "x-amzn-errortype: ThrottlingException\r\n" : "",
			 close_connection ? "connection: close\r\n" : "");
	if (n < 0 || (size_t)n + blen > cap)
		return 0;
	memcpy(out + n, body, blen);
	return (size_t)n + blen;
}

size_t spz_refusal_h2(enum spz_error_shape shape, const struct spz_budget_entry *e, const char *agent, uint32_t stream,
		      uint32_t max_frame, char *out, size_t cap, size_t *data_len)
{
	char body[1024];
	size_t blen = spz_refusal_body(shape, e, agent, body, sizeof(body));
	if (!blen || max_frame < 1024 || cap < 9)
		return 0;
	uint8_t *o = (uint8_t *)out;
	char clen[24];
	int cl = snprintf(clen, sizeof(clen), "%zu", blen);
	struct {
		const char *n, *v;
		size_t vl;
	} fields[] = {
		{ ":status", "429", 3 },
		{ "content-type", "application/json", 16 },
		{ "content-length", clen, (size_t)cl },
		{ "x-should-retry", "false", 5 },
		{ "x-spaturzu-refused", e->budget_id, strnlen(e->budget_id, sizeof(e->budget_id)) },
		{ "x-amzn-errortype", "ThrottlingException", 19 },
	};
	size_t nfields = shape == SPZ_SHAPE_MESSAGE ? 6 : 5;
	size_t n = 9; /* the HEADERS frame header goes first, its length known last */
	for (size_t i = 0; i < nfields; i++) {
		size_t k = spz_hpack_put_field(o + n, cap - n, fields[i].n, strlen(fields[i].n), fields[i].v, fields[i].vl,
					       false);
		if (!k)
			return 0;
		n += k;
	}
	spz_h2_frame_header(o, n - 9, 0x1 /* HEADERS */, 0x4 /* END_HEADERS */, stream);
	if (cap - n < 9 + blen)
		return 0;
	n += spz_h2_frame_header(o + n, blen, 0x0 /* DATA */, 0x1 /* END_STREAM */, stream);
	memcpy(o + n, body, blen);
	n += blen;
	*data_len = blen;
	return n;
}
