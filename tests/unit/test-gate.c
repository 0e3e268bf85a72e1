/* The budget gates. HTTP/1.1: a head written in pieces is held until whole,
 * then refused or written with what followed it.
 *
 * HTTP/2, against a real HTTP/2 server: nghttp2's server
 * session receives what the gate lets out of a client's writes and answers;
 * its answer comes back through the gate's read side as the client would
 * read it. Refused streams must never reach the server, which must accept
 * everything else (HPACK, stream ids, flow control) as a valid connection;
 * the client must read the server's frames untouched, with the refusals
 * inserted between them and without the answers to the gate's PINGs. Every
 * scenario runs in several write slicings, with failed writes retried. */
#include <check.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../shim/budget.h"
#include "../../shim/conn.h"
#include "../../shim/conn_h2.h"
#include "../../shim/gate.h"
#include "h2frames.h"
#include "helpers.h"

static struct spz_budget_map map;
static int refused_records;

static void capture(const struct spz_call *call)
{
	if (call->refused)
		refused_records++;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void setup(void)
{
	memset(&map, 0, sizeof(map));
	map.magic = SPZ_BUDGET_MAP_MAGIC;
	map.seq = 2;
	map.updated_ms = wall_ms() - 500;
	struct spz_budget_entry *e = &map.entries[map.count++];
	snprintf(e->budget_id, sizeof(e->budget_id), "blocked-daily");
	snprintf(e->agent, sizeof(e->agent), "blocked");
	e->scope = SPZ_BUDGET_AGENT;
	e->period = SPZ_BUDGET_DAILY;
	e->enforcement = SPZ_BUDGET_HARD_CAP;
	e->breached = true;
	e->limit_pusd = 1000000000;
	e->current_pusd = 2000000000;
	spz_budget_use_map(&map);
	spz_conn_set_sink(capture);
	refused_records = 0;
}

/* ---- the server --------------------------------------------------------- */

struct server {
	nghttp2_session *s;
	char headers[16][2048]; /* per stream id / 2: "name: value\n"..., ! before never-indexed names */
	size_t data[16];        /* DATA bytes per stream */
	bool ended[16];
	int invalid;
	int streams_seen[16];
	int pings;
};

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *n, size_t nl, const uint8_t *v,
		     size_t vl, uint8_t flags, void *ud)
{
	(void)s;
	struct server *sv = ud;
	uint32_t id = (uint32_t)f->hd.stream_id;
	ck_assert_uint_lt(id / 2, 16);
	char *h = sv->headers[id / 2];
	size_t used = strlen(h);
	snprintf(h + used, 2048 - used, "%s%.*s: %.*s\n", (flags & NGHTTP2_NV_FLAG_NO_INDEX) ? "!" : "", (int)nl,
		 (const char *)n, (int)vl, (const char *)v);
	sv->streams_seen[id / 2] = 1;
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d, size_t len, void *ud)
{
	(void)s, (void)flags, (void)d;
	struct server *sv = ud;
	sv->data[id / 2] += len;
	return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	(void)s;
	struct server *sv = ud;
	if (f->hd.stream_id && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		sv->ended[f->hd.stream_id / 2] = true;
	if (f->hd.type == NGHTTP2_PING && !(f->hd.flags & NGHTTP2_FLAG_ACK))
		sv->pings++;
	return 0;
}

static int on_invalid(nghttp2_session *s, const nghttp2_frame *f, int code, void *ud)
{
	(void)s, (void)f, (void)code;
	((struct server *)ud)->invalid++;
	return 0;
}

static void server_init(struct server *sv)
{
	memset(sv, 0, sizeof(*sv));
	nghttp2_session_callbacks *cb;
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, on_invalid);
	ck_assert_int_eq(nghttp2_session_server_new(&sv->s, cb, sv), 0);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(sv->s, NGHTTP2_FLAG_NONE, NULL, 0);
}

/* The server reads bytes the gate let out; it must find nothing wrong. */
static void server_recv(struct server *sv, const char *buf, size_t len)
{
	ssize_t r = nghttp2_session_mem_recv(sv->s, (const uint8_t *)buf, len);
	ck_assert_int_eq(r, (ssize_t)len);
	ck_assert_int_eq(sv->invalid, 0);
	ck_assert(nghttp2_session_want_read(sv->s)); /* no GOAWAY of its own */
}

