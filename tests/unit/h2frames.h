/* Builds HTTP/2 byte streams for tests: frames with real HPACK header blocks
 * (nghttp2's deflater), optional padding and CONTINUATION splits. */
#ifndef SPZ_TEST_H2FRAMES_H
#define SPZ_TEST_H2FRAMES_H

#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>

struct h2buf {
	char *data;
	size_t len, cap;
};

void h2_append(struct h2buf *b, const void *p, size_t n);
void h2_frame(struct h2buf *b, uint8_t type, uint8_t flags, uint32_t stream, const void *payload, size_t n);
void h2_preface(struct h2buf *b);
/* SETTINGS with one HEADER_TABLE_SIZE entry (or none when size is 0). */
void h2_settings(struct h2buf *b, uint32_t table_size);
/* A header block for nv, as HEADERS (+CONTINUATION when split is set),
 * padded by pad bytes when pad > 0. */
void h2_headers(struct h2buf *b, nghttp2_hd_deflater *d, uint32_t stream, const nghttp2_nv *nv, size_t n,
		int end_stream, int split, uint8_t pad);
/* Body as DATA frames of at most chunk bytes, each padded by pad bytes. */
void h2_data(struct h2buf *b, uint32_t stream, const char *body, size_t len, size_t chunk, uint8_t pad,
	     int end_stream);

/* Both directions of a connection being built: the client's (w) starts with
 * the preface and SETTINGS announcing table_size (0: none), the server's (r)
 * with its SETTINGS; each side has its HPACK encoder. */
struct h2conv {
	struct h2buf w, r;
	nghttp2_hd_deflater *dw, *dr;
};

void h2_conv_init(struct h2conv *c, uint32_t table_size);
void h2_conv_free(struct h2conv *c);

#define H2_NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

#endif
