/* The vector scans (shim/scan.h) against byte-by-byte references: every
 * length, every offset, every byte value in every position of a block, so
 * the sixteen-at-a-time path and the tail agree with the plain rules. And
 * the record writer's escaping, which rests on one of them. */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/jsonw.h"
#include "../../shim/scan.h"
#include "helpers.h"

static bool stops_json_string(unsigned char c)
{
	return c == '"' || c == '\\' || c < 0x20;
}

static bool stops_json_skip(unsigned char c)
{
	return c == '"' || c == '\\' || c == '[' || c == ']' || c == '{' || c == '}';
}

static bool stops_spaces(unsigned char c)
{
	return c != ' ';
}

static bool stops_plain_ascii(unsigned char c)
{
	return c == '"' || c == '\\' || c < 0x20 || c >= 0x7f;
}

static bool stops_printable_no_bslash(unsigned char c)
{
	return c == '\\' || c < 0x20 || c >= 0x7f;
}

/* RFC 9110 5.6.2, as written there: tchar = "!" / "#" / "$" / "%" / "&" /
 * "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static bool stops_tchar(unsigned char c)
{
	return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		 (c && strchr("!#$%&'*+-.^_`|~", c)));
}

static bool stops_line(unsigned char c)
{
	return c == '\r' || c == '\n';
}

static size_t reference(bool (*stops)(unsigned char), const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && !stops((unsigned char)s[i]))
		i++;
	return i;
}

/* Mismatches are counted and asserted once: check's assertions each cost
 * a message to the parent process, too slow by the million. */
static unsigned long mismatches;

static void agree(size_t (*scan)(const char *, size_t), bool (*stops)(unsigned char), const char *s, size_t n)
{
	if (scan(s, n) != reference(stops, s, n))
		mismatches++;
}

static void check_all(size_t (*scan)(const char *, size_t), bool (*stops)(unsigned char))
{
	char buf[80];
	/* One byte of every value at every position, in a run of bytes the
	 * scan passes over. */
	char filler = stops((unsigned char)'a') ? ' ' : 'a';
	for (int v = 0; v < 256; v++) {
		for (size_t at = 0; at < 48; at++) {
			memset(buf, filler, sizeof(buf));
			buf[at] = (char)v;
			/* lengths around the byte and around each block's end */
			static const size_t lengths[] = { 0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 49, 62 };
			for (size_t off = 0; off < 3; off++) {
				for (size_t k = 0; k < sizeof(lengths) / sizeof(lengths[0]); k++)
					agree(scan, stops, buf + off, lengths[k]);
				/* and slices that end just before, at and after it */
				size_t lo = at > off + 1 ? at - off - 1 : 0, hi = at + 2 > off ? at + 2 - off : 0;
				for (size_t n = lo; n <= hi && off + n <= 64; n++)
					agree(scan, stops, buf + off, n);
			}
		}
	}
	/* Random bytes. */
	srand(7);
	for (int round = 0; round < 20000; round++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (char)(rand() % 4 ? filler : rand() % 256);
		size_t off = (size_t)rand() % 8, n = (size_t)rand() % (sizeof(buf) - off);
		agree(scan, stops, buf + off, n);
	}
}

START_TEST(scans_agree_with_the_byte_rules)
{
	check_all(spz_scan_json_string, stops_json_string);
	check_all(spz_scan_json_skip, stops_json_skip);
	check_all(spz_scan_plain_ascii, stops_plain_ascii);
	check_all(spz_scan_printable_no_bslash, stops_printable_no_bslash);
	check_all(spz_scan_spaces, stops_spaces);
	check_all(spz_scan_tchar, stops_tchar);
	check_all(spz_scan_line, stops_line);
	ck_assert_uint_eq(mismatches, 0);
}
END_TEST

/* Every length that ends in a partial block, each in an allocation of
 * exactly its size, with a stop byte at each place or none: the tail is
 * read by overlapping loads (scan.h), which must find what the byte loop
 * finds and never touch a byte past the end (the sanitizer build and
 * valgrind report a read there). */
START_TEST(the_tails_are_read_within_the_string)
{
	static const unsigned char stops[] = { '"', '\\', 0x01, 0x1f, 0x7f, 0xc3, 0xff };
	for (size_t n = 1; n < 48; n++) {
		for (size_t at = 0; at <= n; at++) {
			for (size_t k = 0; k < sizeof(stops); k++) {
				char *s = malloc(n);
				ck_assert_ptr_nonnull(s);
				memset(s, 'q', n);
				if (at < n)
					s[at] = (char)stops[k];
				agree(spz_scan_plain_ascii, stops_plain_ascii, s, n);
				agree(spz_scan_printable_no_bslash, stops_printable_no_bslash, s, n);
				free(s);
			}
		}
	}
	ck_assert_uint_eq(mismatches, 0);
}
END_TEST

/* Long values with something to escape at each place a block can put it. */
START_TEST(the_writer_escapes_at_every_offset)
{
	for (size_t at = 0; at < 40; at++) {
		char in[41], out[256], want[256];
		memset(in, 'x', 40);
		in[40] = '\0';
		in[at] = '"';
		struct spz_jw w;
		spz_jw_init(&w, out, sizeof(out));
		spz_jw_str(&w, in, 40);
		ck_assert(!w.overflow);
		size_t k = 0;
		want[k++] = '"';
		for (size_t i = 0; i < 40; i++) {
			if (i == at)
				want[k++] = '\\';
			want[k++] = in[i];
		}
		want[k++] = '"';
		want[k] = '\0';
		ck_assert_str_eq(out, want);
		/* a control byte and an invalid UTF-8 byte */
		in[at] = '\n';
		spz_jw_init(&w, out, sizeof(out));
		spz_jw_str(&w, in, 40);
		ck_assert_ptr_nonnull(strstr(out, "\\u000a"));
		in[at] = (char)0xff;
		spz_jw_init(&w, out, sizeof(out));
		spz_jw_str(&w, in, 40);
		ck_assert_ptr_nonnull(strstr(out, "\\ufffd"));
		ck_assert_uint_eq(strlen(out), 2 + 39 + 6);
	}
	/* valid UTF-8 passes as it is */
	struct spz_jw w;
	char out[64];
	spz_jw_init(&w, out, sizeof(out));
	spz_jw_str(&w, "caf\xc3\xa9 \xe2\x82\xac", 9);
	ck_assert_str_eq(out, "\"caf\xc3\xa9 \xe2\x82\xac\"");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scan");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, scans_agree_with_the_byte_rules);
	tcase_add_test(tc, the_tails_are_read_within_the_string);
	tcase_add_test(tc, the_writer_escapes_at_every_offset);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
