/* Runs of bytes that need no attention, found sixteen at a time: the JSON
 * scanner's string contents and the record writer's plain text were most
 * of the instructions a call cost the host. SSE2 is part of x86-64; other
 * machines take the byte loop. Neither reads past s + n. */
#ifndef SPZ_SCAN_H
#define SPZ_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#ifdef __SSE2__
/* The 1 to 15 bytes at s in one register, by overlapping loads of them
 * alone (never a byte outside s..s+n), some more than once: enough to ask
 * whether any of them is in a set, not where. A record's strings are
 * mostly shorter than a block, and the byte loop was a tenth of a call's
 * instructions. */
static inline __m128i spz_load_tail(const char *s, size_t n)
{
	if (n >= 8)
		return _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)(const void *)s),
					  _mm_loadl_epi64((const __m128i *)(const void *)(s + n - 8)));
	uint32_t a, b;
	if (n >= 4) {
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
	} else {
		a = (uint32_t)(unsigned char)s[0] | (uint32_t)(unsigned char)s[n / 2] << 8 |
		    (uint32_t)(unsigned char)s[n - 1] << 16 | (uint32_t)(unsigned char)s[0] << 24;
		b = a;
	}
	return _mm_set_epi32((int)a, (int)b, (int)a, (int)b);
}
#endif

/* The length of s's prefix that a JSON string holds as it is: no '"', no
 * '\\', no control byte (below 0x20). */
static inline size_t spz_scan_json_string(const char *s, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1f);
	for (; i + 16 <= n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(x, c1f), c1f); /* x <= 0x1f */
		__m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)), ctl);
		unsigned m = (unsigned)_mm_movemask_epi8(stop);
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	while (i < n && s[i] != '"' && s[i] != '\\' && (unsigned char)s[i] >= 0x20)
		i++;
	return i;
}

/* The length of s's prefix that holds no line end (CR or LF): an event
 * stream's field values, a streamed call's every byte but a few. */
static inline size_t spz_scan_line(const char *s, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	for (; i + 16 <= n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, lf)));
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	while (i < n && s[i] != '\r' && s[i] != '\n')
		i++;
	return i;
}

/* The length of s's prefix of spaces (an indent). */
static inline size_t spz_scan_spaces(const char *s, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i sp = _mm_set1_epi8(' ');
	for (; i + 16 <= n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		unsigned m = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, sp)) & 0xffffu;
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	while (i < n && s[i] == ' ')
		i++;
	return i;
}

/* The length of s's prefix that holds none of the bytes that matter when
 * passing over a JSON value: quotes, backslashes and brackets. */
static inline size_t spz_scan_json_skip(const char *s, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	/* '[', '\\' and ']' are 0x5b-0x5d: one range test for the three. */
	const __m128i quote = _mm_set1_epi8('"'), low = _mm_set1_epi8(0x5b), two = _mm_set1_epi8(2),
		      brace_l = _mm_set1_epi8('{'), brace_r = _mm_set1_epi8('}');
	for (; i + 16 <= n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i d = _mm_sub_epi8(x, low); /* 0, 1 or 2 for '[', '\\', ']' */
		__m128i sq = _mm_cmpeq_epi8(_mm_min_epu8(d, two), d);
		__m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), sq),
					    _mm_or_si128(_mm_cmpeq_epi8(x, brace_l), _mm_cmpeq_epi8(x, brace_r)));
		unsigned m = (unsigned)_mm_movemask_epi8(stop);
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	while (i < n) {
		char c = s[i];
		if (c == '"' || c == '\\' || c == '[' || c == ']' || c == '{' || c == '}')
			break;
		i++;
	}
	return i;
}

/* The length of s's prefix of printable ASCII (0x20-0x7e) but '\\' and,
 * when stop_at_quote, '"'. A constant stop_at_quote folds away inlined. */
