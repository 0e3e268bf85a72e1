/* The response that stands in for the provider's when a budget refuses a
 * call. */
#ifndef SPZ_REFUSAL_H
#define SPZ_REFUSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/budget_map.h"

/* Which provider error body the client's SDK expects. */
enum spz_error_shape {
	SPZ_SHAPE_OPENAI,    /* {"error": {"message", "type", "code", ...}}: OpenAI and compatible */
	SPZ_SHAPE_ANTHROPIC, /* {"type": "error", "error": {...}} */
	SPZ_SHAPE_GOOGLE,    /* {"error": {"code": 429, "status": ..., "details": [...]}}: Gemini, Vertex */
	SPZ_SHAPE_MESSAGE,   /* {"message": ...}: Bedrock, Cohere */
};

/* "spaturzu: agent/daily budget exceeded (5.01 >= 5.00) for agent \"x\"" */
size_t spz_refusal_message(const struct spz_budget_entry *e, const char *agent, char *out, size_t cap);
/* The JSON body; 0 if it does not fit. */
size_t spz_refusal_body(enum spz_error_shape shape, const struct spz_budget_entry *e, const char *agent, char *out,
			size_t cap);
/* A whole HTTP/1.1 429 response; 0 if it does not fit. */
size_t spz_refusal_http1(enum spz_error_shape shape, const struct spz_budget_entry *e, const char *agent,
			 bool close_connection, char *out, size_t cap);
/* The same answer as HTTP/2 frames on `stream`: HEADERS (END_HEADERS,
 * encoded with static indexes and literals only, so the client's HPACK
 * decoder keeps its table) and DATA frames of at most max_frame bytes, the
 * last with END_STREAM. *data_len receives the DATA payload total, which
 * the client's flow control counts. 0 if it does not fit. */
size_t spz_refusal_h2(enum spz_error_shape shape, const struct spz_budget_entry *e, const char *agent, uint32_t stream,
		      uint32_t max_frame, char *out, size_t cap, size_t *data_len);

#endif
