/* libFuzzer: the JSON scanner, fed in slices the input chooses, and again one
 * byte at a time: the two must report the same events (tokens whole in a
 * slice take fast paths, cut ones the byte-at-a-time states). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/json.h"
#include "slices.h"

struct consumer {
	struct spz_json *js;
	uint64_t hash; /* of every event: type, path, value, cut, depth */
	size_t events;
};

static void mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		*h = (*h ^ b[i]) * 1099511628211ull;
}

static void on_event(void *ud, const struct spz_json_event *ev)
{
	/* Touch what a consumer reads, so ASan sees any bad pointer. */
	struct consumer *c = ud;
	unsigned char head[4] = { (unsigned char)ev->type, ev->truncated, (unsigned char)ev->depth,
				  ev->path[ev->path_len] == '\0' };
	mix(&c->hash, head, sizeof(head));
	mix(&c->hash, ev->path, ev->path_len + 1);
	if (ev->value)
		mix(&c->hash, ev->value, ev->value_len + 1);
	c->events++;
	/* Pass over some containers (those at paths of odd length), as the
	 * extractors do with what they do not need. */
	if ((ev->type == SPZ_JSON_OBJECT || ev->type == SPZ_JSON_ARRAY) && ev->path_len % 2)
		spz_json_skip(c->js);
	/* And ask for a skip during some scalars' events, which must change
	 * nothing, taken whole or byte by byte. */
	else if (ev->type != SPZ_JSON_END && ev->type != SPZ_JSON_DOC_END && ev->path_len % 3 == 0)
		spz_json_skip(c->js);
}

static void feed(void *ctx, const char *buf, size_t len)
{
	spz_json_feed(ctx, buf, len);
}

static void scan(const uint8_t *data, size_t size, bool bytewise, struct consumer *c, int *rc)
{
	struct spz_json js;
	c->js = &js;
	c->hash = 1469598103934665603ull;
	spz_json_init(&js, on_event, c);
	if (bytewise) {
		for (size_t i = 1; i < size; i++) {
			char *one = malloc(1);
			*one = (char)data[i];
			spz_json_feed(&js, one, 1);
			free(one);
		}
	} else {
		fuzz_slices(data, size, feed, &js);
	}
	*rc = spz_json_finish(&js);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct consumer sliced = { 0 }, bytes = { 0 };
	int rc_sliced, rc_bytes;
	scan(data, size, false, &sliced, &rc_sliced);
	scan(data, size, true, &bytes, &rc_bytes);
	if (sliced.hash != bytes.hash || sliced.events != bytes.events || rc_sliced != rc_bytes)
		abort();
	return 0;
}
