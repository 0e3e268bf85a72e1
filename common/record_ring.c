/* The record ring (see record_ring.h): a bounded multi-producer queue after
 * Vyukov, in a shared file. */
#include "record_ring.h"

#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#define TMPFS_MAGIC_NUMBER 0x01021994

int spz_ring_path(const char *socket_path, char *out, size_t cap)
{
	struct statfs fs;
	if (statfs("/dev/shm", &fs) == 0 && fs.f_type == TMPFS_MAGIC_NUMBER) {
		uint64_t h = 1469598103934665603ull;
		for (const char *p = socket_path; *p; p++)
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
		int n = snprintf(out, cap, "/dev/shm/spaturzu-%ld-%016llx.ring", (long)geteuid(), (unsigned long long)h);
		return n > 0 && (size_t)n < cap ? 0 : -1;
	}
	const char *slash = strrchr(socket_path, '/');
	if (!slash)
		return -1;
	int n = snprintf(out, cap, "%.*s/%s", (int)(slash - socket_path), socket_path, SPZ_RING_NAME);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* The sequence of the slot of position pos (stored minus the slot index). */
static uint64_t seq_of(struct spz_ring *r, uint64_t pos)
{
	uint64_t i = pos % SPZ_RING_SLOTS;
	return atomic_load_explicit(&r->slot[i].seq, memory_order_acquire) + i;
}

static void set_seq(struct spz_ring *r, uint64_t pos, uint64_t seq)
{
	uint64_t i = pos % SPZ_RING_SLOTS;
	atomic_store_explicit(&r->slot[i].seq, seq - i, memory_order_release);
}

char *spz_ring_claim(struct spz_ring *r, size_t len, int64_t now_ms, bool *doorbell, uint64_t *claimed)
{
	*doorbell = false;
	if (len > SPZ_RING_PAYLOAD || !spz_ring_valid(r))
		return NULL;
	int64_t alive = atomic_load_explicit(&r->alive_ms, memory_order_relaxed);
	if (now_ms - alive > SPZ_RING_ALIVE_MS || alive - now_ms > SPZ_RING_ALIVE_MS)
		return NULL;
	uint64_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
	for (;;) {
		int64_t dif = (int64_t)(seq_of(r, pos) - pos);
		if (dif == 0) {
			/* free for this position: claim it */
			if (atomic_compare_exchange_weak_explicit(&r->head, &pos, pos + 1, memory_order_seq_cst,
								  memory_order_relaxed))
				break;
		} else if (dif < 0) {
			return NULL; /* the previous lap's record is still there: full */
		} else {
			pos = atomic_load_explicit(&r->head, memory_order_relaxed); /* another writer went first */
		}
	}
	/* Found empty, the collector may have gone to sleep, unless it said it
	 * will look again soon. Sequentially consistent with the claim: a
	 * collector that withdraws its promise then looks at head (see
	 * spz_ring_unread), so one of the two sees the other. */
	*doorbell = atomic_load_explicit(&r->tail, memory_order_seq_cst) == pos &&
		    now_ms >= atomic_load_explicit(&r->look_by_ms, memory_order_seq_cst);
	*claimed = pos;
	return r->slot[pos % SPZ_RING_SLOTS].data;
}

void spz_ring_publish(struct spz_ring *r, uint64_t claimed, size_t len)
{
	r->slot[claimed % SPZ_RING_SLOTS].len = (uint32_t)len;
	set_seq(r, claimed, claimed + 1);
}

int spz_ring_put(struct spz_ring *r, const char *data, size_t len, int64_t now_ms, bool *doorbell)
{
	uint64_t pos;
	char *slot = spz_ring_claim(r, len, now_ms, doorbell, &pos);
	if (!slot)
		return 0;
	memcpy(slot, data, len);
	spz_ring_publish(r, pos, len);
	return 1;
}

void spz_ring_init(struct spz_ring *r)
{
	r->slots = SPZ_RING_SLOTS;
	r->slot_size = SPZ_RING_SLOT_SIZE;
	/* Zeros: slot i is free for position i. */
	atomic_thread_fence(memory_order_release);
	r->magic = SPZ_RING_MAGIC;
}

bool spz_ring_valid(const struct spz_ring *r)
{
	return r->magic == SPZ_RING_MAGIC && r->slots == SPZ_RING_SLOTS && r->slot_size == SPZ_RING_SLOT_SIZE;
}

size_t spz_ring_take(struct spz_ring *r, uint64_t *cursor, size_t max,
		     void (*fn)(void *ud, const char *data, size_t len), void *ud, int64_t now_ms,
		     int64_t patience_ms, int64_t *stuck_since_ms, uint64_t *skipped, bool *pending)
{
	size_t taken = 0;
	*pending = false;
	uint64_t pos = *cursor;
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	/* Never a lap ahead of what is released: the slot there still holds a
	 * record taken but not yet stored. */
	while (taken < max && pos - tail < SPZ_RING_SLOTS) {
		struct spz_ring_slot *s = &r->slot[pos % SPZ_RING_SLOTS];
		uint64_t seq = seq_of(r, pos);
		if (seq == pos + 1) {
			uint32_t len = s->len;
			if (len <= SPZ_RING_PAYLOAD)
				fn(ud, s->data, len);
			taken++;
			*stuck_since_ms = 0;
		} else if (atomic_load_explicit(&r->head, memory_order_seq_cst) == pos) {
			/* Empty. A writer skipped as dead that published after all
			 * left its slot marked for the wrong lap: mend it, or the
			 * ring would look full here forever. No writer can hold a
			 * claim on pos while head is pos, and the slot's previous
			 * lap is released (pos - tail < SPZ_RING_SLOTS). */
			if (seq != pos)
				set_seq(r, pos, pos);
			break;
		} else {
			/* claimed, not published yet */
			if (!*stuck_since_ms)
				*stuck_since_ms = now_ms;
			if (now_ms - *stuck_since_ms < patience_ms) {
				*pending = true;
				break;
			}
			(*skipped)++; /* its writer died (or stopped) before publishing */
			*stuck_since_ms = 0;
		}
		pos++;
	}
	*cursor = pos;
	return taken;
}

void spz_ring_release(struct spz_ring *r, uint64_t upto)
{
	uint64_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
	for (; pos < upto; pos++)
		set_seq(r, pos, pos + SPZ_RING_SLOTS);
	atomic_store_explicit(&r->tail, pos, memory_order_seq_cst);
}

bool spz_ring_unread(struct spz_ring *r, uint64_t cursor)
{
	/* Pairs with the writers' claim: either the collector sees the claim
	 * here, or the writer sees the collector's withdrawn promise. */
	atomic_thread_fence(memory_order_seq_cst);
	return atomic_load_explicit(&r->head, memory_order_seq_cst) != cursor;
}
