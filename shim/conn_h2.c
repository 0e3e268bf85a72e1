/* HTTP/2 streams as calls. Request header blocks (written) decide whether a
 * stream is an LLM call; its DATA goes to the request body pipeline, the
 * response's to the response pipeline; END_STREAM from the server, RST_STREAM
 * from either side, GOAWAY or the connection's end close the call. Streams
 * that are not calls cost nothing but the header decoding HPACK requires.
 * At most STREAMS_MAX calls are followed at once per connection.
 *
 * The written side is fed through the budget gate (h2gate.c) before the
 * bytes leave, so a request's complete header block can still be refused:
 * judge() asks the budgets and hands the gate the answer's frames. */
#include "conn_h2.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget.h"
#include "exchange.h"
#include "extract.h"
#include "gate.h"
#include "h2gate.h"
#include "http2.h"
#include "log.h"
#include "refusal.h"
#include "zalloc.h"

#define STREAMS_MAX 128

struct h2_stream {
	uint32_t id;
	struct spz_call *call;
	struct spz_req_body req_body;
	struct spz_resp_body resp_body;
	bool req_open;     /* the request body is still coming */
	bool final_seen;   /* the final (non-1xx) response head arrived */
};

struct spz_h2conn {
	bool ignored;
	int64_t now;
	struct spz_hpack *req_hpack, *resp_hpack;
	struct spz_h2 req, resp;
	/* the request header block being decoded (blocks never interleave) */
	struct spz_req_head head;
	char method[16];
	char path[1024];
	size_t method_len, path_len;
	/* the response header block being decoded */
	struct h2_stream *resp_block;
	bool resp_block_final;
	struct h2_stream *streams[STREAMS_MAX];
	unsigned stream_count;
	bool warned_full;
	struct spz_h2gate gate;
};

static struct h2_stream *find(struct spz_h2conn *c, uint32_t id)
{
	for (unsigned i = 0; i < c->stream_count; i++)
		if (c->streams[i]->id == id)
			return c->streams[i];
	return NULL;
}

static void close_stream(struct spz_h2conn *c, struct h2_stream *s, bool cut)
{
	if (s->req_open)
		spz_req_body_end(&s->req_body);
	if (cut) {
		if (s->final_seen)
			s->call->truncated = true;
		else
			s->call->no_response = true;
	}
	spz_resp_body_end(&s->resp_body);
	s->call->end_ns = c->now;
	spz_call_finish(s->call);
	if (c->resp_block == s)
		c->resp_block = NULL;
	for (unsigned i = 0; i < c->stream_count; i++) {
		if (c->streams[i] == s) {
			c->streams[i] = c->streams[--c->stream_count];
			break;
		}
	}
	free(s);
}

/* ---- written: requests ------------------------------------------------- */

static void req_headers_begin(void *ud, uint32_t stream, bool push)
{
	struct spz_h2conn *c = ud;
	(void)stream;
	(void)push;
	spz_req_head_reset(&c->head);
	c->method_len = c->path_len = 0;
}

static void req_header(void *ud, uint32_t stream, const char *n, size_t nl, const char *v, size_t vl,
		       bool never_index)
{
	struct spz_h2conn *c = ud;
	(void)stream;
	spz_h2gate_field(&c->gate, n, nl, v, vl, never_index);
	if (nl == 7 && memcmp(n, ":method", 7) == 0) {
		c->method_len = vl < sizeof(c->method) ? vl : sizeof(c->method) - 1;
		memcpy(c->method, v, c->method_len);
	} else if (nl == 5 && memcmp(n, ":path", 5) == 0) {
		/* A path longer than we keep is not matched (see exchange.c). */
		c->path_len = vl < sizeof(c->path) ? vl : sizeof(c->path);
		memcpy(c->path, v, c->path_len);
	} else {
		spz_req_head_header(&c->head, n, nl, v, vl);
	}
}

/* A request held back by the gate is complete: true if a budget refuses
 * it (its frames never leave, the gate answers in its place). */
static bool judge(struct spz_h2conn *c, uint32_t stream)
{
	int64_t now = spz_wall_ms();
	if (!spz_budget_armed(now))
		return false;
	char agent[SPZ_BUDGET_AGENT_MAX];
	struct spz_budget_verdict v;
	enum spz_error_shape shape;
	if (!spz_gate_judge(&c->head, now, &v, agent, sizeof(agent), &shape))
		return false;
	char frames[2048];
	size_t data_len = 0;
	size_t n = spz_refusal_h2(shape, &v.entry, agent, stream, 16384, frames, sizeof(frames), &data_len);
	if (!n || !spz_h2gate_refuse(&c->gate, frames, n, data_len))
		return false;
	spz_gate_record_refusal(&c->head, &v, agent);
	return true;
}

