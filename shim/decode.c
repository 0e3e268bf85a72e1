/* Content decoding for observed bodies. Decodes a copy for our parsers only:
 * the application's bytes are never touched. A codec's state is allocated on
 * the first byte of an encoded body and freed with the body. */
#include "decode.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "dynlib.h"

enum spz_coding spz_coding_from_header(const char *v, size_t len)
{
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len == 0 || (len == 8 && strncasecmp(v, "identity", 8) == 0))
		return SPZ_CODING_IDENTITY;
	if ((len == 4 && strncasecmp(v, "gzip", 4) == 0) || (len == 6 && strncasecmp(v, "x-gzip", 6) == 0))
		return SPZ_CODING_GZIP;
	if (len == 7 && strncasecmp(v, "deflate", 7) == 0)
		return SPZ_CODING_DEFLATE;
	if (len == 2 && strncasecmp(v, "br", 2) == 0)
		return SPZ_CODING_BROTLI;
	if (len == 4 && strncasecmp(v, "zstd", 4) == 0)
		return SPZ_CODING_ZSTD;
	return SPZ_CODING_UNSUPPORTED;
}

void spz_decoder_init(struct spz_decoder *d, enum spz_coding coding)
{
	memset(d, 0, sizeof(*d));
	d->coding = coding;
}

/* ---- brotli and zstd, opened at their first use ------------------------ */

/* libbrotlidec's and libzstd's stable C ABI (decode.h, zstd.h). */
enum { BROTLI_ERROR = 0, BROTLI_SUCCESS = 1, BROTLI_NEEDS_INPUT = 2, BROTLI_NEEDS_OUTPUT = 3 };
struct zstd_in {
	const void *src;
	size_t size, pos;
};
struct zstd_out {
	void *dst;
	size_t size, pos;
};

static struct {
	void *(*create)(void *, void *, void *);
	int (*stream)(void *, size_t *, const uint8_t **, size_t *, uint8_t **, size_t *);
	void (*destroy)(void *);
	bool ok;
} br;

static struct {
	void *(*create)(void);
	size_t (*stream)(void *, struct zstd_out *, struct zstd_in *);
	unsigned (*is_error)(size_t);
	size_t (*free)(void *);
	bool ok;
} zs;

static pthread_once_t br_once = PTHREAD_ONCE_INIT, zs_once = PTHREAD_ONCE_INIT;

static void load_brotli(void)
{
	static const char *const sonames[] = { "libbrotlidec.so.1", "libbrotlidec.so", NULL };
	const struct spz_dynsym syms[] = {
		{ "BrotliDecoderCreateInstance", (void **)&br.create },
		{ "BrotliDecoderDecompressStream", (void **)&br.stream },
		{ "BrotliDecoderDestroyInstance", (void **)&br.destroy },
		{ NULL, NULL },
	};
	br.ok = spz_dynlib_load("brotli-coded bodies", sonames, syms);
}

static void load_zstd(void)
{
	static const char *const sonames[] = { "libzstd.so.1", "libzstd.so", NULL };
	const struct spz_dynsym syms[] = {
		{ "ZSTD_createDStream", (void **)&zs.create },
		{ "ZSTD_decompressStream", (void **)&zs.stream },
		{ "ZSTD_isError", (void **)&zs.is_error },
		{ "ZSTD_freeDStream", (void **)&zs.free },
		{ NULL, NULL },
	};
	zs.ok = spz_dynlib_load("zstd-coded bodies", sonames, syms);
}

static int feed_brotli(struct spz_decoder *d, const char *buf, size_t len, spz_decode_sink sink, void *ud)
{
	if (!d->state) {
		pthread_once(&br_once, load_brotli);
		if (!br.ok || !(d->state = br.create(NULL, NULL, NULL)))
			return -1;
	}
	const uint8_t *in = (const uint8_t *)buf;
	size_t avail_in = len;
	for (;;) {
		uint8_t out[8192], *next = out;
		size_t avail_out = sizeof(out);
		int rc = br.stream(d->state, &avail_in, &in, &avail_out, &next, NULL);
		if (avail_out < sizeof(out))
			sink(ud, (const char *)out, sizeof(out) - avail_out);
		if (rc == BROTLI_ERROR)
			return -1;
		if (rc != BROTLI_NEEDS_OUTPUT)
			return 0; /* needs input, or done (bytes after the end are ignored) */
	}
}

