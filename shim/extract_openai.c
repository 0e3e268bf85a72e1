/* OpenAI's API and the OpenAI-compatible ones: chat completions, legacy
 * completions, embeddings and the Responses API, whole bodies and SSE chunks.
 * Usage shapes (platform.openai.com/docs/api-reference): chat and embeddings
 * report usage.prompt_tokens / completion_tokens with *_details; Responses
 * reports usage.input_tokens / output_tokens, inside "response" on stream
 * events. Prompt counts include cached tokens. Compatible providers add:
 * Groq x_groq.usage on stream chunks, DeepSeek prompt_cache_hit_tokens,
 * OpenRouter prompt_tokens_details.cache_write_tokens. xAI reports
 * reasoning_tokens outside completion_tokens; both are kept as reported. */
#include <string.h>

#include "estimate.h"
#include "extract.h"

static void openai_request(struct spz_call *c, const struct spz_json_event *ev)
{
	/* For an estimate: messages cost 3 tokens each, a name 1 more.
	 * Embeddings always report usage: never estimated; nor is a call
	 * whose response reported it. */
	bool estimable = c->api != &spz_api_openai_embeddings && !c->prompt_unneeded;
	if ((ev->type == SPZ_JSON_OBJECT || ev->type == SPZ_JSON_ARRAY) && ev->depth == 1) {
		/* Of the top level's containers only the prompt's are read: tools
		 * and their schemas, response formats and metadata (an agent's
		 * request is mostly these) are passed over unread, and so is an
		 * embeddings request's input. */
		if (!estimable || !(SPZ_PATH_IS(ev, "messages") || SPZ_PATH_IS(ev, "input") || SPZ_PATH_IS(ev, "prompt")))
			c->skip_value = true;
		return;
	}
	if (estimable && ev->type == SPZ_JSON_OBJECT &&
	    (SPZ_PATH_IS(ev, "messages[]") || SPZ_PATH_IS(ev, "input[]")))
		spz_estimate_message(c, false);
	else if (estimable && ev->type == SPZ_JSON_STRING && SPZ_PATH_IS(ev, "messages[].name"))
		spz_estimate_message(c, true);
	spz_request_model_stream(c, ev);
}

/* Azure OpenAI names the deployment in the path, not the body. */
static void openai_path(struct spz_call *c, const char *path, size_t len)
{
	static const char prefix[] = "/openai/deployments/";
	size_t n = sizeof(prefix) - 1;
	if (len <= n || memcmp(path, prefix, n) != 0 || c->model[0])
		return;
	const char *end = memchr(path + n, '/', len - n);
	spz_copy_str(c->model, sizeof(c->model), path + n, end ? (size_t)(end - path) - n : len - n);
}

/* Paths with their lengths: every string of every body is looked up, and
 * most differ in length from all of them. */
struct text_path {
	const char *path;
	size_t len;
};
#define TEXT_PATH(p) { p, sizeof(p) - 1 }

/* The prompt text, kept in case the response reports no usage. */
static const struct text_path prompt_paths[] = {
	TEXT_PATH("messages[].role"), TEXT_PATH("messages[].content"), TEXT_PATH("messages[].content[].text"),
	TEXT_PATH("messages[].name"), TEXT_PATH("prompt"), TEXT_PATH("input"), TEXT_PATH("instructions"),
	TEXT_PATH("input[].role"), TEXT_PATH("input[].content"), TEXT_PATH("input[].content[].text"), { NULL, 0 },
};

/* Streamed completion text: chat deltas, legacy completions, Responses. */
static const struct text_path completion_paths[] = {
	TEXT_PATH("choices[].delta.content"), TEXT_PATH("choices[].delta.tool_calls[].function.arguments"),
	TEXT_PATH("choices[].text"), TEXT_PATH("delta"), TEXT_PATH("choices[].delta.refusal"), { NULL, 0 },
};

static int path_index(const struct text_path *paths, const char *path, size_t n)
{
	for (int i = 0; paths[i].path; i++)
		if (paths[i].len == n && memcmp(paths[i].path, path, n) == 0)
			return i;
	return -1;
}

static void openai_request_string(struct spz_call *c, const char *path, size_t path_len, const char *buf, size_t len,
				  bool first)
{
	/* Embeddings always report usage and are never streamed: their input
	 * (often the largest bodies) is never needed for an estimate. */
	if (c->api != &spz_api_openai_embeddings && path_index(prompt_paths, path, path_len) >= 0)
		spz_estimate_prompt(c, buf, len, first);
}

static void openai_response_string(struct spz_call *c, const char *path, size_t path_len, const char *buf, size_t len,
				   bool first)
{
	(void)first;
	/* Every string of every chunk comes here; the completion's paths all
	 * begin with c or d (a chunk's id, object and model do not). */
	if (!c->stream || (path[0] != 'c' && path[0] != 'd'))
		return;
	int field = path_index(completion_paths, path, path_len);
	if (field >= 0)
		spz_estimate_completion(c, field + 1, buf, len);
}

