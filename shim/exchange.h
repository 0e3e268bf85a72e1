/* One request and its response, whatever the HTTP version: the request head
 * (target, host, codings, attribution headers), the decision whether it is an
 * LLM call, and the body pipelines (content decoding, then SSE, AWS event
 * stream or JSON scanning into the provider's extractor). The HTTP/1.1 and
 * HTTP/2 trackers feed these; they own framing, this owns meaning. */
#ifndef SPZ_EXCHANGE_H
#define SPZ_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "decode.h"
#include "eventstream.h"
#include "http1.h"
#include "json.h"
#include "sse.h"

#define SPZ_PATH_KEEP 256

/* Receives every finished call (emitted, tested). Set once at start. */
typedef void (*spz_call_sink)(const struct spz_call *call);
void spz_conn_set_sink(spz_call_sink sink);

/* Gives a call starting now on this thread its attribution (JSON members)
 * from the request's x-spaturzu-* headers (NULL if absent): a heap string,
 * or with *shared set one that lives as long as the process and is never
 * freed (the process's own, for most calls). Called on the thread that
 * writes the request. Set once at start. */
typedef char *(*spz_call_attributor)(const char *call_id, const char *hdr_agent, const char *hdr_run,
				       const char *hdr_tags, bool *shared);
void spz_conn_set_attributor(spz_call_attributor attributor);

struct spz_req_head {
	char method[16];
	size_t method_len;
	char path[SPZ_PATH_KEEP]; /* without the query: it may carry a key */
	size_t path_len;
	bool path_cut;
	char host[SPZ_CALL_STR];
	char hdr_agent[SPZ_CALL_STR]; /* x-spaturzu-agent */
	char hdr_run[SPZ_CALL_STR];   /* x-spaturzu-run */
	char hdr_tags[1024];          /* x-spaturzu-tags */
	enum spz_coding coding;
};

void spz_req_head_reset(struct spz_req_head *h);
void spz_req_head_target(struct spz_req_head *h, const char *method, size_t mlen, const char *target,
			 size_t tlen);
/* A request header; "host" and HTTP/2's ":authority" name the host. */
void spz_req_head_header(struct spz_req_head *h, const char *name, size_t nlen, const char *value,
			 size_t vlen);
/* The request header fields spz_req_head_header reads. */
struct spz_header_filter spz_req_head_filter(void);
/* The call this request is, started at now_ns; NULL if it is not an LLM
 * call we read (or memory ran out). */
struct spz_call *spz_call_start(const struct spz_req_head *h, int64_t now_ns);
/* Settles, emits and frees a call. */
void spz_call_finish(struct spz_call *call);

struct spz_req_body {
	struct spz_call *call;
	/* Holding the body's bytes (held, up to SPZ_REQ_HELD_MAX) for the call's
	 * end, or reading them as they pass (dec, js). */
	bool holding;
	char *held;
	size_t held_len, held_cap;
	struct spz_decoder dec;
	struct spz_json js;
};

/* A request body up to this long is held and read when its call ends. */
#define SPZ_REQ_HELD_MAX 4096

void spz_req_body_begin(struct spz_req_body *b, struct spz_call *call, enum spz_coding coding);
void spz_req_body_feed(struct spz_req_body *b, const char *buf, size_t len);
void spz_req_body_end(struct spz_req_body *b);

enum spz_body_kind { SPZ_BODY_JSON, SPZ_BODY_SSE, SPZ_BODY_EVENTSTREAM };

struct spz_resp_body {
	struct spz_call *call;
	enum spz_body_kind kind;
	enum spz_coding coding;
	bool started;
	struct spz_decoder dec;
	struct spz_json js;
	struct spz_sse sse;
	struct spz_eventstream es;
};

/* Before the response headers of call. */
void spz_resp_body_init(struct spz_resp_body *b, struct spz_call *call);
/* The response header fields spz_resp_body_header reads for call (none
 * for NULL: a response not followed). */
struct spz_header_filter spz_resp_head_filter(const struct spz_call *call);
/* A final response header (content-type, content-encoding, the API's own). */
void spz_resp_body_header(struct spz_resp_body *b, const char *name, size_t nlen, const char *value,
			  size_t vlen);
void spz_resp_body_feed(struct spz_resp_body *b, const char *buf, size_t len, int64_t now_ns);
/* The body is over (or cut): flushes the parsers and frees the codec. */
void spz_resp_body_end(struct spz_resp_body *b);

#endif
