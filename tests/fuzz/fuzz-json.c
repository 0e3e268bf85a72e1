/* libFuzzer: the JSON scanner, fed in slices the input chooses. */
#include <stddef.h>
#include <stdint.h>

#include "../../shim/json.h"
#include "slices.h"

static void on_event(void *ud, const struct spz_json_event *ev)
{
	/* Touch what a consumer reads, so ASan sees any bad pointer. */
	size_t *sum = ud;
	*sum += ev->path_len + ev->value_len + (ev->path[ev->path_len] == '\0');
	if (ev->value)
		*sum += (unsigned char)ev->value[ev->value_len];
}

static void feed(void *ctx, const char *buf, size_t len)
{
	spz_json_feed(ctx, buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t sum = 0;
	struct spz_json js;
	spz_json_init(&js, on_event, &sum);
	fuzz_slices(data, size, feed, &js);
	spz_json_finish(&js);
	return 0;
}
