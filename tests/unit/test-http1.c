/* The HTTP/1.1 parser: every framing, keep-alive sequences, interim and
 * bodiless responses, errors; the same events whatever the slicing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/http1.h"
#include "helpers.h"

struct trace {
	char text[16384];
	size_t len;
	bool head_next; /* the next response answers a HEAD request */
};

#define OUT(t, ...) ((t)->len += (size_t)snprintf((t)->text + (t)->len, sizeof((t)->text) - (t)->len, __VA_ARGS__))

static int on_start(void *ud, const struct spz_h1_start *s)
{
	struct trace *t = ud;
	if (s->method)
		OUT(t, "req %.*s %.*s\n", (int)s->method_len, s->method, (int)s->target_len, s->target);
	else
		OUT(t, "status %d\n", s->status);
	return 0;
}

static int on_header(void *ud, const char *n, size_t nl, const char *v, size_t vl)
{
	struct trace *t = ud;
	OUT(t, "h %.*s=%.*s\n", (int)nl, n, (int)vl, v);
	return 0;
}

static int on_headers_done(void *ud, enum spz_h1_framing *f, uint64_t cl)
{
	struct trace *t = ud;
	if (t->head_next) {
		*f = SPZ_H1_BODY_NONE;
		t->head_next = false;
	}
	OUT(t, "framing %d len %llu\n", (int)*f, (unsigned long long)cl);
	if (*f != SPZ_H1_BODY_NONE)
		OUT(t, "body:");
	return 0;
}

static int on_body(void *ud, const char *buf, size_t len)
{
	struct trace *t = ud;
	/* Body bytes are concatenated so slicing does not show. */
	memcpy(t->text + t->len, buf, len);
	t->len += len;
	t->text[t->len] = '\0';
	return 0;
}

static int on_done(void *ud)
{
	struct trace *t = ud;
	OUT(t, "|done\n");
	return 0;
}

static const struct spz_h1_callbacks cbs = { on_start, on_header, on_headers_done, on_body, on_done };

struct run {
	struct spz_h1 p;
	int rc;
};

static void feed_h1(void *ctx, const char *buf, size_t len)
{
	struct run *r = ctx;
	if (spz_h1_feed(&r->p, buf, len) < 0)
		r->rc = -1;
}

/* Parses in every slicing; all must agree. Returns the finish() result. */
static int parse_all(enum spz_h1_kind kind, const char *msg, bool head, struct trace *out, int *feed_rc)
{
	int fin = 0;
	for (int mode = 0; mode < SLICE_MODES; mode++) {
		struct trace t = { .head_next = head };
		struct run r = { .rc = 0 };
		spz_h1_init(&r.p, kind, &cbs, &t);
		feed_sliced(feed_h1, &r, msg, strlen(msg), (enum slicing)mode, 11u + (unsigned)mode);
		int f = spz_h1_finish(&r.p);
		if (mode == 0) {
			*out = t;
			*feed_rc = r.rc;
			fin = f;
		} else {
			ck_assert_str_eq(t.text, out->text);
			ck_assert_int_eq(r.rc, *feed_rc);
			ck_assert_int_eq(f, fin);
		}
	}
	return fin;
}

