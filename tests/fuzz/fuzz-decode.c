/* libFuzzer: content decoding (gzip, deflate, br, zstd) of hostile bytes. */
#include <stddef.h>
#include <stdint.h>

#include "../../shim/decode.h"
#include "slices.h"

static void sink(void *ud, const char *buf, size_t len)
{
	*(size_t *)ud += (unsigned char)buf[0] + (unsigned char)buf[len - 1];
}

struct ctx {
	struct spz_decoder d;
	size_t sum;
};

static void feed(void *c, const char *buf, size_t len)
{
	struct ctx *x = c;
	spz_decoder_feed(&x->d, buf, len, sink, &x->sum);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	static const enum spz_coding codings[] = { SPZ_CODING_IDENTITY, SPZ_CODING_GZIP, SPZ_CODING_DEFLATE,
						   SPZ_CODING_BROTLI, SPZ_CODING_ZSTD };
	struct ctx *c = calloc(1, sizeof(*c));
	spz_decoder_init(&c->d, codings[data[0] % 5]);
	fuzz_slices(data + 1, size - 1, feed, c);
	spz_decoder_free(&c->d);
	free(c);
	return 0;
}
