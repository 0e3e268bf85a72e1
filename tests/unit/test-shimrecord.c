/* The record the shim builds (shim/record.c), for what the corpus-driven
 * suites do not vary: the start time, written by hand, against the C
 * library's gmtime_r and strftime over the whole range of years a record
 * can carry; strings that must be escaped, against a JSON reader; and the
 * packed form the ring carries (common/record_pack.h), which must render
 * as the same JSON for every kind of call and refuse any damaged input. */
#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../../shim/call.h"
#include "../../shim/config.h"
#include "../../shim/record.h"
#include "../../common/money.h"
#include "../../common/record_ring.h"
#include "../../shim/emit.h"
#include "../../common/record_pack.h"
#include "helpers.h"

static char buf[65536];

/* The record of call c, as parsed JSON. */
static json_t *build(struct spz_call *c)
{
	size_t n = spz_record_build(c, spz_config(), buf, sizeof(buf) - 1);
	ck_assert_uint_gt(n, 0);
	json_error_t err;
	json_t *doc = json_loadb(buf, n, 0, &err);
	ck_assert_msg(doc != NULL, "%s: %s", err.text, buf);
	return doc;
}

static void expect_started_at(struct spz_call *c, int64_t ms)
{
	c->start_wall_ms = ms;
	json_t *doc = build(c);
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	ck_assert_ptr_nonnull(gmtime_r(&secs, &tm));
	char want[40];
	size_t k = strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(want + k, sizeof(want) - k, ".%03dZ", (int)(ms % 1000));
	ck_assert_str_eq(json_string_value(json_object_get(doc, "startedAt")), want);
	json_decref(doc);
}

/* A call as a request to OpenAI starts it. */
static struct spz_call *openai_call(void)
{
	struct spz_call *c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	strcpy(c->id, "019a0000-0000-7000-8000-000000000000");
	strcpy(c->provider, "openai");
	strcpy(c->host, "api.openai.com");
	return c;
}

START_TEST(started_at_matches_the_c_library)
{
	struct spz_call *c = openai_call();
	strcpy(c->endpoint, "/v1/chat/completions");
	c->status = 200;
	/* Epoch, leap days, century rules (1900 no, 2000 yes, 2100 no), the
	 * ends of months and years, and the last millisecond of 9999. */
	static const int64_t edges[] = {
		0, 999, 951782400000, 951868799999, 951868800000, 4107456000000, 4107542399999, 4107542400000,
		1767225599999, 1767225600000, 1709164800123, 253402300799999,
	};
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		expect_started_at(c, edges[i]);
	srand(11);
	for (int i = 0; i < 20000; i++) {
		int64_t ms = ((int64_t)rand() << 31 | rand()) % 253402300800000;
		expect_started_at(c, ms);
	}
	free(c);
}
END_TEST

START_TEST(strings_are_escaped_for_a_json_reader)
{
	struct spz_call *c = openai_call();
	/* quotes, a backslash, a control byte and invalid UTF-8, past the
	 * sixteen bytes the vector scan takes at once */
	strcpy(c->endpoint, "/v1/chat/completions/\"quoted\"/back\\slash/\x01/\xff/end");
	strcpy(c->model, "gpt-4o \xe2\x82\xac");
	json_t *doc = build(c);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "endpoint")),
			 "/v1/chat/completions/\"quoted\"/back\\slash/\x01/\xef\xbf\xbd/end");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "model")), "gpt-4o \xe2\x82\xac");
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "status")), 500); /* no status: 500 */
	json_decref(doc);
	free(c);
}
END_TEST

static char packed[65536], rendered[65536];

/* c's record, packed, unpacked and rendered, is byte for byte the JSON the
 * shim writes; the packed form is canonical (packing what was unpacked
 * gives the same bytes) and no cut of it, nor a byte more, unpacks. */
static void expect_packed_round_trip(struct spz_call *c)
{
	size_t n = spz_record_build(c, spz_config(), buf, sizeof(buf) - 1);
	ck_assert_uint_gt(n, 0);
	struct spz_record_fields f, g;
	char fallback[SPZ_RECORD_FALLBACK_ATTR];
	spz_record_fields_of(c, spz_config(), &f, fallback);
	size_t p = spz_record_pack(&f, packed, sizeof(packed) - 1);
	ck_assert_uint_eq(p, spz_record_packed_size(&f));
	ck_assert_int_eq(spz_record_unpack(packed, p, &g), 0);
	ck_assert_uint_le(n, spz_record_render_bound(&g));
	size_t m = spz_record_render(&g, rendered, sizeof(rendered));
	ck_assert_msg(m == n && memcmp(buf, rendered, n) == 0, "rendered %.*s\nbuilt    %.*s", (int)m, rendered,
		      (int)n, buf);
	char again[sizeof(packed)];
	ck_assert_uint_eq(spz_record_pack(&g, again, sizeof(again)), p);
	ck_assert_mem_eq(again, packed, p);
	for (size_t k = 0; k < p; k++)
		ck_assert_msg(spz_record_unpack(packed, k, &g) == -1, "a record cut to %zu of %zu bytes unpacked", k, p);
	packed[p] = 0;
	ck_assert_int_eq(spz_record_unpack(packed, p + 1, &g), -1);
}

