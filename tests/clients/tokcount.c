/* tokcount: the shim's token estimate of stdin's text, fed in slices of the
 * given size, with the given encoding's table file.
 * Usage: tokcount o200k|cl100k TABLE.bpe [SLICE] < text */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/pretok.h"

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	static struct spz_bpe bpe;
	if (spz_bpe_open(&bpe, argv[2]) < 0) {
		fprintf(stderr, "tokcount: cannot map %s\n", argv[2]);
		return 1;
	}
	size_t slice = argc > 3 ? (size_t)atoi(argv[3]) : 65536;
	/* Poisoned first: init must set every field it relies on. */
	struct spz_tok *t = malloc(sizeof(*t));
	memset(t, 0xA5, sizeof(*t));
	spz_tok_init(t, strcmp(argv[1], "cl100k") == 0 ? SPZ_ENC_CL100K : SPZ_ENC_O200K, &bpe);
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), stdin);
	for (size_t i = 0; i < n; i += slice)
		spz_tok_feed(t, buf + i, n - i < slice ? n - i : slice);
	spz_tok_end(t);
	printf("%llu\n", (unsigned long long)t->tokens);
	free(t);
	return 0;
}
