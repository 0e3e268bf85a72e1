/* Byte-pair encoding with tiktoken's rank tables (o200k_base, cl100k_base),
 * for estimating the tokens of a stream that reported no usage. The tables
 * are files made at build time (scripts/gen-bpe.py), mapped read-only the
 * first time an estimate is needed. */
#ifndef SPZ_BPE_H
#define SPZ_BPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum spz_encoding { SPZ_ENC_O200K, SPZ_ENC_CL100K, SPZ_ENC_COUNT };

struct spz_bpe {
	const uint8_t *map;
	size_t map_size;
	uint32_t slots;
	const uint32_t *table; /* slots pairs: blob offset + 1, rank */
	const uint8_t *blob;
	uint32_t blob_size;
};

/* The table of an encoding, or NULL if its file is missing (logged once).
 * Files are looked up in $SPATURZU_DATA_DIR, beside the shim, and in
 * ../share/spaturzu from it. */
const struct spz_bpe *spz_bpe_get(enum spz_encoding enc);
/* Maps a file; 0 or -1. (Tests use it directly.) */
int spz_bpe_open(struct spz_bpe *b, const char *path);
/* The rank of one token, or -1. */
int64_t spz_bpe_rank(const struct spz_bpe *b, const uint8_t *tok, size_t len);
/* Tokens in one pre-split piece (tiktoken's byte-pair merge). */
size_t spz_bpe_count(const struct spz_bpe *b, const uint8_t *piece, size_t len);

#endif
