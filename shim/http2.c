/* HTTP/2 framing. Every header block is decoded, whichever stream it is for,
 * to keep the HPACK state in step; only the callbacks decide what matters.
 * On a protocol error the parser stops: the connection is then passed
 * through, and its calls in flight are reported as cut. */
#include "http2.h"

#include <string.h>

enum {
	F_DATA = 0, F_HEADERS = 1, F_PRIORITY = 2, F_RST_STREAM = 3, F_SETTINGS = 4,
	F_PUSH_PROMISE = 5, F_PING = 6, F_GOAWAY = 7, F_WINDOW_UPDATE = 8, F_CONTINUATION = 9
};
enum { FL_END_STREAM = 0x1, FL_ACK = 0x1, FL_END_HEADERS = 0x4, FL_PADDED = 0x8, FL_PRIORITY = 0x20 };
enum { P_PREFACE, P_HEADER, P_PADLEN, P_SKIP, P_CONTENT, P_FIXED, P_PADDING };

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

void spz_h2_init(struct spz_h2 *p, bool client, struct spz_hpack *hpack, const struct spz_h2_callbacks *cb,
		 void *ud)
{
	memset(p, 0, sizeof(*p));
	p->cb = cb;
	p->ud = ud;
	p->hpack = hpack;
	p->state = client ? P_PREFACE : P_HEADER;
}

