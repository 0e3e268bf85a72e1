/* Test helpers: feeding parsers in every slicing, reading corpus files. */
#ifndef SPZ_TEST_HELPERS_H
#define SPZ_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

enum slicing { SLICE_WHOLE, SLICE_BYTES, SLICE_RANDOM, SLICE_MODES };

typedef void (*feed_fn)(void *ctx, const char *buf, size_t len);

/* Feeds data to fn whole, one byte at a time, or in random slices (1..64
 * bytes, seeded) according to mode. Each slice is a fresh heap copy so that
 * ASan catches a parser reading past the slice it was given. */
void feed_sliced(feed_fn fn, void *ctx, const char *data, size_t len, enum slicing mode, uint32_t seed);

/* Reads a whole file (NUL-terminated; *len set); NULL if missing. */
char *read_file(const char *path, size_t *len);
/* The corpus directory (SPZ_CORPUS_DIR). */
const char *corpus_dir(void);

/* Runs a check suite; returns the process exit status. */
struct Suite;
int run_suite(struct Suite *s);

#endif
