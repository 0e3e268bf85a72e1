/* HTTP/2 connection tracking: two frame parsers (one per direction, each
 * with its HPACK decoder) and the streams that are LLM calls. */
#ifndef SPZ_CONN_H2_H
#define SPZ_CONN_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spz_h2conn;

/* NULL if HTTP/2 cannot be followed here (no libnghttp2, no memory). */
struct spz_h2conn *spz_h2conn_new(void);
void spz_h2conn_on_write(struct spz_h2conn *c, const char *buf, size_t len, int64_t now_ns);
void spz_h2conn_on_read(struct spz_h2conn *c, const char *buf, size_t len, int64_t now_ns);
bool spz_h2conn_ignored(const struct spz_h2conn *c);
/* The connection is over: calls still open are reported as cut. */
void spz_h2conn_end(struct spz_h2conn *c, int64_t now_ns);
void spz_h2conn_free(struct spz_h2conn *c);

#endif
