/* nghttp2's HPACK inflater, resolved with dlopen at the first use. The
 * inflater buffers a field split across CONTINUATION frames itself, so header
 * blocks are fed as they arrive, never gathered. */
#include "hpack.h"

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdlib.h>

#include "dynlib.h"

static struct {
	int (*inflate_new)(nghttp2_hd_inflater **);
	void (*inflate_del)(nghttp2_hd_inflater *);
	int (*change_table_size)(nghttp2_hd_inflater *, size_t);
	ssize_t (*inflate_hd2)(nghttp2_hd_inflater *, nghttp2_nv *, int *, const uint8_t *, size_t, int);
	int (*end_headers)(nghttp2_hd_inflater *);
	bool ok;
} ng;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void)
{
	static const char *const sonames[] = { "libnghttp2.so.14", "libnghttp2.so", NULL };
	const struct spz_dynsym syms[] = {
		{ "nghttp2_hd_inflate_new", (void **)&ng.inflate_new },
		{ "nghttp2_hd_inflate_del", (void **)&ng.inflate_del },
		{ "nghttp2_hd_inflate_change_table_size", (void **)&ng.change_table_size },
		{ "nghttp2_hd_inflate_hd2", (void **)&ng.inflate_hd2 },
		{ "nghttp2_hd_inflate_end_headers", (void **)&ng.end_headers },
		{ NULL, NULL },
	};
	ng.ok = spz_dynlib_load("HTTP/2 connections", sonames, syms);
}

struct spz_hpack {
	nghttp2_hd_inflater *inflater;
};

struct spz_hpack *spz_hpack_new(void)
{
	pthread_once(&load_once, load);
	if (!ng.ok)
		return NULL;
	struct spz_hpack *h = calloc(1, sizeof(*h));
	if (h && ng.inflate_new(&h->inflater) != 0) {
		free(h);
		h = NULL;
	}
	return h;
}

void spz_hpack_free(struct spz_hpack *h)
{
	if (!h)
		return;
	ng.inflate_del(h->inflater);
	free(h);
}

int spz_hpack_table_size(struct spz_hpack *h, uint32_t size)
{
	return ng.change_table_size(h->inflater, size) == 0 ? 0 : -1;
}

int spz_hpack_feed(struct spz_hpack *h, const uint8_t *in, size_t len, bool final, spz_hpack_emit emit, void *ud)
{
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv = ng.inflate_hd2(h->inflater, &nv, &flags, in, len, final);
		if (rv < 0)
			return -1;
		in += rv;
		len -= (size_t)rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT)
			emit(ud, (const char *)nv.name, nv.namelen, (const char *)nv.value, nv.valuelen,
			     (nv.flags & NGHTTP2_NV_FLAG_NO_INDEX) != 0);
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			ng.end_headers(h->inflater);
			return 0;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && len == 0)
			return 0;
	}
}
