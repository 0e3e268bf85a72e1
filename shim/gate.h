/* The budget gate of one HTTP/1.1 connection (see gate.c). */
#ifndef SPZ_GATE_H
#define SPZ_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spz_gate {
	char *resp; /* the refusal the client has yet to read */
	size_t resp_len, resp_pos;
	uint64_t swallow_left; /* body bytes of the refused request still to drop */
};

/* Before the real write: true if these bytes belong to a refused request
 * (the caller reports them written and writes nothing). at_boundary: the
 * connection is between requests with no response outstanding. */
bool spz_gate_write(struct spz_gate *g, bool at_boundary, const char *buf, size_t len);
static inline size_t spz_gate_pending(const struct spz_gate *g)
{
	return g->resp ? g->resp_len - g->resp_pos : 0;
}
/* Copies refusal bytes for the client's read; frees the refusal when read. */
size_t spz_gate_read(struct spz_gate *g, char *buf, size_t cap);
/* The same bytes without taking them (SSL_peek). */
size_t spz_gate_peek(const struct spz_gate *g, char *buf, size_t cap);
void spz_gate_clear(struct spz_gate *g);

#endif
