/* HTTP/2 frame building for tests. */
#include "h2frames.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void h2_append(struct h2buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->data = realloc(b->data, b->cap);
	}
	if (n) /* an empty append may come with no buffer at all */
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void h2_frame(struct h2buf *b, uint8_t type, uint8_t flags, uint32_t stream, const void *payload, size_t n)
{
	uint8_t h[9] = { (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, type, flags,
			 (uint8_t)(stream >> 24), (uint8_t)(stream >> 16), (uint8_t)(stream >> 8), (uint8_t)stream };
	h2_append(b, h, 9);
	if (n)
		h2_append(b, payload, n);
}

void h2_preface(struct h2buf *b)
{
	h2_append(b, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
}

void h2_settings(struct h2buf *b, uint32_t table_size)
{
	uint8_t p[6] = { 0, 1, (uint8_t)(table_size >> 24), (uint8_t)(table_size >> 16), (uint8_t)(table_size >> 8),
			 (uint8_t)table_size };
	h2_frame(b, 4, 0, 0, p, table_size ? 6 : 0);
}

/* Pads a payload: pad length byte, payload, zeros. */
static size_t padded(uint8_t *out, const void *p, size_t n, uint8_t pad)
{
	out[0] = pad;
	memcpy(out + 1, p, n);
	memset(out + 1 + n, 0, pad);
	return n + 1 + pad;
}

void h2_headers(struct h2buf *b, nghttp2_hd_deflater *d, uint32_t stream, const nghttp2_nv *nv, size_t n,
		int end_stream, int split, uint8_t pad)
{
	uint8_t block[8192], frame[8192 + 300];
	ssize_t len = nghttp2_hd_deflate_hd(d, block, sizeof(block), (nghttp2_nv *)nv, n);
	if (len <= 0) fprintf(stderr, "deflate_hd=%zd n=%zu\n", len, n);
	ck_assert_int_gt(len, 0);
	size_t first = split ? (size_t)len / 2 : (size_t)len;
	uint8_t flags = (uint8_t)((end_stream ? 0x1 : 0) | (split ? 0 : 0x4) | (pad ? 0x8 : 0));
	if (pad)
		h2_frame(b, 1, flags, stream, frame, padded(frame, block, first, pad));
	else
		h2_frame(b, 1, flags, stream, block, first);
	if (split)
		h2_frame(b, 9, 0x4, stream, block + first, (size_t)len - first);
}

void h2_data(struct h2buf *b, uint32_t stream, const char *body, size_t len, size_t chunk, uint8_t pad,
	     int end_stream)
{
	static uint8_t frame[70000];
	size_t i = 0;
	do {
		size_t n = len - i < chunk ? len - i : chunk;
		int last = i + n == len;
		uint8_t flags = (uint8_t)((last && end_stream ? 0x1 : 0) | (pad ? 0x8 : 0));
		if (pad)
			h2_frame(b, 0, flags, stream, frame, padded(frame, body + i, n, pad));
		else
			h2_frame(b, 0, flags, stream, body + i, n);
		i += n;
	} while (i < len);
}

void h2_conv_init(struct h2conv *c, uint32_t table_size)
{
	memset(c, 0, sizeof(*c));
	nghttp2_hd_deflate_new(&c->dw, 4096);
	nghttp2_hd_deflate_new(&c->dr, table_size ? table_size : 4096);
	if (table_size)
		nghttp2_hd_deflate_change_table_size(c->dr, table_size);
	h2_preface(&c->w);
	h2_settings(&c->w, table_size);
	h2_settings(&c->r, 0);
}

void h2_conv_free(struct h2conv *c)
{
	nghttp2_hd_deflate_del(c->dw);
	nghttp2_hd_deflate_del(c->dr);
	free(c->w.data);
	free(c->r.data);
}
