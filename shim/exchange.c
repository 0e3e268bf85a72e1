/* Request and response meaning, shared by the HTTP/1.1 and HTTP/2 trackers.
 * Nothing here sees framing; nothing here keeps a body: every byte is parsed
 * as it passes and dropped. */
#include "exchange.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "estimate.h"
#include "extract.h"
#include "json_top.h"
#include "provider.h"
#include "uuid.h"
#include "zalloc.h"

static spz_call_sink call_sink;
static spz_call_attributor call_attributor;

void spz_conn_set_sink(spz_call_sink sink)
{
	call_sink = sink;
}

void spz_conn_set_attributor(spz_call_attributor attributor)
{
	call_attributor = attributor;
}

/* ---- request head ------------------------------------------------------ */

void spz_req_head_reset(struct spz_req_head *h)
{
	h->method_len = h->path_len = 0;
	h->method[0] = h->path[0] = h->host[0] = '\0';
	h->path_cut = false;
	h->hdr_agent[0] = h->hdr_run[0] = h->hdr_tags[0] = '\0';
	h->coding = SPZ_CODING_IDENTITY;
}

void spz_req_head_target(struct spz_req_head *h, const char *method, size_t mlen, const char *target,
			 size_t tlen)
{
	h->method_len = mlen < sizeof(h->method) ? mlen : sizeof(h->method) - 1;
	memcpy(h->method, method, h->method_len);
	h->method[h->method_len] = '\0';
	const char *q = memchr(target, '?', tlen);
	if (q)
		tlen = (size_t)(q - target);
	h->path_cut = tlen >= sizeof(h->path);
	if (h->path_cut)
		tlen = sizeof(h->path) - 1;
	memcpy(h->path, target, tlen);
	h->path[tlen] = '\0';
	h->path_len = tlen;
}

/* The request header fields read, and into what. */
enum req_field { REQ_HOST, REQ_CODING, REQ_AGENT, REQ_RUN, REQ_TAGS };
static const struct {
	const char *name;
	size_t len;
	enum req_field field;
} req_fields[] = {
#define REQ_FIELD(name, field) { name, sizeof(name) - 1, field }
	REQ_FIELD("host", REQ_HOST),
	REQ_FIELD(":authority", REQ_HOST),
	REQ_FIELD("content-encoding", REQ_CODING),
	/* Attribution an SDK can set through default headers. */
	REQ_FIELD("x-spaturzu-agent", REQ_AGENT),
	REQ_FIELD("x-spaturzu-run", REQ_RUN),
	REQ_FIELD("x-spaturzu-tags", REQ_TAGS),
#undef REQ_FIELD
};
#define REQ_FIELD_COUNT (sizeof(req_fields) / sizeof(req_fields[0]))

struct spz_header_filter spz_req_head_filter(void)
{
	struct spz_header_filter f = { 0, 0 };
	for (size_t k = 0; k < REQ_FIELD_COUNT; k++)
		spz_header_filter_add(&f, req_fields[k].name, req_fields[k].len);
	return f;
}

void spz_req_head_header(struct spz_req_head *h, const char *name, size_t nlen, const char *value,
			 size_t vlen)
{
	size_t k = 0;
	while (k < REQ_FIELD_COUNT && !spz_header_is_n(name, nlen, req_fields[k].name, req_fields[k].len))
		k++;
	if (k == REQ_FIELD_COUNT)
		return;
	switch (req_fields[k].field) {
	case REQ_HOST: {
		/* Strip the port; keep an IPv6 literal's brackets. */
		size_t n = vlen;
		const char *colon = memrchr(value, ':', vlen);
		if (colon && !memchr(colon, ']', vlen - (size_t)(colon - value)))
			n = (size_t)(colon - value);
		spz_copy_str(h->host, sizeof(h->host), value, n);
		break;
	}
	case REQ_CODING:
		h->coding = spz_coding_from_header(value, vlen);
		break;
	case REQ_AGENT:
		spz_copy_str(h->hdr_agent, sizeof(h->hdr_agent), value, vlen);
		break;
	case REQ_RUN:
		spz_copy_str(h->hdr_run, sizeof(h->hdr_run), value, vlen);
		break;
	case REQ_TAGS:
		spz_copy_str(h->hdr_tags, sizeof(h->hdr_tags), value, vlen);
		break;
	}
}

