/* The HTTP/2 budget gate (see h2gate.h). Frames are followed by their
 * 9-byte headers only; the tracker does the decoding. */
#include "h2gate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hpack_enc.h"
#include "http2.h"
#include "log.h"

enum { F_DATA = 0, F_HEADERS = 1, F_WINDOW_UPDATE = 8, F_CONTINUATION = 9 };
enum { FL_END_STREAM = 0x1, FL_END_HEADERS = 0x4, FL_PADDED = 0x8, FL_PRIORITY = 0x20 };
enum { A_PASS, A_DROP, A_HOLD, A_WU };

/* Frames we write: the smallest SETTINGS_MAX_FRAME_SIZE a peer may have. */
#define FRAME_MAX 16384
/* A header list larger than this is not re-encoded (servers refuse far
 * smaller ones). */
#define FIELDS_MAX (1024 * 1024)

/* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": the tracker checks it; the gate passes it. */
#define PREFACE_LEN 24
/* Our PINGs' payload starts so: their answers are told from the client's. */
static const char ping_mark[7] = { 's', 'p', 'z', 'g', 'a', 't', 'e' };

static bool put(struct spz_h2gate *g, struct spz_bytes *b, const void *p, size_t n)
{
	if (g->broken)
		return false;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len < n)
			cap *= 2;
		char *q = realloc(b->p, cap);
		if (!q) {
			if (!g->broken)
				spz_log("HTTP/2 budget gate: out of memory; this connection passes as it is");
			g->broken = true;
			return false;
		}
		b->p = q;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return true;
}

