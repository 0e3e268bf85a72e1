/* Connection tracker. The first bytes written choose the protocol: the
 * HTTP/2 preface hands the connection to conn_h2.c; anything else is parsed
 * as HTTP/1.1 here, pairing each request with its response in order
 * (keep-alive, pipelining up to a bound). Memory per connection is fixed; a
 * call is freed when its record is out. On anything unexpected the
 * connection is dropped from tracking, never the host's traffic. */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

#include "conn_h2.h"
#include "http1.h"

#define PENDING_MAX 8 /* requests in flight on one connection (pipelining) */

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN (sizeof(h2_preface) - 1)

struct pending {
	struct spz_call *call; /* NULL: a request we do not track */
	bool head;
};

struct spz_conn {
	bool ignored;
	bool decided;         /* HTTP/1.1 or HTTP/2 known */
	char lead[24];        /* first bytes, while they may still be the HTTP/2 preface */
	size_t lead_len;
	bool parse_responses; /* on once a tracked request has been seen */
	int64_t now;
	struct spz_h2conn *h2; /* non-NULL: an HTTP/2 connection */

	/* request direction */
	struct spz_h1 req;
	struct spz_req_head head;
	struct spz_call *req_call; /* tracked request being written */
	struct spz_req_body req_body;

	struct pending pending[PENDING_MAX];
	unsigned pending_head, pending_count;

	/* response direction */
	struct spz_h1 resp;
	struct spz_call *resp_call;
	bool resp_started;
	struct spz_resp_body resp_body;
};

bool spz_conn_looks_http(const char *buf, size_t len)
{
	if (len >= 3 && memcmp(buf, h2_preface, len < H2_PREFACE_LEN ? len : H2_PREFACE_LEN) == 0)
		return true;
	/* A method token (upper-case letters) then a space, within the first
	 * bytes; a first write shorter than that is given the benefit. */
	size_t i = 0;
	while (i < len && i < 16 && buf[i] >= 'A' && buf[i] <= 'Z')
		i++;
	if (i == len && i < 16)
		return i > 0 || len == 0;
	return i > 0 && i < 16 && buf[i] == ' ';
}

static void stop_tracking(struct spz_conn *c);

/* ---- request direction ------------------------------------------------- */

static int req_start(void *ud, const struct spz_h1_start *s)
{
	struct spz_conn *c = ud;
	spz_req_head_reset(&c->head);
	spz_req_head_target(&c->head, s->method, s->method_len, s->target, s->target_len);
	return 0;
}

static int req_header(void *ud, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct spz_conn *c = ud;
	spz_req_head_header(&c->head, name, nlen, value, vlen);
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
	bool head = c->head.method_len == 4 && memcmp(c->head.method, "HEAD", 4) == 0;
	struct spz_call *call = spz_call_start(&c->head, c->now);
	if (!call)
		return (c->parse_responses && !push_pending(c, NULL, head)) ? -1 : 0;
	if (!push_pending(c, call, head)) {
		spz_call_free(call);
		return -1;
	}
	c->parse_responses = true;
	c->req_call = call;
	spz_req_body_begin(&c->req_body, call, c->head.coding);
	return 0;
}

static int req_body(void *ud, const char *buf, size_t len)
{
	struct spz_conn *c = ud;
	if (c->req_call)
		spz_req_body_feed(&c->req_body, buf, len);
	return 0;
}

