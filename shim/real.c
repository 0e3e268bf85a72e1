/* Lazy resolution of the real OpenSSL symbols. RTLD_NEXT finds a libssl in
 * the global scope (linked at start); otherwise the loaded libssl is opened
 * with RTLD_NOLOAD by soname, which never loads anything new. Never call
 * through a NULL pointer: callers check. */
#include "real.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>

static const char *const names[SPZ_FN_COUNT] = {
	[SPZ_FN_SSL_write] = "SSL_write",
	[SPZ_FN_SSL_write_ex] = "SSL_write_ex",
	[SPZ_FN_SSL_read] = "SSL_read",
	[SPZ_FN_SSL_read_ex] = "SSL_read_ex",
	[SPZ_FN_SSL_peek] = "SSL_peek",
	[SPZ_FN_SSL_peek_ex] = "SSL_peek_ex",
	[SPZ_FN_SSL_pending] = "SSL_pending",
	[SPZ_FN_SSL_has_pending] = "SSL_has_pending",
	[SPZ_FN_SSL_ctrl] = "SSL_ctrl",
	[SPZ_FN_SSL_free] = "SSL_free",
	[SPZ_FN_SSL_shutdown] = "SSL_shutdown",
	[SPZ_FN_SSL_clear] = "SSL_clear",
	[SPZ_FN_SSL_get_error] = "SSL_get_error",
	[SPZ_FN_SSL_get_ex_data] = "SSL_get_ex_data",
	[SPZ_FN_SSL_set_ex_data] = "SSL_set_ex_data",
	[SPZ_FN_CRYPTO_get_ex_new_index] = "CRYPTO_get_ex_new_index",
};

static _Atomic(void *) cache[SPZ_FN_COUNT];

static const char *const sonames[] = {
	"libssl.so.3", "libssl.so.1.1", "libssl.so",
};

static void *resolve(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (p)
		return p;
	for (size_t i = 0; i < sizeof(sonames) / sizeof(sonames[0]); i++) {
		void *h = dlopen(sonames[i], RTLD_NOLOAD | RTLD_LAZY);
		if (!h)
			continue;
		/* A library handle also searches its dependencies (libcrypto). */
		p = dlsym(h, name);
		dlclose(h); /* drops our reference only: the library stays loaded */
		if (p)
			return p;
	}
	return NULL;
}

const char *spz_real_name(enum spz_fn fn)
{
	return names[fn];
}

void *spz_real(enum spz_fn fn)
{
	void *p = atomic_load_explicit(&cache[fn], memory_order_acquire);
	if (__builtin_expect(p != NULL, 1))
		return p;
	p = resolve(names[fn]);
	if (p)
		atomic_store_explicit(&cache[fn], p, memory_order_release);
	return p;
}