static void server_send(struct server *sv, struct h2buf *to_client)
{
	for (;;) {
		const uint8_t *p;
		ssize_t n = nghttp2_session_mem_send(sv->s, &p);
		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		h2_append(to_client, p, (size_t)n);
	}
}

/* ---- the client's side through the gate ---------------------------------- */

struct client {
	struct spz_conn *conn;
	struct spz_h2conn *h2;
	struct h2buf sent;    /* what the gate wrote to the server */
	struct h2buf visible; /* what the client read */
	unsigned writes;
	uint32_t seed;
};

/* One client write of buf[0, len), failing once first when fail is set
 * (WANT_WRITE: the client retries with the same bytes). */
static void client_write(struct client *cl, const char *buf, size_t len, bool fail)
{
	char *copy = malloc(len);
	memcpy(copy, buf, len);
	if (!cl->h2 && !(cl->h2 = spz_conn_h2(cl->conn, copy, len))) {
		/* the preface in pieces: followed after the write, as the hooks do */
		spz_conn_on_write(cl->conn, copy, len, 0);
		cl->h2 = spz_conn_h2(cl->conn, NULL, 0);
		free(copy);
		h2_append(&cl->sent, buf, len);
		cl->writes++;
		return;
	}
	const char *out;
	size_t out_len;
	spz_h2conn_write_begin(cl->h2, copy, len, spz_budget_armed(wall_ms()), 0, &out, &out_len);
	char *first = NULL;
	size_t first_len = out_len;
	if (fail) {
		first = malloc(out_len + 1);
		memcpy(first, out, out_len);
		ck_assert_uint_eq(spz_h2conn_write_end(cl->h2, false, 0), 0);
		/* the retry, from another copy of the same bytes */
		char *again = malloc(len);
		memcpy(again, buf, len);
		free(copy);
		copy = again;
		spz_h2conn_write_begin(cl->h2, copy, len, spz_budget_armed(wall_ms()), 0, &out, &out_len);
		ck_assert_uint_eq(out_len, first_len);
		ck_assert(memcmp(out, first, out_len) == 0);
	}
	h2_append(&cl->sent, out, out_len);
	ck_assert_uint_eq(spz_h2conn_write_end(cl->h2, true, out_len), len);
	free(first);
	free(copy);
	cl->writes++;
}

/* The client writes the bytes in slices of the given mode: 0 whole, 1 one
 * byte each, 2 random sizes, 3 random sizes with failed writes. */
static void client_send(struct client *cl, const struct h2buf *b, size_t from, int mode)
{
	size_t i = from;
	while (i < b->len) {
		size_t n = b->len - i;
		if (mode == 1)
			n = 1;
		else if (mode >= 2) {
			cl->seed = cl->seed * 1103515245u + 12345u;
			size_t k = 1 + (cl->seed >> 8) % 200;
			n = k < n ? k : n;
		}
		bool fail = mode == 3 && (cl->seed >> 20) % 3 == 0;
		client_write(cl, b->data + i, n, fail);
		i += n;
	}
}

/* The client reads everything the server sent, with reads of cap bytes, as
 * SSL_read goes through the hooks. */
static void client_read(struct client *cl, const struct h2buf *from_server, size_t *pos, size_t cap)
{
	char *buf = malloc(cap);
	for (;;) {
		size_t limit;
		size_t n = spz_h2conn_take(cl->h2, buf, cap, true, &limit);
		if (n) {
			h2_append(&cl->visible, buf, n);
			continue;
		}
		size_t k = from_server->len - *pos;
		if (k > cap)
			k = cap;
		if (k > limit)
			k = limit;
		if (k == 0)
			break; /* the socket has nothing more: the client would wait */
		memcpy(buf, from_server->data + *pos, k);
		*pos += k;
		if (spz_conn_on_read(cl->conn, buf, k, 0))
			h2_append(&cl->visible, buf, k);
	}
	free(buf);
}

/* ---- frames the client read ----------------------------------------------- */

struct seen {
	int pings_ack;
	int status[16];       /* :status per stream, as the client decodes it */
	size_t data[16];      /* DATA per stream */
	uint64_t wu_conn;     /* WINDOW_UPDATE increments on stream 0 */
	uint64_t wu_stream[16];
	char body[16][1024];
};

