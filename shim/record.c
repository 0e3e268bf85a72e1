/* A call's record fields. Tokens a provider did not report are left out, not
 * written as 0; the requested model is "unknown" when the request named none,
 * as the gateway expects. */
#include "record.h"

#include <string.h>

#include "jsonw.h"

_Static_assert((int)SPZ_U_COUNT == (int)SPZ_REC_USAGE_COUNT, "usage fields differ");
_Static_assert((int)SPZ_U_INPUT == (int)SPZ_REC_PROMPT && (int)SPZ_U_OUTPUT == (int)SPZ_REC_COMPLETION &&
		       (int)SPZ_U_CACHE_READ == (int)SPZ_REC_CACHED_INPUT &&
		       (int)SPZ_U_CACHE_WRITE == (int)SPZ_REC_CACHE_WRITE &&
		       (int)SPZ_U_REASONING == (int)SPZ_REC_REASONING &&
		       (int)SPZ_U_CACHE_WRITE_1H == (int)SPZ_REC_CACHE_WRITE_1H &&
		       (int)SPZ_U_TOOL_INPUT == (int)SPZ_REC_TOOL_PROMPT,
	       "usage fields in another order");

static struct spz_rec_text text(const char *s)
{
	return (struct spz_rec_text){ s, strlen(s) };
}

void spz_record_fields_of(const struct spz_call *c, const struct spz_config *cfg, struct spz_record_fields *f,
			  char fallback[SPZ_RECORD_FALLBACK_ATTR])
{
	f->str[SPZ_REC_ID] = text(c->id);
	f->str[SPZ_REC_PROVIDER] = text(c->provider);
	f->str[SPZ_REC_MODEL] = text(c->model[0] ? c->model : "unknown");
	f->str[SPZ_REC_RESPONSE_MODEL] = text(c->response_model);
	if (c->attribution) {
		f->str[SPZ_REC_ATTRIBUTION] = text(c->attribution);
	} else {
		/* No memory for the full attribution: the process's, untagged. */
		const struct spz_agent_path *p = &cfg->attr.path;
		const char *agent = p->depth ? p->agent[p->depth - 1] : "unknown";
		struct spz_jw w;
		spz_jw_init(&w, fallback, SPZ_RECORD_FALLBACK_ATTR);
		spz_jw_raw(&w, "\"runId\":", 8);
		spz_jw_str(&w, cfg->attr.run_id, strlen(cfg->attr.run_id));
		spz_jw_raw(&w, ",\"agentName\":", 13);
		spz_jw_str(&w, agent, strlen(agent));
		f->str[SPZ_REC_ATTRIBUTION] = (struct spz_rec_text){ fallback, w.overflow ? 0 : w.len };
	}
	f->str[SPZ_REC_HOST] = text(c->host);
	f->str[SPZ_REC_ENDPOINT] = text(c->endpoint);
	f->str[SPZ_REC_REQUEST_ID] = text(c->request_id);
	f->str[SPZ_REC_EXE] = text(cfg->exe);
	f->flags = (c->stream ? SPZ_REC_STREAM : 0) | (c->usage_estimated ? SPZ_REC_ESTIMATED : 0);
	f->usage_present = (uint16_t)(c->usage.present & ((1u << SPZ_REC_USAGE_COUNT) - 1));
	memcpy(f->usage, c->usage.v, sizeof(f->usage));
	/* A transport failure with no HTTP status is 500 (GATEWAY.md). */
	f->status = (uint16_t)(c->no_response || c->status <= 0 || c->status > 999 ? 500 : c->status);
	/* A refusal says why on its own; else no response, else a cut one. */
	f->error = SPZ_REC_OK;
	if (!c->refused && c->no_response)
		f->error = SPZ_REC_NO_RESPONSE;
	else if (!c->refused && c->truncated)
		f->error = SPZ_REC_TRUNCATED;
	if (c->refused) {
		f->flags |= SPZ_REC_REFUSED;
		f->str[SPZ_REC_BUDGET_ID] = text(c->refusal.budget_id);
		f->refusal_scope = c->refusal.scope == SPZ_BUDGET_AGENT;
		f->refusal_period = c->refusal.period == SPZ_BUDGET_MONTHLY;
		f->limit_pusd = c->refusal.limit_pusd;
		f->current_pusd = c->refusal.current_pusd;
	} else {
		f->str[SPZ_REC_BUDGET_ID] = SPZ_REC_TEXT("");
	}
	int64_t end = c->end_ns ? c->end_ns : c->start_ns;
	f->latency_ms = (end - c->start_ns) / 1000000;
	f->ttft_ms = 0;
	if (c->stream && c->first_byte_ns) {
		f->flags |= SPZ_REC_HAS_TTFT;
		f->ttft_ms = (c->first_byte_ns - c->start_ns) / 1000000;
	}
	f->started_ms = c->start_wall_ms;
	f->pid = spz_pid();
}

size_t spz_record_build(const struct spz_call *c, const struct spz_config *cfg, char *buf, size_t cap)
{
	struct spz_record_fields f;
	char fallback[SPZ_RECORD_FALLBACK_ATTR];
	spz_record_fields_of(c, cfg, &f, fallback);
	return spz_record_render(&f, buf, cap);
}
