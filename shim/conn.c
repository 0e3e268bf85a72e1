/* Connection tracker for HTTP/1.1: pairs each request with its response in
 * order (keep-alive, pipelining up to a bound), decides which requests are LLM
 * calls, and routes their bodies through decoding, SSE and JSON scanning into
 * the provider's extractor. Memory per connection is fixed; a call is freed
 * when its record is out. On anything unexpected the connection is dropped
 * from tracking, never the host's traffic. */
#include "conn.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "decode.h"
#include "eventstream.h"
#include "extract.h"
#include "http1.h"
#include "provider.h"
#include "sse.h"
#include "uuid.h"

#define PENDING_MAX 8 /* requests in flight on one connection (pipelining) */
#define PATH_KEEP 256

enum body_kind { BODY_NONE, BODY_JSON, BODY_SSE, BODY_EVENTSTREAM };

struct pending {
	struct spz_call *call; /* NULL: a request we do not track */
	bool head;
};

struct spz_conn {
	bool ignored;
	bool parse_responses; /* on once a tracked request has been seen */
	int64_t now;

	/* request direction */
	struct spz_h1 req;
	struct spz_call *req_call; /* tracked request being written */
	char req_method[16];
	size_t req_method_len;
	char req_path[PATH_KEEP];
	size_t req_path_len;
	bool req_path_cut;
	char req_host[SPZ_CALL_STR];
	char hdr_agent[SPZ_CALL_STR]; /* x-spaturzu-agent */
	char hdr_run[SPZ_CALL_STR];   /* x-spaturzu-run */
	char hdr_tags[1024];          /* x-spaturzu-tags */
	enum spz_coding req_coding;
	struct spz_decoder req_dec;
	struct spz_json req_js;

	struct pending pending[PENDING_MAX];
	unsigned pending_head, pending_count;

	/* response direction */
	struct spz_h1 resp;
	struct spz_call *resp_call;
	bool resp_started;
	enum body_kind resp_body;
	enum spz_coding resp_coding;
	struct spz_decoder resp_dec;
	struct spz_json resp_js;
	struct spz_sse sse;
	struct spz_eventstream es;
};

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

bool spz_conn_looks_http1(const char *buf, size_t len)
{
	/* A method token (upper-case letters) then a space, within the first
	 * bytes; a first write shorter than that is given the benefit. */
	size_t i = 0;
	while (i < len && i < 16 && buf[i] >= 'A' && buf[i] <= 'Z')
		i++;
	if (i == len && i < 16)
		return i > 0 || len == 0;
	if (i == 0 || i >= 16 || buf[i] != ' ')
		return false;
	/* "PRI * HTTP/2.0" is the HTTP/2 preface, not an HTTP/1 request. */
	return !(i == 3 && memcmp(buf, "PRI", 3) == 0 && len >= 6 && buf[4] == '*');
}

static void emit_and_free(struct spz_call *call)
{
	if (call->api->finish)
		call->api->finish(call);
	if (call_sink)
		call_sink(call);
	free(call->attribution);
	free(call);
}

static void stop_tracking(struct spz_conn *c);

/* ---- request direction ------------------------------------------------- */

static void req_json_event(void *ud, const struct spz_json_event *ev)
{
	struct spz_call *call = ud;
	if (call->api->request_value)
		call->api->request_value(call, ev);
}

static void req_decoded(void *ud, const char *buf, size_t len)
{
	struct spz_conn *c = ud;
	spz_json_feed(&c->req_js, buf, len);
}

static int req_start(void *ud, const struct spz_h1_start *s)
{
	struct spz_conn *c = ud;
	c->req_method_len = s->method_len < sizeof(c->req_method) ? s->method_len : sizeof(c->req_method) - 1;
	memcpy(c->req_method, s->method, c->req_method_len);
	c->req_method[c->req_method_len] = '\0';
	/* Keep the path only: a query may carry a key (Gemini's ?key=). */
	size_t n = s->target_len;
	const char *q = memchr(s->target, '?', n);
	if (q)
		n = (size_t)(q - s->target);
	c->req_path_cut = n >= sizeof(c->req_path);
	if (c->req_path_cut)
		n = sizeof(c->req_path) - 1;
	memcpy(c->req_path, s->target, n);
	c->req_path[n] = '\0';
	c->req_path_len = n;
	c->req_host[0] = '\0';
	c->hdr_agent[0] = c->hdr_run[0] = c->hdr_tags[0] = '\0';
	c->req_coding = SPZ_CODING_IDENTITY;
	return 0;
}

