/* Streaming content decoding (Content-Encoding) of one body: gzip and deflate
 * through zlib, br through libbrotlidec and zstd through libzstd (both opened
 * at their first use). Output goes to a sink in bounded pieces. */
#ifndef SPZ_DECODE_H
#define SPZ_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <zlib.h>

enum spz_coding {
	SPZ_CODING_IDENTITY,
	SPZ_CODING_GZIP,
	SPZ_CODING_DEFLATE,
	SPZ_CODING_BROTLI,
	SPZ_CODING_ZSTD,
	SPZ_CODING_UNSUPPORTED,
};

typedef void (*spz_decode_sink)(void *ud, const char *buf, size_t len);

struct spz_decoder {
	enum spz_coding coding;
	bool started; /* the codec state is allocated */
	bool failed;
	bool raw_checked; /* deflate: zlib wrapper or raw decided */
	bool ended;       /* a gzip member ended; more bytes start another */
	z_stream zs;
	void *state; /* brotli or zstd decoder */
};

/* Maps a Content-Encoding value ("gzip", "x-gzip", "deflate", "identity"). */
enum spz_coding spz_coding_from_header(const char *v, size_t len);
void spz_decoder_init(struct spz_decoder *d, enum spz_coding coding);
/* Returns 0, or -1 when the body cannot be decoded (then ignore the rest). */
int spz_decoder_feed(struct spz_decoder *d, const char *buf, size_t len, spz_decode_sink sink, void *ud);
void spz_decoder_free(struct spz_decoder *d);

#endif
