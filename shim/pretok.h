/* Token estimation of streamed text: tiktoken's pre-split (the o200k_base and
 * cl100k_base patterns, written out as matchers over code points) and BPE
 * over each piece. Text is fed in any slices; only a piece that more text
 * could still extend is held back, in a bounded buffer. */
#ifndef SPZ_PRETOK_H
#define SPZ_PRETOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpe.h"

/* Code points held back at most: a piece longer than this (a long base64
 * run, say) is counted in parts, which makes the estimate a little high. */
#define SPZ_TOK_BUF 1024

struct spz_tok {
	enum spz_encoding enc;
	const struct spz_bpe *bpe;
	uint64_t tokens;
	size_t n;                   /* code points held */
	uint8_t utf8[4];            /* a UTF-8 sequence cut by a slice */
	uint8_t utf8_len, utf8_need;
	/* buffers last: spz_tok_init clears everything before them */
	uint32_t cp[SPZ_TOK_BUF];
	uint8_t bytes[4 * SPZ_TOK_BUF]; /* a piece in UTF-8, for BPE */
};

/* bpe may be NULL (tables missing): then nothing is counted. */
void spz_tok_init(struct spz_tok *t, enum spz_encoding enc, const struct spz_bpe *bpe);
void spz_tok_feed(struct spz_tok *t, const char *text, size_t len);
/* The text unit ends (a message, a stream): count what is held. */
void spz_tok_end(struct spz_tok *t);

/* The class of a code point, from the generated Unicode table. */
enum spz_uclass { SPZ_UC_OTHER, SPZ_UC_LU, SPZ_UC_LL, SPZ_UC_LT, SPZ_UC_LM, SPZ_UC_LO, SPZ_UC_M, SPZ_UC_N, SPZ_UC_WS };
enum spz_uclass spz_uclass(uint32_t cp);

#endif
