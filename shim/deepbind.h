/* Hooks for objects loaded with RTLD_DEEPBIND (PHP's extensions), whose
 * references to libssl never reach a preloaded library on their own. */
#ifndef SPZ_DEEPBIND_H
#define SPZ_DEEPBIND_H

#include <stdbool.h>

/* Turns the rebinding of deep-binding loads on (the shim is active) or off
 * (SPATURZU_DISABLE: dlopen is then passed straight through). */
void spz_deepbind_enable(bool on);
/* Points the GOT slots of the object behind handle, and of the objects
 * loaded after it in its namespace, that refer to libssl's hooked SSL_*
 * functions at the global scope's definitions (ours). Returns the slots
 * changed. */
unsigned spz_deepbind_rebind(void *handle);

#endif
