/* Delivery of records to the collector: one datagram on its Unix socket,
 * never blocking; if the collector cannot take it, a line in the spool. */
#ifndef SPZ_EMIT_H
#define SPZ_EMIT_H

#include <stddef.h>

#include "config.h"

#include "../common/record_pack.h"

/* A notice for the collector (not a record): sent if it listens, else
 * dropped; never spooled. */
void spz_emit_notice(const struct spz_config *cfg, const char *msg, size_t len);
/* Sends a record: packed into the collector's ring when it reads them so,
 * else as JSON (ring, socket, spool). buf is the room to write it in: at
 * least spz_record_render_bound(f) + 1 bytes. 0: sent; 1: spooled; -1:
 * lost (logged). */
int spz_emit_record(const struct spz_config *cfg, const struct spz_record_fields *f, char *buf, size_t cap);
/* Appends one line to this process's spool file in dir (the collector's
 * hand-off protocol: flock, then check the file is still the one named). */
int spz_spool_append(const char *dir, const char *line, size_t len);

#endif
