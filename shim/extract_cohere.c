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

static void cohere_header(struct spz_call *c, const char *name, size_t name_len, const char *value,
			  size_t value_len)
{
	if (spz_header_is(name, name_len, "x-trace-id"))
		spz_copy_str(c->request_id, sizeof(c->request_id), value, value_len);
}

const struct spz_api spz_api_cohere_chat = {
	.provider = "cohere",
	.kind = "chat",
	.request_value = spz_request_model_stream,
	.response_header = cohere_header,
	.response_value = cohere_response,
};
