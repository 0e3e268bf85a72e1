/* libFuzzer: the token estimate (pre-split and BPE) on any bytes, any
 * slicing, both encodings. Tables: $SPZ_BPE_DIR (default build-fuzz/shim). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../shim/pretok.h"
#include "slices.h"

static struct spz_bpe tables[SPZ_ENC_COUNT];

static void feed(void *ctx, const char *buf, size_t len)
{
	spz_tok_feed(ctx, buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int loaded = -1;
	if (loaded < 0) {
		const char *dir = getenv("SPZ_BPE_DIR") ? getenv("SPZ_BPE_DIR") : "build-fuzz/shim";
		char path[1024];
		snprintf(path, sizeof(path), "%s/o200k_base.bpe", dir);
		loaded = spz_bpe_open(&tables[0], path) == 0;
		snprintf(path, sizeof(path), "%s/cl100k_base.bpe", dir);
		loaded &= spz_bpe_open(&tables[1], path) == 0;
		if (!loaded) {
			fprintf(stderr, "fuzz-tokenizer: no tables in %s\n", dir);
			abort();
		}
	}
	if (size < 1)
		return 0;
	struct spz_tok *t = malloc(sizeof(*t));
	enum spz_encoding enc = (data[0] & 0x40) ? SPZ_ENC_CL100K : SPZ_ENC_O200K;
	spz_tok_init(t, enc, &tables[enc]);
	fuzz_slices(data, size, feed, t);
	spz_tok_end(t);
	/* every byte is at least part of a token: never more tokens than bytes */
	if (t->tokens > size * 2 + 1)
		abort();
	free(t);
	return 0;
}