struct spz_call *spz_call_start(const struct spz_req_head *h, int64_t now_ns)
{
	if (h->path_cut)
		return NULL;
	const char *provider = spz_provider_for_host(h->host, strlen(h->host));
	const struct spz_api *api = spz_api_for_request(provider, h->method, h->method_len, h->path, h->path_len);
	if (!api)
		return NULL;
	struct spz_call *call = spz_zalloc(sizeof(*call));
	if (!call)
		return NULL;
	call->api = api;
	const char *name = provider ? provider : api->provider;
	spz_copy_str(call->provider, sizeof(call->provider), name, strlen(name));
	spz_copy_str(call->host, sizeof(call->host), h->host, strlen(h->host));
	spz_copy_str(call->endpoint, sizeof(call->endpoint), h->path, h->path_len);
	if (api->request_path)
		api->request_path(call, h->path, h->path_len);
	call->head = h->method_len == 4 && memcmp(h->method, "HEAD", 4) == 0;
	call->start_ns = now_ns;
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	call->start_wall_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
	spz_uuid_v7(call->id, call->start_wall_ms);
	if (call_attributor)
		call->attribution = call_attributor(call->id, h->hdr_agent, h->hdr_run, h->hdr_tags,
						    &call->attribution_shared);
	return call;
}

static void read_held_request(struct spz_call *call);

void spz_call_finish(struct spz_call *call)
{
	if (call->api->finish)
		call->api->finish(call);
	if (call->request_held)
		read_held_request(call);
	spz_estimate_settle(call);
	if (call_sink)
		call_sink(call);
	spz_estimate_free(call);
	spz_call_free(call);
}

void spz_call_free(struct spz_call *call)
{
	free(call->scratch);
	free(call->request_held);
	if (!call->attribution_shared)
		free(call->attribution);
	free(call);
}

/* What the extractors look at: values and where containers begin, never
 * where they end (a tenth of a body's events). */
#define EXTRACTOR_EVENTS                                                                                 \
	((1u << SPZ_JSON_STRING) | (1u << SPZ_JSON_NUMBER) | (1u << SPZ_JSON_TRUE) | (1u << SPZ_JSON_FALSE) | \
	 (1u << SPZ_JSON_NULL) | (1u << SPZ_JSON_OBJECT) | (1u << SPZ_JSON_ARRAY))

/* An extractor's value callback, then the skip it asked for (call.h's
 * skip_value) of the container the event begins. */
static void extract_value(struct spz_call *call, void (*value)(struct spz_call *, const struct spz_json_event *),
			  struct spz_json *js, const struct spz_json_event *ev)
{
	if (!value)
		return;
	value(call, ev);
	if (call->skip_value) {
		call->skip_value = false;
		if (ev->type == SPZ_JSON_OBJECT || ev->type == SPZ_JSON_ARRAY)
			spz_json_skip(js);
	}
}

/* ---- request body ------------------------------------------------------ */

/* A short request body is held as it passes and read when its call ends:
 * by then the response has said whether its usage came, and most calls'
 * does, so the prompt, which only an estimate needs, is passed over unread
 * and not copied. A longer body, or one with a content coding, is read as
 * it passes (a copy of it would cost more than the reading saves). */

static void req_json_event(void *ud, const struct spz_json_event *ev)
{
	struct spz_req_body *b = ud;
	extract_value(b->call, b->call->api->request_value, &b->js, ev);
}

static void req_json_string(void *ud, const char *path, size_t path_len, const char *buf, size_t len, bool first)
{
	struct spz_req_body *b = ud;
	b->call->api->request_string(b->call, path, path_len, buf, len, first);
}

static void req_decoded(void *ud, const char *buf, size_t len)
{
	struct spz_req_body *b = ud;
	spz_json_feed(&b->js, buf, len);
}

static void req_json_begin(struct spz_req_body *b)
{
	spz_json_init(&b->js, req_json_event, b);
	spz_json_report_only(&b->js, EXTRACTOR_EVENTS);
	if (b->call->api->request_string && !b->call->prompt_unneeded)
		spz_json_set_chunk_cb(&b->js, req_json_string);
}

void spz_req_body_begin(struct spz_req_body *b, struct spz_call *call, enum spz_coding coding)
{
	/* An API whose request says nothing the record needs (Gemini's and
	 * Bedrock's name the model in the path) is not read at all. */
	if (!call->api->request_value && !call->api->request_string) {
		b->call = NULL;
		return;
	}
	b->call = call;
	b->held = NULL;
	b->held_len = b->held_cap = 0;
	b->holding = coding == SPZ_CODING_IDENTITY;
	if (!b->holding) {
		spz_decoder_init(&b->dec, coding);
		req_json_begin(b);
	}
}

