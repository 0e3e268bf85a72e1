/* dlopen-runpath [PLUGIN_PATH]: the loader library opens its plugin by bare
 * name, plainly and with RTLD_DEEPBIND, then by PLUGIN_PATH with
 * RTLD_DEEPBIND (the shim's own path for deep-binding loads); prints the
 * three answers ("42 42 42"). */
#include <dlfcn.h>
#include <stdio.h>

int spz_dlo_open(const char *name, int flags);

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "libspz_dlo_plugin.so";
	printf("%d %d %d\n", spz_dlo_open("libspz_dlo_plugin.so", RTLD_NOW),
	       spz_dlo_open("libspz_dlo_plugin.so", RTLD_NOW | RTLD_DEEPBIND), spz_dlo_open(path, RTLD_NOW | RTLD_DEEPBIND));
	return 0;
}
