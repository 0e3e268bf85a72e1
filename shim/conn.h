/* Per-connection tracking: both directions of one TLS connection's plaintext,
 * parsed into calls. Fed by the SSL hooks, never touches the bytes themselves.
 * A connection that is not HTTP or stops parsing falls back to pass-through. */
#ifndef SPZ_CONN_H
#define SPZ_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "call.h"

struct spz_conn;

/* Gives a call starting now on this thread its attribution (JSON members,
 * heap string) from the request's x-spaturzu-* headers (NULL if absent).
 * Called on the thread that writes the request. Set once at start. */
typedef char *(*spz_call_attributor)(const char *call_id, const char *hdr_agent, const char *hdr_run,
				       const char *hdr_tags);
void spz_conn_set_attributor(spz_call_attributor attributor);

/* Receives every finished call (emitted, tested). Set once at start. */
typedef void (*spz_call_sink)(const struct spz_call *call);
void spz_conn_set_sink(spz_call_sink sink);

/* Whether a connection whose first written bytes are these is worth a tracker
 * (HTTP/1.x request line). */
bool spz_conn_looks_http1(const char *buf, size_t len);

struct spz_conn *spz_conn_new(void);
/* Ends the connection: finishes what can be finished, emits what is pending,
 * frees. */
void spz_conn_free(struct spz_conn *c, int64_t now_ns);
/* Bytes the application wrote (sent) or read (received), in order. */
void spz_conn_on_write(struct spz_conn *c, const char *buf, size_t len, int64_t now_ns);
void spz_conn_on_read(struct spz_conn *c, const char *buf, size_t len, int64_t now_ns);
/* The peer closed the connection (read returned end of file). */
void spz_conn_on_eof(struct spz_conn *c, int64_t now_ns);
/* True once the connection is no longer tracked (not HTTP, parse error...). */
bool spz_conn_ignored(const struct spz_conn *c);
/* True while a tracked request is written or its response is awaited. */
bool spz_conn_busy_call(const struct spz_conn *c);

#endif
