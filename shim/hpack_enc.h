/* A stateless HPACK encoder (RFC 7541): every field is a static-table index
 * or a literal "without indexing" / "never indexed", so a block it writes
 * leaves the peer decoder's dynamic table exactly as it was. The budget
 * gate answers a refused HTTP/2 stream with such blocks: the client's
 * decoder state must not move for bytes its server never sent. No Huffman
 * coding: plain strings are always valid. */
#ifndef SPZ_HPACK_ENC_H
#define SPZ_HPACK_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An integer with an N-bit prefix (RFC 7541 5.1); first carries the bits
 * above the prefix. Returns the bytes written, 0 if it does not fit. */
size_t spz_hpack_put_int(uint8_t *out, size_t cap, uint8_t first, int prefix_bits, uint64_t value);
/* One field. never_index keeps a sensitive field's "never indexed" mark for
 * intermediaries. Names must already be lowercase. 0 if it does not fit. */
size_t spz_hpack_put_field(uint8_t *out, size_t cap, const char *name, size_t nlen, const char *value, size_t vlen,
			   bool never_index);

#endif
