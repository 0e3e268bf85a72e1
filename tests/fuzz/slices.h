/* Fuzz helper: the first input byte chooses how the rest is sliced, so the
 * fuzzer explores slice boundaries too. Each slice is a fresh heap copy, so
 * ASan catches a read past it. */
#ifndef SPZ_FUZZ_SLICES_H
#define SPZ_FUZZ_SLICES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void fuzz_slices(const uint8_t *data, size_t size, void (*fn)(void *, const char *, size_t), void *ctx)
{
	if (size == 0)
		return;
	uint32_t s = data[0] | 1u;
	data++;
	size--;
	size_t i = 0;
	while (i < size) {
		s ^= s << 13;
		s ^= s >> 17;
		s ^= s << 5;
		size_t n = (data[-1] & 0x80) ? size : 1 + s % 97;
		if (n > size - i)
			n = size - i;
		char *copy = malloc(n);
		memcpy(copy, data + i, n);
		fn(ctx, copy, n);
		free(copy);
		i += n;
	}
}

#endif
