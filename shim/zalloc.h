/* Zeroed allocation for what the shim allocates per call. glibc's calloc
 * bypasses its per-thread cache and always takes the arena's slower path
 * (about 400 instructions for a call's struct, against 20 for malloc):
 * malloc and memset instead. */
#ifndef SPZ_ZALLOC_H
#define SPZ_ZALLOC_H

#include <stdlib.h>
#include <string.h>

static inline void *spz_zalloc(size_t size)
{
	void *p = malloc(size);
	/* GCC would fold this malloc and memset back into calloc: the empty
	 * asm hides where p came from. */
	__asm__("" : "+r"(p));
	if (p)
		memset(p, 0, size);
	return p;
}

#endif
