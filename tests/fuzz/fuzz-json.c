/* libFuzzer: the JSON scanner, fed in slices the input chooses. */
#include <stddef.h>
#include <stdint.h>

#include "../../shim/json.h"
#include "slices.h"

struct consumer {
	struct spz_json *js;
	size_t sum;
};

static void on_event(void *ud, const struct spz_json_event *ev)
{
	/* Touch what a consumer reads, so ASan sees any bad pointer. */
	struct consumer *c = ud;
	c->sum += ev->path_len + ev->value_len + (ev->path[ev->path_len] == '\0');
	if (ev->value)
		c->sum += (unsigned char)ev->value[ev->value_len];
	/* Pass over some containers (those at paths of odd length), as the
	 * extractors do with what they do not need. */
	if ((ev->type == SPZ_JSON_OBJECT || ev->type == SPZ_JSON_ARRAY) && ev->path_len % 2)
		spz_json_skip(c->js);
}

static void feed(void *ctx, const char *buf, size_t len)
{
	spz_json_feed(ctx, buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spz_json js;
	struct consumer c = { .js = &js };
	spz_json_init(&js, on_event, &c);
	fuzz_slices(data, size, feed, &js);
	spz_json_finish(&js);
	return 0;
}
