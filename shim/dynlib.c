/* Lazy loading of optional libraries. */
#include "dynlib.h"

#include <dlfcn.h>

#include "log.h"

bool spz_dynlib_load(const char *what, const char *const *sonames, const struct spz_dynsym *syms)
{
	void *h = NULL;
	for (size_t i = 0; !h && sonames[i]; i++)
		h = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		spz_log("%s not found (%s): %s are passed through untracked", sonames[0], what, what);
		return false;
	}
	for (size_t i = 0; syms[i].name; i++) {
		*syms[i].slot = dlsym(h, syms[i].name);
		if (!*syms[i].slot) {
			spz_log("%s lacks %s: %s are passed through untracked", sonames[0], syms[i].name, what);
			return false;
		}
	}
	return true;
}
