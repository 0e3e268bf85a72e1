/* A finished call as the record the collector stores: the gateway's LogEntry
 * field names plus the local ones (DESIGN.md "The record"). Counts, names
 * and tags only: no body text ever enters it. The fields go to the ring
 * packed, elsewhere as one line of JSON (common/record_pack.h). */
#ifndef SPZ_RECORD_H
#define SPZ_RECORD_H

#include <stddef.h>

#include "../common/record_pack.h"
#include "call.h"
#include "config.h"

/* Room for the process's own attribution, when a call has none of its own
 * (no memory for it): runId and agentName, escaped. It is on the host's
 * stack at a call's end, so no larger than plain names need (64 + 128
 * bytes and the keys); names so full of escapes that they do not fit are
 * left out, and the record keeps the rest. */
#define SPZ_RECORD_FALLBACK_ATTR 512

/* The record's fields, pointing into call and cfg (and into fallback, which
 * must outlive f). */
void spz_record_fields_of(const struct spz_call *call, const struct spz_config *cfg, struct spz_record_fields *f,
			  char fallback[SPZ_RECORD_FALLBACK_ATTR]);
/* Writes the record as JSON into buf; returns its length, or 0 if it did not fit. */
size_t spz_record_build(const struct spz_call *call, const struct spz_config *cfg, char *buf, size_t cap);

#endif