static void decode_visible(const struct h2buf *v, struct seen *out)
{
	memset(out, 0, sizeof(*out));
	nghttp2_hd_inflater *inf;
	nghttp2_hd_inflate_new(&inf);
	const uint8_t *p = (const uint8_t *)v->data;
	size_t i = 0;
	while (i + 9 <= v->len) {
		uint32_t len = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		uint8_t type = p[i + 3], flags = p[i + 4];
		uint32_t id = ((uint32_t)p[i + 5] << 24 | (uint32_t)p[i + 6] << 16 | (uint32_t)p[i + 7] << 8 | p[i + 8]) &
			      0x7fffffff;
		ck_assert_uint_le(i + 9 + len, v->len);
		const uint8_t *pl = p + i + 9;
		ck_assert_uint_lt(id / 2, 16);
		if (type == 6 && (flags & 1))
			out->pings_ack++;
		if (type == 8) {
			uint32_t inc = ((uint32_t)pl[0] << 24 | (uint32_t)pl[1] << 16 | (uint32_t)pl[2] << 8 | pl[3]) &
				       0x7fffffff;
			if (id)
				out->wu_stream[id / 2] += inc;
			else
				out->wu_conn += inc;
		}
		if (type == 0) {
			size_t room = sizeof(out->body[0]) - 1 - out->data[id / 2];
			memcpy(out->body[id / 2] + out->data[id / 2], pl, len < room ? len : room);
			out->data[id / 2] += len;
		}
		if (type == 1) {
			ck_assert(flags & 0x4); /* the test's blocks fit one frame */
			const uint8_t *in = pl;
			size_t left = len;
			for (;;) {
				nghttp2_nv nv;
				int fl = 0;
				ssize_t r = nghttp2_hd_inflate_hd2(inf, &nv, &fl, in, left, 1);
				ck_assert_int_ge(r, 0);
				in += r;
				left -= (size_t)r;
				if ((fl & NGHTTP2_HD_INFLATE_EMIT) && nv.namelen == 7 && memcmp(nv.name, ":status", 7) == 0)
					out->status[id / 2] = atoi((const char *)nv.value);
				if (fl & NGHTTP2_HD_INFLATE_FINAL) {
					nghttp2_hd_inflate_end_headers(inf);
					break;
				}
			}
		}
		i += 9 + len;
	}
	ck_assert_uint_eq(i, v->len);
	nghttp2_hd_inflate_del(inf);
}

/* ---- the requests ---------------------------------------------------------- */

static const char body[] = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";

static void request(struct h2conv *cv, uint32_t id, const char *agent, const char *payload, size_t plen,
		    size_t chunk)
{
	nghttp2_nv nv[] = {
		H2_NV(":method", "POST"), H2_NV(":scheme", "https"), H2_NV(":path", "/v1/chat/completions"),
		H2_NV(":authority", "api.openai.com"), H2_NV("content-type", "application/json"),
		H2_NV("authorization", "Bearer sk-test-canary"), H2_NV("x-spaturzu-agent", agent),
	};
	nv[5].flags = NGHTTP2_NV_FLAG_NO_INDEX; /* a credential: must stay never indexed */
	h2_headers(&cv->w, cv->dw, id, nv, 7, 0, 0, 0);
	h2_data(&cv->w, id, payload, plen, chunk, 0, 1);
}

static void respond(struct server *sv, uint32_t id)
{
	nghttp2_nv nv[] = { H2_NV(":status", "200"), H2_NV("content-type", "application/json"),
			    H2_NV("x-request-id", "req-1234") };
	ck_assert_int_eq(nghttp2_submit_headers(sv->s, NGHTTP2_FLAG_END_STREAM, (int32_t)id, NULL, nv, 3, NULL), 0);
}

static void window_update(struct h2buf *b, uint32_t stream, uint32_t inc)
{
	uint8_t p[4] = { (uint8_t)(inc >> 24), (uint8_t)(inc >> 16), (uint8_t)(inc >> 8), (uint8_t)inc };
	h2_frame(b, 8, 0, stream, p, 4);
}

