/* HTTP/2 through the connection tracker: every corpus case as its own
 * stream, many streams interleaved on one connection, header blocks split
 * over CONTINUATION, padding, a larger HPACK table, RST_STREAM and GOAWAY,
 * in every slicing. Header blocks are real HPACK from nghttp2's deflater. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/conn.h"
#include "corpus.h"
#include "h2frames.h"
#include "helpers.h"

#define CALLS_MAX 256
static struct spz_call captured[CALLS_MAX];
static size_t captured_count;

static void capture(const struct spz_call *call)
{
	ck_assert_uint_lt(captured_count, CALLS_MAX);
	captured[captured_count++] = *call;
}

static struct corpus_case cases[64];
static size_t case_count;
static const char *const providers[] = {
	"openai", "anthropic", "azure_openai", "bedrock", "cohere", "deepseek",
	"gemini", "groq", "mistral", "openrouter", "xai",
};

static void setup(void)
{
	case_count = 0;
	for (size_t p = 0; p < sizeof(providers) / sizeof(providers[0]); p++)
		case_count += corpus_load(providers[p], cases + case_count, 64 - case_count);
	spz_conn_set_sink(capture);
	captured_count = 0;
}

static void teardown(void)
{
	for (size_t i = 0; i < case_count; i++)
		corpus_free(&cases[i]);
}

/* The request line parts of a case, from its HTTP/1.1 form. */
static void request_parts(const struct corpus_case *c, char *method, char *path, char **body, size_t *blen)
{
	size_t qlen;
	char *req = corpus_request(c, &qlen);
	sscanf(req, "%15s %1023s", method, path);
	free(req);
	*body = corpus_request_body(c, blen);
}

/* Writes stream `id` of case c: the request into w, the response head into
 * r and its DATA frames into rd (which may be r). */
static void add_stream_parts(struct h2buf *w, struct h2buf *r, struct h2buf *rd, nghttp2_hd_deflater *dw,
			     nghttp2_hd_deflater *dr, const struct corpus_case *c, uint32_t id, int variant)
{
	char method[16], path[1024];
	char *body;
	size_t blen;
	request_parts(c, method, path, &body, &blen);
	char host[256];
	snprintf(host, sizeof(host), "%s", corpus_request_host(c));
	nghttp2_nv req[] = {
		H2_NV(":method", method), H2_NV(":scheme", "https"), H2_NV(":path", path),
		H2_NV(":authority", host), H2_NV("content-type", "application/json"),
		H2_NV("authorization", "Bearer sk-test"),
	};
	h2_headers(w, dw, id, req, 6, blen == 0, variant & 1, (uint8_t)((variant & 2) ? 7 : 0));
	if (blen)
		h2_data(w, id, body, blen, 1000, (uint8_t)((variant & 2) ? 3 : 0), 1);
	free(body);

	char status[8];
	int st = (int)json_integer_value(json_object_get(c->meta, "status"));
	snprintf(status, sizeof(status), "%d", st ? st : 200);
	nghttp2_nv resp[16] = { H2_NV(":status", status) };
	size_t n = 1;
	const char *k;
	json_t *v;
	bool has_type = false;
	json_object_foreach(json_object_get(c->meta, "response_headers"), k, v) {
		if (!json_is_string(v) || !strcasecmp(k, "content-length") || !strcasecmp(k, "transfer-encoding") ||
		    !strcasecmp(k, "content-encoding") || !strcasecmp(k, "connection") || !strcasecmp(k, "keep-alive") ||
		    n == 15)
			continue;
		has_type |= !strcasecmp(k, "content-type");
		resp[n++] = (nghttp2_nv){ (uint8_t *)k, (uint8_t *)json_string_value(v), strlen(k),
					  strlen(json_string_value(v)), NGHTTP2_NV_FLAG_NONE };
	}
	if (!has_type)
		resp[n++] = (nghttp2_nv)H2_NV("content-type", strncmp(c->body, "data:", 5) ? "application/json"
												: "text/event-stream");
	h2_headers(r, dr, id, resp, n, 0, variant & 1, 0);
	h2_data(rd, id, c->body, c->body_len, (variant & 4) ? 50 : 16384, (uint8_t)((variant & 2) ? 5 : 0), 1);
}

static void add_stream(struct h2buf *w, struct h2buf *r, nghttp2_hd_deflater *dw, nghttp2_hd_deflater *dr,
		       const struct corpus_case *c, uint32_t id, int variant)
{
	add_stream_parts(w, r, r, dw, dr, c, id, variant);
}

/* Moves the next whole frame of src (from *at) to the end of dst. */
static bool move_frame(struct h2buf *dst, const struct h2buf *src, size_t *at)
{
	if (*at >= src->len)
		return false;
	const uint8_t *h = (const uint8_t *)src->data + *at;
	size_t n = 9 + ((size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2]);
	h2_append(dst, src->data + *at, n);
	*at += n;
	return true;
}