/* Appends to the held bytes: false if they would pass the bound (or no
 * room can be had), and then nothing is added. */
static bool hold(struct spz_req_body *b, const char *buf, size_t len)
{
	if (len > SPZ_REQ_HELD_MAX - b->held_len)
		return false;
	size_t need = b->held_len + len;
	if (need > b->held_cap) {
		size_t cap = b->held_cap ? b->held_cap : 512; /* within malloc's per-thread cache */
		while (cap < need)
			cap *= 2;
		char *p = realloc(b->held, cap);
		if (!p)
			return false;
		b->held = p;
		b->held_cap = cap;
	}
	memcpy(b->held + b->held_len, buf, len);
	b->held_len = need;
	return true;
}

void spz_req_body_feed(struct spz_req_body *b, const char *buf, size_t len)
{
	if (!b->call)
		return;
	if (b->holding) {
		if (hold(b, buf, len))
			return;
		/* Too long to hold: what was held is read now, and the rest as it
		 * passes. */
		b->holding = false;
		spz_decoder_init(&b->dec, SPZ_CODING_IDENTITY);
		req_json_begin(b);
		if (b->held_len)
			spz_json_feed(&b->js, b->held, b->held_len);
		free(b->held);
		b->held = NULL;
	}
	spz_decoder_feed(&b->dec, buf, len, req_decoded, b);
}

void spz_req_body_end(struct spz_req_body *b)
{
	if (!b->call)
		return;
	if (b->holding) {
		/* The call owns the bytes now, and reads them when it ends. */
		b->call->request_held = b->held;
		b->call->request_held_len = b->held_len;
		b->held = NULL;
		b->holding = false;
	} else {
		spz_json_finish(&b->js);
		spz_decoder_free(&b->dec);
	}
	b->call = NULL;
}

/* A top-level scalar of a held body whose prompt is not needed. */
static void held_scalar(void *ud, const struct spz_json_event *ev)
{
	struct spz_call *call = ud;
	call->api->request_value(call, ev);
	call->skip_value = false; /* asked on a scalar: no request at all */
}

/* Reads the body the call held, now that the response is in: when its
 * prompt is not needed, for its top-level scalars alone if it is plain
 * (request_value passes over every container then: call.h), else whole. */
static void read_held_request(struct spz_call *call)
{
	call->prompt_unneeded = !spz_estimate_wanted(call);
	if (!call->prompt_unneeded ||
	    (call->api->request_value &&
	     !spz_json_top_scalars(call->request_held, call->request_held_len, held_scalar, call))) {
		struct spz_req_body b;
		b.call = call;
		req_json_begin(&b);
		spz_json_feed(&b.js, call->request_held, call->request_held_len);
		spz_json_finish(&b.js);
	}
	free(call->request_held);
	call->request_held = NULL;
}

/* ---- response body ----------------------------------------------------- */

static void resp_json_event(void *ud, const struct spz_json_event *ev)
{
	struct spz_resp_body *b = ud;
	extract_value(b->call, b->call->api->response_value, &b->js, ev);
}

static void resp_json_string(void *ud, const char *path, size_t path_len, const char *buf, size_t len, bool first)
{
	struct spz_resp_body *b = ud;
	b->call->api->response_string(b->call, path, path_len, buf, len, first);
}

static void sse_data(void *ud, const char *buf, size_t len)
{
	struct spz_resp_body *b = ud;
	spz_json_feed(&b->js, buf, len);
}

static void sse_dispatch(void *ud, const char *event_type)
{
	struct spz_resp_body *b = ud;
	(void)event_type;
	spz_json_finish(&b->js);
	spz_json_reset(&b->js); /* each event carries its own document */
}

static const struct spz_sse_callbacks sse_callbacks = {
	.data = sse_data,
	.dispatch = sse_dispatch,
};

static void es_message_begin(void *ud, const char *event_type, const char *message_type)
{
	struct spz_resp_body *b = ud;
	(void)event_type;
	(void)message_type;
	spz_json_reset(&b->js); /* each message carries its own document */
}

static void es_payload(void *ud, const char *buf, size_t len)
{
	struct spz_resp_body *b = ud;
	spz_json_feed(&b->js, buf, len);
}

