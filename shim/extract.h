/* The provider extractors' shared declarations: one spz_api per provider API. */
#ifndef SPZ_EXTRACT_H
#define SPZ_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <strings.h>

#include "call.h"

static inline bool spz_header_is_n(const char *name, size_t len, const char *want, size_t want_len)
{
	/* want is lower case: the first byte, folded, settles most names
	 * before the library call. */
	return len == want_len && (name[0] | 0x20) == want[0] && strncasecmp(name, want, want_len) == 0;
}

static inline bool spz_header_is(const char *name, size_t len, const char *want)
{
	return spz_header_is_n(name, len, want, __builtin_strlen(want));
}

extern const struct spz_api spz_api_openai_chat;
extern const struct spz_api spz_api_openai_completions;
extern const struct spz_api spz_api_openai_embeddings;
extern const struct spz_api spz_api_openai_responses;
extern const struct spz_api spz_api_anthropic_messages;
extern const struct spz_api spz_api_gemini_generate;
extern const struct spz_api spz_api_bedrock_converse;
extern const struct spz_api spz_api_bedrock_invoke;
extern const struct spz_api spz_api_cohere_chat;

#endif
