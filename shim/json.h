/* Incremental JSON scanner: fed arbitrary slices, reports each value with its
 * dotted path ("usage.prompt_tokens", "choices[].delta"). Keeps no document in
 * memory: only a bounded path, the current key and a bounded prefix of the
 * current scalar. Never allocates. */
#ifndef SPZ_JSON_H
#define SPZ_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPZ_JSON_PATH_MAX 256   /* bytes of dotted path kept */
#define SPZ_JSON_KEY_MAX 64     /* bytes of one key kept */
#define SPZ_JSON_VALUE_MAX 256  /* bytes of one scalar kept */
#define SPZ_JSON_PATH_DEPTH 32  /* levels with a path; deeper values are not reported */
#define SPZ_JSON_DEPTH_MAX 1024 /* levels followed at all; deeper is an error */

enum spz_json_type {
	SPZ_JSON_STRING,
	SPZ_JSON_NUMBER,
	SPZ_JSON_TRUE,
	SPZ_JSON_FALSE,
	SPZ_JSON_NULL,
	SPZ_JSON_OBJECT, /* an object begins */
	SPZ_JSON_ARRAY,  /* an array begins */
	SPZ_JSON_END,    /* the innermost container ends */
	SPZ_JSON_DOC_END /* a top-level value is complete */
};

struct spz_json_event {
	enum spz_json_type type;
	const char *path; /* NUL-terminated; "" for the top level */
	size_t path_len;
	const char *value; /* strings (decoded) and numbers; NUL-terminated */
	size_t value_len;
	bool truncated; /* the value was longer than SPZ_JSON_VALUE_MAX */
	unsigned depth; /* 0 for a top-level value */
};

typedef void (*spz_json_cb)(void *ud, const struct spz_json_event *ev);
/* Decoded bytes of a string value as they are decoded, whatever its length
 * (the event at its end still comes); first marks a new string. path is
 * NUL-terminated and path_len long. */
typedef void (*spz_json_chunk_cb)(void *ud, const char *path, size_t path_len, const char *buf, size_t len,
				  bool first);

struct spz_json {
	spz_json_cb cb;
	spz_json_chunk_cb chunk_cb;
	void *ud;
	bool chunk_first;
	bool in_string; /* buf_put is taking a string value (not a key, not a number) */
	uint8_t state;
	uint8_t resume; /* state to enter after a string/escape completes */
	bool in_key;
	bool error;
	unsigned report; /* bit per enum spz_json_type reported */
	bool skip_next;      /* spz_json_skip was called during a container's event */
	bool skip_in_string; /* passing over a container: inside a string */
	bool skip_escape;    /* ... right after a backslash */
	uint32_t skip_depth; /* ... containers open inside it */
	unsigned depth;
	uint32_t unicode;    /* \uXXXX accumulator */
	uint32_t surrogate;  /* pending high surrogate, 0 if none */
	uint8_t hex_left;
	uint8_t lit_pos;
	const char *lit;
	uint8_t lit_type;
	size_t path_len;
	uint16_t level_path[SPZ_JSON_PATH_DEPTH + 1]; /* path length of each container */
	bool path_overflow_at[SPZ_JSON_PATH_DEPTH + 1];
	/* From here on, spz_json_init leaves the bytes as they are: each is
	 * written before it is read. */
	uint8_t ctx_bits[SPZ_JSON_DEPTH_MAX / 8]; /* 1 = array, 0 = object */
	char path[SPZ_JSON_PATH_MAX + 1]; /* NUL-terminated when handed to a callback, not before */
	char key[SPZ_JSON_KEY_MAX + 1];
	size_t key_len;
	bool key_truncated;
	char value[SPZ_JSON_VALUE_MAX + 1];
	size_t value_len;
	bool value_truncated;
};

void spz_json_init(struct spz_json *js, spz_json_cb cb, void *ud);
/* Streams string values to chunk_cb too (NULL: not). */
void spz_json_set_chunk_cb(struct spz_json *js, spz_json_chunk_cb chunk_cb);
/* Reports only the event types whose bits (1u << SPZ_JSON_...) are in mask;
 * all by default. A consumer that never looks at ends saves their calls. */
void spz_json_report_only(struct spz_json *js, unsigned mask);
/* Called from the callback during an SPZ_JSON_OBJECT or SPZ_JSON_ARRAY
 * event: the container just begun is of no interest. It is passed over
 * without events (and without checking that it is well-formed inside)
 * until its end, which is reported as usual. */
void spz_json_skip(struct spz_json *js);
/* Starts a new document (for SSE, where each event carries one). */
void spz_json_reset(struct spz_json *js);
/* Returns 0, or -1 once the input is not JSON (the scanner then ignores the
 * rest until reset). */
int spz_json_feed(struct spz_json *js, const char *buf, size_t len);
/* Ends the input: a pending number at the top level is reported. */
int spz_json_finish(struct spz_json *js);

/* The value of a hexadecimal digit, or -1. */
static inline int spz_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parses a JSON integer value into *out (no fraction, no exponent, fits in
 * int64, not negative). Returns 0 or -1. */
int spz_json_parse_count(const char *s, size_t len, int64_t *out);

#endif
