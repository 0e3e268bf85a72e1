/* HTTP/2 connection tracking: two frame parsers (one per direction, each
 * with its HPACK decoder), the streams that are LLM calls, and the budget
 * gate in front of the client's writes and reads. */
#ifndef SPZ_CONN_H2_H
#define SPZ_CONN_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spz_h2conn;

/* NULL if HTTP/2 cannot be followed here (no libnghttp2, no memory). */
struct spz_h2conn *spz_h2conn_new(void);
/* Bytes the client wrote already (the first ones, before the preface was
 * known to be one). */
void spz_h2conn_on_write(struct spz_h2conn *c, const char *buf, size_t len, int64_t now_ns);
/* The budget gate (h2gate.h) around each real write of the client: the
 * bytes are followed before they leave; *out is what to write in their
 * place. write_end returns the count to report to the client. */
void spz_h2conn_write_begin(struct spz_h2conn *c, const char *buf, size_t len, bool gate_on, int64_t now_ns,
			    const char **out, size_t *out_len);
size_t spz_h2conn_write_end(struct spz_h2conn *c, bool ok, size_t written);
/* Before a real read: the gate's answers, or a cap on the read (*limit). */
size_t spz_h2conn_take(struct spz_h2conn *c, char *buf, size_t cap, bool take, size_t *limit);
size_t spz_h2conn_pending(const struct spz_h2conn *c);
/* Bytes the client read; returns how many it keeps (0: the gate's own, read again). */
size_t spz_h2conn_on_read(struct spz_h2conn *c, const char *buf, size_t len, int64_t now_ns);
bool spz_h2conn_reads_gated(const struct spz_h2conn *c);
bool spz_h2conn_ignored(const struct spz_h2conn *c);
/* The connection is over: calls still open are reported as cut. */
void spz_h2conn_end(struct spz_h2conn *c, int64_t now_ns);
void spz_h2conn_free(struct spz_h2conn *c);

#endif
