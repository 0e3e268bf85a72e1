/* Diagnostics of the shim: silent unless SPATURZU_LOG names a file or
 * "stderr". Never writes to the host's stdout. */
#ifndef SPZ_LOG_H
#define SPZ_LOG_H

void spz_log_init(const char *setting);
void spz_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
