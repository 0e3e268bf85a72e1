/* HPACK decoding (RFC 7541) with nghttp2's inflater, one per direction of a
 * connection. libnghttp2 is opened on the first HTTP/2 connection, so
 * processes that never speak HTTP/2 never load it. */
#ifndef SPZ_HPACK_H
#define SPZ_HPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spz_hpack;

/* never_index: the field was sent "never indexed" (a credential, say),
 * a mark an intermediary re-encoding it must keep. */
typedef void (*spz_hpack_emit)(void *ud, const char *name, size_t nlen, const char *value, size_t vlen,
			       bool never_index);

/* NULL when libnghttp2 is not available (logged once) or out of memory. */
struct spz_hpack *spz_hpack_new(void);
void spz_hpack_free(struct spz_hpack *h);
/* The decoder side's SETTINGS_HEADER_TABLE_SIZE: the most the encoder may use. */
int spz_hpack_table_size(struct spz_hpack *h, uint32_t size);
/* Feeds part of a header block; final on its last part. Every header block
 * of the direction must pass here, tracked stream or not, or the dynamic
 * table goes out of step. Returns 0 or -1 (compression error). */
int spz_hpack_feed(struct spz_hpack *h, const uint8_t *in, size_t len, bool final, spz_hpack_emit emit, void *ud);

#endif