static int req_header(void *ud, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct spz_conn *c = ud;
	if (spz_header_is(name, nlen, "host")) {
		/* Strip the port; keep an IPv6 literal's brackets. */
		size_t n = vlen;
		const char *colon = memrchr(value, ':', vlen);
		if (colon && !memchr(colon, ']', vlen - (size_t)(colon - value)))
			n = (size_t)(colon - value);
		spz_copy_str(c->req_host, sizeof(c->req_host), value, n);
	} else if (spz_header_is(name, nlen, "content-encoding")) {
		c->req_coding = spz_coding_from_header(value, vlen);
	} else if (nlen > 11 && strncasecmp(name, "x-spaturzu-", 11) == 0) {
		/* Attribution an SDK can set through default headers. */
		if (spz_header_is(name, nlen, "x-spaturzu-agent"))
			spz_copy_str(c->hdr_agent, sizeof(c->hdr_agent), value, vlen);
		else if (spz_header_is(name, nlen, "x-spaturzu-run"))
			spz_copy_str(c->hdr_run, sizeof(c->hdr_run), value, vlen);
		else if (spz_header_is(name, nlen, "x-spaturzu-tags"))
			spz_copy_str(c->hdr_tags, sizeof(c->hdr_tags), value, vlen);
	}
	return 0;
}

static bool push_pending(struct spz_conn *c, struct spz_call *call, bool head)
{
	if (c->pending_count == PENDING_MAX)
		return false;
	struct pending *p = &c->pending[(c->pending_head + c->pending_count) % PENDING_MAX];
	p->call = call;
	p->head = head;
	c->pending_count++;
	return true;
}

static int req_headers_done(void *ud, enum spz_h1_framing *framing, uint64_t content_length)
{
	struct spz_conn *c = ud;
	(void)framing;
	(void)content_length;
	bool head = c->req_method_len == 4 && memcmp(c->req_method, "HEAD", 4) == 0;
	const char *provider = spz_provider_for_host(c->req_host, strlen(c->req_host));
	const struct spz_api *api = c->req_path_cut ? NULL
				  : spz_api_for_request(provider, c->req_method, c->req_method_len,
							c->req_path, c->req_path_len);
	if (!api) {
		if (c->parse_responses && !push_pending(c, NULL, head))
			return -1;
		return 0;
	}
	struct spz_call *call = calloc(1, sizeof(*call));
	if (!call)
		return -1;
	call->api = api;
	const char *name = provider ? provider : api->provider;
	spz_copy_str(call->provider, sizeof(call->provider), name, strlen(name));
	spz_copy_str(call->host, sizeof(call->host), c->req_host, strlen(c->req_host));
	spz_copy_str(call->endpoint, sizeof(call->endpoint), c->req_path, c->req_path_len);
	if (api->request_path)
		api->request_path(call, c->req_path, c->req_path_len);
	call->head = head;
	call->start_ns = c->now;
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	call->start_wall_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
	spz_uuid_v7(call->id, call->start_wall_ms);
	if (call_attributor)
		call->attribution = call_attributor(call->id, c->hdr_agent, c->hdr_run, c->hdr_tags);
	if (!push_pending(c, call, head)) {
		free(call);
		return -1;
	}
	c->parse_responses = true;
	c->req_call = call;
	spz_decoder_init(&c->req_dec, c->req_coding);
	spz_json_init(&c->req_js, req_json_event, call);
	return 0;
}

static int req_body(void *ud, const char *buf, size_t len)
{
	struct spz_conn *c = ud;
	if (c->req_call)
		spz_decoder_feed(&c->req_dec, buf, len, req_decoded, c);
	return 0;
}

static int req_message_done(void *ud)
{
	struct spz_conn *c = ud;
	if (c->req_call) {
		spz_json_finish(&c->req_js);
		spz_decoder_free(&c->req_dec);
		c->req_call = NULL;
	}
	return 0;
}

