/* Local token estimates for calls whose provider reported no usage (a stream
 * without stream_options.include_usage, a stream cut off). The request's
 * prompt text and the streamed completion text are kept, bounded, in this
 * process only, and tokenized with the model family's BPE at the end, and
 * only when the estimate is needed: calls with usage pay a copy, not BPE. */
#ifndef SPZ_ESTIMATE_H
#define SPZ_ESTIMATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "call.h"

#define SPZ_ESTIMATE_TEXT_MAX (64 * 1024) /* per side; beyond, scaled by tokens per byte */

struct spz_textbuf {
	size_t used;
	size_t open;       /* offset of the last segment's length */
	uint64_t overflow; /* bytes past the bound */
	uint32_t segments;
	bool dropping;     /* the open segment did not fit: its bytes are overflow */
	size_t cap;
	char *data;        /* segments: u32 length, bytes; grows to SPZ_ESTIMATE_TEXT_MAX */
};

struct spz_estimate {
	struct spz_textbuf prompt;     /* one segment per string (role, content, name) */
	struct spz_textbuf completion; /* one segment per streamed field */
	uint32_t messages;             /* chat messages, each costs 3 tokens */
	uint32_t names;                /* named messages cost 1 more */
	int completion_field;          /* which streamed field the open segment is */
};

/* Adds prompt text; first starts a segment (each string is its own). */
void spz_estimate_prompt(struct spz_call *c, const char *buf, size_t len, bool first);
/* Adds streamed completion text of a field (content, arguments...): the
 * deltas of one field are one text, a new field starts a segment. */
void spz_estimate_completion(struct spz_call *c, int field, const char *buf, size_t len);
void spz_estimate_message(struct spz_call *c, bool named);
/* Whether the call's counts are to be estimated: the provider reported no
 * usage for a call it answered. */
static inline bool spz_estimate_wanted(const struct spz_call *c)
{
	return !c->usage.present && c->status < 400 && !c->no_response;
}
/* If spz_estimate_wanted, fills input and output from the kept
 * text and marks usage_estimated. Frees what was kept either way. */
void spz_estimate_settle(struct spz_call *c);
void spz_estimate_free(struct spz_call *c);

#endif
