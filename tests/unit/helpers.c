/* Test helpers. */
#include "helpers.h"

#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

void feed_sliced(feed_fn fn, void *ctx, const char *data, size_t len, enum slicing mode, uint32_t seed)
{
	uint32_t s = seed ? seed : 1;
	size_t i = 0;
	while (i < len) {
		size_t n;
		switch (mode) {
		case SLICE_BYTES: n = 1; break;
		case SLICE_RANDOM: n = 1 + next_rand(&s) % 64; break;
		default: n = len; break;
		}
		if (n > len - i)
			n = len - i;
		char *copy = malloc(n);
		memcpy(copy, data + i, n);
		fn(ctx, copy, n);
		free(copy);
		i += n;
	}
}

char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

const char *corpus_dir(void)
{
	const char *d = getenv("SPZ_CORPUS_DIR");
	return d ? d : "../shared/corpus";
}

int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