size_t spz_h2_frame_header(uint8_t *out, size_t len, uint8_t type, uint8_t flags, uint32_t stream)
{
	out[0] = (uint8_t)(len >> 16);
	out[1] = (uint8_t)(len >> 8);
	out[2] = (uint8_t)len;
	out[3] = type;
	out[4] = flags;
	out[5] = (uint8_t)((stream >> 24) & 0x7f);
	out[6] = (uint8_t)(stream >> 16);
	out[7] = (uint8_t)(stream >> 8);
	out[8] = (uint8_t)stream;
	return 9;
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool is_block(uint8_t type)
{
	return type == F_HEADERS || type == F_PUSH_PROMISE || type == F_CONTINUATION;
}

static void emit_header(void *ud, const char *n, size_t nl, const char *v, size_t vl, bool never_index)
{
	struct spz_h2 *p = ud;
	if (p->cb->header)
		p->cb->header(p->ud, p->block_stream, n, nl, v, vl, never_index);
}

static int block_feed(struct spz_h2 *p, const uint8_t *in, size_t len, bool final)
{
	if (spz_hpack_feed(p->hpack, in, len, final, emit_header, p) < 0)
		return -1;
	if (final) {
		p->in_block = false;
		if (p->cb->headers_end && !p->block_push)
			p->cb->headers_end(p->ud, p->block_stream, p->block_end_stream);
	}
	return 0;
}

/* The fixed-size payloads we read: SETTINGS entries, RST_STREAM, GOAWAY. */
static size_t fixed_size(const struct spz_h2 *p)
{
	switch (p->type) {
	case F_SETTINGS: return (p->flags & FL_ACK) ? 0 : 6;
	case F_RST_STREAM: return 4;
	case F_GOAWAY: return 8;
	default: return 0;
	}
}

static int fixed_done(struct spz_h2 *p)
{
	switch (p->type) {
	case F_SETTINGS: {
		uint16_t id = (uint16_t)(p->buf[0] << 8 | p->buf[1]);
		if (id == 0x1 && p->cb->table_size)
			p->cb->table_size(p->ud, be32(p->buf + 2));
		break;
	}
	case F_RST_STREAM:
		if (p->cb->rst_stream)
			p->cb->rst_stream(p->ud, p->stream);
		break;
	case F_GOAWAY:
		if (p->cb->goaway)
			p->cb->goaway(p->ud, be32(p->buf) & 0x7fffffffu);
		break;
	}
	return 0;
}

/* The frame's payload has been read entirely. */
static int frame_done(struct spz_h2 *p)
{
	if (p->type == F_DATA && (p->flags & FL_END_STREAM) && p->cb->end_stream)
		p->cb->end_stream(p->ud, p->stream);
	if (is_block(p->type) && (p->flags & FL_END_HEADERS))
		return block_feed(p, NULL, 0, true);
	return 0;
}

static int frame_begin(struct spz_h2 *p)
{
	uint32_t len = (uint32_t)p->buf[0] << 16 | (uint32_t)p->buf[1] << 8 | p->buf[2];
	p->type = p->buf[3];
	p->flags = p->buf[4];
	p->stream = be32(p->buf + 5) & 0x7fffffffu;
	p->left = len;
	p->pad = 0;
	p->skip = 0;
	p->have = 0;
	/* A header block must be continued by CONTINUATION on its stream. */
	if (p->in_block != (p->type == F_CONTINUATION) || (p->in_block && p->stream != p->block_stream))
		return -1;
	if (p->type == F_HEADERS || p->type == F_PUSH_PROMISE) {
		p->in_block = true;
		p->block_stream = p->stream;
		p->block_push = p->type == F_PUSH_PROMISE;
		p->block_end_stream = p->type == F_HEADERS && (p->flags & FL_END_STREAM);
		if (p->cb->headers_begin)
			p->cb->headers_begin(p->ud, p->stream, p->block_push);
		if (p->type == F_HEADERS && (p->flags & FL_PRIORITY))
			p->skip = 5;
		if (p->type == F_PUSH_PROMISE)
			p->skip = 4; /* the promised stream id */
	}
	bool paddable = p->type == F_DATA || p->type == F_HEADERS || p->type == F_PUSH_PROMISE;
	if (paddable && (p->flags & FL_PADDED)) {
		if (p->left < 1)
			return -1;
		p->state = P_PADLEN;
		return 0;
	}
	if (p->skip > p->left)
		return -1;
	size_t fixed = fixed_size(p);
	p->state = p->skip ? P_SKIP : (fixed && p->left >= fixed ? P_FIXED : P_CONTENT);
	return 0;
}

int spz_h2_feed(struct spz_h2 *p, const char *data, size_t len)
{
	const uint8_t *in = (const uint8_t *)data;
	size_t i = 0;
	if (p->error)
		return -1;
	while (i < len || (p->state == P_CONTENT && p->left == 0) || (p->state == P_PADDING && p->left == 0)) {
		switch (p->state) {
		case P_PREFACE: {
			size_t n = 24 - p->have;
			if (n > len - i)
				n = len - i;
			if (memcmp(in + i, preface + p->have, n) != 0)
				goto fail;
			p->have += n;
			i += n;
			if (p->have == 24) {
				p->have = 0;
				p->state = P_HEADER;
			}
			break;
		}
		case P_HEADER: {
			size_t n = 9 - p->have;
			if (n > len - i)
				n = len - i;
			memcpy(p->buf + p->have, in + i, n);
			p->have += n;
			i += n;
			if (p->have == 9 && frame_begin(p) < 0)
				goto fail;
			break;
		}
		case P_PADLEN:
			p->pad = in[i++];
			p->left--;
			if (p->pad + p->skip > p->left)
				goto fail;
			p->state = p->skip ? P_SKIP : P_CONTENT;
			break;
		case P_SKIP: {
			uint32_t n = p->skip;
			if (n > len - i)
				n = (uint32_t)(len - i);
			i += n;
			p->skip -= n;
			p->left -= n;
			if (!p->skip)
				p->state = P_CONTENT;
			break;
		}
		case P_FIXED: {
			size_t want = fixed_size(p);
			size_t n = want - p->have;
			if (n > len - i)
				n = len - i;
			if (n > p->left)
				goto fail;
			memcpy(p->buf + p->have, in + i, n);
			p->have += n;
			i += n;
			p->left -= (uint32_t)n;
			if (p->have == want) {
				p->have = 0;
				if (fixed_done(p) < 0)
					goto fail;
				if (p->type != F_SETTINGS || p->left < 6)
					p->state = P_CONTENT; /* the rest (debug data, odd bytes) is skipped */
			}
			break;
		}
		case P_CONTENT: {
			uint32_t content = p->left - p->pad;
			size_t n = content < len - i ? content : len - i;
			if (n) {
				if (p->type == F_DATA && p->cb->data)
					p->cb->data(p->ud, p->stream, (const char *)in + i, n);
				else if (is_block(p->type) && block_feed(p, in + i, n, false) < 0)
					goto fail;
				i += n;
				p->left -= (uint32_t)n;
			}
			if (p->left == p->pad) {
				p->state = P_PADDING;
				if (p->left == 0)
					goto frame_end;
			}
			break;
		}
		case P_PADDING: {
			size_t n = p->left < len - i ? p->left : len - i;
			i += n;
			p->left -= (uint32_t)n;
			if (p->left)
				break;
		frame_end:
			p->state = P_HEADER;
			p->have = 0;
			if (frame_done(p) < 0)
				goto fail;
			break;
		}
		}
	}
	return 0;
fail:
	p->error = true;
	return -1;
}
