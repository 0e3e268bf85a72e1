/* Per-connection tracking: both directions of one TLS connection's plaintext,
 * parsed into calls. Fed by the SSL hooks, never touches the bytes themselves.
 * HTTP/1.1 is tracked here, HTTP/2 (recognised by its preface) in conn_h2.c.
 * A connection that is not HTTP or stops parsing falls back to pass-through. */
#ifndef SPZ_CONN_H
#define SPZ_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exchange.h"

struct spz_conn;

/* Whether a connection whose first written bytes are these is worth a
 * tracker: an HTTP/1.x request line or the HTTP/2 preface. */
bool spz_conn_looks_http(const char *buf, size_t len);

struct spz_conn *spz_conn_new(void);
/* Ends the connection: finishes what can be finished, emits what is pending,
 * frees. */
void spz_conn_free(struct spz_conn *c, int64_t now_ns);
/* Bytes the application wrote (sent) or read (received), in order. */
void spz_conn_on_write(struct spz_conn *c, const char *buf, size_t len, int64_t now_ns);
/* Returns how many of the read bytes the client keeps: all of them, or
 * none when they were the HTTP/2 gate's own (the read is then made again). */
size_t spz_conn_on_read(struct spz_conn *c, const char *buf, size_t len, int64_t now_ns);
/* The peer closed the connection (read returned end of file). */
void spz_conn_on_eof(struct spz_conn *c, int64_t now_ns);
/* An HTTP/1.1 connection between requests with no response outstanding
 * (where the budget gate may answer for the server). */
bool spz_conn_h1_request_boundary(const struct spz_conn *c);
/* The HTTP/2 side of the connection, or NULL (HTTP/1.1, not known yet, not
 * followed). buf: the bytes about to be written, which may decide it. */
struct spz_h2conn;
struct spz_h2conn *spz_conn_h2(struct spz_conn *c, const char *buf, size_t len);
/* True once the connection is no longer tracked (not HTTP, parse error...). */
bool spz_conn_ignored(const struct spz_conn *c);

#endif
