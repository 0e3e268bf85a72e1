/* The shim's budget verdicts from the collector's map, and the refusal it
 * answers with: which budget covers which agent, hard cap against alert, a
 * state from an earlier period, a map that stays locked (the call goes
 * through), and refusal bodies in each provider's shape with the gateway
 * SDKs' message. */
#include <check.h>
#include <jansson.h>
#include <string.h>

#include <nghttp2/nghttp2.h>
#include <stdlib.h>

#include "../../shim/budget.h"
#include "../../shim/hpack_enc.h"
#include "../../shim/refusal.h"
#include "helpers.h"

static struct spz_budget_map map;
static const int64_t NOW = 1795435200000; /* 2026-11-23T12:00:00Z */

static void add(const char *id, const char *agent, uint8_t period, uint8_t enforcement, bool breached,
		int64_t limit, int64_t current)
{
	struct spz_budget_entry *e = &map.entries[map.count++];
	memset(e, 0, sizeof(*e));
	snprintf(e->budget_id, sizeof(e->budget_id), "%s", id);
	snprintf(e->agent, sizeof(e->agent), "%s", agent ? agent : "");
	e->scope = agent ? SPZ_BUDGET_AGENT : SPZ_BUDGET_PROJECT;
	e->period = period;
	e->enforcement = enforcement;
	e->breached = breached;
	e->limit_pusd = limit;
	e->current_pusd = current;
}

static void setup(void)
{
	memset(&map, 0, sizeof(map));
	map.magic = SPZ_BUDGET_MAP_MAGIC;
	map.seq = 42;
	map.updated_ms = NOW - 500;
	spz_budget_use_map(&map);
}

START_TEST(verdicts_follow_scope_enforcement_and_period)
{
	struct spz_budget_verdict v;
	add("writer-daily", "writer", SPZ_BUDGET_DAILY, SPZ_BUDGET_HARD_CAP, true, 5000000000000, 5010000000000);
	add("triage-alert", "triage", SPZ_BUDGET_DAILY, SPZ_BUDGET_ALERT, true, 1000000000000, 2000000000000);
	add("ok-cap", "other", SPZ_BUDGET_MONTHLY, SPZ_BUDGET_HARD_CAP, false, 1, 0);
	spz_budget_check("writer", NOW, &v);
	ck_assert(v.refuse);
	ck_assert_str_eq(v.entry.budget_id, "writer-daily");
	spz_budget_check("triage", NOW, &v);
	ck_assert(!v.refuse && v.warn);
	spz_budget_check("other", NOW, &v);
	ck_assert(!v.refuse && !v.warn);
	spz_budget_check(NULL, NOW, &v);
	ck_assert(!v.refuse);
	/* A project cap covers every agent, and the first breached cap decides. */
	add("project-month", NULL, SPZ_BUDGET_MONTHLY, SPZ_BUDGET_HARD_CAP, true, 100, 100);
	spz_budget_check("other", NOW, &v);
	ck_assert(v.refuse);
	ck_assert_str_eq(v.entry.budget_id, "project-month");
	spz_budget_check("writer", NOW, &v);
	ck_assert_str_eq(v.entry.budget_id, "writer-daily");
	/* Yesterday's state says nothing of today's daily budget; this month's
	 * still holds for the monthly one. */
	map.updated_ms = NOW - 13 * 3600 * 1000;
	spz_budget_check("writer", NOW, &v);
	ck_assert_str_eq(v.entry.budget_id, "project-month");
	/* The collector never released the lock: the call goes through. */
	map.updated_ms = NOW;
	map.seq = 43;
	spz_budget_check("writer", NOW, &v);
	ck_assert(!v.refuse && !v.warn);
	map.seq = 44;
	map.magic = 0;
	spz_budget_check("writer", NOW, &v);
	ck_assert(!v.refuse);
}
END_TEST

