/* The real OpenSSL functions behind our hooks, found at run time: the shim
 * never links libssl, and libssl may be loaded later by dlopen (Python's _ssl,
 * PHP's curl), where dlsym(RTLD_NEXT) cannot see it. */
#ifndef SPZ_REAL_H
#define SPZ_REAL_H

enum spz_fn {
	SPZ_FN_SSL_write,
	SPZ_FN_SSL_write_ex,
	SPZ_FN_SSL_read,
	SPZ_FN_SSL_read_ex,
	SPZ_FN_SSL_peek,
	SPZ_FN_SSL_peek_ex,
	SPZ_FN_SSL_pending,
	SPZ_FN_SSL_has_pending,
	SPZ_FN_SSL_ctrl,
	SPZ_FN_SSL_free,
	SPZ_FN_SSL_shutdown,
	SPZ_FN_SSL_clear,
	SPZ_FN_SSL_get_error,
	SPZ_FN_SSL_get_ex_data,
	SPZ_FN_SSL_set_ex_data,
	SPZ_FN_CRYPTO_get_ex_new_index,
	SPZ_FN_COUNT
};

/* The real function, or NULL if no loaded libssl has it. Resolved once,
 * lock-free; a NULL result is retried on the next call. */
void *spz_real(enum spz_fn fn);
/* The symbol's name ("SSL_write"). */
const char *spz_real_name(enum spz_fn fn);

#endif
