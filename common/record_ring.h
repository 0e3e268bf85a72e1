/* The record ring: a file beside the collector's socket, mapped by the
 * collector and by the shims of its user, through which records reach the
 * collector without a system call. Many writers (any process, any thread)
 * claim a slot with a compare-and-swap on head, copy the record in and
 * publish it by its sequence number; the collector takes published slots
 * in order and frees them (advancing tail) only once their records are
 * stored, so a collector killed in between loses nothing.
 *
 * A writer uses the ring only while the collector's heartbeat is fresh and
 * the ring has room; otherwise the record goes to the socket or the spool,
 * as before. It rings the doorbell (a datagram) only when it finds the ring
 * empty, since then the collector may be asleep; under load no record costs
 * a system call. A slot claimed by a writer that died before publishing is
 * skipped after a patience (the record of a process that died mid-call).
 * The file survives a collector restart, and the next collector drains it.
 * System mode does not use a ring: its records must carry the sender's
 * credentials, which only the socket proves. */
#ifndef SPZ_RECORD_RING_H
#define SPZ_RECORD_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPZ_RING_MAGIC 0x31474e4952415053ull /* "SPARING1", little-endian */
#define SPZ_RING_NAME "records.ring"
#define SPZ_RING_SLOTS 4096
#define SPZ_RING_SLOT_SIZE 2048
#define SPZ_RING_PAYLOAD (SPZ_RING_SLOT_SIZE - 16)
/* A collector heartbeat older than this: the ring is not being drained. */
#define SPZ_RING_ALIVE_MS 2000
/* The doorbell datagram. */
#define SPZ_RING_DOORBELL "{\"spaturzuRing\":1}"

struct spz_ring_slot {
	/* The slot's sequence minus its index, so that a file of zeros is a
	 * ring of free slots and pages are only touched when used: sequence
	 * pos means free for position pos, pos + 1 published for it. */
	_Atomic uint64_t seq;
	uint32_t len;
	uint32_t reserved;
	char data[SPZ_RING_PAYLOAD];
};

struct spz_ring {
	uint64_t magic;
	uint32_t slots, slot_size;
	_Atomic int64_t alive_ms;   /* the collector's heartbeat, wall clock */
	_Atomic int64_t look_by_ms; /* the collector looks again by then: no doorbell needed */
	/* The heartbeat again, from a collector that reads packed records
	 * (common/record_pack.h) besides JSON ones: the same time as
	 * alive_ms. An older collector beats alive_ms alone, in a ring it made
	 * or took over, and gets JSON. */
	_Atomic int64_t packed_alive_ms;
	char pad0[24];
	_Atomic uint64_t head; /* the next position a writer claims */
	char pad1[56];
	_Atomic uint64_t tail; /* the first position the collector has not freed */
	char pad2[56];
	struct spz_ring_slot slot[SPZ_RING_SLOTS];
};

/* Where the ring of the collector at socket_path lives: in /dev/shm when it
 * is a tmpfs (a ring on a disk file system would make every first write to
 * a page a block allocation, and writeback would fault them again), named
 * after the user and the socket; else beside the socket. 0 or -1. */
int spz_ring_path(const char *socket_path, char *out, size_t cap);

/* The collector's heartbeat (0: it stopped), which says it reads packed
 * records too: both clocks get the same time, packed_alive_ms first. */
static inline void spz_ring_beat(struct spz_ring *r, int64_t now_ms)
{
	atomic_store_explicit(&r->packed_alive_ms, now_ms, memory_order_relaxed);
	atomic_store_explicit(&r->alive_ms, now_ms, memory_order_release);
}

/* Whether the collector draining the ring reads packed records: one that
 * does beats both clocks alike. An older collector that takes the ring
 * over beats alive_ms alone, so from its first beat the two differ and
 * writers send it JSON: no packed record reaches a collector that cannot
 * read it. (A beat between the two loads may make them differ for one
 * record, which then goes as JSON.) */
static inline bool spz_ring_reads_packed(const struct spz_ring *r, int64_t now_ms)
{
	int64_t alive = atomic_load_explicit(&r->alive_ms, memory_order_acquire);
	int64_t beat = atomic_load_explicit(&r->packed_alive_ms, memory_order_relaxed);
	return beat == alive && now_ms - beat <= SPZ_RING_ALIVE_MS && beat - now_ms <= SPZ_RING_ALIVE_MS;
}

/* Writers. 1: in the ring (*doorbell: the collector may be asleep, ring
 * it); 0: no room, no live collector or too large (use the socket). */
int spz_ring_put(struct spz_ring *r, const char *data, size_t len, int64_t now_ms, bool *doorbell);
/* The same in two steps, for a record written straight into its slot:
 * claim returns the slot's data (len bytes of room) and its position, or
 * NULL as put returns 0; publish hands it to the collector. Nothing may
 * stand between the two that can block or fail: a claim left unpublished
 * holds up the collector for its patience. */
char *spz_ring_claim(struct spz_ring *r, size_t len, int64_t now_ms, bool *doorbell, uint64_t *claimed);
void spz_ring_publish(struct spz_ring *r, uint64_t claimed, size_t len);

/* The collector. init: the header of a ring whose file is all zeros (a new
 * file: its pages are only allocated as slots are used). */
void spz_ring_init(struct spz_ring *r);
/* Whether a mapped file holds a ring of this layout. */
bool spz_ring_valid(const struct spz_ring *r);
/* Takes published records in order from *cursor (at most max), handing
 * each to fn, and advances *cursor; stops at the first slot not yet
 * published, and never a lap past what is released. A slot claimed but
 * unpublished for longer than patience_ms is skipped (counted in *skipped).
 * Returns the records taken; *pending says whether a claimed slot is still
 * being written. Taken records stay in their slots until released. */
size_t spz_ring_take(struct spz_ring *r, uint64_t *cursor, size_t max,
		     void (*fn)(void *ud, const char *data, size_t len), void *ud, int64_t now_ms,
		     int64_t patience_ms, int64_t *stuck_since_ms, uint64_t *skipped, bool *pending);
/* Frees the slots of every position before upto (the collector stored
 * their records): writers may use them again. A collector that dies before
 * releasing leaves them to the next one, which takes them again from tail
 * (the store drops a record it already has by its id). */
void spz_ring_release(struct spz_ring *r, uint64_t upto);
/* Whether a writer claimed a position at or after cursor. Called after the
 * collector withdrew its promise (look_by_ms = 0) and before it sleeps. */
bool spz_ring_unread(struct spz_ring *r, uint64_t cursor);
#endif
