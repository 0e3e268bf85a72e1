/* libFuzzer: the top-level scalar reading of a held body (json_top.c)
 * against the JSON scanner, read as such a reader reads it (values and
 * container starts reported, every top-level container skipped). Whenever
 * the top-level reading takes a body, the scanner must find it one whole
 * good document and report exactly the same scalar events, in order. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/json.h"
#include "../../shim/json_top.h"

struct reading {
	struct spz_json *js;
	uint64_t hash; /* of every scalar event: type, path, value, cut, depth */
	size_t events;
	size_t containers; /* top-level containers' starts (the root's aside) */
	size_t others;     /* events deeper than the top level */
};

static void mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		*h = (*h ^ b[i]) * 1099511628211ull;
}

static void on_event(void *ud, const struct spz_json_event *ev)
{
	struct reading *r = ud;
	bool container = ev->type == SPZ_JSON_OBJECT || ev->type == SPZ_JSON_ARRAY;
	if (container && ev->depth == 1 && r->js)
		spz_json_skip(r->js);
	if (ev->depth > 1 || (!container && ev->depth == 0)) {
		r->others++;
		return;
	}
	if (container) {
		if (ev->depth == 1)
			r->containers++;
		return;
	}
	unsigned char head[4] = { (unsigned char)ev->type, ev->truncated, (unsigned char)ev->depth,
				  ev->path[ev->path_len] == '\0' };
	mix(&r->hash, head, sizeof(head));
	mix(&r->hash, ev->path, ev->path_len + 1);
	if (ev->value) {
		if (ev->value[ev->value_len] != '\0')
			abort();
		mix(&r->hash, ev->value, ev->value_len + 1);
	} else {
		mix(&r->hash, "-", 1);
	}
	r->events++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy: ASan sees any read past the body. */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct reading top = { 0 };
	bool taken = spz_json_top_scalars(buf, size, on_event, &top);
	if (taken) {
		static struct spz_json js;
		struct reading full = { .js = &js };
		spz_json_init(&js, on_event, &full);
		spz_json_report_only(&js, (1u << SPZ_JSON_STRING) | (1u << SPZ_JSON_NUMBER) | (1u << SPZ_JSON_TRUE) |
						  (1u << SPZ_JSON_FALSE) | (1u << SPZ_JSON_NULL) | (1u << SPZ_JSON_OBJECT) |
						  (1u << SPZ_JSON_ARRAY));
		int fed = spz_json_feed(&js, buf, size);
		int finished = spz_json_finish(&js);
		if (fed < 0 || finished != 0 || top.others != 0 || top.containers != 0 || full.others != 0 || top.events != full.events ||
		    top.hash != full.hash)
			abort();
		if (top.events > SPZ_JSON_TOP_MAX)
			abort();
	} else if (top.events != 0 || top.others != 0 || top.containers != 0) {
		abort(); /* declined, yet something was reported */
	}
	free(buf);
	return 0;
}
