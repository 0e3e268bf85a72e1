/* Collector logging. One fprintf per line; the stream is line-buffered. */
#include "clog.h"

#include <stdarg.h>
#include <time.h>

static FILE *out;

void clog_to(FILE *f)
{
	out = f;
	if (f)
		setvbuf(f, NULL, _IOLBF, 0);
}

static void vlog(const char *level, const char *fmt, va_list ap)
{
	FILE *f = out ? out : stderr;
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(f, "%s spaturzu %s: %s\n", when, level, msg);
}

#define DEFINE_LEVEL(fn, level)                \
	void fn(const char *fmt, ...)          \
	{                                      \
		va_list ap;                    \
		va_start(ap, fmt);             \
		vlog(level, fmt, ap);          \
		va_end(ap);                    \
	}

DEFINE_LEVEL(clog_info, "info")
DEFINE_LEVEL(clog_warn, "warning")
DEFINE_LEVEL(clog_error, "error")
