/* The record ring: many writer threads and the collector's reader; every
 * record arrives exactly once and in each writer's order; a full ring, a
 * collector without heartbeat and a record too large send writers to the
 * socket; a writer that died inside a slot is skipped after the patience,
 * and one that publishes after that cannot wedge the ring; the doorbell is
 * rung only when the collector may be asleep. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../../common/record_ring.h"
#include "helpers.h"

#define NOW 1795435200000

/* The collector's cursor in the ring under test; each new ring starts at 0. */
static uint64_t cursor;

static struct spz_ring *new_ring(void)
{
	/* a zeroed shared mapping, as a new file is */
	struct spz_ring *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(r, MAP_FAILED);
	spz_ring_init(r);
	atomic_store(&r->alive_ms, NOW);
	cursor = 0;
	return r;
}

#define WRITERS 4
#define PER_WRITER 30000

struct seen {
	unsigned next[WRITERS]; /* the next index expected from each writer */
	size_t count;
	int errors;
};

static void collect(void *ud, const char *data, size_t len)
{
	struct seen *s = ud;
	unsigned w, i;
	char buf[64];
	ck_assert_uint_lt(len, sizeof(buf));
	memcpy(buf, data, len);
	buf[len] = '\0';
	if (sscanf(buf, "w%u-%u", &w, &i) != 2 || w >= WRITERS || i != s->next[w])
		s->errors++;
	else
		s->next[w]++;
	s->count++;
}

static void count_only(void *ud, const char *data, size_t len)
{
	(void)data, (void)len;
	(*(size_t *)ud)++;
}

/* Takes and frees at once, as a collector whose every commit succeeds. */
static size_t take(struct spz_ring *r, size_t max, void (*fn)(void *, const char *, size_t), void *ud, int64_t now,
		   int64_t patience, int64_t *stuck, uint64_t *skipped, bool *pending)
{
	size_t got = spz_ring_take(r, &cursor, max, fn, ud, now, patience, stuck, skipped, pending);
	spz_ring_release(r, cursor);
	return got;
}

static struct spz_ring *shared;
static _Atomic unsigned fallbacks;

static void *writer(void *arg)
{
	unsigned w = (unsigned)(size_t)arg;
	char buf[64];
	for (unsigned i = 0; i < PER_WRITER; i++) {
		int n = snprintf(buf, sizeof(buf), "w%u-%u", w, i);
		bool bell;
		while (!spz_ring_put(shared, buf, (size_t)n, NOW, &bell)) {
			atomic_fetch_add(&fallbacks, 1); /* full: a shim would use the socket; here, try again */
			sched_yield();
		}
	}
	return NULL;
}

START_TEST(writers_and_reader_exactly_once_in_order)
{
	shared = new_ring();
	pthread_t t[WRITERS];
	for (size_t w = 0; w < WRITERS; w++)
		pthread_create(&t[w], NULL, writer, (void *)w);
	struct seen s = { 0 };
	int64_t stuck = 0;
	uint64_t skipped = 0;
	bool pending;
	while (s.count < (size_t)WRITERS * PER_WRITER) {
		if (!take(shared, 300, collect, &s, NOW, 60000, &stuck, &skipped, &pending))
			sched_yield();
	}
	for (size_t w = 0; w < WRITERS; w++)
		pthread_join(t[w], NULL);
	ck_assert_int_eq(s.errors, 0);
	ck_assert_uint_eq(skipped, 0);
	for (size_t w = 0; w < WRITERS; w++)
		ck_assert_uint_eq(s.next[w], PER_WRITER);
	ck_assert_uint_eq(take(shared, 10, collect, &s, NOW, 60000, &stuck, &skipped, &pending), 0);
	munmap(shared, sizeof(*shared));
}
END_TEST

START_TEST(full_stale_and_too_large_go_to_the_socket)
{
	struct spz_ring *r = new_ring();
	bool bell;
	char big[SPZ_RING_PAYLOAD + 1];
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(spz_ring_put(r, big, sizeof(big), NOW, &bell), 0);
	ck_assert_int_eq(spz_ring_put(r, big, SPZ_RING_PAYLOAD, NOW, &bell), 1);
	for (int i = 1; i < SPZ_RING_SLOTS; i++)
		ck_assert_int_eq(spz_ring_put(r, "a", 1, NOW, &bell), 1);
	ck_assert_int_eq(spz_ring_put(r, "a", 1, NOW, &bell), 0); /* full */
	size_t got = 0;
	int64_t stuck = 0;
	uint64_t skipped = 0;
	bool pending;
	ck_assert_uint_eq(take(r, 1, count_only, &got, NOW, 1000, &stuck, &skipped, &pending), 1);
	ck_assert_int_eq(spz_ring_put(r, "a", 1, NOW, &bell), 1); /* room again */
	/* no heartbeat for longer than SPZ_RING_ALIVE_MS */
	ck_assert_int_eq(spz_ring_put(r, "a", 1, NOW + SPZ_RING_ALIVE_MS + 1, &bell), 0);
	atomic_store(&r->alive_ms, 0); /* a collector that stopped */
	ck_assert_int_eq(spz_ring_put(r, "a", 1, NOW, &bell), 0);
	/* a file that is not a ring */
	r->magic = 0;
	atomic_store(&r->alive_ms, NOW);
	ck_assert_int_eq(spz_ring_put(r, "a", 1, NOW, &bell), 0);
	munmap(r, sizeof(*r));
}
END_TEST