static const struct spz_h1_callbacks req_callbacks = {
	.start = req_start,
	.header = req_header,
	.headers_done = req_headers_done,
	.body = req_body,
	.message_done = req_message_done,
};

/* ---- response direction ------------------------------------------------ */

static void resp_json_event(void *ud, const struct spz_json_event *ev)
{
	struct spz_call *call = ud;
	if (call->api->response_value)
		call->api->response_value(call, ev);
}

static void sse_data(void *ud, const char *buf, size_t len)
{
	struct spz_conn *c = ud;
	spz_json_feed(&c->resp_js, buf, len);
}

static void sse_dispatch(void *ud, const char *event_type)
{
	struct spz_conn *c = ud;
	(void)event_type;
	spz_json_finish(&c->resp_js);
	spz_json_reset(&c->resp_js); /* each event carries its own document */
}

static const struct spz_sse_callbacks sse_callbacks = {
	.data = sse_data,
	.dispatch = sse_dispatch,
};

static void es_message_begin(void *ud, const char *event_type, const char *message_type)
{
	struct spz_conn *c = ud;
	(void)event_type;
	(void)message_type;
	spz_json_reset(&c->resp_js); /* each message carries its own document */
}

static void es_payload(void *ud, const char *buf, size_t len)
{
	struct spz_conn *c = ud;
	spz_json_feed(&c->resp_js, buf, len);
}

static void es_message_end(void *ud, bool crc_ok)
{
	struct spz_conn *c = ud;
	(void)crc_ok; /* counts were reported as they parsed; a bad CRC is rare and not a reason to drop them */
	spz_json_finish(&c->resp_js);
}

static const struct spz_es_callbacks es_callbacks = {
	.message_begin = es_message_begin,
	.payload = es_payload,
	.message_end = es_message_end,
};

static void resp_decoded(void *ud, const char *buf, size_t len)
{
	struct spz_conn *c = ud;
	switch (c->resp_body) {
	case BODY_SSE:
		spz_sse_feed(&c->sse, buf, len);
		break;
	case BODY_EVENTSTREAM:
		spz_es_feed(&c->es, buf, len);
		break;
	default:
		spz_json_feed(&c->resp_js, buf, len);
		break;
	}
}

static int resp_start(void *ud, const struct spz_h1_start *s)
{
	struct spz_conn *c = ud;
	if (c->pending_count == 0)
		return -1; /* a response to nothing we saw: stop following */
	c->resp_call = c->pending[c->pending_head].call;
	c->resp_started = true;
	c->resp_body = BODY_JSON;
	c->resp_coding = SPZ_CODING_IDENTITY;
	if (c->resp_call && s->status >= 200)
		c->resp_call->status = s->status;
	return 0;
}

static bool content_type_is(const char *v, size_t n, const char *type)
{
	size_t t = strlen(type);
	return n >= t && strncasecmp(v, type, t) == 0 && (n == t || v[t] == ';' || v[t] == ' ');
}

static int resp_header(void *ud, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct spz_conn *c = ud;
	struct spz_call *call = c->resp_call;
	if (!call || call->status < 200)
		return 0;
	if (spz_header_is(name, nlen, "content-type")) {
		if (content_type_is(value, vlen, "text/event-stream")) {
			c->resp_body = BODY_SSE;
			call->stream = true;
		} else if (content_type_is(value, vlen, "application/vnd.amazon.eventstream")) {
			c->resp_body = BODY_EVENTSTREAM;
			call->stream = true;
		}
	} else if (spz_header_is(name, nlen, "content-encoding")) {
		c->resp_coding = spz_coding_from_header(value, vlen);
	}
	if (call->api->response_header)
		call->api->response_header(call, name, nlen, value, vlen);
	return 0;
}

static int resp_headers_done(void *ud, enum spz_h1_framing *framing, uint64_t content_length)
{
	struct spz_conn *c = ud;
	(void)content_length;
	if (c->pending[c->pending_head].head)
		*framing = SPZ_H1_BODY_NONE;
	struct spz_call *call = c->resp_call;
	if (call && call->status >= 200) {
		spz_decoder_init(&c->resp_dec, c->resp_coding);
		spz_json_init(&c->resp_js, resp_json_event, call);
		spz_sse_init(&c->sse, &sse_callbacks, c);
		spz_es_init(&c->es, &es_callbacks, c);
	}
	return 0;
}

