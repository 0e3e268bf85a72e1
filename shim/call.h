/* One LLM call as the shim observes it: what the request asked for, what the
 * response said, and when. Filled by the connection tracker and the provider
 * extractors, turned into a record when the response ends. */
#ifndef SPZ_CALL_H
#define SPZ_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Whether an event's path is the string literal lit: its length settles
 * most, and a compare of known size is inlined. */
#define SPZ_PATH_IS(ev, lit) ((ev)->path_len == sizeof(lit) - 1 && memcmp((ev)->path, lit, sizeof(lit) - 1) == 0)
static inline bool spz_starts(const char *s, const char *prefix, size_t n)
{
	return s[0] == prefix[0] && strncmp(s, prefix, n) == 0;
}

#include "../common/budget_map.h"
#include "json.h"

enum spz_usage_field {
	SPZ_U_INPUT,
	SPZ_U_OUTPUT,
	SPZ_U_CACHE_READ,
	SPZ_U_CACHE_WRITE,
	SPZ_U_REASONING,
	SPZ_U_CACHE_WRITE_1H, /* the part of CACHE_WRITE kept an hour (Anthropic) */
	SPZ_U_TOOL_INPUT,     /* input the provider added for tools, billed as input (Gemini) */
	SPZ_U_COUNT
};

struct spz_usage {
	int64_t v[SPZ_U_COUNT];
	unsigned present; /* bit per field: reported by the provider */
};

struct spz_call;
struct spz_estimate;

/* A response header field an API reads, and what reads its value; arg
 * tells one field of a shared reader from another. */
struct spz_header_read {
	const char *name; /* lower case */
	size_t len;
	void (*read)(struct spz_call *c, int arg, const char *value, size_t len);
	int arg;
};
#define SPZ_HEADER_READ(name, read, arg) { name, sizeof(name) - 1, read, arg }

/* How one provider API is read. Every hook is optional. */
struct spz_api {
	const char *provider; /* the provider when the host is not a known one's */
	const char *kind;     /* "chat", "responses", "embeddings", ... */
	/* The request path (no query): models named in URLs (Gemini, Bedrock,
	 * Azure deployments), streaming endpoints. */
	void (*request_path)(struct spz_call *c, const char *path, size_t len);
	/* The request body is read when its call ends, unless it is long or
	 * coded (then as it passes): a hook sees the response's results
	 * already, and prompt_unneeded says whether the prompt is wanted. When
	 * it is not, the hook must pass over (skip_value) every top-level
	 * container and read nothing in one: the body may then be read for its
	 * top-level scalars alone (json_top.h), containers unreported. */
	void (*request_value)(struct spz_call *c, const struct spz_json_event *ev);
	/* Bytes of a request string value, however long (see spz_json): the
	 * prompt's text, for an estimate; not called when prompt_unneeded. */
	void (*request_string)(struct spz_call *c, const char *path, size_t path_len, const char *buf, size_t len,
			       bool first);
	/* The response header fields it reads (NULL-terminated): only these
	 * are looked at (the HTTP/1.1 parser passes over the rest unread). */
	const struct spz_header_read *response_headers;
	void (*response_value)(struct spz_call *c, const struct spz_json_event *ev);
	/* Bytes of a response string value, however long (see spz_json). */
	void (*response_string)(struct spz_call *c, const char *path, size_t path_len, const char *buf, size_t len,
				bool first);
	/* response_string reads only streamed bodies (an estimate of their
	 * completion): a whole body's strings are not passed to it. */
	bool response_string_streamed_only;
	/* The response is complete (or cut): settle what the events gave. */
	void (*finish)(struct spz_call *c);
};

#define SPZ_CALL_STR 128

/* What a refused call's record says of the budget (not the whole entry:
 * the call's struct is cleared for every call, and is kept within the
 * allocator's fast sizes). */
struct spz_call_refusal {
	char budget_id[40];
	uint8_t scope, period;
	int64_t limit_pusd, current_pusd;
};

