/* Content decoding: gzip (also in several members), zlib-wrapped and raw
 * deflate, fed in any slicing; bad input fails without harm. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include "../../shim/decode.h"
#include "helpers.h"

struct out {
	char text[65536];
	size_t len;
};

static void sink(void *ud, const char *buf, size_t len)
{
	struct out *o = ud;
	ck_assert_uint_le(o->len + len, sizeof(o->text));
	memcpy(o->text + o->len, buf, len);
	o->len += len;
}

struct run {
	struct spz_decoder d;
	struct out o;
	int rc;
};

static void feed_dec(void *ctx, const char *buf, size_t len)
{
	struct run *r = ctx;
	if (spz_decoder_feed(&r->d, buf, len, sink, &r->o) < 0)
		r->rc = -1;
}

/* Compresses with the given window bits (31 gzip, 15 zlib, -15 raw). */
static size_t compress_with(int bits, const char *in, size_t len, unsigned char *out, size_t cap)
{
	z_stream zs = { 0 };
	ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	size_t n = cap - zs.avail_out;
	deflateEnd(&zs);
	return n;
}

static char *sample(size_t *len)
{
	static char text[40000];
	size_t n = 0;
	for (int i = 0; n + 64 < sizeof(text); i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "data: {\"i\":%d,\"v\":\"%x\"}\n\n", i, i * 2654435761u);
	*len = n;
	return text;
}

static void roundtrip(enum spz_coding coding, int bits)
{
	size_t len;
	char *text = sample(&len);
	static unsigned char z[65536];
	size_t zn = compress_with(bits, text, len, z, sizeof(z));
	for (int mode = 0; mode < SLICE_MODES; mode++) {
		struct run *r = calloc(1, sizeof(*r));
		spz_decoder_init(&r->d, coding);
		feed_sliced(feed_dec, r, (const char *)z, zn, (enum slicing)mode, 5u + (unsigned)mode);
		ck_assert_int_eq(r->rc, 0);
		ck_assert_uint_eq(r->o.len, len);
		ck_assert(memcmp(r->o.text, text, len) == 0);
		spz_decoder_free(&r->d);
		free(r);
	}
}

START_TEST(gzip)
{
	roundtrip(SPZ_CODING_GZIP, 31);
}
END_TEST

START_TEST(deflate_zlib_wrapped)
{
	roundtrip(SPZ_CODING_DEFLATE, 15);
}
END_TEST

START_TEST(deflate_raw)
{
	roundtrip(SPZ_CODING_DEFLATE, -15);
}
END_TEST

/* Encoded with the reference encoders, decoded in every slicing. */
static void roundtrip_bytes(enum spz_coding coding, const unsigned char *z, size_t zn, const char *text, size_t len)
{
	for (int mode = 0; mode < SLICE_MODES; mode++) {
		struct run *r = calloc(1, sizeof(*r));
		spz_decoder_init(&r->d, coding);
		feed_sliced(feed_dec, r, (const char *)z, zn, (enum slicing)mode, 21u + (unsigned)mode);
		ck_assert_int_eq(r->rc, 0);
		ck_assert_uint_eq(r->o.len, len);
		ck_assert(memcmp(r->o.text, text, len) == 0);
		spz_decoder_free(&r->d);
		free(r);
	}
}

START_TEST(brotli)
{
	size_t len;
	char *text = sample(&len);
	static uint8_t z[65536];
	size_t zn = sizeof(z);
	ck_assert(BrotliEncoderCompress(5, 22, BROTLI_MODE_TEXT, len, (const uint8_t *)text, &zn, z));
	roundtrip_bytes(SPZ_CODING_BROTLI, z, zn, text, len);
}
END_TEST

START_TEST(zstd)
{
	size_t len;
	char *text = sample(&len);
	static unsigned char z[65536];
	size_t zn = ZSTD_compress(z, sizeof(z), text, len, 3);
	ck_assert(!ZSTD_isError(zn));
	roundtrip_bytes(SPZ_CODING_ZSTD, z, zn, text, len);
	/* two frames back to back decode as one body */
	size_t half = len / 2;
	size_t a = ZSTD_compress(z, sizeof(z), text, half, 1);
	size_t b = ZSTD_compress(z + a, sizeof(z) - a, text + half, len - half, 1);
	roundtrip_bytes(SPZ_CODING_ZSTD, z, a + b, text, len);
}
END_TEST

START_TEST(brotli_and_zstd_garbage_fail)
{
	enum spz_coding codings[] = { SPZ_CODING_BROTLI, SPZ_CODING_ZSTD };
	for (int i = 0; i < 2; i++) {
		struct run *r = calloc(1, sizeof(*r));
		spz_decoder_init(&r->d, codings[i]);
		feed_dec(r, "\xff\xfe garbage that is no stream \x01\x02\x03", 36);
		ck_assert_int_eq(r->rc, -1);
		spz_decoder_free(&r->d);
		free(r);
	}
}
END_TEST

START_TEST(gzip_members_concatenated)
{
	static unsigned char z[4096];
	size_t a = compress_with(31, "first,", 6, z, sizeof(z));
	size_t b = compress_with(31, "second", 6, z + a, sizeof(z) - a);
	for (int mode = 0; mode < SLICE_MODES; mode++) {
		struct run *r = calloc(1, sizeof(*r));
		spz_decoder_init(&r->d, SPZ_CODING_GZIP);
		feed_sliced(feed_dec, r, (const char *)z, a + b, (enum slicing)mode, 9);
		ck_assert_int_eq(r->rc, 0);
		ck_assert_uint_eq(r->o.len, 12);
		ck_assert(memcmp(r->o.text, "first,second", 12) == 0);
		spz_decoder_free(&r->d);
		free(r);
	}
}
END_TEST

START_TEST(garbage_fails)
{
	struct run *r = calloc(1, sizeof(*r));
	spz_decoder_init(&r->d, SPZ_CODING_GZIP);
	feed_dec(r, "this is not gzip at all", 23);
	ck_assert_int_eq(r->rc, -1);
	feed_dec(r, "more", 4);
	ck_assert_int_eq(r->rc, -1);
	spz_decoder_free(&r->d);
	free(r);
}
END_TEST

START_TEST(header_values)
{
	ck_assert_int_eq(spz_coding_from_header("gzip", 4), SPZ_CODING_GZIP);
	ck_assert_int_eq(spz_coding_from_header("X-GZIP ", 7), SPZ_CODING_GZIP);
	ck_assert_int_eq(spz_coding_from_header("deflate", 7), SPZ_CODING_DEFLATE);
	ck_assert_int_eq(spz_coding_from_header("identity", 8), SPZ_CODING_IDENTITY);
	ck_assert_int_eq(spz_coding_from_header("br", 2), SPZ_CODING_BROTLI);
	ck_assert_int_eq(spz_coding_from_header("zstd", 4), SPZ_CODING_ZSTD);
	ck_assert_int_eq(spz_coding_from_header("compress", 8), SPZ_CODING_UNSUPPORTED);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("decode");
	TCase *tc = tcase_create("codings");
	tcase_add_test(tc, gzip);
	tcase_add_test(tc, deflate_zlib_wrapped);
	tcase_add_test(tc, deflate_raw);
	tcase_add_test(tc, gzip_members_concatenated);
	tcase_add_test(tc, brotli);
	tcase_add_test(tc, zstd);
	tcase_add_test(tc, brotli_and_zstd_garbage_fail);
	tcase_add_test(tc, garbage_fails);
	tcase_add_test(tc, header_values);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
