/* The AWS event stream parser: the recorded Bedrock ConverseStream body in
 * any slicing, CRC checks, and broken framing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/eventstream.h"
#include "helpers.h"

struct trace {
	char text[65536];
	size_t len;
	int messages, bad_crc;
};

static void on_begin(void *ud, const char *event_type, const char *message_type)
{
	struct trace *t = ud;
	t->len += (size_t)snprintf(t->text + t->len, sizeof(t->text) - t->len, "[%s/%s]", message_type, event_type);
}

static void on_payload(void *ud, const char *buf, size_t len)
{
	struct trace *t = ud;
	ck_assert_uint_lt(t->len + len, sizeof(t->text));
	memcpy(t->text + t->len, buf, len);
	t->len += len;
	t->text[t->len] = '\0';
}

static void on_end(void *ud, bool crc_ok)
{
	struct trace *t = ud;
	t->messages++;
	t->bad_crc += !crc_ok;
	t->len += (size_t)snprintf(t->text + t->len, sizeof(t->text) - t->len, "\n");
}

static const struct spz_es_callbacks cbs = { on_begin, on_payload, on_end };

struct run {
	struct spz_eventstream p;
	int rc;
};

static void feed_es(void *ctx, const char *buf, size_t len)
{
	struct run *r = ctx;
	if (spz_es_feed(&r->p, buf, len) < 0)
		r->rc = -1;
}

static char *load(size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/bedrock/converse_stream_nova_micro_eventstream.body", corpus_dir());
	char *b = read_file(path, len);
	ck_assert_msg(b != NULL, "missing %s", path);
	return b;
}

START_TEST(recorded_stream_any_slicing)
{
	size_t len;
	char *body = load(&len);
	char first[65536] = "";
	for (int mode = 0; mode < SLICE_MODES; mode++) {
		struct trace *t = calloc(1, sizeof(*t));
		struct run r = { .rc = 0 };
		spz_es_init(&r.p, &cbs, t);
		feed_sliced(feed_es, &r, body, len, (enum slicing)mode, 17);
		ck_assert_int_eq(r.rc, 0);
		ck_assert_int_eq(t->messages, 33);
		ck_assert_int_eq(t->bad_crc, 0);
		ck_assert_ptr_nonnull(strstr(t->text, "[event/metadata]{\"metrics\""));
		ck_assert_ptr_nonnull(strstr(t->text, "\"inputTokens\":13"));
		if (mode == 0)
			strcpy(first, t->text);
		else
			ck_assert_str_eq(t->text, first);
		free(t);
	}
	free(body);
}
END_TEST

START_TEST(payload_crc_mismatch_is_reported)
{
	size_t len;
	char *body = load(&len);
	body[20] ^= 0x01; /* inside the first message, past its prelude */
	struct trace *t = calloc(1, sizeof(*t));
	struct run r = { .rc = 0 };
	spz_es_init(&r.p, &cbs, t);
	feed_es(&r, body, len);
	ck_assert_int_eq(t->bad_crc, 1);
	ck_assert_int_eq(t->messages, 33);
	free(t);
	free(body);
}
END_TEST

START_TEST(broken_prelude_stops)
{
	size_t len;
	char *body = load(&len);
	body[2] ^= 0x40; /* total length: the prelude CRC no longer matches */
	struct trace *t = calloc(1, sizeof(*t));
	struct run r = { .rc = 0 };
	spz_es_init(&r.p, &cbs, t);
	feed_es(&r, body, len);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_int_eq(t->messages, 0);
	free(t);
	free(body);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("eventstream");
	TCase *tc = tcase_create("parser");
	tcase_add_test(tc, recorded_stream_any_slicing);
	tcase_add_test(tc, payload_crc_mismatch_is_reported);
	tcase_add_test(tc, broken_prelude_stops);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