START_TEST(packed_records_render_as_the_shim_writes_them)
{
	struct spz_call *c = openai_call();
	strcpy(c->endpoint, "/v1/chat/completions");
	c->start_wall_ms = 1795435200123;
	c->start_ns = 1000000000;
	c->end_ns = 1742000000;
	c->status = 200;
	expect_packed_round_trip(c); /* no usage, the process's attribution */
	strcpy(c->model, "gpt-4o");
	strcpy(c->response_model, "gpt-4o-2024-08-06");
	strcpy(c->request_id, "req_123");
	for (int u = 0; u < SPZ_U_COUNT; u++)
		spz_usage_set(&c->usage, (enum spz_usage_field)u, 1000 * u + 7);
	c->attribution = strdup("\"runId\":\"r-1\",\"agentName\":\"writer\",\"agentPath\":[\"planner\",\"writer\"],"
				"\"tags\":{\"team\":\"core\"}");
	expect_packed_round_trip(c); /* every count, its own attribution */
	c->stream = true;
	c->first_byte_ns = 1250000000;
	c->usage_estimated = true;
	c->usage.v[SPZ_U_INPUT] = INT64_MAX;
	expect_packed_round_trip(c); /* a stream, estimated, a count at the edge */
	c->truncated = true;
	expect_packed_round_trip(c);
	c->no_response = true;
	expect_packed_round_trip(c);
	c->refused = true;
	strcpy(c->refusal.budget_id, "budget-\"7\"");
	c->refusal.scope = SPZ_BUDGET_AGENT;
	c->refusal.period = SPZ_BUDGET_MONTHLY;
	c->refusal.limit_pusd = 5 * SPZ_PUSD_PER_USD;
	c->refusal.current_pusd = -1;
	expect_packed_round_trip(c); /* refused, which outranks the errors */
	c->refusal.scope = SPZ_BUDGET_PROJECT;
	c->refusal.period = SPZ_BUDGET_DAILY;
	expect_packed_round_trip(c);
	/* The bound holds for the strings that grow most: control bytes
	 * (six each) and invalid UTF-8 (six each, as U+FFFD). */
	c->refused = c->no_response = c->truncated = false;
	memset(c->endpoint, 0x01, sizeof(c->endpoint) - 1);
	memset(c->model, 0xff, sizeof(c->model) - 1);
	memset(c->request_id, '"', sizeof(c->request_id) - 1);
	expect_packed_round_trip(c);
	free(c->attribution);
	free(c);
}
END_TEST

/* A packed record's first bytes, changed one way each: none unpacks. */
START_TEST(damaged_packed_records_are_refused)
{
	struct spz_call *c = openai_call();
	c->refused = true;
	strcpy(c->refusal.budget_id, "b");
	struct spz_record_fields f, g;
	char fallback[SPZ_RECORD_FALLBACK_ATTR];
	spz_record_fields_of(c, spz_config(), &f, fallback);
	size_t p = spz_record_pack(&f, packed, sizeof(packed));
	ck_assert_int_eq(spz_record_unpack(packed, p, &g), 0);
	static const struct {
		size_t at;
		unsigned char byte;
	} damage[] = {
		{ 0, '{' },                 /* not the magic */
		{ 1, SPZ_PACKED_VERSION + 1 }, /* a later version */
		{ 2, 0x10 | SPZ_REC_REFUSED }, /* an unknown flag */
		{ 3, SPZ_REC_TRUNCATED + 1 }, /* an unknown error */
		{ 7, 0x01 },                /* a usage bit past the last field */
		{ 41, 0xff },               /* the id's length, past the end */
	};
	for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		char copy[sizeof(packed)];
		memcpy(copy, packed, p);
		copy[damage[i].at] = (char)damage[i].byte;
		ck_assert_msg(spz_record_unpack(copy, p, &g) == -1, "byte %zu changed to %u unpacked", damage[i].at,
			      damage[i].byte);
	}
	/* a refusal's scope and period are 0 or 1 */
	for (size_t at = p - 18; at < p - 16; at++) {
		char copy[sizeof(packed)];
		memcpy(copy, packed, p);
		copy[at] = 2;
		ck_assert_int_eq(spz_record_unpack(copy, p, &g), -1);
	}
	/* a string longer than its length field can say is not packed */
	static char huge[70000];
	memset(huge, 'a', sizeof(huge));
	f.str[SPZ_REC_EXE] = (struct spz_rec_text){ huge, sizeof(huge) };
	ck_assert_uint_eq(spz_record_pack(&f, packed, sizeof(packed)), 0);
	free(c);
}
END_TEST

