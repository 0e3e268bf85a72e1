/* Path defaults (DESIGN.md "The collector and CLI"): environment first, then
 * XDG base directories, then /tmp/spaturzu-$UID. No allocation: both the shim
 * (inside host processes) and the collector use this. */
#include "paths.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fmt(char *out, size_t cap, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(out, cap, f, ap);
	va_end(ap);
	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return (v && *v) ? v : NULL;
}

int spz_path_socket(char *out, size_t cap)
{
	const char *v;
	if ((v = env("SPATURZU_SOCKET")))
		return fmt(out, cap, "%s", v);
	if ((v = env("XDG_RUNTIME_DIR")))
		return fmt(out, cap, "%s/spaturzu/collector.sock", v);
	return fmt(out, cap, "/tmp/spaturzu-%u/collector.sock", (unsigned)getuid());
}

int spz_path_spool_dir(char *out, size_t cap)
{
	const char *v;
	if ((v = env("SPATURZU_SPOOL")))
		return fmt(out, cap, "%s", v);
	if ((v = env("XDG_STATE_HOME")))
		return fmt(out, cap, "%s/spaturzu/spool", v);
	if ((v = env("HOME")))
		return fmt(out, cap, "%s/.local/state/spaturzu/spool", v);
	return fmt(out, cap, "/tmp/spaturzu-%u/spool", (unsigned)getuid());
}

int spz_path_db(char *out, size_t cap)
{
	const char *v;
	if ((v = env("SPATURZU_DB")))
		return fmt(out, cap, "%s", v);
	if ((v = env("XDG_DATA_HOME")))
		return fmt(out, cap, "%s/spaturzu/spaturzu.db", v);
	if ((v = env("HOME")))
		return fmt(out, cap, "%s/.local/share/spaturzu/spaturzu.db", v);
	return fmt(out, cap, "/tmp/spaturzu-%u/spaturzu.db", (unsigned)getuid());
}

int spz_path_config(char *out, size_t cap, const char *name)
{
	const char *v;
	if ((v = env("XDG_CONFIG_HOME")))
		return fmt(out, cap, "%s/spaturzu/%s", v, name);
	if ((v = env("HOME")))
		return fmt(out, cap, "%s/.config/spaturzu/%s", v, name);
	return fmt(out, cap, "/etc/spaturzu/%s", name);
}

int spz_mkdirs(const char *dir, unsigned mode)
{
	char buf[4096];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char saved = buf[i];
		buf[i] = '\0';
		/* Parents get 0700 too: they are ours when we create them. */
		if (mkdir(buf, i == n ? mode : 0700) < 0 && errno != EEXIST)
			return -1;
		buf[i] = saved;
	}
	return 0;
}
