/* OpenAI's API and the OpenAI-compatible ones: chat completions, legacy
 * completions, embeddings and the Responses API, whole bodies and SSE chunks.
 * Usage shapes (platform.openai.com/docs/api-reference): chat and embeddings
 * report usage.prompt_tokens / completion_tokens with *_details; Responses
 * reports usage.input_tokens / output_tokens, inside "response" on stream
 * events. Prompt counts include cached tokens. */
#include <string.h>

#include "extract.h"

static void openai_request(struct spz_call *c, const struct spz_json_event *ev)
{
	if (ev->depth != 1)
		return;
	if (ev->type == SPZ_JSON_STRING && strcmp(ev->path, "model") == 0)
		spz_copy_str(c->model, sizeof(c->model), ev->value, ev->value_len);
	else if (strcmp(ev->path, "stream") == 0)
		c->stream_requested = ev->type == SPZ_JSON_TRUE;
}

struct usage_path {
	const char *path;
	enum spz_usage_field field;
};

static const struct usage_path openai_usage[] = {
	{ "usage.prompt_tokens", SPZ_U_INPUT },
	{ "usage.completion_tokens", SPZ_U_OUTPUT },
	{ "usage.prompt_tokens_details.cached_tokens", SPZ_U_CACHE_READ },
	{ "usage.completion_tokens_details.reasoning_tokens", SPZ_U_REASONING },
	{ "usage.input_tokens", SPZ_U_INPUT },
	{ "usage.output_tokens", SPZ_U_OUTPUT },
	{ "usage.input_tokens_details.cached_tokens", SPZ_U_CACHE_READ },
	{ "usage.output_tokens_details.reasoning_tokens", SPZ_U_REASONING },
	{ NULL, 0 },
};

static void openai_response(struct spz_call *c, const struct spz_json_event *ev)
{
	const char *p = ev->path;
	/* Responses API stream events wrap the response object. */
	if (strncmp(p, "response.", 9) == 0)
		p += 9;
	if (ev->type == SPZ_JSON_NUMBER) {
		int64_t n;
		for (const struct usage_path *u = openai_usage; u->path; u++) {
			if (strcmp(p, u->path) == 0) {
				if (spz_event_count(ev, &n) == 0)
					spz_usage_set(&c->usage, u->field, n);
				return;
			}
		}
		return;
	}
	if (ev->type != SPZ_JSON_STRING || ev->value_len == 0)
		return;
	if (strcmp(p, "model") == 0)
		spz_copy_str(c->response_model, sizeof(c->response_model), ev->value, ev->value_len);
	else if (strcmp(p, "id") == 0 && c->body_id[0] == '\0')
		spz_copy_str(c->body_id, sizeof(c->body_id), ev->value, ev->value_len);
}

static void openai_header(struct spz_call *c, const char *name, size_t name_len, const char *value,
			  size_t value_len)
{
	if (spz_header_is(name, name_len, "x-request-id"))
		spz_copy_str(c->request_id, sizeof(c->request_id), value, value_len);
}

#define OPENAI_API(kind_) \
	{ "openai", kind_, openai_request, openai_response, openai_header }

const struct spz_api spz_api_openai_chat = OPENAI_API("chat");
const struct spz_api spz_api_openai_completions = OPENAI_API("completions");
const struct spz_api spz_api_openai_embeddings = OPENAI_API("embeddings");
const struct spz_api spz_api_openai_responses = OPENAI_API("responses");
