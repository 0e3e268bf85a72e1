/* The top-level scalars of one whole JSON object held in memory, for a
 * reading that passes over every top-level container unread (a request
 * body held to its call's end whose prompt is not needed: exchange.c).
 * The events are those spz_json gives such a reader (report mask of values
 * and container starts, every depth-1 container skipped): each scalar
 * member's, at depth 1, with the key as its path, in order. Containers are
 * not reported. All or nothing: a body it might read otherwise than
 * spz_json (an escape in a key or a string value, a key past
 * SPZ_JSON_KEY_MAX, bad JSON, anything after the object, more than
 * SPZ_JSON_TOP_MAX scalars) is declined before any event, and is to be
 * read with spz_json. */
#ifndef SPZ_JSON_TOP_H
#define SPZ_JSON_TOP_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"

#define SPZ_JSON_TOP_MAX 32

/* true: the events were given; false: declined, none was. */
bool spz_json_top_scalars(const char *buf, size_t len, spz_json_cb cb, void *ud);

#endif