static int req_message_done(void *ud)
{
	struct spz_conn *c = ud;
	if (c->req_call) {
		spz_req_body_end(&c->req_body);
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

static int resp_start(void *ud, const struct spz_h1_start *s)
{
	struct spz_conn *c = ud;
	if (c->pending_count == 0)
		return -1; /* a response to nothing we saw: stop following */
	c->resp_call = c->pending[c->pending_head].call;
	c->resp_started = true;
	struct spz_call *reader = s->status >= 200 ? c->resp_call : NULL;
	spz_resp_body_init(&c->resp_body, reader);
	/* The fields of this response that are read: none of a 1xx's. */
	spz_h1_filter_headers(&c->resp, spz_resp_head_filter(reader));
	if (c->resp_call && s->status >= 200)
		c->resp_call->status = s->status;
	return 0;
}

static int resp_header(void *ud, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct spz_conn *c = ud;
	spz_resp_body_header(&c->resp_body, name, nlen, value, vlen);
	return 0;
}

static int resp_headers_done(void *ud, enum spz_h1_framing *framing, uint64_t content_length)
{
	struct spz_conn *c = ud;
	(void)content_length;
	if (c->pending[c->pending_head].head)
		*framing = SPZ_H1_BODY_NONE;
	return 0;
}

static int resp_body(void *ud, const char *buf, size_t len)
{
	struct spz_conn *c = ud;
	spz_resp_body_feed(&c->resp_body, buf, len, c->now);
	return 0;
}

static int resp_message_done(void *ud)
{
	struct spz_conn *c = ud;
	if (c->resp.status < 200)
		return 0; /* 1xx: the final response is still to come */
	struct pending *p = &c->pending[c->pending_head];
	if (c->resp_call) {
		spz_resp_body_end(&c->resp_body);
		c->resp_call->end_ns = c->now;
		if (c->req_call == c->resp_call) {
			/* answered before the request was fully written */
			spz_req_body_end(&c->req_body);
			c->req_call = NULL;
		}
		spz_call_finish(c->resp_call);
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
	spz_h1_filter_headers(&c->req, spz_req_head_filter());
	return c;
}

bool spz_conn_h1_request_boundary(const struct spz_conn *c)
{
	if (c->ignored || c->h2)
		return false;
	if (!c->decided)
		return c->lead_len == 0;
	return spz_h1_idle(&c->req) && !c->req_call && c->pending_count == 0 && spz_h1_idle(&c->resp);
}

struct spz_h2conn *spz_conn_h2(struct spz_conn *c, const char *buf, size_t len)
{
	if (c->ignored)
		return NULL;
	if (!c->decided) {
		/* The whole preface at the start of a first write: HTTP/2 from
		 * its first byte, so the gate sees all of it before it leaves. */
		if (c->lead_len || !buf || len < H2_PREFACE_LEN || memcmp(buf, h2_preface, H2_PREFACE_LEN) != 0)
			return NULL;
		c->decided = true;
		if (!(c->h2 = spz_h2conn_new())) {
			c->ignored = true;
			return NULL;
		}
	}
	return c->h2 && !spz_h2conn_ignored(c->h2) ? c->h2 : NULL;
}

bool spz_conn_ignored(const struct spz_conn *c)
{
	return c->ignored || (c->h2 && spz_h2conn_ignored(c->h2));
}

static void write_decided(struct spz_conn *c, const char *buf, size_t len);

void spz_conn_on_write(struct spz_conn *c, const char *buf, size_t len, int64_t now_ns)
{
	if (c->ignored || len == 0)
		return;
	c->now = now_ns;
	if (c->decided) {
		write_decided(c, buf, len);
		return;
	}
	/* The preface may come in pieces: hold the first bytes until they are
	 * the whole preface or cannot be. */
	size_t n = H2_PREFACE_LEN - c->lead_len;
	if (n > len)
		n = len;
	memcpy(c->lead + c->lead_len, buf, n);
	c->lead_len += n;
	bool prefix = memcmp(c->lead, h2_preface, c->lead_len) == 0;
	if (prefix && c->lead_len < H2_PREFACE_LEN)
		return;
	c->decided = true;
	if (prefix && !(c->h2 = spz_h2conn_new())) {
		c->ignored = true;
		return;
	}
	write_decided(c, c->lead, c->lead_len);
	if (len > n && !c->ignored)
		write_decided(c, buf + n, len - n);
}

static void write_decided(struct spz_conn *c, const char *buf, size_t len)
{
	if (c->h2) {
		spz_h2conn_on_write(c->h2, buf, len, c->now);
		return;
	}
	if (spz_h1_feed(&c->req, buf, len) < 0)
		stop_tracking(c);
}

size_t spz_conn_on_read(struct spz_conn *c, const char *buf, size_t len, int64_t now_ns)
{
	if (c->h2) /* the HTTP/2 gate follows the frames even when tracking stopped */
		return spz_h2conn_on_read(c->h2, buf, len, now_ns);
	if (c->ignored || len == 0)
		return len;
	c->now = now_ns;
	if (!c->parse_responses)
		return len;
	if (spz_h1_feed(&c->resp, buf, len) < 0)
		stop_tracking(c);
	return len;
}

/* Emits every call still pending as cut off or unanswered. */
static void flush_pending(struct spz_conn *c)
{
	if (c->req_call)
		spz_req_body_end(&c->req_body);
	while (c->pending_count > 0) {
		struct pending *p = &c->pending[c->pending_head];
		struct spz_call *call = p->call;
		if (call) {
			if (call == c->resp_call && c->resp_started) {
				spz_resp_body_end(&c->resp_body);
				call->truncated = true;
			} else {
				call->no_response = true;
			}
			call->end_ns = c->now;
			spz_call_finish(call);
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
	c->ignored = true;
}

void spz_conn_on_eof(struct spz_conn *c, int64_t now_ns)
{
	c->now = now_ns;
	if (!c->decided && c->lead_len && !c->ignored) {
		c->decided = true; /* a lone preface fragment: nothing to report */
		c->ignored = true;
	}
	if (c->h2) {
		spz_h2conn_end(c->h2, now_ns);
		return;
	}
	if (c->ignored)
		return;
	if (c->parse_responses)
		spz_h1_finish(&c->resp); /* completes a body framed by close */
	stop_tracking(c);
}

void spz_conn_free(struct spz_conn *c, int64_t now_ns)
{
	if (!c)
		return;
	spz_conn_on_eof(c, now_ns);
	spz_h2conn_free(c->h2);
	free(c);
}
