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
/* Puts a record into the collector's ring, packed, if the collector reads
 * that form and the ring takes it: 1; else 0, and it goes by spz_emit. */
int spz_emit_packed(const struct spz_config *cfg, const struct spz_record_fields *f);
/* Sends a JSON record (ring, socket, spool); record has room for a newline
 * after len. 0: sent; 1: spooled; -1: lost (logged). */
int spz_emit(const struct spz_config *cfg, char *record, size_t len);
/* Appends one line to this process's spool file in dir (the collector's
 * hand-off protocol: flock, then check the file is still the one named). */
int spz_spool_append(const char *dir, const char *line, size_t len);

#endif
