/* Hooks for objects loaded with RTLD_DEEPBIND (PHP's extensions), whose
 * references to libssl never reach a preloaded library on their own. */
#ifndef SPZ_DEEPBIND_H
#define SPZ_DEEPBIND_H

#include <stdbool.h>

/* Turns the rebinding of deep-binding loads on (the shim is active) or off
 * (SPATURZU_DISABLE: dlopen is then passed straight through). */
void spz_deepbind_enable(bool on);
/* Points those GOT slots of the object behind handle, and of the objects
 * loaded after it in its namespace, that are bound (or, lazily, would be
 * bound) to the libssl functions our hooks call at our hooks. Returns the
 * slots changed. */
unsigned spz_deepbind_rebind(void *handle);

#endif
