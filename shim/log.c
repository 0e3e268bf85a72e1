/* One line per diagnostic, written with a single write(2) so lines from
 * threads do not interleave. The file is opened per line: the host may close
 * or reuse any descriptor we kept. */
#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char log_path[512];
static int log_mode; /* 0 off, 1 stderr, 2 file */

void spz_log_init(const char *setting)
{
	log_mode = 0;
	if (!setting || !*setting || strcmp(setting, "0") == 0)
		return;
	if (strcmp(setting, "stderr") == 0 || strcmp(setting, "1") == 0) {
		log_mode = 1;
		return;
	}
	if (strlen(setting) < sizeof(log_path)) {
		strcpy(log_path, setting);
		log_mode = 2;
	}
}

void spz_log(const char *fmt, ...)
{
	if (!log_mode)
		return;
	char line[1024];
	int n = snprintf(line, sizeof(line), "spaturzu[%d]: ", (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	if (log_mode == 1) {
		ssize_t w = write(2, line, len);
		(void)w;
		return;
	}
	int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return;
	ssize_t w = write(fd, line, len);
	(void)w;
	close(fd);
}
