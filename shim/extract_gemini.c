/* Google's Gemini API and Vertex AI generateContent
 * (ai.google.dev/api/generate-content): the model is in the path
 * (".../models/{model}:generateContent"), usage in usageMetadata:
 * promptTokenCount (includes cachedContentTokenCount), candidatesTokenCount,
 * thoughtsTokenCount, toolUsePromptTokenCount. streamGenerateContent sends either SSE (alt=sse) or one
 * JSON array delivered piecemeal; each chunk's usageMetadata is cumulative,
 * and fields may appear or vanish between chunks, so the last object counts
 * whole: a new usageMetadata object clears what earlier ones said. */
#include <string.h>

#include "extract.h"

static const struct spz_usage_path gemini_usage[] = {
	SPZ_USAGE_PATH("usageMetadata.promptTokenCount", SPZ_U_INPUT),
	SPZ_USAGE_PATH("usageMetadata.candidatesTokenCount", SPZ_U_OUTPUT),
	SPZ_USAGE_PATH("usageMetadata.cachedContentTokenCount", SPZ_U_CACHE_READ),
	SPZ_USAGE_PATH("usageMetadata.thoughtsTokenCount", SPZ_U_REASONING),
	/* Outside promptTokenCount, billed as input. */
	SPZ_USAGE_PATH("usageMetadata.toolUsePromptTokenCount", SPZ_U_TOOL_INPUT),
	{ NULL, 0, 0 },
};

static void gemini_path(struct spz_call *c, const char *path, size_t len)
{
	/* .../models/{model}:{method} (publishers/google/models on Vertex) */
	const char *m = NULL;
	for (size_t i = 0; i + 8 <= len; i++)
		if (memcmp(path + i, "/models/", 8) == 0)
			m = path + i + 8;
	if (!m)
		return;
	const char *colon = memchr(m, ':', len - (size_t)(m - path));
	if (!colon)
		return;
	spz_copy_str(c->model, sizeof(c->model), m, (size_t)(colon - m));
	size_t mlen = len - (size_t)(colon - path);
	if (mlen >= 22 && memcmp(colon, ":streamGenerateContent", 22) == 0) {
		c->stream_requested = true;
		c->stream = true;
	}
}

static void gemini_response(struct spz_call *c, const struct spz_json_event *ev)
{
	const char *p = ev->path;
	if (spz_starts(p, "[].", 3)) /* an element of the JSON-array stream */
		p += 3;
	if (ev->type == SPZ_JSON_OBJECT && strcmp(p, "usageMetadata") == 0) {
		memset(&c->usage, 0, sizeof(c->usage));
		return;
	}
	if (!spz_usage_from_event(&c->usage, ev, p, gemini_usage))
		spz_response_model_id(c, ev, p, "modelVersion", "responseId");
}

const struct spz_api spz_api_gemini_generate = {
	.provider = "gemini",
	.kind = "generateContent",
	.request_path = gemini_path,
	.response_value = gemini_response,
};
