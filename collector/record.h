/* Decoding and validation of one record as it arrives from a shim (datagram,
 * spool line or ring slot; JSON, or packed as common/record_pack.h says, which
 * is rendered to JSON first and then checked alike). Anything malformed,
 * oversized or hostile is rejected with a reason; a valid record comes back
 * normalised: known fields only, in a fixed order, with the values the store
 * indexes pulled out. */
#ifndef SPZ_COLLECTOR_RECORD_H
#define SPZ_COLLECTOR_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPZ_RECORD_MAX (64 * 1024)

enum spz_token_field {
	SPZ_TOK_PROMPT,
	SPZ_TOK_COMPLETION,
	SPZ_TOK_CACHED_INPUT,
	SPZ_TOK_CACHE_WRITE,
	SPZ_TOK_REASONING,
	SPZ_TOK_CACHE_WRITE_1H,
	SPZ_TOK_TOOL_PROMPT,
	SPZ_TOK_COUNT
};

struct spz_record {
	json_t *json; /* the validated object, owned; NULL when the fast path took it */
	char *text;   /* its compact JSON for the store, owned: the datagram itself
		       * when it held known fields only, else re-serialised */
	const char *id;
	const char *provider;
	const char *model;
	const char *response_model; /* NULL if absent */
	const char *run_id;
	const char *agent_name;
	const char *started_at;
	const char *usage_source;
	int status;
	int64_t tokens[SPZ_TOK_COUNT]; /* -1 when absent */
	int64_t latency_ms;            /* -1 when absent */
	int stream;                    /* -1 absent, else 0/1 */
	int64_t pid;                   /* -1 when absent */
	bool refused;                  /* a budget refusal */
	size_t strings_len;
	char strings[1100]; /* the fast path's copies of the strings above; last,
			     * so that clearing a record need not touch it */
};

extern const char *const spz_token_names[SPZ_TOK_COUNT];

/* Returns 0 and fills rec (free with spz_record_clear), or -1 with a short
 * reason in why. What the shim sends takes a fast path (one scan, no
 * allocation but the stored copy); anything else, including every record
 * that would be rejected, goes through jansson. */
int spz_record_decode(const char *buf, size_t len, struct spz_record *rec, char *why, size_t why_len);
void spz_record_clear(struct spz_record *rec);
/* The full decoder alone (jansson), for the fuzz target that holds the fast
 * path to its verdicts. */
int spz_record_decode_full(const char *buf, size_t len, struct spz_record *rec, char *why, size_t why_len);

#endif
