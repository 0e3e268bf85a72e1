/* libspaturzu: the public API without the shim. Each function forwards to the
 * shim's own when the shim is loaded (found in the global scope, and not this
 * library's copy), and otherwise does nothing, so a program linked against
 * it, or loading it with ctypes, runs the same with and without the shim. */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>

#include "spaturzu.h"

#define EXPORT __attribute__((visibility("default")))

static void anchor(void)
{
}

/* The shim's definition of name, or NULL. Compared by the object that
 * defines it: taking this library's own exported address would itself be
 * interposed by the shim. */
static void *shim_symbol(const char *name)
{
	void *p = dlsym(RTLD_DEFAULT, name);
	Dl_info found, self;
	if (!p || !dladdr(p, &found) || !dladdr((void *)anchor, &self))
		return NULL;
	return found.dli_fbase == self.dli_fbase ? NULL : p;
}

#define FORWARD(name, proto, args)                                \
	EXPORT int name proto                                     \
	{                                                         \
		typedef int(*fn_t) proto;                         \
		fn_t fn = (fn_t)shim_symbol(#name);               \
		return fn ? fn args : -ENOSYS;                    \
	}

FORWARD(spaturzu_begin_run, (const char *agent, const char *tags), (agent, tags))
FORWARD(spaturzu_end_run, (void), ())
FORWARD(spaturzu_set_agent, (const char *agent), (agent))
FORWARD(spaturzu_set_tag, (const char *key, const char *value), (key, value))

EXPORT int spaturzu_active(void)
{
	typedef int (*fn_t)(void);
	fn_t fn = (fn_t)shim_symbol("spaturzu_active");
	return fn ? fn() : 0;
}
