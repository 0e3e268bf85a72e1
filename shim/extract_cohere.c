/* Cohere's v2 Chat API (docs.cohere.com/reference/chat): usage.tokens holds
 * the input and output counts (input includes cached_tokens), usage.
 * billed_units what was billed. Streams end with a "message-end" event whose
 * delta.usage has the same shape. The response names no model. */
#include <string.h>

#include "extract.h"

static const struct spz_usage_path cohere_usage[] = {
	SPZ_USAGE_PATH("usage.tokens.input_tokens", SPZ_U_INPUT),
	SPZ_USAGE_PATH("usage.tokens.output_tokens", SPZ_U_OUTPUT),
	SPZ_USAGE_PATH("usage.cached_tokens", SPZ_U_CACHE_READ),
	{ NULL, 0, 0 },
};

static void cohere_response(struct spz_call *c, const struct spz_json_event *ev)
{
	const char *p = ev->path;
	if (spz_starts(p, "delta.", 6)) /* message-end event */
		p += 6;
	if (!spz_usage_from_event(&c->usage, ev, p, cohere_usage))
		spz_response_model_id(c, ev, p, "model", "id"); /* v2 names no model today */
}

static const struct spz_header_read cohere_headers[] = {
	SPZ_HEADER_READ("x-trace-id", spz_header_request_id, 0),
	{ NULL, 0, NULL, 0 },
};

const struct spz_api spz_api_cohere_chat = {
	.provider = "cohere",
	.kind = "chat",
	.request_value = spz_request_model_stream,
	.response_headers = cohere_headers,
	.response_value = cohere_response,
};
