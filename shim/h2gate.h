/* The budget gate of one HTTP/2 connection: a filter on the client's frames
 * before they are written, and on what the client reads.
 *
 * Written side. A frame walker follows the client's frames from the
 * preface on and hands every byte to the tracker (which decodes header
 * blocks and asks the budgets) in order, before the real write. While the
 * gate is on, a request's header block is held back until it is complete,
 * so a refused stream never leaves: its HEADERS, CONTINUATION, DATA and
 * every later frame on it are dropped. The server's HPACK decoder never saw
 * the dropped block, whose encoding may have added table entries; so every
 * later block of the connection is re-encoded statelessly (hpack_enc.c),
 * which leaves the server's table as it was, whatever the client's table
 * holds. The output of one client write is either that write's own bytes
 * or a plan in the gate's memory that a retried write (WANT_WRITE) sends
 * again unchanged.
 *
 * Read side. The refused stream's answer (HEADERS + DATA, spz_refusal_h2)
 * and a connection WINDOW_UPDATE giving back the send window the dropped
 * DATA used are inserted at a boundary between the server's frames. The
 * client counts the inserted DATA against its receive window, so the gate
 * takes that much out of the client's next connection WINDOW_UPDATEs: the
 * server's view of the window stays exact. */
#ifndef SPZ_H2GATE_H
#define SPZ_H2GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spz_bytes {
	char *p;
	size_t len, cap;
};

#define SPZ_H2GATE_REFUSED_MAX 32

/* Passes the client's bytes, in order, to the tracker. */
typedef void (*spz_h2gate_feed)(void *ud, const char *buf, size_t len);

struct spz_h2gate {
	spz_h2gate_feed feed;
	void *ud;
	bool engaged; /* the gate has been on: the connection owes it its frames */
	bool broken;  /* out of memory: everything passes as it is from now */
	bool blind;   /* the tracker stopped decoding: no field lists to re-encode */

	/* the client's frames */
	uint32_t preface_left;
	uint8_t hdr[9];
	uint8_t hdr_have, hdr_out; /* header bytes seen; of them, already written */
	uint8_t type, flags, action;
	uint32_t stream, left;
	uint8_t wu[4];
	uint8_t wu_have;

	/* the header block being held (HEADERS and its CONTINUATIONs) */
	bool block_held;
	bool verdict_refuse; /* the tracker refused it */
	bool capture;        /* its fields are being kept, for re-encoding */
	bool capture_failed;
	uint32_t block_stream;
	struct spz_bytes block;  /* raw frames */
	struct spz_bytes fields; /* u32 name length, u32 value length, u8 never indexed, name, value */

	bool reencode; /* a block was dropped: the server's table is frozen */
	uint32_t refused[SPZ_H2GATE_REFUSED_MAX];
	unsigned refused_count, refused_next;
	uint64_t debt;   /* inserted DATA the client will count in its WINDOW_UPDATEs */

	/* the output of the write being made */
	const char *wbuf;
	size_t identity; /* the client's bytes [0, identity) pass unchanged... */
	bool copying;    /* ...unless the output is built in plan */
	struct spz_bytes plan;
	bool plan_live;     /* plan stands for plan_client bytes until written */
	size_t plan_client;
	size_t fed_ahead; /* the client's next write starts with this many bytes already walked */

	/* the server's frames, and what to insert between them */
	bool rframe_seen; /* the server's first frame (its SETTINGS) was read */
	uint16_t pings_out; /* our PINGs not answered yet */
	uint8_t ping_seq;
	uint32_t frames_since_ping;
	uint8_t rping[17]; /* a PING ACK being read: ours is taken out */
	uint8_t rping_have;
	uint8_t stash[64]; /* server bytes held while looking for our PING's answer */
	uint8_t stash_len, stash_pos;
	uint8_t rhdr_have;
	uint8_t rhdr[3];
	uint32_t rleft;
	struct spz_bytes inject;
	size_t inject_ready; /* inserted bytes the client may read (its write went out) */
	uint64_t debt_ready; /* DATA in the ready bytes, owed once read */
};

void spz_h2gate_init(struct spz_h2gate *g, spz_h2gate_feed feed, void *ud);
void spz_h2gate_free(struct spz_h2gate *g);

/* Before the real write of the client's buf[0, len): walks it (feeding the
 * tracker what it has not seen) and says what to write instead: *out is buf
 * itself or the gate's plan, *out_len may be 0 (nothing to write; report
 * len written). on: the gate may hold and drop requests in this write. */
void spz_h2gate_write_begin(struct spz_h2gate *g, const char *buf, size_t len, bool on, const char **out,
			    size_t *out_len);
/* After it: whether it succeeded and how many bytes went out. Returns the
 * count to report to the client. */
size_t spz_h2gate_write_end(struct spz_h2gate *g, bool ok, size_t written);
/* The same walk after a write already made (the connection's first bytes,
 * before the preface was known). */
void spz_h2gate_written(struct spz_h2gate *g, const char *buf, size_t len);

/* The tracker, while a held block is fed: keep this field / refuse the
 * block, answering with these frames (whose DATA payloads total data_len). */
void spz_h2gate_field(struct spz_h2gate *g, const char *n, size_t nl, const char *v, size_t vl, bool never_index);
bool spz_h2gate_refuse(struct spz_h2gate *g, const char *frames, size_t len, size_t data_len);
/* Whether the block being fed can still be refused (held from its start). */
static inline bool spz_h2gate_refusable(const struct spz_h2gate *g)
{
	return g->block_held && !g->broken;
}

/* Read side: bytes the client really read from the server. Returns how
 * many it keeps: all, or none when they are the answer to the gate's PING
 * (then the client's read must be made again). */
size_t spz_h2gate_read(struct spz_h2gate *g, const char *buf, size_t len);
/* Bytes ready for the client (at a frame boundary or not). */
static inline size_t spz_h2gate_pending(const struct spz_h2gate *g)
{
	return g->inject_ready + (size_t)(g->stash_len - g->stash_pos);
}
/* The client's reads must pass through spz_h2gate_take. */
static inline bool spz_h2gate_reads_gated(const struct spz_h2gate *g)
{
	return g->inject_ready || g->stash_pos < g->stash_len || g->pings_out || g->rping_have;
}
/* Before a real read: copies bytes for the client (take: consume them, else
 * peek): server bytes held back, or inserted frames at a boundary between
 * the server's. *server_bytes says how many of them were the server's (the
 * tracker must see those). Returns 0 when there are none to give now;
 * *limit then caps the real read: to the end of the server's current
 * frame, or to a frame header while our PING's answer may come next
 * (SIZE_MAX: no cap). */
size_t spz_h2gate_take(struct spz_h2gate *g, char *buf, size_t cap, bool take, size_t *limit, size_t *server_bytes);

#endif