static void run_scenario(int mode, size_t read_cap)
{
	setup();
	struct h2conv cv;
	h2_conv_init(&cv, 0);
	struct server sv;
	server_init(&sv);
	struct client cl = { .conn = spz_conn_new(), .seed = 7 + (uint32_t)mode };
	struct h2buf to_client = { 0 };
	size_t rpos = 0;

	/* Stream 1 is refused: its block adds entries to the client's table. */
	size_t mark = 0;
	request(&cv, 1, "blocked", body, sizeof(body) - 1, 1000);
	client_send(&cl, &cv.w, mark, mode);
	mark = cv.w.len;
	server_recv(&sv, cl.sent.data, cl.sent.len);
	size_t sent_mark = cl.sent.len;
	server_send(&sv, &to_client);
	client_read(&cl, &to_client, &rpos, read_cap);

	/* Stream 3 passes; its block refers to entries the server never got. */
	request(&cv, 3, "free", body, sizeof(body) - 1, 1000);
	/* Stream 5 is refused with a body in several DATA frames. */
	char big[5000];
	memset(big, 'x', sizeof(big));
	request(&cv, 5, "blocked", big, sizeof(big), 1500);
	/* Stream 7 passes. */
	request(&cv, 7, "free", body, sizeof(body) - 1, 10);
	client_send(&cl, &cv.w, mark, mode);
	mark = cv.w.len;
	server_recv(&sv, cl.sent.data + sent_mark, cl.sent.len - sent_mark);
	sent_mark = cl.sent.len;
	respond(&sv, 3);
	respond(&sv, 7);
	server_send(&sv, &to_client);
	client_read(&cl, &to_client, &rpos, read_cap);

	struct seen seen;
	decode_visible(&cl.visible, &seen);
	/* the server saw streams 3 and 7 only, whole, with the same fields */
	ck_assert(!sv.streams_seen[0] && !sv.streams_seen[2]);
	ck_assert_uint_eq(sv.data[0] + sv.data[2], 0);
	for (int s = 1; s <= 3; s += 2) {
		ck_assert_str_eq(sv.headers[s], ":method: POST\n:scheme: https\n:path: /v1/chat/completions\n"
						":authority: api.openai.com\ncontent-type: application/json\n"
						"!authorization: Bearer sk-test-canary\nx-spaturzu-agent: free\n");
		ck_assert_uint_eq(sv.data[s], sizeof(body) - 1);
		ck_assert(sv.ended[s]);
	}
	/* the client read 429s for 1 and 5, the server's 200s for 3 and 7 */
	ck_assert_int_eq(seen.status[0], 429);
	ck_assert_int_eq(seen.status[2], 429);
	ck_assert_int_eq(seen.status[1], 200);
	ck_assert_int_eq(seen.status[3], 200);
	ck_assert_ptr_nonnull(strstr(seen.body[0], "\"code\":\"budget_exceeded\""));
	ck_assert_int_eq(seen.pings_ack, 0); /* the answers to the gate's PINGs were taken out */
	/* the dropped DATA's windows came back: all of it on the connection,
	 * the stream's but for its last frame (END_STREAM) */
	ck_assert_uint_eq(seen.wu_conn, sizeof(body) - 1 + sizeof(big));
	ck_assert_uint_eq(seen.wu_stream[0], 0);
	ck_assert_uint_eq(seen.wu_stream[2], sizeof(big) - sizeof(big) % 1500);
	ck_assert_int_eq(refused_records, 2);

	/* The client returns the window it read: what it read of the gate's
	 * DATA is not the server's to get back. */
	uint32_t before = (uint32_t)nghttp2_session_get_remote_window_size(sv.s);
	size_t injected = seen.data[0] + seen.data[2];
	window_update(&cv.w, 0, 100);
	window_update(&cv.w, 0, 100000);
	client_send(&cl, &cv.w, mark, mode);
	server_recv(&sv, cl.sent.data + sent_mark, cl.sent.len - sent_mark);
	ck_assert_uint_eq((uint32_t)nghttp2_session_get_remote_window_size(sv.s), before + 100100 - injected);
	ck_assert_int_eq(sv.pings, 2);

	/* Two refusals in one write: one PING, and both answers after it. */
	mark = cv.w.len;
	sent_mark = cl.sent.len;
	request(&cv, 9, "blocked", body, sizeof(body) - 1, 1000);
	request(&cv, 11, "blocked", body, sizeof(body) - 1, 1000);
	client_send(&cl, &cv.w, mark, 0);
	server_recv(&sv, cl.sent.data + sent_mark, cl.sent.len - sent_mark);
	ck_assert_int_eq(sv.pings, 3);
	server_send(&sv, &to_client);
	client_read(&cl, &to_client, &rpos, read_cap);
	decode_visible(&cl.visible, &seen);
	ck_assert_int_eq(seen.status[4], 429);
	ck_assert_int_eq(seen.status[5], 429);
	ck_assert_int_eq(seen.pings_ack, 0);
	ck_assert(!sv.streams_seen[4] && !sv.streams_seen[5]);

	h2_conv_free(&cv);
	nghttp2_session_del(sv.s);
	spz_conn_free(cl.conn, 0);
	free(cl.sent.data);
	free(cl.visible.data);
	free(to_client.data);
	spz_budget_use_map(NULL);
}