START_TEST(refusals_in_each_providers_shape)
{
	add("writer-daily", "writer", SPZ_BUDGET_DAILY, SPZ_BUDGET_HARD_CAP, true, 5000000000000, 5010000000000);
	struct spz_budget_entry *e = &map.entries[0];
	char msg[300];
	spz_refusal_message(e, "writer", msg, sizeof(msg));
	ck_assert_str_eq(msg, "spaturzu: agent/daily budget exceeded (5.01 >= 5.00) for agent \"writer\"");
	spz_refusal_message(e, NULL, msg, sizeof(msg));
	ck_assert_str_eq(msg, "spaturzu: agent/daily budget exceeded (5.01 >= 5.00)");

	char body[2048];
	json_error_t err;
	size_t n = spz_refusal_body(SPZ_SHAPE_OPENAI, e, "wri\"ter", body, sizeof(body));
	json_t *j = json_loadb(body, n, 0, &err);
	ck_assert_msg(j != NULL, "%s: %s", body, err.text);
	json_t *er = json_object_get(j, "error");
	ck_assert_str_eq(json_string_value(json_object_get(er, "code")), "budget_exceeded");
	ck_assert_str_eq(json_string_value(json_object_get(er, "scope")), "agent");
	ck_assert_str_eq(json_string_value(json_object_get(er, "period")), "daily");
	ck_assert_str_eq(json_string_value(json_object_get(er, "limitCost")), "5.00");
	ck_assert_str_eq(json_string_value(json_object_get(er, "currentCost")), "5.01");
	ck_assert_str_eq(json_string_value(json_object_get(er, "agentName")), "wri\"ter");
	json_decref(j);

	n = spz_refusal_body(SPZ_SHAPE_ANTHROPIC, e, "writer", body, sizeof(body));
	j = json_loadb(body, n, 0, &err);
	ck_assert_msg(j != NULL, "%s", body);
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "error");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")), "budget_exceeded");
	json_decref(j);

	n = spz_refusal_body(SPZ_SHAPE_GOOGLE, e, "writer", body, sizeof(body));
	j = json_loadb(body, n, 0, &err);
	ck_assert_msg(j != NULL, "%s", body);
	er = json_object_get(j, "error");
	ck_assert_int_eq(json_integer_value(json_object_get(er, "code")), 429);
	json_t *info = json_array_get(json_object_get(er, "details"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(info, "reason")), "budget_exceeded");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(info, "metadata"), "limitCost")), "5.00");
	json_decref(j);

	n = spz_refusal_body(SPZ_SHAPE_MESSAGE, e, "writer", body, sizeof(body));
	j = json_loadb(body, n, 0, &err);
	ck_assert_msg(j != NULL, "%s", body);
	ck_assert_str_eq(json_string_value(json_object_get(j, "code")), "budget_exceeded");
	json_decref(j);

	char resp[2048];
	n = spz_refusal_http1(SPZ_SHAPE_OPENAI, e, "writer", false, resp, sizeof(resp));
	ck_assert_uint_gt(n, 0);
	ck_assert(strncmp(resp, "HTTP/1.1 429 Too Many Requests\r\n", 32) == 0);
	ck_assert_ptr_nonnull(strstr(resp, "x-should-retry: false\r\n"));
	const char *b = strstr(resp, "\r\n\r\n") + 4;
	char want[64];
	snprintf(want, sizeof(want), "content-length: %zu\r\n", (size_t)(resp + n - b));
	ck_assert_ptr_nonnull(strstr(resp, want));
	ck_assert_uint_eq(spz_refusal_http1(SPZ_SHAPE_OPENAI, e, "writer", false, resp, 100), 0);
}
END_TEST

/* Decodes a whole header block; returns the fields as "name: value\n" lines
 * ("name:! value" when marked never indexed). */
static void inflate_block(nghttp2_hd_inflater *inf, const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t r = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, len, 1);
		ck_assert_int_ge(r, 0);
		in += r;
		len -= (size_t)r;
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			int k = snprintf(out + o, cap - o, "%.*s:%s %.*s\n", (int)nv.namelen, nv.name,
					 nv.flags & NGHTTP2_NV_FLAG_NO_INDEX ? "!" : "", (int)nv.valuelen, nv.value);
			ck_assert(k > 0 && (size_t)k < cap - o);
			o += (size_t)k;
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(inf);
			break;
		}
		if (r == 0 && !(flags & NGHTTP2_HD_INFLATE_EMIT))
			ck_abort_msg("block ended mid-field");
	}
}

START_TEST(hpack_integers_as_rfc7541_writes_them)
{
	uint8_t b[8];
	ck_assert_uint_eq(spz_hpack_put_int(b, sizeof(b), 0x00, 5, 10), 1);
	ck_assert_uint_eq(b[0], 0x0a);
	ck_assert_uint_eq(spz_hpack_put_int(b, sizeof(b), 0x00, 5, 1337), 3);
	ck_assert(b[0] == 0x1f && b[1] == 0x9a && b[2] == 0x0a);
	ck_assert_uint_eq(spz_hpack_put_int(b, sizeof(b), 0x00, 8, 42), 1);
	ck_assert_uint_eq(b[0], 42);
	ck_assert_uint_eq(spz_hpack_put_int(b, 2, 0x00, 5, 1337), 0); /* does not fit */
}
END_TEST

/* Whatever it encodes decodes to the same fields and never moves the
 * decoder's dynamic table, also one that holds entries already. */
