/* The collector's diagnostics: timestamped lines on stderr or in a log file.
 * An expected error is logged once, with what to do about it. */
#ifndef SPZ_CLOG_H
#define SPZ_CLOG_H

#include <stdio.h>

void clog_to(FILE *f);
void clog_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void clog_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void clog_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
