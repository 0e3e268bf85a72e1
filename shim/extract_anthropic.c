/* Anthropic's Messages API (docs.anthropic.com/en/api/messages and
 * .../messages-streaming). Whole bodies carry usage at the top; streams put
 * it in message_start (message.usage) and overlay it with the non-null
 * fields of message_delta (usage). input_tokens excludes cache reads and
 * writes. With server-side compaction a message_delta also lists
 * usage.iterations[], one per model pass; what is billed is their sum, so
 * when iterations are present the call reports the sum. */
#include <string.h>

#include "extract.h"

static const struct spz_usage_path anthropic_usage[] = {
	SPZ_USAGE_PATH("usage.input_tokens", SPZ_U_INPUT),
	SPZ_USAGE_PATH("usage.output_tokens", SPZ_U_OUTPUT),
	SPZ_USAGE_PATH("usage.cache_read_input_tokens", SPZ_U_CACHE_READ),
	SPZ_USAGE_PATH("usage.cache_creation_input_tokens", SPZ_U_CACHE_WRITE),
	/* Writes kept an hour cost more than 5-minute ones: pricing needs the split. */
	SPZ_USAGE_PATH("usage.cache_creation.ephemeral_1h_input_tokens", SPZ_U_CACHE_WRITE_1H),
	{ NULL, 0, 0 },
};

static const struct spz_usage_path iteration_usage[] = {
	SPZ_USAGE_PATH("usage.iterations[].input_tokens", SPZ_U_INPUT),
	SPZ_USAGE_PATH("usage.iterations[].output_tokens", SPZ_U_OUTPUT),
	SPZ_USAGE_PATH("usage.iterations[].cache_read_input_tokens", SPZ_U_CACHE_READ),
	SPZ_USAGE_PATH("usage.iterations[].cache_creation_input_tokens", SPZ_U_CACHE_WRITE),
	{ NULL, 0, 0 },
};

static void add_iteration(struct spz_usage *sum, const struct spz_json_event *ev)
{
	struct spz_usage one = { 0 };
	if (!spz_usage_from_event(&one, ev, ev->path, iteration_usage) || !one.present)
		return;
	for (int f = 0; f < SPZ_U_COUNT; f++)
		if (one.present & (1u << f))
			spz_usage_set(sum, (enum spz_usage_field)f, sum->v[f] + one.v[f]);
}

static void anthropic_response(struct spz_call *c, const struct spz_json_event *ev)
{
	const char *p = ev->path;
	if (spz_starts(p, "message.", 8)) /* message_start wraps the message */
		p += 8;
	if (ev->type == SPZ_JSON_ARRAY && strcmp(p, "usage.iterations") == 0) {
		/* each message_delta lists all iterations: the last list counts */
		memset(&c->x.anthropic.iterations, 0, sizeof(c->x.anthropic.iterations));
		return;
	}
	if (spz_starts(p, "usage.iterations[].", 19)) {
		add_iteration(&c->x.anthropic.iterations, ev);
		return;
	}
	if (spz_usage_from_event(&c->usage, ev, p, anthropic_usage))
		return;
	if (ev->depth <= 2)
		spz_response_model_id(c, ev, p, "model", "id");
}

static const struct spz_header_read anthropic_headers[] = {
	SPZ_HEADER_READ("request-id", spz_header_request_id, 0),
	{ NULL, 0, NULL, 0 },
};

static void anthropic_finish(struct spz_call *c)
{
	if (c->x.anthropic.iterations.present)
		c->usage = c->x.anthropic.iterations;
}

const struct spz_api spz_api_anthropic_messages = {
	.provider = "anthropic",
	.kind = "messages",
	.request_value = spz_request_model_stream,
	.response_headers = anthropic_headers,
	.response_value = anthropic_response,
	.finish = anthropic_finish,
};