static void es_message_end(void *ud, bool crc_ok)
{
	struct spz_resp_body *b = ud;
	(void)crc_ok; /* counts were read as the payload passed; a bad CRC is rare and no reason to drop them */
	spz_json_finish(&b->js);
}

static const struct spz_es_callbacks es_callbacks = {
	.message_begin = es_message_begin,
	.payload = es_payload,
	.message_end = es_message_end,
};

void spz_resp_body_init(struct spz_resp_body *b, struct spz_call *call)
{
	b->call = call;
	b->kind = SPZ_BODY_JSON;
	b->coding = SPZ_CODING_IDENTITY;
	b->started = false;
}

static bool content_type_is(const char *v, size_t n, const char *type)
{
	size_t t = strlen(type);
	return n >= t && (v[0] | 0x20) == type[0] && strncasecmp(v, type, t) == 0 &&
	       (n == t || v[t] == ';' || v[t] == ' ');
}

void spz_resp_body_header(struct spz_resp_body *b, const char *name, size_t nlen, const char *value,
			  size_t vlen)
{
	struct spz_call *call = b->call;
	if (!call)
		return;
	/* What the body is, once its first byte is read, stays what it was:
	 * only its kind's parser is set up then (a field in trailers changes
	 * nothing). */
	if (!b->started && spz_header_is(name, nlen, "content-type")) {
		if (content_type_is(value, vlen, "text/event-stream")) {
			b->kind = SPZ_BODY_SSE;
			call->stream = true;
		} else if (content_type_is(value, vlen, "application/vnd.amazon.eventstream")) {
			b->kind = SPZ_BODY_EVENTSTREAM;
			call->stream = true;
		}
	} else if (!b->started && spz_header_is(name, nlen, "content-encoding")) {
		b->coding = spz_coding_from_header(value, vlen);
	}
	for (const struct spz_header_read *r = call->api->response_headers; r && r->name; r++) {
		if (spz_header_is_n(name, nlen, r->name, r->len)) {
			r->read(call, r->arg, value, vlen);
			break;
		}
	}
}

struct spz_header_filter spz_resp_head_filter(const struct spz_call *call)
{
	struct spz_header_filter f = { 0, 0 };
	if (!call)
		return f;
	spz_header_filter_add(&f, "content-type", 12);
	spz_header_filter_add(&f, "content-encoding", 16);
	for (const struct spz_header_read *r = call->api->response_headers; r && r->name; r++)
		spz_header_filter_add(&f, r->name, r->len);
	return f;
}

static void resp_decoded(void *ud, const char *buf, size_t len)
{
	struct spz_resp_body *b = ud;
	switch (b->kind) {
	case SPZ_BODY_SSE:
		spz_sse_feed(&b->sse, buf, len);
		break;
	case SPZ_BODY_EVENTSTREAM:
		spz_es_feed(&b->es, buf, len);
		break;
	case SPZ_BODY_JSON:
		spz_json_feed(&b->js, buf, len);
		break;
	}
}

void spz_resp_body_feed(struct spz_resp_body *b, const char *buf, size_t len, int64_t now_ns)
{
	struct spz_call *call = b->call;
	if (!call || len == 0)
		return;
	if (!b->started) {
		b->started = true;
		spz_decoder_init(&b->dec, b->coding);
		spz_json_init(&b->js, resp_json_event, b);
		spz_json_report_only(&b->js, EXTRACTOR_EVENTS);
		if (call->api->response_string && (call->stream || !call->api->response_string_streamed_only))
			spz_json_set_chunk_cb(&b->js, resp_json_string);
		if (b->kind == SPZ_BODY_SSE)
			spz_sse_init(&b->sse, &sse_callbacks, b);
		else if (b->kind == SPZ_BODY_EVENTSTREAM)
			spz_es_init(&b->es, &es_callbacks, b);
	}
	if (!call->first_byte_ns)
		call->first_byte_ns = now_ns;
	spz_decoder_feed(&b->dec, buf, len, resp_decoded, b);
}

void spz_resp_body_end(struct spz_resp_body *b)
{
	if (!b->started)
		return;
	if (b->kind == SPZ_BODY_SSE)
		spz_sse_finish(&b->sse);
	else if (b->kind == SPZ_BODY_JSON)
		spz_json_finish(&b->js);
	spz_decoder_free(&b->dec);
	b->started = false;
}