/* A ring drained by an older collector (it beats alive_ms alone) gets JSON
 * records; one whose collector beats packed_alive_ms too gets them packed,
 * and they render as the JSON; when an older collector takes the ring over,
 * JSON again. */
START_TEST(records_go_to_the_ring_packed_only_when_it_says_so)
{
	const struct spz_config *cfg = spz_config();
	char path[4300];
	ck_assert_int_eq(spz_ring_path(cfg->socket_path, path, sizeof(path)), 0);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, sizeof(struct spz_ring)), 0);
	struct spz_ring *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(r, MAP_FAILED);
	close(fd);
	spz_ring_init(r);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	atomic_store(&r->alive_ms, now_ms);
	atomic_store(&r->look_by_ms, INT64_MAX); /* the collector is awake: no doorbell */

	struct spz_call *c = openai_call();
	strcpy(c->endpoint, "/v1/chat/completions");
	c->status = 200;
	spz_usage_set(&c->usage, SPZ_U_INPUT, 12);
	size_t n = spz_record_build(c, cfg, buf, sizeof(buf) - 1);
	ck_assert_uint_gt(n, 0);
	struct spz_record_fields f, g;
	char fallback[SPZ_RECORD_FALLBACK_ATTR];
	spz_record_fields_of(c, cfg, &f, fallback);
	/* What the shim does at a call's end (hooks.c): packed if the ring
	 * takes it so, else JSON. */
#define EMIT()                                                                       \
	do {                                                                         \
		if (!spz_emit_packed(cfg, &f)) {                                     \
			size_t len_ = spz_record_render(&f, room, sizeof(room) - 1); \
			ck_assert_int_eq(spz_emit(cfg, room, len_), 0);              \
		}                                                                    \
	} while (0)
	static char room[16384];
	EMIT();
	/* Mapped now, and kept by the shim: the name can go, so that no
	 * failed run leaves the file behind. */
	unlink(path);
	ck_assert_uint_eq(atomic_load(&r->head), 1);
	ck_assert_uint_eq(r->slot[0].len, n);
	ck_assert_mem_eq(r->slot[0].data, buf, n); /* JSON, as an older collector reads */

	spz_ring_beat(r, now_ms);
	EMIT();
	ck_assert_uint_eq(atomic_load(&r->head), 2);
	ck_assert_int_eq(r->slot[1].data[0], SPZ_PACKED_MAGIC);
	ck_assert_uint_lt(r->slot[1].len, n);
	ck_assert_int_eq(spz_record_unpack(r->slot[1].data, r->slot[1].len, &g), 0);
	ck_assert_uint_eq(spz_record_render(&g, rendered, sizeof(rendered)), n);
	ck_assert_mem_eq(rendered, buf, n);

	/* An older collector took the ring over: it beats alive_ms alone, and
	 * from its first beat the shim sends JSON, though the packed beat is
	 * still fresh. */
	atomic_store(&r->alive_ms, now_ms + 1);
	EMIT();
	ck_assert_uint_eq(atomic_load(&r->head), 3);
	ck_assert_uint_eq(r->slot[2].len, n);
	ck_assert_mem_eq(r->slot[2].data, buf, n);
	munmap(r, sizeof(*r));
	free(c);
}
END_TEST

int main(void)
{
	/* A socket of this test's own, so that its ring is no one else's. */
	char sock[128];
	snprintf(sock, sizeof(sock), "/tmp/spz-test-shimrecord-%d/collector.sock", (int)getpid());
	setenv("SPATURZU_SOCKET", sock, 1);
	Suite *s = suite_create("shimrecord");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, started_at_matches_the_c_library);
	tcase_add_test(tc, strings_are_escaped_for_a_json_reader);
	tcase_add_test(tc, packed_records_render_as_the_shim_writes_them);
	tcase_add_test(tc, damaged_packed_records_are_refused);
	tcase_add_test(tc, records_go_to_the_ring_packed_only_when_it_says_so);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