static uint32_t be24(const uint8_t *b)
{
	return (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

void spz_h2gate_init(struct spz_h2gate *g, spz_h2gate_feed feed, void *ud)
{
	memset(g, 0, sizeof(*g));
	g->feed = feed;
	g->ud = ud;
	g->preface_left = PREFACE_LEN;
}

void spz_h2gate_free(struct spz_h2gate *g)
{
	free(g->block.p);
	free(g->fields.p);
	free(g->plan.p);
	free(g->inject.p);
	memset(g, 0, sizeof(*g));
}

/* ---- the output of one write -------------------------------------------- */

static void start_copying(struct spz_h2gate *g)
{
	g->copying = true;
	g->plan.len = 0;
	put(g, &g->plan, g->wbuf, g->identity);
}

/* The client's bytes wbuf[off, off + n) go out. */
static void out_client(struct spz_h2gate *g, size_t off, size_t n)
{
	if (!g->wbuf)
		return; /* walking bytes already written */
	if (!g->copying && off == g->identity) {
		g->identity += n;
		return;
	}
	if (!g->copying)
		start_copying(g);
	put(g, &g->plan, g->wbuf + off, n);
}

/* Bytes of the gate's own go out (held, rewritten or re-encoded). */
static void out_own(struct spz_h2gate *g, const void *p, size_t n)
{
	if (!g->wbuf || !n)
		return;
	if (!g->copying)
		start_copying(g);
	put(g, &g->plan, p, n);
}

/* ---- refused streams ---------------------------------------------------- */

static bool is_refused(const struct spz_h2gate *g, uint32_t stream)
{
	for (unsigned i = 0; i < g->refused_count; i++)
		if (g->refused[i] == stream)
			return true;
	return false;
}

static void add_refused(struct spz_h2gate *g, uint32_t stream)
{
	/* The oldest are forgotten: a client is done with a stream whose
	 * answer it read long ago. */
	g->refused[g->refused_next] = stream;
	g->refused_next = (g->refused_next + 1) % SPZ_H2GATE_REFUSED_MAX;
	if (g->refused_count < SPZ_H2GATE_REFUSED_MAX)
		g->refused_count++;
}

static void queue_inject(struct spz_h2gate *g, const void *p, size_t n)
{
	put(g, &g->inject, p, n);
}

static void queue_window_update(struct spz_h2gate *g, uint32_t stream, uint32_t increment)
{
	uint8_t f[13];
	spz_h2_frame_header(f, 4, F_WINDOW_UPDATE, 0, stream);
	f[9] = (uint8_t)(increment >> 24);
	f[10] = (uint8_t)(increment >> 16);
	f[11] = (uint8_t)(increment >> 8);
	f[12] = (uint8_t)increment;
	queue_inject(g, f, sizeof(f));
}

/* ---- re-encoding -------------------------------------------------------- */

/* An HPACK integer with a 5-bit prefix (a dynamic table size update) at
 * in[0, len): its length, 0 if incomplete or too long. */
static size_t size_update_len(const uint8_t *in, size_t len)
{
	if ((in[0] & 0x1f) != 0x1f)
		return 1;
	for (size_t i = 1; i < len && i < 6; i++)
		if (!(in[i] & 0x80))
			return i + 1;
	return 0;
}

/* The held block as the server's decoder can take it without its table:
 * the same fields, never-indexed marks kept, the same table size updates
 * (the server may be waiting for one), the first frame's priority and
 * END_STREAM. Returns false if it cannot be done. */
static bool emit_reencoded(struct spz_h2gate *g)
{
	const uint8_t *b = (const uint8_t *)g->block.p;
	if (g->capture_failed || g->blind || g->block.len < 9)
		return false;
	uint8_t flags0 = b[4];
	uint32_t len0 = be24(b);
	size_t off = 9, end0 = 9 + (size_t)len0;
	if (end0 > g->block.len)
		return false;
	uint8_t pad = 0;
	if (flags0 & FL_PADDED) {
		if (len0 < 1)
			return false;
		pad = b[off++];
	}
	uint8_t prio[5];
	bool has_prio = flags0 & FL_PRIORITY;
	if (has_prio) {
		if (off + 5 > end0)
			return false;
		memcpy(prio, b + off, 5);
		off += 5;
	}
	if (pad > end0 - off)
		return false;
	end0 -= pad;
	/* fragment: the table size updates that open the block, then fields */
	size_t cap = 16;
	for (size_t i = 0; i < g->fields.len;) {
		uint32_t nl, vl;
		memcpy(&nl, g->fields.p + i, 4);
		memcpy(&vl, g->fields.p + i + 4, 4);
		cap += (size_t)nl + vl + 16;
		i += 9 + (size_t)nl + vl;
	}
	size_t updates = 0;
	while (off + updates < end0 && (b[off + updates] & 0xe0) == 0x20) {
		size_t k = size_update_len(b + off + updates, end0 - off - updates);
		if (!k)
			return false;
		updates += k;
	}
	cap += updates;
	uint8_t *frag = malloc(cap);
	if (!frag)
		return false;
	memcpy(frag, b + off, updates);
	size_t n = updates;
	for (size_t i = 0; i < g->fields.len;) {
		uint32_t nl, vl;
		memcpy(&nl, g->fields.p + i, 4);
		memcpy(&vl, g->fields.p + i + 4, 4);
		bool never = g->fields.p[i + 8];
		const char *name = g->fields.p + i + 9;
		size_t k = spz_hpack_put_field(frag + n, cap - n, name, nl, name + nl, vl, never);
		if (!k) {
			free(frag);
			return false;
		}
		n += k;
		i += 9 + (size_t)nl + vl;
	}
	/* HEADERS, then CONTINUATION, none over FRAME_MAX */
	size_t pos = 0;
	bool first = true;
	do {
		size_t room = FRAME_MAX - (first && has_prio ? 5 : 0);
		size_t k = n - pos < room ? n - pos : room;
		bool last = pos + k == n;
		uint8_t h[9];
		uint8_t fl = (uint8_t)(last ? FL_END_HEADERS : 0);
		if (first)
			fl |= flags0 & (FL_END_STREAM | FL_PRIORITY);
		spz_h2_frame_header(h, (uint32_t)(k + (first && has_prio ? 5 : 0)), first ? F_HEADERS : F_CONTINUATION, fl,
			     g->block_stream);
		out_own(g, h, 9);
		if (first && has_prio)
			out_own(g, prio, 5);
		out_own(g, frag + pos, k);
		pos += k;
		first = false;
	} while (pos < n);
	free(frag);
	return true;
}

static void block_done(struct spz_h2gate *g)
{
	if (g->verdict_refuse) {
		add_refused(g, g->block_stream);
		g->reencode = true;
		/* The answer waits for the server's answer to a PING: that wakes a
		 * client waiting on the socket, and is taken out before the
		 * client reads the refusal, so no stray bytes are left to make
		 * an idle connection look alive or dead. */
		/* One PING in flight per connection at most: a refusal made
		 * while one is out waits for its answer, and servers that count
		 * PINGs (flood protection) see one per refusal at worst. */
		if (g->pings_out == 0) {
			uint8_t ping[17];
			spz_h2_frame_header(ping, 8, 6 /* PING */, 0, 0);
			memcpy(ping + 9, ping_mark, sizeof(ping_mark));
			ping[16] = g->ping_seq++;
			out_own(g, ping, sizeof(ping));
			g->pings_out++;
		}
	} else if (!g->reencode || !emit_reencoded(g)) {
		if (g->reencode) {
			static bool said;
			if (!said)
				spz_log("HTTP/2 budget gate: a request's headers could not be re-encoded; "
					"the server may now refuse the connection");
			said = true;
		}
		out_own(g, g->block.p, g->block.len);
	}
	g->block.len = 0;
	g->fields.len = 0;
	g->block_held = g->verdict_refuse = g->capture = g->capture_failed = false;
}

/* ---- the client's frames ------------------------------------------------ */

/* The header is complete (hdr_start: its offset in wbuf, if all of it is
 * there): decide the frame's fate and send the header accordingly. */
static void frame_start(struct spz_h2gate *g, bool on, long hdr_start)
{
	g->left = be24(g->hdr);
	g->type = g->hdr[3];
	g->flags = g->hdr[4];
	g->stream = be32(g->hdr + 5) & 0x7fffffffu;
	bool forced = g->hdr_out > 0; /* part of it is out: it goes as it is */
	g->action = A_PASS;
	if (forced || g->broken) {
		if (g->type == F_HEADERS)
			g->block_held = false;
	} else if (g->stream && is_refused(g, g->stream)) {
		g->action = A_DROP;
	} else if (g->type == F_HEADERS) {
		g->block_held = on || g->reencode;
		g->block_stream = g->stream;
		g->capture = g->block_held && g->reencode;
		g->action = g->block_held ? A_HOLD : A_PASS;
	} else if (g->type == F_CONTINUATION) {
		g->action = g->block_held ? A_HOLD : A_PASS;
	} else if (g->type == F_WINDOW_UPDATE && g->stream == 0 && g->debt && g->left == 4) {
		g->action = A_WU;
		g->wu_have = 0;
	}
	if (g->action == A_HOLD)
		put(g, &g->block, g->hdr, 9);
	else if (g->action == A_PASS && g->hdr_out < 9) {
		if (hdr_start >= 0 && g->hdr_out == 0)
			out_client(g, (size_t)hdr_start, 9);
		else
			out_own(g, g->hdr + g->hdr_out, 9u - g->hdr_out);
	}
	g->hdr_out = 9;
}

static void frame_end(struct spz_h2gate *g)
{
	switch (g->action) {
	case A_HOLD:
		if (g->flags & FL_END_HEADERS)
			block_done(g);
		break;
	case A_WU: {
		uint32_t v = be32(g->wu) & 0x7fffffffu;
		if (v <= g->debt) {
			g->debt -= v;
		} else {
			uint8_t f[13];
			spz_h2_frame_header(f, 4, F_WINDOW_UPDATE, g->flags, 0);
			uint32_t rest = v - (uint32_t)g->debt;
			f[9] = (uint8_t)(rest >> 24);
			f[10] = (uint8_t)(rest >> 16);
			f[11] = (uint8_t)(rest >> 8);
			f[12] = (uint8_t)rest;
			out_own(g, f, sizeof(f));
			g->debt = 0;
		}
		break;
	}
	case A_DROP:
		/* The dropped DATA spent the client's send windows; a server would
		 * have given them back as it read (and discarded) the body. The
		 * stream's comes back too while the client has more to send, so
		 * that it finishes the request and reads its answer. */
		if (g->type == F_DATA && be24(g->hdr)) { /* a frame is under 2^24 bytes: one increment */
			queue_window_update(g, 0, be24(g->hdr));
			if (!(g->flags & FL_END_STREAM))
				queue_window_update(g, g->stream, be24(g->hdr));
		}
		break;
	}
	g->hdr_have = 0;
	g->hdr_out = 0;
}

static void walk(struct spz_h2gate *g, const char *buf, size_t off, size_t len, bool on)
{
	size_t i = off, end = off + len;
	while (i < end) {
		if (g->preface_left) {
			size_t k = end - i < g->preface_left ? end - i : g->preface_left;
			out_client(g, i, k);
			g->feed(g->ud, buf + i, k);
			g->preface_left -= (uint32_t)k;
			i += k;
			continue;
		}
		if (g->hdr_have < 9) {
			size_t k = end - i < 9u - g->hdr_have ? end - i : 9u - g->hdr_have;
			long start = g->hdr_have == 0 ? (long)i : -1;
			memcpy(g->hdr + g->hdr_have, buf + i, k);
			g->hdr_have += (uint8_t)k;
			if (!on && !g->engaged) {
				/* nothing is held while the gate is off */
				out_client(g, i, k);
				g->hdr_out += (uint8_t)k;
			}
			if (g->hdr_have == 9) {
				frame_start(g, on, k == 9 ? start : -1);
				/* before the tracker, so that a refusal is possible */
			}
			g->feed(g->ud, buf + i, k);
			i += k;
			if (g->hdr_have == 9 && g->left == 0)
				frame_end(g);
			continue;
		}
		size_t k = end - i < g->left ? end - i : g->left;
		switch (g->action) {
		case A_PASS:
			out_client(g, i, k);
			break;
		case A_HOLD:
			put(g, &g->block, buf + i, k);
			break;
		case A_WU:
			memcpy(g->wu + g->wu_have, buf + i, k);
			g->wu_have += (uint8_t)k;
			break;
		default:
			break;
		}
		g->feed(g->ud, buf + i, k);
		i += k;
		g->left -= (uint32_t)k;
		if (g->left == 0)
			frame_end(g);
	}
}

void spz_h2gate_written(struct spz_h2gate *g, const char *buf, size_t len)
{
	g->wbuf = NULL;
	walk(g, buf, 0, len, false);
}

void spz_h2gate_write_begin(struct spz_h2gate *g, const char *buf, size_t len, bool on, const char **out,
			    size_t *out_len)
{
	if (g->plan_live && len >= g->plan_client) {
		/* the retry of a write that failed: the same plan again */
		*out = g->plan.p;
		*out_len = g->plan.len;
		return;
	}
	g->plan_live = false;
	if (on)
		g->engaged = true;
	size_t skip = g->fed_ahead < len ? g->fed_ahead : len;
	g->wbuf = buf;
	g->identity = skip;
	g->copying = false;
	bool was_broken = g->broken;
	walk(g, buf, skip, len - skip, on && !g->broken);
	g->fed_ahead = len;
	if (g->broken && !was_broken) {
		g->wbuf = NULL;
		*out = buf; /* out of memory: the bytes as they are, and no more gating */
		*out_len = len;
		return;
	}
	if (!g->copying) {
		*out = buf;
		*out_len = g->identity;
		if (g->identity == len) {
			g->wbuf = NULL;
			return;
		}
		/* the tail was held: the plan is the head of the client's bytes */
		start_copying(g);
	}
	g->wbuf = NULL;
	g->plan_live = true;
	g->plan_client = len;
	*out = g->plan.p;
	*out_len = g->plan.len;
}

size_t spz_h2gate_write_end(struct spz_h2gate *g, bool ok, size_t written)
{
	if (!ok)
		return 0;
	size_t reported = written;
	if (g->plan_live) {
		g->plan_live = false;
		reported = g->plan_client;
		g->fed_ahead = 0;
	} else {
		g->fed_ahead = written < g->fed_ahead ? g->fed_ahead - written : 0;
	}
	/* What the client wrote is out: the answers it caused may be read,
	 * once the server has answered the PINGs sent with them. */
	if (!g->pings_out)
		g->inject_ready = g->inject.len;
	return reported;
}

void spz_h2gate_field(struct spz_h2gate *g, const char *n, size_t nl, const char *v, size_t vl, bool never_index)
{
	if (!g->capture || g->capture_failed)
		return;
	if (g->fields.len + nl + vl + 9 > FIELDS_MAX) {
		g->capture_failed = true;
		return;
	}
	uint32_t l[2] = { (uint32_t)nl, (uint32_t)vl };
	uint8_t ni = never_index;
	if (!put(g, &g->fields, l, 8) || !put(g, &g->fields, &ni, 1) || !put(g, &g->fields, n, nl) ||
	    !put(g, &g->fields, v, vl))
		g->capture_failed = true;
}

bool spz_h2gate_refuse(struct spz_h2gate *g, const char *frames, size_t len, size_t data_len)
{
	if (!spz_h2gate_refusable(g) || !put(g, &g->inject, frames, len))
		return false;
	g->verdict_refuse = true;
	g->debt_ready += data_len;
	return true;
}

/* ---- the server's frames ------------------------------------------------ */

static const uint8_t ping_ack_header[9] = { 0, 0, 8, 6, 1, 0, 0, 0, 0 };
/* Frames read without our PING's answer before we stop waiting for it. */
#define PING_PATIENCE 4096

static void server_frame_done(struct spz_h2gate *g)
{
	g->rhdr_have = 0;
	g->rframe_seen = true;
	if (g->pings_out && ++g->frames_since_ping > PING_PATIENCE) {
		g->pings_out = 0; /* a server that does not answer PINGs: no more waiting */
		g->frames_since_ping = 0;
		g->inject_ready = g->inject.len;
	}
}

static void walk_server(struct spz_h2gate *g, const uint8_t *in, size_t len)
{
	size_t i = 0;
	while (i < len) {
		if (g->rhdr_have < 9) {
			size_t k = len - i < 9u - g->rhdr_have ? len - i : 9u - g->rhdr_have;
			for (size_t j = 0; j < k; j++)
				if (g->rhdr_have + j < 3)
					g->rhdr[g->rhdr_have + j] = in[i + j];
			g->rhdr_have += (uint8_t)k;
			i += k;
			if (g->rhdr_have == 9) {
				g->rleft = be24(g->rhdr);
				if (!g->rleft)
					server_frame_done(g);
			}
			continue;
		}
		size_t k = len - i < g->rleft ? len - i : g->rleft;
		i += k;
		g->rleft -= (uint32_t)k;
		if (!g->rleft)
			server_frame_done(g);
	}
}

/* Server bytes held back go to the client after all (not our PING's
 * answer): they are walked when the client takes them. */
static void stash(struct spz_h2gate *g, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (g->stash_len + alen + blen > sizeof(g->stash)) {
		/* cannot happen while reads are capped as take() says */
		blen = sizeof(g->stash) - g->stash_len - alen;
	}
	if (alen)
		memcpy(g->stash + g->stash_len, a, alen);
	if (blen)
		memcpy(g->stash + g->stash_len + alen, b, blen);
	g->stash_len += (uint8_t)(alen + blen);
}

size_t spz_h2gate_read(struct spz_h2gate *g, const char *buf, size_t len)
{
	const uint8_t *in = (const uint8_t *)buf;
	if (g->rping_have || (g->pings_out && g->rhdr_have == 0 && g->stash_pos == g->stash_len)) {
		/* Perhaps the answer to our PING: kept from the client until its
		 * payload says whose it is (reads are capped to it meanwhile). */
		size_t i = 0;
		while (i < len && g->rping_have < sizeof(g->rping)) {
			if (g->rping_have < 9 && in[i] != ping_ack_header[g->rping_have])
				break;
			g->rping[g->rping_have++] = in[i++];
		}
		if (g->rping_have < 9 && i < len) {
			/* not a PING's answer */
			size_t held = g->rping_have;
			g->rping_have = 0;
			if (held == 0)
				goto plain;
			g->stash_len = g->stash_pos = 0;
			stash(g, g->rping, held, in + i, len - i);
			return 0;
		}
		if (g->rping_have == sizeof(g->rping)) {
			g->rping_have = 0;
			g->stash_len = g->stash_pos = 0;
			if (memcmp(g->rping + 9, ping_mark, sizeof(ping_mark)) == 0) {
				g->frames_since_ping = 0;
				server_frame_done(g);
				if (!--g->pings_out)
					g->inject_ready = g->inject.len;
				stash(g, NULL, 0, in + i, len - i);
			} else {
				stash(g, g->rping, sizeof(g->rping), in + i, len - i); /* the client's own */
			}
		}
		return 0;
	}
plain:
	walk_server(g, in, len);
	return len;
}

size_t spz_h2gate_take(struct spz_h2gate *g, char *buf, size_t cap, bool take, size_t *limit, size_t *server_bytes)
{
	*limit = SIZE_MAX;
	*server_bytes = 0;
	if (g->stash_pos < g->stash_len) {
		size_t n = (size_t)(g->stash_len - g->stash_pos);
		if (n > cap)
			n = cap;
		memcpy(buf, g->stash + g->stash_pos, n);
		if (take) {
			walk_server(g, g->stash + g->stash_pos, n);
			g->stash_pos += (uint8_t)n;
			*server_bytes = n;
		}
		return n;
	}
	if (g->rping_have) {
		*limit = sizeof(g->rping) - g->rping_have;
		return 0;
	}
	bool at_boundary = g->rhdr_have == 0;
	if (g->inject_ready && g->rframe_seen && at_boundary) {
		size_t n = g->inject_ready < cap ? g->inject_ready : cap;
		memcpy(buf, g->inject.p, n);
		if (take) {
			memmove(g->inject.p, g->inject.p + n, g->inject.len - n);
			g->inject.len -= n;
			g->inject_ready -= n;
			if (!g->inject_ready) {
				g->debt += g->debt_ready;
				g->debt_ready = 0;
			}
		}
		return n;
	}
	if (!at_boundary) {
		/* in a server frame: read to its end, no further */
		if (g->inject_ready || g->pings_out)
			*limit = g->rhdr_have < 9 ? 9u - g->rhdr_have : g->rleft;
	} else if (g->pings_out) {
		*limit = 9; /* one frame header, to see whether it is our PING's answer */
	}
	return 0;
}
