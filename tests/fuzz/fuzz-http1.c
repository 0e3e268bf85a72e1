/* libFuzzer: the HTTP/1.1 parser, as requests and as responses (HEAD
 * responses too), ended by the connection's close. */
#include <stddef.h>
#include <stdint.h>

#include "../../shim/http1.h"
#include "slices.h"

struct ctx {
	struct spz_h1 p;
	size_t sum;
	int head;
};

static int on_start(void *ud, const struct spz_h1_start *s)
{
	struct ctx *c = ud;
	c->sum += s->method_len + s->target_len + (size_t)s->status;
	if (s->method)
		c->sum += (unsigned char)s->method[s->method_len - 1] + (unsigned char)s->target[s->target_len - 1];
	return 0;
}

static int on_header(void *ud, const char *n, size_t nl, const char *v, size_t vl)
{
	struct ctx *c = ud;
	c->sum += (unsigned char)n[nl - 1] + (vl ? (unsigned char)v[vl - 1] : 0);
	return 0;
}

static int on_headers_done(void *ud, enum spz_h1_framing *f, uint64_t cl)
{
	struct ctx *c = ud;
	if (c->head)
		*f = SPZ_H1_BODY_NONE;
	c->sum += (size_t)cl;
	return 0;
}

static int on_body(void *ud, const char *buf, size_t len)
{
	struct ctx *c = ud;
	c->sum += (unsigned char)buf[0] + (unsigned char)buf[len - 1];
	return 0;
}

static int on_done(void *ud)
{
	((struct ctx *)ud)->sum++;
	return 0;
}

static const struct spz_h1_callbacks cbs = { on_start, on_header, on_headers_done, on_body, on_done };

static void feed(void *ctx, const char *buf, size_t len)
{
	spz_h1_feed(&((struct ctx *)ctx)->p, buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct ctx *c = calloc(1, sizeof(*c));
	c->head = data[0] & 2;
	spz_h1_init(&c->p, (data[0] & 1) ? SPZ_H1_REQUEST : SPZ_H1_RESPONSE, &cbs, c);
	fuzz_slices(data, size, feed, c);
	spz_h1_finish(&c->p);
	free(c);
	return 0;
}