START_TEST(request_content_length)
{
	struct trace t;
	int rc;
	parse_all(SPZ_H1_REQUEST,
		  "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 5\r\n\r\nhello", false,
		  &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(t.text, "req POST /v1/chat/completions\nh Host=api.openai.com\nh Content-Length=5\n"
				 "framing 1 len 5\nbody:hello|done\n");
}
END_TEST

START_TEST(request_chunked_with_extensions_and_trailers)
{
	struct trace t;
	int rc;
	parse_all(SPZ_H1_REQUEST,
		  "POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
		  "3;name=value\r\nabc\r\nA \r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n",
		  false, &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(t.text, "req POST /x\nh Transfer-Encoding=gzip, chunked\nframing 2 len 0\n"
				 "body:abc0123456789|done\n");
}
END_TEST

START_TEST(keep_alive_sequence_and_bare_lf)
{
	struct trace t;
	int rc;
	parse_all(SPZ_H1_RESPONSE,
		  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		  "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nab\n0\n\n"
		  "HTTP/1.1 204 No Content\r\n\r\n",
		  false, &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(t.text, "status 200\nh Content-Length=2\nframing 1 len 2\nbody:ok|done\n"
				 "status 200\nh Transfer-Encoding=chunked\nframing 2 len 0\nbody:ab|done\n"
				 "status 204\nframing 0 len 0\n|done\n");
}
END_TEST

START_TEST(continue_then_final)
{
	struct trace t;
	int rc;
	parse_all(SPZ_H1_RESPONSE, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", false,
		  &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(t.text, "status 100\nframing 0 len 0\n|done\nstatus 200\nh Content-Length=1\n"
				 "framing 1 len 1\nbody:x|done\n");
}
END_TEST

START_TEST(head_and_304_have_no_body)
{
	struct trace t;
	int rc;
	parse_all(SPZ_H1_RESPONSE,
		  "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
		  true, &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(t.text, "status 200\nh Content-Length=100\nframing 0 len 100\n|done\n"
				 "status 304\nh Content-Length=9\nframing 0 len 9\n|done\n");
}
END_TEST

START_TEST(body_ended_by_close)
{
	struct trace t;
	int rc;
	int fin = parse_all(SPZ_H1_RESPONSE, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", false,
			    &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(fin, 0);
	ck_assert_str_eq(t.text, "status 200\nh Content-Type=text/plain\nframing 3 len 0\nbody:until the end|done\n");
}
END_TEST

START_TEST(cut_message_reported_by_finish)
{
	struct trace t;
	int rc;
	int fin = parse_all(SPZ_H1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(fin, 1);
	fin = parse_all(SPZ_H1_RESPONSE, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", false, &t, &rc);
	ck_assert_int_eq(fin, 1);
}
END_TEST

START_TEST(leading_empty_lines_ignored)
{
	struct trace t;
	int rc;
	parse_all(SPZ_H1_REQUEST, "\r\nGET / HTTP/1.1\r\n\r\n", false, &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(t.text, "req GET /\nframing 0 len 0\n|done\n");
}
END_TEST

START_TEST(malformed_is_an_error)
{
	const char *bad[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"SSH-2.0-OpenSSH\r\n",
		"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct trace t;
		int rc;
		parse_all(SPZ_H1_RESPONSE, bad[i], false, &t, &rc);
		ck_assert_msg(rc == -1, "accepted: %s", bad[i]);
	}
}
END_TEST

START_TEST(overlong_line_is_an_error)
{
	size_t n = SPZ_H1_LINE_MAX + 100;
	char *msg = malloc(n + 64);
	strcpy(msg, "HTTP/1.1 200 OK\r\nX-Big: ");
	size_t at = strlen(msg);
	memset(msg + at, 'a', n);
	strcpy(msg + at + n, "\r\n\r\n");
	struct trace t;
	int rc;
	parse_all(SPZ_H1_RESPONSE, msg, false, &t, &rc);
	ck_assert_int_eq(rc, -1);
	free(msg);
}
END_TEST

START_TEST(switching_protocols_stops_parsing)
{
	struct trace t;
	int rc;
	parse_all(SPZ_H1_RESPONSE, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello", false,
		  &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(t.text, "status 101\nh Upgrade=websocket\nframing 0 len 0\n|done\n");
}
END_TEST

/* With a filter, only the fields it lets through reach the callback, in
 * any slicing; the framing fields frame the body whether or not they pass,
 * and a malformed length is an error even in a field no one reads. */
START_TEST(filtered_fields_and_framing)
{
	static const char msg[] = "HTTP/1.1 200 OK\r\nX-Ratelimit-Remaining: 9\r\nx-request-id: r1\r\nX-Request-Ix: no\r\n"
				  "Set-Cookie: a=b\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";
	for (int mode = 0; mode < SLICE_MODES; mode++) {
		struct trace t = { 0 };
		struct run r = { .rc = 0 };
		spz_h1_init(&r.p, SPZ_H1_RESPONSE, &cbs, &t);
		struct spz_header_filter f = { 0, 0 };
		spz_header_filter_add(&f, "x-request-id", 12);
		spz_header_filter_add(&f, "content-type", 12);
		spz_h1_filter_headers(&r.p, f);
		feed_sliced(feed_h1, &r, msg, strlen(msg), (enum slicing)mode, 5u + (unsigned)mode);
		ck_assert_int_eq(r.rc, 0);
		/* X-Request-Ix passes the filter (a superset) and reaches the
		 * callback, which tells it from the field it reads. */
		ck_assert_str_eq(t.text, "status 200\nh x-request-id=r1\nh X-Request-Ix=no\nh Content-Type=text/plain\n"
					 "framing 1 len 5\nbody:hello|done\n");
	}
	struct trace t = { 0 };
	struct run r = { .rc = 0 };
	spz_h1_init(&r.p, SPZ_H1_RESPONSE, &cbs, &t);
	spz_h1_filter_headers(&r.p, (struct spz_header_filter){ 0, 0 });
	static const char bad[] = "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello";
	feed_h1(&r, bad, strlen(bad));
	ck_assert_int_eq(r.rc, -1);
	ck_assert_str_eq(t.text, "status 200\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http1");
	TCase *tc = tcase_create("parser");
	tcase_add_test(tc, request_content_length);
	tcase_add_test(tc, request_chunked_with_extensions_and_trailers);
	tcase_add_test(tc, keep_alive_sequence_and_bare_lf);
	tcase_add_test(tc, continue_then_final);
	tcase_add_test(tc, head_and_304_have_no_body);
	tcase_add_test(tc, body_ended_by_close);
	tcase_add_test(tc, cut_message_reported_by_finish);
	tcase_add_test(tc, leading_empty_lines_ignored);
	tcase_add_test(tc, malformed_is_an_error);
	tcase_add_test(tc, overlong_line_is_an_error);
	tcase_add_test(tc, switching_protocols_stops_parsing);
	tcase_add_test(tc, filtered_fields_and_framing);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
