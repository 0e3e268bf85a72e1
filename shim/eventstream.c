/* AWS event stream framing. CRCs are checked (prelude and message): a frame
 * that fails is reported as such, and a broken prelude stops parsing, since
 * lengths can no longer be trusted. Header values other than strings are
 * skipped by their encoded sizes. */
#include "eventstream.h"

#include <string.h>
#include <zlib.h>

enum { E_PRELUDE, E_HEADERS, E_PAYLOAD, E_CRC };

void spz_es_init(struct spz_eventstream *p, const struct spz_es_callbacks *cb, void *ud)
{
	memset(p, 0, offsetof(struct spz_eventstream, buf));
	p->cb = cb;
	p->ud = ud;
	p->state = E_PRELUDE;
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void copy_value(char *dst, const uint8_t *v, size_t n)
{
	if (n > SPZ_ES_VALUE_MAX)
		n = SPZ_ES_VALUE_MAX;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* Header wire format: name length (1), name, type (1), value. */
static int parse_headers(struct spz_eventstream *p)
{
	const uint8_t *h = p->buf;
	size_t n = p->headers_len, i = 0;
	p->event_type[0] = p->message_type[0] = '\0';
	while (i < n) {
		size_t nlen = h[i++];
		if (i + nlen + 1 > n)
			return -1;
		const uint8_t *name = h + i;
		i += nlen;
		uint8_t type = h[i++];
		size_t vlen;
		switch (type) {
		case 0: case 1: vlen = 0; break;          /* bool true / false */
		case 2: vlen = 1; break;                  /* byte */
		case 3: vlen = 2; break;                  /* short */
		case 4: vlen = 4; break;                  /* int */
		case 5: case 8: vlen = 8; break;          /* long, timestamp */
		case 9: vlen = 16; break;                 /* uuid */
		case 6: case 7:                           /* bytes, string */
			if (i + 2 > n)
				return -1;
			vlen = (size_t)h[i] << 8 | h[i + 1];
			i += 2;
			break;
		default:
			return -1;
		}
		if (i + vlen > n)
			return -1;
		if (type == 7 && nlen == 11 && memcmp(name, ":event-type", 11) == 0)
			copy_value(p->event_type, h + i, vlen);
		else if (type == 7 && nlen == 13 && memcmp(name, ":message-type", 13) == 0)
			copy_value(p->message_type, h + i, vlen);
		i += vlen;
	}
	return 0;
}

/* Gathers up to `want` bytes into buf; returns how many were taken. */
static size_t gather(struct spz_eventstream *p, const char *src, size_t len, size_t want)
{
	size_t n = want - p->have;
	if (n > len)
		n = len;
	memcpy(p->buf + p->have, src, n);
	p->have += n;
	return n;
}

int spz_es_feed(struct spz_eventstream *p, const char *buf, size_t len)
{
	size_t i = 0;
	if (p->error)
		return -1;
	while (i < len) {
		switch (p->state) {
		case E_PRELUDE:
			i += gather(p, buf + i, len - i, 12);
			if (p->have < 12)
				return 0;
			p->total_len = be32(p->buf);
			p->headers_len = be32(p->buf + 4);
			if ((uint32_t)crc32(0, p->buf, 8) != be32(p->buf + 8) || p->total_len < 16 ||
			    p->total_len > SPZ_ES_MESSAGE_MAX || p->headers_len > SPZ_ES_HEADERS_MAX ||
			    p->headers_len > p->total_len - 16)
				goto fail;
			p->crc = (uint32_t)crc32(0, p->buf, 12);
			p->payload_left = p->total_len - 16 - p->headers_len;
			p->have = 0;
			p->state = E_HEADERS;
			/* a message may have no headers */
			__attribute__((fallthrough));
		case E_HEADERS:
			i += gather(p, buf + i, len - i, p->headers_len);
			if (p->have < p->headers_len)
				return 0;
			p->crc = (uint32_t)crc32(p->crc, p->buf, p->headers_len);
			if (parse_headers(p) < 0)
				goto fail;
			if (p->cb->message_begin)
				p->cb->message_begin(p->ud, p->event_type, p->message_type);
			p->have = 0;
			p->state = E_PAYLOAD;
			__attribute__((fallthrough));
		case E_PAYLOAD: {
			size_t n = len - i;
			if (n > p->payload_left)
				n = p->payload_left;
			if (n) {
				p->crc = (uint32_t)crc32(p->crc, (const Bytef *)buf + i, (uInt)n);
				if (p->cb->payload)
					p->cb->payload(p->ud, buf + i, n);
				i += n;
				p->payload_left -= (uint32_t)n;
			}
			if (p->payload_left)
				return 0;
			p->state = E_CRC;
			p->have = 0;
		}
			__attribute__((fallthrough));
		case E_CRC:
			i += gather(p, buf + i, len - i, 4);
			if (p->have < 4)
				return 0;
			if (p->cb->message_end)
				p->cb->message_end(p->ud, be32(p->buf) == p->crc);
			p->have = 0;
			p->state = E_PRELUDE;
			break;
		}
	}
	return 0;
fail:
	p->error = true;
	return -1;
}
