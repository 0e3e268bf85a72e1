/* Incremental HTTP/2 frame parser (RFC 9113) for one direction of a
 * connection, fed arbitrary slices: the client preface, DATA (padding),
 * HEADERS (padding, priority) with CONTINUATION, PUSH_PROMISE, RST_STREAM,
 * GOAWAY and SETTINGS. Payloads are streamed, never gathered; header blocks
 * go through this direction's HPACK decoder. */
#ifndef SPZ_HTTP2_H
#define SPZ_HTTP2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hpack.h"

struct spz_h2_callbacks {
	/* A header block starts: HEADERS (push false) or PUSH_PROMISE. */
	void (*headers_begin)(void *ud, uint32_t stream, bool push);
	void (*header)(void *ud, uint32_t stream, const char *name, size_t nlen, const char *value, size_t vlen,
		       bool never_index);
	/* The block is complete; end_stream is the HEADERS frame's flag. */
	void (*headers_end)(void *ud, uint32_t stream, bool end_stream);
	void (*data)(void *ud, uint32_t stream, const char *buf, size_t len);
	void (*end_stream)(void *ud, uint32_t stream); /* DATA with END_STREAM */
	void (*rst_stream)(void *ud, uint32_t stream);
	void (*goaway)(void *ud, uint32_t last_stream);
	/* This side's SETTINGS_HEADER_TABLE_SIZE, for the other direction's decoder. */
	void (*table_size)(void *ud, uint32_t size);
};

struct spz_h2 {
	const struct spz_h2_callbacks *cb;
	void *ud;
	struct spz_hpack *hpack;
	uint8_t state;
	bool error;
	uint8_t type, flags;
	uint32_t stream;
	uint32_t left;       /* payload bytes left in this frame */
	uint32_t pad;        /* padding bytes at its end */
	uint32_t skip;       /* bytes to skip before the content (priority, promised id) */
	size_t have;
	uint8_t buf[24];     /* preface, frame header, small fixed fields */
	uint32_t block_stream;
	bool in_block;       /* a header block awaits CONTINUATION */
	bool block_push;
	bool block_end_stream;
};

/* Writes a 9-byte frame header (RFC 9113 4.1); returns 9. */
size_t spz_h2_frame_header(uint8_t *out, size_t len, uint8_t type, uint8_t flags, uint32_t stream);

/* client: this direction starts with the connection preface. */
void spz_h2_init(struct spz_h2 *p, bool client, struct spz_hpack *hpack, const struct spz_h2_callbacks *cb,
		 void *ud);
/* Returns 0, or -1 once the framing or HPACK is broken (then ignores the rest). */
int spz_h2_feed(struct spz_h2 *p, const char *buf, size_t len);

#endif