static int feed_zstd(struct spz_decoder *d, const char *buf, size_t len, spz_decode_sink sink, void *ud)
{
	if (!d->state) {
		pthread_once(&zs_once, load_zstd);
		if (!zs.ok || !(d->state = zs.create()))
			return -1;
	}
	struct zstd_in in = { buf, len, 0 };
	for (;;) {
		char out[8192];
		struct zstd_out o = { out, sizeof(out), 0 };
		size_t before = in.pos;
		size_t rc = zs.stream(d->state, &o, &in);
		if (zs.is_error(rc))
			return -1;
		if (o.pos)
			sink(ud, out, o.pos);
		/* Done with this input once it is consumed and no output is held
		 * back; no progress at all means there is nothing more to do. */
		if ((in.pos == in.size && o.pos < o.size) || (o.pos == 0 && in.pos == before))
			return 0;
	}
}

void spz_decoder_free(struct spz_decoder *d)
{
	if (d->started)
		inflateEnd(&d->zs);
	d->started = false;
	if (d->state && d->coding == SPZ_CODING_BROTLI)
		br.destroy(d->state);
	else if (d->state && d->coding == SPZ_CODING_ZSTD)
		zs.free(d->state);
	d->state = NULL;
}

static int start(struct spz_decoder *d, int window_bits)
{
	memset(&d->zs, 0, sizeof(d->zs));
	if (inflateInit2(&d->zs, window_bits) != Z_OK)
		return -1;
	d->started = true;
	return 0;
}

int spz_decoder_feed(struct spz_decoder *d, const char *buf, size_t len, spz_decode_sink sink, void *ud)
{
	if (d->failed)
		return -1;
	switch (d->coding) {
	case SPZ_CODING_IDENTITY:
		sink(ud, buf, len);
		return 0;
	case SPZ_CODING_UNSUPPORTED:
		d->failed = true;
		return -1;
	case SPZ_CODING_BROTLI:
	case SPZ_CODING_ZSTD:
		if (len && (d->coding == SPZ_CODING_BROTLI ? feed_brotli : feed_zstd)(d, buf, len, sink, ud) < 0) {
			spz_decoder_free(d);
			d->failed = true;
			return -1;
		}
		return 0;
	case SPZ_CODING_GZIP:
	case SPZ_CODING_DEFLATE:
		break;
	}
	if (len == 0)
		return 0;
	if (!d->started) {
		int bits = 15 + 16; /* gzip wrapper */
		if (d->coding == SPZ_CODING_DEFLATE) {
			/* "deflate" means the zlib wrapper (RFC 9110 8.4.1.2), but some
			 * servers send raw deflate; the first byte tells them apart. */
			unsigned char b0 = (unsigned char)buf[0];
			bits = ((b0 & 0x0F) == 8 && (b0 >> 4) <= 7) ? 15 : -15;
		}
		if (start(d, bits) < 0)
			goto fail;
	}
	char out[8192];
	d->zs.next_in = (Bytef *)(uintptr_t)buf;
	d->zs.avail_in = (uInt)len;
	for (;;) {
		if (d->ended) {
			if (d->zs.avail_in == 0)
				break;
			/* Concatenated gzip members (RFC 1952 2.2) decode as one body. */
			if (d->coding != SPZ_CODING_GZIP || inflateReset(&d->zs) != Z_OK)
				return 0; /* trailing bytes after a deflate stream: ignored */
			d->ended = false;
		}
		d->zs.next_out = (Bytef *)out;
		d->zs.avail_out = sizeof(out);
		int rc = inflate(&d->zs, Z_NO_FLUSH);
		size_t produced = sizeof(out) - d->zs.avail_out;
		if (produced)
			sink(ud, out, produced);
		if (rc == Z_STREAM_END) {
			d->ended = true;
			continue;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			goto fail;
		if (d->zs.avail_out == 0)
			continue; /* more output may be pending */
		if (d->zs.avail_in == 0 || rc == Z_BUF_ERROR)
			break;
	}
	return 0;
fail:
	d->failed = true;
	spz_decoder_free(d);
	return -1;
}