static void req_headers_end(void *ud, uint32_t stream, bool end_stream)
{
	struct spz_h2conn *c = ud;
	struct h2_stream *s = find(c, stream);
	if (s) { /* trailers of a request we follow */
		if (end_stream && s->req_open) {
			spz_req_body_end(&s->req_body);
			s->req_open = false;
		}
		return;
	}
	spz_req_head_target(&c->head, c->method, c->method_len, c->path, c->path_len);
	if (spz_h2gate_refusable(&c->gate) && judge(c, stream))
		return;
	struct spz_call *call = spz_call_start(&c->head, c->now);
	if (!call)
		return;
	if (c->stream_count == STREAMS_MAX || !(s = spz_zalloc(sizeof(*s)))) {
		if (!c->warned_full)
			spz_log("more than %d LLM calls at once on one HTTP/2 connection: the rest untracked", STREAMS_MAX);
		c->warned_full = true;
		spz_call_free(call);
		return;
	}
	s->id = stream;
	s->call = call;
	c->streams[c->stream_count++] = s;
	spz_req_body_begin(&s->req_body, call, c->head.coding);
	s->req_open = !end_stream;
	if (end_stream)
		spz_req_body_end(&s->req_body);
}

static void req_data(void *ud, uint32_t stream, const char *buf, size_t len)
{
	struct h2_stream *s = find(ud, stream);
	if (s && s->req_open)
		spz_req_body_feed(&s->req_body, buf, len);
}

static void req_end_stream(void *ud, uint32_t stream)
{
	struct h2_stream *s = find(ud, stream);
	if (s && s->req_open) {
		spz_req_body_end(&s->req_body);
		s->req_open = false;
	}
}

static void any_rst_stream(void *ud, uint32_t stream)
{
	struct spz_h2conn *c = ud;
	struct h2_stream *s = find(c, stream);
	if (s)
		close_stream(c, s, true);
}

static void req_table_size(void *ud, uint32_t size)
{
	struct spz_h2conn *c = ud;
	/* The client's limit is the one the server's encoder must keep. */
	if (spz_hpack_table_size(c->resp_hpack, size) < 0)
		c->ignored = true;
}

static const struct spz_h2_callbacks req_callbacks = {
	.headers_begin = req_headers_begin,
	.header = req_header,
	.headers_end = req_headers_end,
	.data = req_data,
	.end_stream = req_end_stream,
	.rst_stream = any_rst_stream,
	.table_size = req_table_size,
};

/* ---- read: responses --------------------------------------------------- */

static void resp_headers_begin(void *ud, uint32_t stream, bool push)
{
	struct spz_h2conn *c = ud;
	c->resp_block = push ? NULL : find(c, stream);
	c->resp_block_final = false;
}

static void resp_header(void *ud, uint32_t stream, const char *n, size_t nl, const char *v, size_t vl,
			bool never_index)
{
	(void)never_index;
	struct spz_h2conn *c = ud;
	struct h2_stream *s = c->resp_block;
	(void)stream;
	if (!s)
		return;
	if (nl == 7 && memcmp(n, ":status", 7) == 0) {
		int status = 0;
		for (size_t i = 0; i < vl; i++)
			status = (v[i] >= '0' && v[i] <= '9' && i < 3) ? status * 10 + (v[i] - '0') : -1;
		/* 1xx heads are interim; a head after the final one is trailers. */
		if (vl == 3 && status >= 200 && !s->final_seen) {
			s->final_seen = true;
			c->resp_block_final = true;
			s->call->status = status;
			spz_resp_body_init(&s->resp_body, s->call);
		}
		return;
	}
	if (c->resp_block_final)
		spz_resp_body_header(&s->resp_body, n, nl, v, vl);
}

static void resp_headers_end(void *ud, uint32_t stream, bool end_stream)
{
	struct spz_h2conn *c = ud;
	struct h2_stream *s = find(c, stream);
	c->resp_block = NULL;
	if (s && end_stream)
		close_stream(c, s, false);
}

static void resp_data(void *ud, uint32_t stream, const char *buf, size_t len)
{
	struct spz_h2conn *c = ud;
	struct h2_stream *s = find(c, stream);
	if (s && s->final_seen)
		spz_resp_body_feed(&s->resp_body, buf, len, c->now);
}

static void resp_end_stream(void *ud, uint32_t stream)
{
	struct spz_h2conn *c = ud;
	struct h2_stream *s = find(c, stream);
	if (s)
		close_stream(c, s, !s->final_seen);
}

