/* A library with DT_RUNPATH $ORIGIN that opens a plugin by its bare name,
 * as plugin hosts do: glibc searches the *caller's* run path, so a dlopen
 * interposer that called the real one (rather than jumping to it) would make
 * itself the caller and lose the plugin. */
#include <dlfcn.h>
#include <stdio.h>

int spz_dlo_open(const char *name, int flags);
int spz_dlo_open(const char *name, int flags)
{
	void *h = dlopen(name, flags);
	if (!h) {
		fprintf(stderr, "dlopen %s: %s\n", name, dlerror());
		return -1;
	}
	int (*answer)(void) = (int (*)(void))dlsym(h, "spz_dlo_plugin_answer");
	int v = answer ? answer() : -1;
	dlclose(h);
	return v;
}
