/* A finished call's record in two forms. The JSON the collector stores
 * (DESIGN.md "The record") is what the socket and the spool carry. The
 * record ring carries the same fields packed: counts as fixed-size
 * integers and strings with their lengths. A JSON record was about a
 * seventh of the instructions a call costs its host, most of them in
 * escaping and formatting; packing costs a few copies, and the collector
 * renders the JSON, off the host's CPU.
 *
 * Layout (little-endian, no padding): byte 0 SPZ_PACKED_MAGIC (a JSON
 * record begins with '{'), byte 1 the version, byte 2 flags, byte 3 the
 * error, then status (u16), the usage fields present (u16), latencyMs,
 * ttftMs, the start (Unix ms) and pid (i64 each), one i64 per usage field
 * present in field order, the strings (u16 length, then bytes) in the
 * order of enum spz_rec_str, and for a refusal scope and period (u8 each)
 * and the limit and current cost (i64 picodollars). Nothing follows. */
#ifndef SPZ_RECORD_PACK_H
#define SPZ_RECORD_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPZ_PACKED_MAGIC 0x01
#define SPZ_PACKED_VERSION 1

/* The record's counts, in its field order ("promptTokens" first). */
enum spz_rec_usage {
	SPZ_REC_PROMPT,
	SPZ_REC_COMPLETION,
	SPZ_REC_CACHED_INPUT,
	SPZ_REC_CACHE_WRITE,
	SPZ_REC_REASONING,
	SPZ_REC_CACHE_WRITE_1H,
	SPZ_REC_TOOL_PROMPT,
	SPZ_REC_USAGE_COUNT
};

enum spz_rec_str {
	SPZ_REC_ID,
	SPZ_REC_PROVIDER,
	SPZ_REC_MODEL,          /* asked for; "unknown" when the request named none */
	SPZ_REC_RESPONSE_MODEL, /* "" when absent */
	/* JSON members written as they are (runId, agentName, agentPath,
	 * tags...): the shim renders them once per run frame, escaped. */
	SPZ_REC_ATTRIBUTION,
	SPZ_REC_HOST,
	SPZ_REC_ENDPOINT,
	SPZ_REC_REQUEST_ID, /* "" when absent */
	SPZ_REC_EXE,
	SPZ_REC_BUDGET_ID, /* a refusal's budget; only when refused */
	SPZ_REC_STR_COUNT
};

enum spz_rec_error { SPZ_REC_OK, SPZ_REC_NO_RESPONSE, SPZ_REC_TRUNCATED };

#define SPZ_REC_STREAM 0x01
#define SPZ_REC_ESTIMATED 0x02 /* usageSource "tiktoken", not "provider" */
#define SPZ_REC_REFUSED 0x04
#define SPZ_REC_HAS_TTFT 0x08
#define SPZ_REC_FLAGS 0x0f

struct spz_rec_text {
	const char *s;
	size_t len;
};
/* A string literal as a record's text. */
#define SPZ_REC_TEXT(lit) ((struct spz_rec_text){ lit, sizeof(lit) - 1 })

struct spz_record_fields {
	struct spz_rec_text str[SPZ_REC_STR_COUNT];
	uint8_t flags;
	uint8_t error; /* enum spz_rec_error */
	uint16_t status;
	uint16_t usage_present; /* bit per enum spz_rec_usage */
	int64_t usage[SPZ_REC_USAGE_COUNT];
	int64_t latency_ms, ttft_ms, started_ms, pid;
	uint8_t refusal_scope;  /* 0 project, 1 agent */
	uint8_t refusal_period; /* 0 daily, 1 monthly */
	int64_t limit_pusd, current_pusd;
};

/* The packed size of f, for a buffer; SIZE_MAX when a string is longer
 * than 65,535 bytes (then f cannot be packed). */
size_t spz_record_packed_size(const struct spz_record_fields *f);
/* Packs f into buf; its length, or 0 when it does not fit (or a string is
 * longer than 65,535 bytes). */
size_t spz_record_pack(const struct spz_record_fields *f, char *buf, size_t cap);
/* The same where size is spz_record_packed_size(f) (not SIZE_MAX) and buf
 * has room for it: nothing is measured twice. Returns size. */
size_t spz_record_pack_sized(const struct spz_record_fields *f, char *buf, size_t size);
/* Reads a packed record (untrusted: any bytes) into f, whose strings then
 * point into buf (not NUL-terminated). 0, or -1 when buf is not exactly
 * one packed record of this version. */
int spz_record_unpack(const char *buf, size_t len, struct spz_record_fields *f);
/* The record as JSON: escaped strings, invalid UTF-8 replaced, so that it
 * is valid JSON whatever the strings hold (the attribution is written as
 * it is: the collector's decoder checks what it makes). Its length without
 * the NUL written after it, or 0 when it does not fit. */
size_t spz_record_render(const struct spz_record_fields *f, char *buf, size_t cap);
/* A bound on spz_record_render's length for f (every string byte escaped). */
size_t spz_record_render_bound(const struct spz_record_fields *f);

#endif