static void feed_write(void *ctx, const char *buf, size_t len)
{
	spz_conn_on_write(ctx, buf, len, 1);
}

static void feed_read(void *ctx, const char *buf, size_t len)
{
	spz_conn_on_read(ctx, buf, len, 2);
}

START_TEST(each_case_as_a_stream)
{
	for (size_t i = 0; i < case_count; i++) {
		for (int variant = 0; variant < 8; variant++) {
			struct h2conv h;
			h2_conv_init(&h, 0);
			add_stream(&h.w, &h.r, h.dw, h.dr, &cases[i], 1, variant);
			int mode = variant % SLICE_MODES;
			struct spz_conn *c = spz_conn_new();
			captured_count = 0;
			feed_sliced(feed_write, c, h.w.data, h.w.len, (enum slicing)mode, (uint32_t)i + 3);
			feed_sliced(feed_read, c, h.r.data, h.r.len, (enum slicing)mode, (uint32_t)i + 4);
			ck_assert_msg(captured_count == 1, "%s variant %d: %zu records", cases[i].name, variant,
				      captured_count);
			corpus_check_call(&cases[i], &captured[0]);
			spz_conn_free(c, 3);
			ck_assert_uint_eq(captured_count, 1);
			h2_conv_free(&h);
		}
	}
}
END_TEST

