/* The SSE parser: line ends, fields, comments, dispatch, any slicing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/sse.h"
#include "helpers.h"

struct trace {
	char text[8192];
	size_t len;
};

static void on_data(void *ud, const char *buf, size_t len)
{
	struct trace *t = ud;
	memcpy(t->text + t->len, buf, len);
	t->len += len;
	t->text[t->len] = '\0';
}

static void on_dispatch(void *ud, const char *event)
{
	struct trace *t = ud;
	t->len += (size_t)snprintf(t->text + t->len, sizeof(t->text) - t->len, "|<%s>\n", event);
}

static const struct spz_sse_callbacks cbs = { on_data, on_dispatch };

static void feed_sse(void *ctx, const char *buf, size_t len)
{
	spz_sse_feed(ctx, buf, len);
}

static void parse_all(const char *stream, const char *expect)
{
	for (int mode = 0; mode < SLICE_MODES; mode++) {
		struct trace t = { 0 };
		struct spz_sse p;
		spz_sse_init(&p, &cbs, &t);
		feed_sliced(feed_sse, &p, stream, strlen(stream), (enum slicing)mode, 3u + (unsigned)mode);
		spz_sse_finish(&p);
		ck_assert_str_eq(t.text, expect);
	}
}

START_TEST(line_ends)
{
	parse_all("data: a\n\ndata: b\r\n\r\ndata: c\r\rdata:d\n\n", "a|<>\nb|<>\nc|<>\nd|<>\n");
}
END_TEST

START_TEST(fields_and_comments)
{
	parse_all(": keep-alive\nevent: message_start\nid: 7\nretry: 10\ndata: {\"x\":1}\n\n"
		  "event: ping\n\n"
		  "data\n\n",
		  "{\"x\":1}|<message_start>\n|<>\n");
}
END_TEST

START_TEST(multi_line_data_joined)
{
	parse_all("data: {\"a\":\ndata:  1}\n\n", "{\"a\":\n 1}|<>\n");
}
END_TEST

START_TEST(unterminated_event_dropped)
{
	parse_all("data: one\n\ndata: two\n", "one|<>\ntwo");
}
END_TEST

START_TEST(bom_skipped)
{
	parse_all("\xEF\xBB\xBF"
		  "data: x\n\n",
		  "x|<>\n");
}
END_TEST

START_TEST(done_marker_is_data)
{
	parse_all("data: [DONE]\n\n", "[DONE]|<>\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sse");
	TCase *tc = tcase_create("parser");
	tcase_add_test(tc, line_ends);
	tcase_add_test(tc, fields_and_comments);
	tcase_add_test(tc, multi_line_data_joined);
	tcase_add_test(tc, unterminated_event_dropped);
	tcase_add_test(tc, bom_skipped);
	tcase_add_test(tc, done_marker_is_data);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
