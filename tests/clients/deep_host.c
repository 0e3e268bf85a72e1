/* deep-host PLUGIN ARGS...: a host that loads a client plugin with
 * RTLD_DEEPBIND, as PHP loads its extensions, lazily (the plugin's own
 * binding then decides: a -z lazy plugin's slots are still unresolved when
 * the shim binds them), and runs its entry point spz_peek_main with ARGS. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	void *h = dlopen(argv[1], RTLD_LAZY | RTLD_DEEPBIND);
	if (!h) {
		fprintf(stderr, "deep-host: %s\n", dlerror());
		return 2;
	}
	int (*entry)(int, char **) = (int (*)(int, char **))dlsym(h, "spz_peek_main");
	if (!entry) {
		fprintf(stderr, "deep-host: no spz_peek_main in %s\n", argv[1]);
		return 2;
	}
	return entry(argc - 1, argv + 1);
}