/* By the first letter after "usage.": each event is looked up in a table
 * of two to four paths, not of ten. */
static const struct spz_usage_path openai_usage_p[] = {
	SPZ_USAGE_PATH("usage.prompt_tokens", SPZ_U_INPUT),
	SPZ_USAGE_PATH("usage.prompt_tokens_details.cached_tokens", SPZ_U_CACHE_READ),
	SPZ_USAGE_PATH("usage.prompt_cache_hit_tokens", SPZ_U_CACHE_READ),
	SPZ_USAGE_PATH("usage.prompt_tokens_details.cache_write_tokens", SPZ_U_CACHE_WRITE),
	{ NULL, 0, 0 },
};
static const struct spz_usage_path openai_usage_c[] = {
	SPZ_USAGE_PATH("usage.completion_tokens", SPZ_U_OUTPUT),
	SPZ_USAGE_PATH("usage.completion_tokens_details.reasoning_tokens", SPZ_U_REASONING),
	{ NULL, 0, 0 },
};
static const struct spz_usage_path openai_usage_i[] = {
	SPZ_USAGE_PATH("usage.input_tokens", SPZ_U_INPUT),
	SPZ_USAGE_PATH("usage.input_tokens_details.cached_tokens", SPZ_U_CACHE_READ),
	{ NULL, 0, 0 },
};
static const struct spz_usage_path openai_usage_o[] = {
	SPZ_USAGE_PATH("usage.output_tokens", SPZ_U_OUTPUT),
	SPZ_USAGE_PATH("usage.output_tokens_details.reasoning_tokens", SPZ_U_REASONING),
	{ NULL, 0, 0 },
};

static const struct spz_usage_path *openai_usage_table(const char *p, size_t len)
{
	if (len <= 6 || memcmp(p, "usage.", 6) != 0)
		return NULL;
	switch (p[6]) {
	case 'p': return openai_usage_p;
	case 'c': return openai_usage_c;
	case 'i': return openai_usage_i;
	case 'o': return openai_usage_o;
	}
	return NULL; /* total_tokens and the rest: not counted apart */
}

static void openai_response(struct spz_call *c, const struct spz_json_event *ev)
{
	/* Containers that hold nothing counted are passed over unread: a whole
	 * (not streamed) body's choices, the completion, which only a stream's
	 * estimate needs; an embeddings list's vectors (a number each); a
	 * stream's logprobs. */
	if (ev->type == SPZ_JSON_ARRAY || ev->type == SPZ_JSON_OBJECT) {
		if ((ev->depth == 1 && ((!c->stream && SPZ_PATH_IS(ev, "choices")) || SPZ_PATH_IS(ev, "data"))) ||
		    SPZ_PATH_IS(ev, "choices[].logprobs"))
			c->skip_value = true;
		return;
	}
	const char *p = ev->path;
	/* Responses API stream events wrap the response object; Groq's stream
	 * chunks carry usage under x_groq. */
	if (spz_starts(p, "response.", 9))
		p += 9;
	else if (spz_starts(p, "x_groq.", 7))
		p += 7;
	/* What is read begins with u (usage), m (model) or i (id): a body's
	 * other values (object, created, choices, service_tier, a stream's
	 * every delta) need no lookup. */
	if (p[0] == 'u') {
		const struct spz_usage_path *table =
			ev->type == SPZ_JSON_NUMBER ? openai_usage_table(p, ev->path_len - (size_t)(p - ev->path)) : NULL;
		if (table)
			spz_usage_from_event(&c->usage, ev, p, table);
	} else if (p[0] == 'm' || p[0] == 'i')
		spz_response_model_id(c, ev, p, "model", "id");
}

/* Azure's API Management names its requests by apim-request-id. */
static const struct spz_header_read openai_headers[] = {
	SPZ_HEADER_READ("x-request-id", spz_header_request_id, 0),
	SPZ_HEADER_READ("apim-request-id", spz_header_request_id, 0),
	{ NULL, 0, NULL, 0 },
};

#define OPENAI_API(kind_)                                                                              \
	{                                                                                              \
		.provider = "openai-compatible", .kind = kind_, .request_path = openai_path,           \
		.request_value = openai_request, .request_string = openai_request_string,              \
		.response_headers = openai_headers, .response_value = openai_response,                   \
		.response_string = openai_response_string, .response_string_streamed_only = true,      \
	}

const struct spz_api spz_api_openai_chat = OPENAI_API("chat");
const struct spz_api spz_api_openai_completions = OPENAI_API("completions");
const struct spz_api spz_api_openai_embeddings = OPENAI_API("embeddings");
const struct spz_api spz_api_openai_responses = OPENAI_API("responses");