START_TEST(refused_streams_never_reach_a_real_server)
{
	static const size_t caps[] = { 16384, 9, 1, 100 };
	run_scenario(_i, caps[_i]);
}
END_TEST

/* With no budget breached the client's own buffer goes out untouched. */
START_TEST(off_the_bytes_are_the_clients_own)
{
	setup();
	map.count = 0;
	struct h2conv cv;
	h2_conv_init(&cv, 0);
	request(&cv, 1, "blocked", body, sizeof(body) - 1, 10);
	struct spz_conn *conn = spz_conn_new();
	struct spz_h2conn *h2 = spz_conn_h2(conn, cv.w.data, cv.w.len);
	ck_assert_ptr_nonnull(h2);
	for (size_t i = 0; i < cv.w.len;) {
		size_t n = cv.w.len - i < 37 ? cv.w.len - i : 37;
		const char *out;
		size_t out_len;
		spz_h2conn_write_begin(h2, cv.w.data + i, n, false, 0, &out, &out_len);
		ck_assert_ptr_eq(out, cv.w.data + i);
		ck_assert_uint_eq(out_len, n);
		ck_assert_uint_eq(spz_h2conn_write_end(h2, true, n), n);
		i += n;
	}
	ck_assert_int_eq(refused_records, 0);
	spz_conn_free(conn, 0);
	h2_conv_free(&cv);
	spz_budget_use_map(NULL);
}
END_TEST

static const char head_blocked[] = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
				   "x-spaturzu-agent: blocked\r\nContent-Length: 5\r\n\r\n";
static const char head_free[] = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
				"x-spaturzu-agent: free\r\nContent-Length: 5\r\n\r\n";

START_TEST(http1_head_in_pieces_is_held_then_judged)
{
	setup();
	struct spz_gate g = { 0 };
	const char *out;
	size_t out_len;
	/* refused: every piece is taken, nothing goes out, the body dropped, and
	 * a request pipelined behind it goes out on its own */
	ck_assert_uint_eq(spz_gate_write(&g, true, true, head_blocked, 10, &out, &out_len), 10);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(spz_gate_write(&g, true, true, head_blocked + 10, 30, &out, &out_len), 30);
	char last[512];
	size_t rest = sizeof(head_blocked) - 1 - 40;
	memcpy(last, head_blocked + 40, rest);
	memcpy(last + rest, "hello", 5);
	memcpy(last + rest + 5, head_free, 20);
	ck_assert_uint_eq(spz_gate_write(&g, false, true, last, rest + 25, &out, &out_len), 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(out_len, 20);
	ck_assert(memcmp(out, head_free, 20) == 0);
	/* the write fails: the retry gets the same plan */
	const char *again;
	size_t again_len;
	ck_assert_uint_eq(spz_gate_write(&g, false, true, last, rest + 25, &again, &again_len), 0);
	ck_assert_ptr_eq(again, out);
	ck_assert_uint_eq(again_len, 20);
	spz_gate_plan_written(&g);
	ck_assert_uint_gt(spz_gate_pending(&g), 100);
	ck_assert_int_eq(refused_records, 1);
	spz_gate_clear(&g);
	/* under budget: held, then all of it goes out with what followed */
	ck_assert_uint_eq(spz_gate_write(&g, true, true, head_free, 50, &out, &out_len), 50);
	ck_assert_uint_eq(spz_gate_write(&g, false, true, head_free + 50, sizeof(head_free) - 1 - 50, &out, &out_len),
			  0);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(out_len, sizeof(head_free) - 1);
	ck_assert(memcmp(out, head_free, out_len) == 0);
	spz_gate_plan_written(&g);
	ck_assert(!spz_gate_busy(&g));
	/* partial-write connections are not held: the old fail-open path */
	ck_assert_uint_eq(spz_gate_write(&g, true, false, head_blocked, 10, &out, &out_len), 0);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(refused_records, 1);
	spz_gate_clear(&g);
	spz_budget_use_map(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gate");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, refused_streams_never_reach_a_real_server, 0, 4);
	tcase_add_test(tc, off_the_bytes_are_the_clients_own);
	tcase_add_test(tc, http1_head_in_pieces_is_held_then_judged);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
