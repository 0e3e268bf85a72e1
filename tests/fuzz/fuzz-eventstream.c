/* libFuzzer: the AWS event stream parser. */
#include <stddef.h>
#include <stdint.h>

#include "../../shim/eventstream.h"
#include "slices.h"

static void on_begin(void *ud, const char *e, const char *m)
{
	*(size_t *)ud += strlen(e) + strlen(m);
}

static void on_payload(void *ud, const char *buf, size_t len)
{
	*(size_t *)ud += (unsigned char)buf[0] + (unsigned char)buf[len - 1];
}

static void on_end(void *ud, bool ok)
{
	*(size_t *)ud += ok;
}

static const struct spz_es_callbacks cbs = { on_begin, on_payload, on_end };

static void feed(void *ctx, const char *buf, size_t len)
{
	spz_es_feed(ctx, buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t sum = 0;
	struct spz_eventstream *p = malloc(sizeof(*p));
	spz_es_init(p, &cbs, &sum);
	fuzz_slices(data, size, feed, p);
	free(p);
	return 0;
}
