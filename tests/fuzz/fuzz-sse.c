/* libFuzzer: the SSE parser. */
#include <stddef.h>
#include <stdint.h>

#include "../../shim/sse.h"
#include "slices.h"

static void on_data(void *ud, const char *buf, size_t len)
{
	size_t *sum = ud;
	for (size_t i = 0; i < len; i++)
		*sum += (unsigned char)buf[i];
}

static void on_dispatch(void *ud, const char *event)
{
	size_t *sum = ud;
	*sum += strlen(event);
}

static const struct spz_sse_callbacks cbs = { on_data, on_dispatch };

static void feed(void *ctx, const char *buf, size_t len)
{
	spz_sse_feed(ctx, buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t sum = 0;
	struct spz_sse p;
	spz_sse_init(&p, &cbs, &sum);
	fuzz_slices(data, size, feed, &p);
	spz_sse_finish(&p);
	return 0;
}