START_TEST(a_writer_that_died_inside_a_slot)
{
	struct spz_ring *r = new_ring();
	bool bell;
	struct seen s = { 0 };
	int64_t stuck = 0;
	uint64_t skipped = 0;
	bool pending;
	ck_assert_int_eq(spz_ring_put(r, "w0-0", 4, NOW, &bell), 1);
	/* a writer claims position 1 and dies before publishing */
	atomic_fetch_add(&r->head, 1);
	ck_assert_int_eq(spz_ring_put(r, "w0-1", 4, NOW, &bell), 1);
	ck_assert_uint_eq(take(r, 100, collect, &s, NOW, 5000, &stuck, &skipped, &pending), 1);
	ck_assert(pending);
	ck_assert_uint_eq(take(r, 100, collect, &s, NOW + 4000, 5000, &stuck, &skipped, &pending), 0);
	ck_assert(pending);
	ck_assert_uint_eq(skipped, 0);
	/* past the patience: skipped, and the record behind it comes */
	ck_assert_uint_eq(take(r, 100, collect, &s, NOW + 5001, 5000, &stuck, &skipped, &pending), 1);
	ck_assert(!pending);
	ck_assert_uint_eq(skipped, 1);
	ck_assert_uint_eq(s.next[0], 2);
	ck_assert_int_eq(s.errors, 0);
	/* It was only stopped: it publishes now, into a slot already passed.
	 * A lap later that slot must still take a record. */
	atomic_store(&r->slot[1].seq, 2 - 1); /* seq pos + 1 for pos 1, stored minus the index */
	atomic_store(&r->alive_ms, NOW + 6000);
	unsigned next = 2;
	for (int lap = 0; lap < 3 * SPZ_RING_SLOTS; lap++) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "w0-%u", next++);
		if (!spz_ring_put(r, buf, (size_t)n, NOW + 6000, &bell)) {
			next--;
			/* the slot looks taken: the reader mends it once it reaches it */
			take(r, 100, collect, &s, NOW + 6000, 5000, &stuck, &skipped, &pending);
			ck_assert_int_eq(spz_ring_put(r, buf, (size_t)n, NOW + 6000, &bell), 1);
			next++;
		}
		take(r, 100, collect, &s, NOW + 6000, 5000, &stuck, &skipped, &pending);
	}
	ck_assert_int_eq(s.errors, 0);
	ck_assert_uint_eq(s.next[0], next);
	munmap(r, sizeof(*r));
}
END_TEST

START_TEST(the_doorbell_only_when_the_collector_may_sleep)
{
	struct spz_ring *r = new_ring();
	bool bell;
	ck_assert_int_eq(spz_ring_put(r, "a", 1, NOW, &bell), 1);
	ck_assert(bell); /* found empty: the collector may be asleep */
	ck_assert_int_eq(spz_ring_put(r, "b", 1, NOW, &bell), 1);
	ck_assert(!bell); /* not empty: the first writer rang */
	struct seen s = { 0 };
	int64_t stuck = 0;
	uint64_t skipped = 0;
	bool pending;
	take(r, 100, collect, &s, NOW, 1000, &stuck, &skipped, &pending);
	atomic_store(&r->look_by_ms, NOW + 20); /* it looks again within 20 ms */
	ck_assert_int_eq(spz_ring_put(r, "c", 1, NOW + 5, &bell), 1);
	ck_assert(!bell);
	take(r, 100, collect, &s, NOW, 1000, &stuck, &skipped, &pending);
	ck_assert_int_eq(spz_ring_put(r, "d", 1, NOW + 21, &bell), 1);
	ck_assert(bell); /* the promise ran out */
	munmap(r, sizeof(*r));
}
END_TEST

/* Records taken but not yet stored keep their slots: a collector killed
 * before its commit leaves them to the next one, and writers cannot reuse
 * those slots meanwhile. */