static inline size_t spz_scan_printable(const char *s, size_t n, int stop_at_quote)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1f),
		      c7f = _mm_set1_epi8(0x7f);
	for (;; i += 16) {
		__m128i x;
		if (i + 16 <= n)
			x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		else if (i < n)
			x = spz_load_tail(s + i, n - i);
		else
			return n;
		__m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(x, c1f), c1f); /* x <= 0x1f */
		__m128i high = _mm_cmpeq_epi8(_mm_min_epu8(x, c7f), c7f); /* x >= 0x7f */
		__m128i stop = _mm_or_si128(_mm_cmpeq_epi8(x, bslash), _mm_or_si128(ctl, high));
		if (stop_at_quote)
			stop = _mm_or_si128(stop, _mm_cmpeq_epi8(x, quote));
		unsigned m = (unsigned)_mm_movemask_epi8(stop);
		if (m) {
			if (i + 16 <= n)
				return i + (size_t)__builtin_ctz(m);
			break; /* somewhere in the tail: the byte loop says where */
		}
	}
#endif
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '\\' || (stop_at_quote && c == '"'))
			break;
		i++;
	}
	return i;
}

/* What the record writer copies as it is: printable ASCII but '"' and '\\'. */
static inline size_t spz_scan_plain_ascii(const char *s, size_t n)
{
	return spz_scan_printable(s, n, 1);
}

/* What the collector's record check passes over before it looks at a byte:
 * printable ASCII but '\\'. */
static inline size_t spz_scan_printable_no_bslash(const char *s, size_t n)
{
	return spz_scan_printable(s, n, 0);
}

/* Whether c is an RFC 9110 token character (tchar): visible ASCII but the
 * delimiters "(),/:;<=>?@[\]{}. */
static inline int spz_is_tchar(unsigned char c)
{
	/* One bit a byte: bytes 0x00-0x3f, then 0x40-0x7f (none above). */
	static const uint64_t tchar_bits[2] = { 0x03ff6cfa00000000ull, 0x57ffffffc7fffffeull };
	return c < 0x80 && (int)((tchar_bits[c >> 6] >> (c & 63)) & 1);
}

/* The length of s's prefix of token characters: a header name, whose end
 * a byte loop found with a mispredicted exit on every line. */
static inline size_t spz_scan_tchar(const char *s, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	/* In [lo, lo + span]: (x - lo), unsigned, is at most span. */
#define SPZ_IN_RANGE(x, lo, span)                                                                        \
	_mm_cmpeq_epi8(_mm_min_epu8(_mm_sub_epi8((x), _mm_set1_epi8((char)(lo))), _mm_set1_epi8((char)(span))), \
		       _mm_sub_epi8((x), _mm_set1_epi8((char)(lo))))
	for (; i + 16 <= n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		/* Names are letters, digits and '-' in practice: where the first
		 * other byte is no tchar (the ':' after a name, the space after a
		 * method), that is the answer; the full test is for the rest. */
		__m128i common = _mm_or_si128(SPZ_IN_RANGE(_mm_or_si128(x, _mm_set1_epi8(0x20)), 'a', 25),
					      _mm_or_si128(SPZ_IN_RANGE(x, '0', 9), _mm_cmpeq_epi8(x, _mm_set1_epi8('-'))));
		unsigned other = ~(unsigned)_mm_movemask_epi8(common) & 0xffffu;
		if (!other)
			continue;
		unsigned first = (unsigned)__builtin_ctz(other);
		if (!spz_is_tchar((unsigned char)s[i + first]))
			return i + first;
		__m128i visible = SPZ_IN_RANGE(x, 0x21, 0x7e - 0x21);
		/* the delimiters: ":;<=>?@", "[\]", "()", and five alone */
		__m128i delim = _mm_or_si128(_mm_or_si128(SPZ_IN_RANGE(x, ':', 6), SPZ_IN_RANGE(x, '[', 2)),
					     SPZ_IN_RANGE(x, '(', 1));
		delim = _mm_or_si128(delim, _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
							 _mm_cmpeq_epi8(x, _mm_set1_epi8(','))));
		delim = _mm_or_si128(delim, _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('/')),
							 _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('{')),
								      _mm_cmpeq_epi8(x, _mm_set1_epi8('}')))));
		unsigned m = ~(unsigned)_mm_movemask_epi8(_mm_andnot_si128(delim, visible)) & 0xffffu;
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#undef SPZ_IN_RANGE
#endif
	while (i < n && spz_is_tchar((unsigned char)s[i]))
		i++;
	return i;
}

#endif
