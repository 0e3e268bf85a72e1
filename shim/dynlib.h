/* Optional libraries the shim opens only when a connection needs them
 * (nghttp2 for HTTP/2, brotli and zstd for those content codings), so a
 * process that never needs them never loads them. */
#ifndef SPZ_DYNLIB_H
#define SPZ_DYNLIB_H

#include <stdbool.h>
#include <stddef.h>

struct spz_dynsym {
	const char *name;
	void **slot; /* where the address goes */
};

/* Opens the first soname that loads (RTLD_LOCAL) and resolves every symbol;
 * true if all were found. Logs once, naming what is missing. Call it from a
 * pthread_once routine. */
bool spz_dynlib_load(const char *what, const char *const *sonames, const struct spz_dynsym *syms);

#endif