START_TEST(taken_records_stay_until_released)
{
	struct spz_ring *r = new_ring();
	bool bell, pending;
	int64_t stuck = 0;
	uint64_t skipped = 0;
	for (int i = 0; i < SPZ_RING_SLOTS; i++) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "w0-%d", i);
		ck_assert_int_eq(spz_ring_put(r, buf, (size_t)n, NOW, &bell), 1);
	}
	struct seen first = { 0 };
	uint64_t c = 0;
	ck_assert_uint_eq(spz_ring_take(r, &c, 100, collect, &first, NOW, 1000, &stuck, &skipped, &pending), 100);
	ck_assert_uint_eq(c, 100);
	ck_assert_int_eq(spz_ring_put(r, "x", 1, NOW, &bell), 0); /* still full */
	/* the collector dies here: the next one starts from tail */
	struct seen again = { 0 };
	uint64_t c2 = atomic_load(&r->tail);
	ck_assert_uint_eq(spz_ring_take(r, &c2, 2 * SPZ_RING_SLOTS, collect, &again, NOW, 1000, &stuck, &skipped,
					&pending),
			  SPZ_RING_SLOTS);
	ck_assert_int_eq(again.errors, 0);
	ck_assert_uint_eq(again.next[0], SPZ_RING_SLOTS);
	/* Nothing more until released, however often it looks, and a reader
	 * never runs a lap ahead of tail into slots not yet freed. */
	ck_assert_int_eq(spz_ring_put(r, "x", 1, NOW, &bell), 0);
	ck_assert_uint_eq(spz_ring_take(r, &c2, 10, collect, &again, NOW, 1000, &stuck, &skipped, &pending), 0);
	ck_assert_uint_eq(c2, SPZ_RING_SLOTS);
	spz_ring_release(r, 10);
	for (int i = 0; i < 10; i++) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "w0-%d", SPZ_RING_SLOTS + i);
		ck_assert_int_eq(spz_ring_put(r, buf, (size_t)n, NOW, &bell), 1);
	}
	ck_assert_int_eq(spz_ring_put(r, "x", 1, NOW, &bell), 0);
	ck_assert_uint_eq(spz_ring_take(r, &c2, 100, collect, &again, NOW, 1000, &stuck, &skipped, &pending), 10);
	ck_assert_int_eq(again.errors, 0);
	ck_assert_uint_eq(again.next[0], SPZ_RING_SLOTS + 10);
	munmap(r, sizeof(*r));
}
END_TEST

/* A writer that claimed a slot while the collector still promised to look
 * does not ring; the collector, withdrawing the promise, sees the claim. */
START_TEST(a_withdrawn_promise_sees_a_silent_writer)
{
	struct spz_ring *r = new_ring();
	bool bell;
	atomic_store(&r->look_by_ms, NOW + 20);
	ck_assert(!spz_ring_unread(r, 0));
	ck_assert_int_eq(spz_ring_put(r, "a", 1, NOW, &bell), 1);
	ck_assert(!bell);
	atomic_store(&r->look_by_ms, 0);
	ck_assert(spz_ring_unread(r, 0));
	struct seen s = { 0 };
	int64_t stuck = 0;
	uint64_t skipped = 0;
	bool pending;
	ck_assert_uint_eq(take(r, 10, count_only, &s.count, NOW, 1000, &stuck, &skipped, &pending), 1);
	ck_assert(!spz_ring_unread(r, cursor));
	munmap(r, sizeof(*r));
}
END_TEST

START_TEST(the_ring_path)
{
	char a[256], b[256];
	ck_assert_int_eq(spz_ring_path("/run/user/1000/spaturzu/collector.sock", a, sizeof(a)), 0);
	ck_assert_int_eq(spz_ring_path("/tmp/other/collector.sock", b, sizeof(b)), 0);
	ck_assert_str_ne(a, b); /* one ring per collector */
	ck_assert_int_eq(spz_ring_path("/run/user/1000/spaturzu/collector.sock", b, sizeof(b)), 0);
	ck_assert_str_eq(a, b);
	ck_assert_int_eq(spz_ring_path("/run/user/1000/spaturzu/collector.sock", b, 8), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, writers_and_reader_exactly_once_in_order);
	tcase_add_test(tc, full_stale_and_too_large_go_to_the_socket);
	tcase_add_test(tc, a_writer_that_died_inside_a_slot);
	tcase_add_test(tc, the_doorbell_only_when_the_collector_may_sleep);
	tcase_add_test(tc, taken_records_stay_until_released);
	tcase_add_test(tc, a_withdrawn_promise_sees_a_silent_writer);
	tcase_add_test(tc, the_ring_path);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