START_TEST(many_streams_interleaved_with_noise)
{
	/* All cases at once on one connection, a bigger HPACK table announced
	 * by the client, requests that are not LLM calls and pings mixed in.
	 * Header blocks keep the order they were encoded in (HPACK needs it);
	 * the streams' DATA frames take turns. */
	struct h2conv h;
	h2_conv_init(&h, 65536);
	struct h2buf *w = &h.w, *r = &h.r;
	nghttp2_hd_deflater *dw = h.dw, *dr = h.dr;
	struct h2buf data[64] = { 0 };
	for (size_t i = 0; i < case_count; i++) {
		uint32_t id = 1 + 2 * (uint32_t)i;
		add_stream_parts(w, r, &data[i], dw, dr, &cases[i], id, (int)i % 8);
		nghttp2_nv other[] = { H2_NV(":method", "GET"), H2_NV(":scheme", "https"), H2_NV(":path", "/v1/models"),
				       H2_NV(":authority", "api.openai.com") };
		h2_headers(w, dw, id + 200, other, 4, 1, 0, 0);
		nghttp2_nv ok[] = { H2_NV(":status", "200"), H2_NV("content-type", "application/json") };
		h2_headers(r, dr, id + 200, ok, 2, 0, 0, 0);
		h2_data(r, id + 200, "{\"data\":[]}", 11, 100, 0, 1);
		uint8_t ping[8] = { 0 };
		h2_frame(r, 6, 0, 0, ping, 8);
	}
	/* Round-robin: a stream ends with its last frame, so streams end in
	 * the order of (frame count, position). */
	size_t at[64] = { 0 }, frames[64] = { 0 }, order[64];
	for (size_t i = 0; i < case_count; i++) {
		size_t pos = 0;
		struct h2buf scratch = { 0 };
		while (move_frame(&scratch, &data[i], &pos))
			frames[i]++;
		free(scratch.data);
		order[i] = i;
	}
	for (size_t i = 1; i < case_count; i++)
		for (size_t j = i; j > 0 && frames[order[j]] < frames[order[j - 1]]; j--) {
			size_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (bool more = true; more;) {
		more = false;
		for (size_t i = 0; i < case_count; i++)
			more |= move_frame(r, &data[i], &at[i]);
	}
	struct spz_conn *c = spz_conn_new();
	captured_count = 0;
	feed_sliced(feed_write, c, w->data, w->len, SLICE_RANDOM, 77);
	feed_sliced(feed_read, c, r->data, r->len, SLICE_RANDOM, 78);
	ck_assert_uint_eq(captured_count, case_count);
	for (size_t k = 0; k < captured_count; k++)
		corpus_check_call(&cases[order[k]], &captured[k]);
	spz_conn_free(c, 3);
	for (size_t i = 0; i < case_count; i++)
		free(data[i].data);
	h2_conv_free(&h);
}
END_TEST

START_TEST(rst_goaway_and_connection_end)
{
	struct h2buf w = { 0 }, r = { 0 };
	nghttp2_hd_deflater *dw, *dr;
	nghttp2_hd_deflate_new(&dw, 4096);
	nghttp2_hd_deflate_new(&dr, 4096);
	h2_preface(&w);
	h2_settings(&w, 0);
	struct h2buf ignore = { 0 };
	/* stream 1: cut by the client; stream 3: its response is reset; 5: never
	 * answered (GOAWAY last=3); 7... none. */
	for (uint32_t id = 1; id <= 5; id += 2)
		add_stream(&w, &ignore, dw, dr, &cases[0], id, 0);
	uint8_t code[4] = { 0, 0, 0, 8 };
	h2_frame(&w, 3, 0, 1, code, 4);
	nghttp2_nv ok[] = { H2_NV(":status", "200"), H2_NV("content-type", "application/json") };
	nghttp2_hd_deflater *dr2;
	nghttp2_hd_deflate_new(&dr2, 4096);
	h2_settings(&r, 0);
	h2_headers(&r, dr2, 3, ok, 2, 0, 0, 0);
	h2_data(&r, 3, "{\"usage\":", 9, 100, 0, 0);
	h2_frame(&r, 3, 0, 3, code, 4);
	uint8_t goaway[8] = { 0, 0, 0, 3, 0, 0, 0, 0 };
	h2_frame(&r, 7, 0, 0, goaway, 8);
	struct spz_conn *c = spz_conn_new();
	captured_count = 0;
	spz_conn_on_write(c, w.data, w.len, 1);
	ck_assert_uint_eq(captured_count, 1);
	ck_assert(captured[0].no_response); /* client reset before any answer */
	spz_conn_on_read(c, r.data, r.len, 2);
	ck_assert_uint_eq(captured_count, 3);
	ck_assert(captured[1].truncated);
	ck_assert_int_eq(captured[1].status, 200);
	ck_assert(captured[2].no_response);
	spz_conn_free(c, 3);
	ck_assert_uint_eq(captured_count, 3);
	nghttp2_hd_deflate_del(dw);
	nghttp2_hd_deflate_del(dr);
	nghttp2_hd_deflate_del(dr2);
	free(ignore.data);
	free(w.data);
	free(r.data);
}
END_TEST

START_TEST(x_spaturzu_headers_are_read)
{
	struct h2buf w = { 0 }, r = { 0 };
	nghttp2_hd_deflater *dw, *dr;
	nghttp2_hd_deflate_new(&dw, 4096);
	nghttp2_hd_deflate_new(&dr, 4096);
	h2_preface(&w);
	nghttp2_nv req[] = { H2_NV(":method", "POST"), H2_NV(":scheme", "https"),
			     H2_NV(":path", "/v1/chat/completions?key=CANARY"), H2_NV(":authority", "api.openai.com:443"),
			     H2_NV("x-spaturzu-agent", "h2-agent") };
	h2_headers(&w, dw, 1, req, 5, 0, 0, 0);
	h2_data(&w, 1, "{\"model\":\"gpt-4o\"}", 18, 100, 0, 1);
	nghttp2_nv ok[] = { H2_NV(":status", "200"), H2_NV("content-type", "application/json") };
	h2_headers(&r, dr, 1, ok, 2, 0, 0, 0);
	const char *body = "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}";
	h2_data(&r, 1, body, strlen(body), 100, 0, 1);
	struct spz_conn *c = spz_conn_new();
	captured_count = 0;
	spz_conn_on_write(c, w.data, w.len, 1);
	spz_conn_on_read(c, r.data, r.len, 2);
	ck_assert_uint_eq(captured_count, 1);
	ck_assert_str_eq(captured[0].host, "api.openai.com");
	ck_assert_str_eq(captured[0].endpoint, "/v1/chat/completions");
	ck_assert_str_eq(captured[0].model, "gpt-4o");
	ck_assert_int_eq(captured[0].usage.v[SPZ_U_OUTPUT], 4);
	spz_conn_free(c, 3);
	nghttp2_hd_deflate_del(dw);
	nghttp2_hd_deflate_del(dr);
	free(w.data);
	free(r.data);
}
END_TEST

START_TEST(garbage_after_preface_stops_cleanly)
{
	struct h2buf w = { 0 };
	h2_preface(&w);
	h2_append(&w, "\xff\xff\xff\x01\x24\x00\x00\x00\x01garbage", 16); /* HEADERS with a bad block */
	struct spz_conn *c = spz_conn_new();
	captured_count = 0;
	spz_conn_on_write(c, w.data, w.len, 1);
	spz_conn_on_read(c, "\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9, 2);
	ck_assert_uint_eq(captured_count, 0);
	spz_conn_free(c, 3);
	free(w.data);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http2");
	TCase *tc = tcase_create("conn");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, each_case_as_a_stream);
	tcase_add_test(tc, many_streams_interleaved_with_noise);
	tcase_add_test(tc, rst_goaway_and_connection_end);
	tcase_add_test(tc, x_spaturzu_headers_are_read);
	tcase_add_test(tc, garbage_after_preface_stops_cleanly);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
