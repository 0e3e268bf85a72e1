/* Content decoding for observed bodies. Decodes a copy for our parsers only:
 * the application's bytes are never touched. zlib's state is allocated on the
 * first byte of an encoded body and freed with the body. */
#include "decode.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

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
	return SPZ_CODING_UNSUPPORTED;
}

void spz_decoder_init(struct spz_decoder *d, enum spz_coding coding)
{
	memset(d, 0, sizeof(*d));
	d->coding = coding;
}

void spz_decoder_free(struct spz_decoder *d)
{
	if (d->started)
		inflateEnd(&d->zs);
	d->started = false;
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
