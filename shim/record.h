/* A finished call as the record the collector stores: one line of JSON with
 * the gateway's LogEntry field names plus the local ones (DESIGN.md "The
 * record"). Counts, names and tags only: no body text ever enters it. */
#ifndef SPZ_RECORD_H
#define SPZ_RECORD_H

#include <stddef.h>

#include "call.h"
#include "config.h"

/* Writes the record into buf; returns its length, or 0 if it did not fit. */
size_t spz_record_build(const struct spz_call *call, const struct spz_config *cfg, char *buf, size_t cap);

#endif