static int resp_body(void *ud, const char *buf, size_t len)
{
	struct spz_conn *c = ud;
	struct spz_call *call = c->resp_call;
	if (!call)
		return 0;
	if (!call->first_byte_ns)
		call->first_byte_ns = c->now;
	spz_decoder_feed(&c->resp_dec, buf, len, resp_decoded, c);
	return 0;
}

static void resp_end_body(struct spz_conn *c)
{
	if (c->resp_body == BODY_SSE)
		spz_sse_finish(&c->sse);
	else
		spz_json_finish(&c->resp_js);
	spz_decoder_free(&c->resp_dec);
}

static int resp_message_done(void *ud)
{
	struct spz_conn *c = ud;
	struct pending *p = &c->pending[c->pending_head];
	if (c->resp_call && c->resp_call->status < 200)
		return 0; /* 1xx: the final response is still to come */
	if (!c->resp_call && c->resp.status < 200)
		return 0;
	if (c->resp_call) {
		resp_end_body(c);
		c->resp_call->end_ns = c->now;
		if (c->req_call == c->resp_call)
			c->req_call = NULL; /* answered before the request was fully written */
		emit_and_free(c->resp_call);
	}
	p->call = NULL;
	c->pending_head = (c->pending_head + 1) % PENDING_MAX;
	c->pending_count--;
	c->resp_call = NULL;
	c->resp_started = false;
	return 0;
}

static const struct spz_h1_callbacks resp_callbacks = {
	.start = resp_start,
	.header = resp_header,
	.headers_done = resp_headers_done,
	.body = resp_body,
	.message_done = resp_message_done,
};

/* ---- connection -------------------------------------------------------- */

struct spz_conn *spz_conn_new(void)
{
	struct spz_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	spz_h1_init(&c->req, SPZ_H1_REQUEST, &req_callbacks, c);
	spz_h1_init(&c->resp, SPZ_H1_RESPONSE, &resp_callbacks, c);
	return c;
}

bool spz_conn_ignored(const struct spz_conn *c)
{
	return c->ignored;
}

bool spz_conn_busy_call(const struct spz_conn *c)
{
	return c->req_call != NULL || c->pending_count > 0;
}

void spz_conn_on_write(struct spz_conn *c, const char *buf, size_t len, int64_t now_ns)
{
	if (c->ignored || len == 0)
		return;
	c->now = now_ns;
	if (spz_h1_feed(&c->req, buf, len) < 0)
		stop_tracking(c);
}

void spz_conn_on_read(struct spz_conn *c, const char *buf, size_t len, int64_t now_ns)
{
	if (c->ignored || !c->parse_responses || len == 0)
		return;
	c->now = now_ns;
	if (spz_h1_feed(&c->resp, buf, len) < 0)
		stop_tracking(c);
}

/* Emits every call still pending as cut off or unanswered, then stops. */
static void flush_pending(struct spz_conn *c)
{
	while (c->pending_count > 0) {
		struct pending *p = &c->pending[c->pending_head];
		struct spz_call *call = p->call;
		if (call) {
			if (call == c->resp_call && c->resp_started) {
				resp_end_body(c);
				call->truncated = true;
			} else {
				call->no_response = true;
			}
			call->end_ns = c->now;
			emit_and_free(call);
		}
		p->call = NULL;
		c->pending_head = (c->pending_head + 1) % PENDING_MAX;
		c->pending_count--;
	}
	c->resp_call = NULL;
	c->req_call = NULL;
	c->resp_started = false;
}

/* The parsers gave up: calls in flight are reported as far as they got, so
 * nothing is silently lost, and the connection is passed through from now. */
static void stop_tracking(struct spz_conn *c)
{
	flush_pending(c);
	spz_decoder_free(&c->req_dec);
	c->ignored = true;
}

void spz_conn_on_eof(struct spz_conn *c, int64_t now_ns)
{
	if (c->ignored)
		return;
	c->now = now_ns;
	if (c->parse_responses)
		spz_h1_finish(&c->resp); /* completes a body framed by close */
	stop_tracking(c);
}

void spz_conn_free(struct spz_conn *c, int64_t now_ns)
{
	if (!c)
		return;
	spz_conn_on_eof(c, now_ns);
	free(c);
}
