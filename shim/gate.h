/* The budget gate of one HTTP/1.1 connection (see gate.c). */
#ifndef SPZ_GATE_H
#define SPZ_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refusal.h"

struct spz_gate {
	char *resp; /* the refusal the client has yet to read */
	size_t resp_len, resp_pos;
	bool swallowing;       /* the refused request's body is still coming */
	bool chunked;          /* ... in chunks (else swallow_left bytes of it) */
	uint8_t chunk_state;
	uint8_t chunk_digits;
	uint64_t swallow_left; /* body bytes still to drop, or of the current chunk */
	size_t retry_taken;    /* taken from a write whose rest failed: the retry's first bytes */
	char *held;            /* a request head coming in pieces, not written yet... */
	size_t held_len, held_cap;
	bool plan_live;        /* ...or, once judged, what to write in place of the client's bytes */
	size_t plan_len, plan_client;
};

/* The longest request head held back while it comes in pieces. */
#define SPZ_GATE_HOLD_MAX (64 * 1024)

/* Before the real write: how many bytes at the start of buf belong to a
 * refused request or a head held back (the caller reports them written and
 * writes only the rest, which is the next request). at_boundary: the
 * connection is between requests with no response outstanding. When *out
 * is set, the caller writes *out_len bytes from it instead and reports all
 * of buf written on success (a held head with what followed it); a failed
 * write is retried with the same plan. may_hold: the connection writes
 * whole buffers (not OpenSSL's partial-write mode), so a plan can be used. */
size_t spz_gate_write(struct spz_gate *g, bool at_boundary, bool may_hold, const char *buf, size_t len,
		      const char **out, size_t *out_len);
/* The real write of the rest failed (WANT_WRITE...): the client retries with
 * the same bytes, whose first `taken` are already dealt with. */
static inline void spz_gate_write_failed(struct spz_gate *g, size_t taken)
{
	g->retry_taken = taken;
}
/* The gate must see this connection's next write whatever the budgets say. */
static inline bool spz_gate_busy(const struct spz_gate *g)
{
	return g->swallowing || g->retry_taken || g->held_len || g->plan_live;
}
/* The plan was written: it is done with. */
static inline void spz_gate_plan_written(struct spz_gate *g)
{
	g->plan_live = false;
}
static inline size_t spz_gate_pending(const struct spz_gate *g)
{
	return g->resp ? g->resp_len - g->resp_pos : 0;
}
/* Copies refusal bytes for the client's read; frees the refusal when read. */
size_t spz_gate_read(struct spz_gate *g, char *buf, size_t cap);
/* The same bytes without taking them (SSL_peek). */
size_t spz_gate_peek(const struct spz_gate *g, char *buf, size_t cap);
void spz_gate_clear(struct spz_gate *g);

struct spz_req_head;
struct spz_budget_verdict;

/* Whether a budget refuses this request, about to leave (HTTP/1.1 or
 * HTTP/2): it must be an LLM call; warns once for an alert budget. On true,
 * *v, agent and *shape say how to answer. */
bool spz_gate_judge(const struct spz_req_head *h, int64_t now_ms, struct spz_budget_verdict *v, char *agent,
		    size_t cap, enum spz_error_shape *shape);
/* The wall clock in ms, as budgets reckon days and months. */
int64_t spz_wall_ms(void);
/* Logs a refusal and records it locally (never forwarded to the gateway). */
void spz_gate_record_refusal(const struct spz_req_head *h, const struct spz_budget_verdict *v, const char *agent);

#endif