static void resp_goaway(void *ud, uint32_t last_stream)
{
	struct spz_h2conn *c = ud;
	/* Streams above the last one the server took were never processed. */
	for (unsigned i = c->stream_count; i-- > 0;)
		if (c->streams[i]->id > last_stream)
			close_stream(c, c->streams[i], true);
}

static void resp_table_size(void *ud, uint32_t size)
{
	struct spz_h2conn *c = ud;
	if (spz_hpack_table_size(c->req_hpack, size) < 0)
		c->ignored = true;
}

static const struct spz_h2_callbacks resp_callbacks = {
	.headers_begin = resp_headers_begin,
	.header = resp_header,
	.headers_end = resp_headers_end,
	.data = resp_data,
	.end_stream = resp_end_stream,
	.rst_stream = any_rst_stream,
	.goaway = resp_goaway,
	.table_size = resp_table_size,
};

/* ---- connection -------------------------------------------------------- */

static void feed_tracker(void *ud, const char *buf, size_t len);

struct spz_h2conn *spz_h2conn_new(void)
{
	struct spz_h2conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->req_hpack = spz_hpack_new();
	c->resp_hpack = c->req_hpack ? spz_hpack_new() : NULL;
	if (!c->resp_hpack) {
		spz_h2conn_free(c);
		return NULL;
	}
	spz_h2_init(&c->req, true, c->req_hpack, &req_callbacks, c);
	spz_h2gate_init(&c->gate, feed_tracker, c);
	spz_h2_init(&c->resp, false, c->resp_hpack, &resp_callbacks, c);
	return c;
}

bool spz_h2conn_ignored(const struct spz_h2conn *c)
{
	/* Once the gate has been on, it follows the frames to the end. */
	return c->ignored && !c->gate.engaged;
}

static void give_up(struct spz_h2conn *c)
{
	spz_h2conn_end(c, c->now);
	c->ignored = true;
}

static void feed_tracker(void *ud, const char *buf, size_t len)
{
	struct spz_h2conn *c = ud;
	if (c->ignored)
		return;
	if (spz_h2_feed(&c->req, buf, len) < 0 || c->ignored)
		give_up(c);
}

void spz_h2conn_on_write(struct spz_h2conn *c, const char *buf, size_t len, int64_t now_ns)
{
	c->now = now_ns;
	spz_h2gate_written(&c->gate, buf, len);
}

void spz_h2conn_write_begin(struct spz_h2conn *c, const char *buf, size_t len, bool gate_on, int64_t now_ns,
			    const char **out, size_t *out_len)
{
	c->now = now_ns;
	spz_h2gate_write_begin(&c->gate, buf, len, gate_on, out, out_len);
}

size_t spz_h2conn_write_end(struct spz_h2conn *c, bool ok, size_t written)
{
	return spz_h2gate_write_end(&c->gate, ok, written);
}

size_t spz_h2conn_take(struct spz_h2conn *c, char *buf, size_t cap, bool take, size_t *limit)
{
	size_t server_bytes;
	size_t n = spz_h2gate_take(&c->gate, buf, cap, take, limit, &server_bytes);
	if (server_bytes && !c->ignored && (spz_h2_feed(&c->resp, buf, server_bytes) < 0 || c->ignored))
		give_up(c);
	return n;
}

size_t spz_h2conn_pending(const struct spz_h2conn *c)
{
	return spz_h2gate_pending(&c->gate);
}

size_t spz_h2conn_on_read(struct spz_h2conn *c, const char *buf, size_t len, int64_t now_ns)
{
	if (!spz_h2gate_read(&c->gate, buf, len))
		return 0;
	if (c->ignored)
		return len;
	c->now = now_ns;
	if (spz_h2_feed(&c->resp, buf, len) < 0 || c->ignored)
		give_up(c);
	return len;
}

bool spz_h2conn_reads_gated(const struct spz_h2conn *c)
{
	return spz_h2gate_reads_gated(&c->gate);
}

void spz_h2conn_end(struct spz_h2conn *c, int64_t now_ns)
{
	if (!c)
		return;
	c->now = now_ns;
	while (c->stream_count)
		close_stream(c, c->streams[c->stream_count - 1], true);
	c->ignored = true;
	c->gate.blind = true;
}

void spz_h2conn_free(struct spz_h2conn *c)
{
	if (!c)
		return;
	spz_h2conn_end(c, c->now);
	spz_hpack_free(c->req_hpack);
	spz_hpack_free(c->resp_hpack);
	spz_h2gate_free(&c->gate);
	free(c);
}