struct spz_call {
	const struct spz_api *api;
	char id[40];       /* UUIDv7, made when the request starts */
	char *attribution; /* JSON members: runId, agentName, agentPath, ...; owned */
	bool attribution_shared; /* ... unless this says it is the process's own */
	char provider[32];
	char host[SPZ_CALL_STR];
	char endpoint[SPZ_CALL_STR]; /* path without the query */
	char model[SPZ_CALL_STR];    /* asked for */
	char response_model[SPZ_CALL_STR];
	/* The provider's id for the call: a response header's, else the body's
	 * own id (headers come first and always win). */
	char request_id[SPZ_CALL_STR];
	bool stream_requested;
	/* The response reported usage (or failed): the request's prompt is not
	 * needed for an estimate, and its messages are passed over unread. */
	bool prompt_unneeded;
	/* The request body as written (short, identity-coded), kept to be read
	 * when the call ends; owned. */
	char *request_held;
	size_t request_held_len;
	bool stream; /* the response was an event stream */
	/* Set by an extractor on a request's or response's object or array
	 * event: nothing in it is wanted (the body parser passes over it). */
	bool skip_value;
	bool head;   /* HEAD request: the response has no body */
	bool truncated;   /* the response ended before its end */
	bool no_response; /* the connection ended before any response */
	bool refused;     /* a budget refused it before any byte was sent */
	struct spz_call_refusal refusal;
	int status;
	struct spz_usage usage;
	bool usage_estimated;           /* counted locally (tiktoken), not by the provider */
	struct spz_estimate *estimate;  /* text kept for an estimate; owned */
	int64_t start_ns;      /* monotonic: first request byte written */
	int64_t first_byte_ns; /* monotonic: first response body byte read */
	int64_t end_ns;        /* monotonic: response complete */
	int64_t start_wall_ms; /* Unix ms at start */
	/* Extractor scratch, by API. */
	union {
		struct {
			struct spz_usage iterations; /* sum over usage.iterations[] */
		} anthropic;
	} x;
	/* An extractor's larger state, allocated when a response needs it and
	 * freed with the call (Bedrock's decoder of the model's chunks, 1 KiB:
	 * in the call itself it made every call's calloc clear it). */
	void *scratch;
};

/* Frees a call and what it owns (not its estimate: spz_estimate_free). */
void spz_call_free(struct spz_call *c);
void spz_usage_set(struct spz_usage *u, enum spz_usage_field f, int64_t v);
/* A usage field at a JSON path, for table-driven extractors. */
struct spz_usage_path {
	const char *path;
	size_t len; /* compared first: most paths differ in length */
	enum spz_usage_field field;
};
#define SPZ_USAGE_PATH(path, field) { path, sizeof(path) - 1, field }

/* If ev is a count at one of table's paths (compared with path, which may be
 * ev->path with a wrapper prefix removed), sets that field and returns true.
 * Anything but a number is not a count: false (streams send "usage": null
 * until the end). */
bool spz_usage_from_event(struct spz_usage *u, const struct spz_json_event *ev, const char *path,
			  const struct spz_usage_path *table);
/* The request body's top-level "model" and "stream", which OpenAI's,
 * Anthropic's and Cohere's bodies share; a top-level container it is given
 * is passed over (skip_value). */
void spz_request_model_stream(struct spz_call *c, const struct spz_json_event *ev);
/* Takes the response's model and its own id from string events at path (the
 * provider's field names: "model"/"id", "modelVersion"/"responseId"...); the
 * id is the call's request_id unless a response header gave one. */
void spz_response_model_id(struct spz_call *c, const struct spz_json_event *ev, const char *path,
			   const char *model_key, const char *id_key);
/* A header's value as the call's request id (an spz_header_read's read). */
void spz_header_request_id(struct spz_call *c, int arg, const char *value, size_t len);
/* Copies a NUL-terminated string into a fixed field, cutting if needed. */
void spz_copy_str(char *dst, size_t cap, const char *src, size_t len);
/* Reads a count from a JSON event: 0 and *out set, or -1. */
int spz_event_count(const struct spz_json_event *ev, int64_t *out);

#endif