START_TEST(hpack_fields_leave_the_dynamic_table_alone)
{
	static const char *const names[] = { ":status", ":path", "content-type", "authorization", "x-custom",
					      "accept-encoding", "www-authenticate", "x-spaturzu-agent" };
	static const char *const values[] = { "200", "429", "/", "gzip, deflate", "", "application/json",
					      "Bearer sk-0123456789", "a value with spaces" };
	nghttp2_hd_inflater *inf;
	nghttp2_hd_deflater *def;
	ck_assert_int_eq(nghttp2_hd_inflate_new(&inf), 0);
	ck_assert_int_eq(nghttp2_hd_deflate_new(&def, 4096), 0);
	/* Entries in the table first, as a connection's earlier responses leave. */
	nghttp2_nv pre[] = { { (uint8_t *)"server", (uint8_t *)"provider", 6, 8, 0 },
			     { (uint8_t *)"x-request-id", (uint8_t *)"req_1", 12, 5, 0 } };
	uint8_t block[4096];
	ssize_t pl = nghttp2_hd_deflate_hd(def, block, sizeof(block), pre, 2);
	ck_assert_int_gt(pl, 0);
	char got[8192], want[8192];
	inflate_block(inf, block, (size_t)pl, got, sizeof(got));
	size_t entries = nghttp2_hd_inflate_get_num_table_entries(inf);
	size_t table_size = nghttp2_hd_inflate_get_dynamic_table_size(inf);
	ck_assert_uint_eq(entries, 61 + 2);
	srand(7);
	for (int round = 0; round < 500; round++) {
		size_t n = 0, w = 0;
		int fields = 1 + rand() % 12;
		for (int f = 0; f < fields; f++) {
			const char *name = names[rand() % 8], *value = values[rand() % 8];
			bool never = rand() % 4 == 0;
			size_t k = spz_hpack_put_field(block + n, sizeof(block) - n, name, strlen(name), value,
						       strlen(value), never);
			ck_assert_uint_gt(k, 0);
			n += k;
			/* A field given as a static index comes back without its mark. */
			w += (size_t)snprintf(want + w, sizeof(want) - w, "%s:%s %s\n", name, never ? "!" : "", value);
		}
		inflate_block(inf, block, n, got, sizeof(got));
		ck_assert_str_eq(got, want);
		ck_assert_uint_eq(nghttp2_hd_inflate_get_num_table_entries(inf), entries);
		ck_assert_uint_eq(nghttp2_hd_inflate_get_dynamic_table_size(inf), table_size);
	}
	nghttp2_hd_inflate_del(inf);
	nghttp2_hd_deflate_del(def);
}
END_TEST

START_TEST(refusal_as_http2_frames)
{
	add("writer-daily", "writer", SPZ_BUDGET_DAILY, SPZ_BUDGET_HARD_CAP, true, 5000000000000, 5010000000000);
	char out[4096];
	size_t data_len = 0;
	size_t n = spz_refusal_h2(SPZ_SHAPE_MESSAGE, &map.entries[0], "writer", 7, 16384, out, sizeof(out), &data_len);
	ck_assert_uint_gt(n, 18);
	const uint8_t *f = (const uint8_t *)out;
	size_t hlen = (size_t)f[0] << 16 | (size_t)f[1] << 8 | f[2];
	ck_assert_uint_eq(f[3], 1);    /* HEADERS */
	ck_assert_uint_eq(f[4], 0x4);  /* END_HEADERS, the stream stays open for DATA */
	ck_assert_uint_eq((uint32_t)f[5] << 24 | (uint32_t)f[6] << 16 | (uint32_t)f[7] << 8 | f[8], 7);
	nghttp2_hd_inflater *inf;
	ck_assert_int_eq(nghttp2_hd_inflate_new(&inf), 0);
	char got[2048];
	inflate_block(inf, f + 9, hlen, got, sizeof(got));
	ck_assert_uint_eq(nghttp2_hd_inflate_get_num_table_entries(inf), 61);
	nghttp2_hd_inflate_del(inf);
	const uint8_t *d = f + 9 + hlen;
	size_t dlen = (size_t)d[0] << 16 | (size_t)d[1] << 8 | d[2];
	ck_assert_uint_eq(d[3], 0);   /* DATA */
	ck_assert_uint_eq(d[4], 0x1); /* END_STREAM */
	ck_assert_uint_eq(dlen, data_len);
	ck_assert_uint_eq(9 + hlen + 9 + dlen, n);
	char want[2048];
	snprintf(want, sizeof(want),
		 ":status: 429\ncontent-type: application/json\ncontent-length: %zu\nx-should-retry: false\n"
		 "x-spaturzu-refused: writer-daily\nx-amzn-errortype: ThrottlingException\n",
		 dlen);
	ck_assert_str_eq(got, want);
	char body[2048];
	size_t blen = spz_refusal_body(SPZ_SHAPE_MESSAGE, &map.entries[0], "writer", body, sizeof(body));
	ck_assert_uint_eq(blen, dlen);
	ck_assert(memcmp(body, d + 9, dlen) == 0);
	ck_assert_uint_eq(spz_refusal_h2(SPZ_SHAPE_OPENAI, &map.entries[0], "writer", 7, 16384, out, 100, &data_len), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("budget");
	TCase *tc = tcase_create("budget");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, verdicts_follow_scope_enforcement_and_period);
	tcase_add_test(tc, refusals_in_each_providers_shape);
	tcase_add_test(tc, hpack_integers_as_rfc7541_writes_them);
	tcase_add_test(tc, hpack_fields_leave_the_dynamic_table_alone);
	tcase_add_test(tc, refusal_as_http2_frames);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
