/* tiktoken's pre-split, by hand. The patterns (from the rank files):
 * o200k_base:
 *   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
 *   |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
 *   |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * cl100k_base:
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * Each alternative is tried in order at a position, with the backtracking a
 * regex engine would do, and the first that matches gives the piece. */
#include "pretok.h"

#include <string.h>

extern const uint32_t spz_unicode_range_count;
extern const uint32_t spz_unicode_ranges[];

enum spz_uclass spz_uclass(uint32_t cp)
{
	if (cp < 0x80) { /* the common case, without a search */
		if ((cp >= 'a' && cp <= 'z'))
			return SPZ_UC_LL;
		if ((cp >= 'A' && cp <= 'Z'))
			return SPZ_UC_LU;
		if (cp >= '0' && cp <= '9')
			return SPZ_UC_N;
		if (cp == ' ' || (cp >= 9 && cp <= 13))
			return SPZ_UC_WS;
		return SPZ_UC_OTHER;
	}
	uint32_t lo = 0, hi = spz_unicode_range_count;
	while (hi - lo > 1) {
		uint32_t mid = (lo + hi) / 2;
		if ((spz_unicode_ranges[mid] >> 4) <= cp)
			lo = mid;
		else
			hi = mid;
	}
	return (enum spz_uclass)(spz_unicode_ranges[lo] & 0xF);
}

static bool is_l(enum spz_uclass c)
{
	return c >= SPZ_UC_LU && c <= SPZ_UC_LO;
}

/* o200k's two letter classes: "upper-ish" and "lower-ish" */
static bool is_up(enum spz_uclass c)
{
	return c == SPZ_UC_LU || c == SPZ_UC_LT || c == SPZ_UC_LM || c == SPZ_UC_LO || c == SPZ_UC_M;
}

static bool is_low(enum spz_uclass c)
{
	return c == SPZ_UC_LL || c == SPZ_UC_LM || c == SPZ_UC_LO || c == SPZ_UC_M;
}

static bool is_crlf(uint32_t cp)
{
	return cp == '\r' || cp == '\n';
}

struct text {
	const uint32_t *cp;
	size_t n;
};

static enum spz_uclass cls(const struct text *t, size_t i)
{
	return spz_uclass(t->cp[i]);
}

/* [^\r\n\p{L}\p{N}] */
static bool is_prefix(const struct text *t, size_t i)
{
	enum spz_uclass c = cls(t, i);
	return !is_crlf(t->cp[i]) && !is_l(c) && c != SPZ_UC_N;
}

/* [^\s\p{L}\p{N}] */
static bool is_punct(const struct text *t, size_t i)
{
	enum spz_uclass c = cls(t, i);
	return c != SPZ_UC_WS && !is_l(c) && c != SPZ_UC_N;
}

static uint32_t lower(uint32_t cp)
{
	return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d) at i: its length, or 0. */
static size_t contraction(const struct text *t, size_t i)
{
	if (i >= t->n || t->cp[i] != '\'' || i + 1 >= t->n)
		return 0;
	uint32_t a = lower(t->cp[i + 1]), b = i + 2 < t->n ? lower(t->cp[i + 2]) : 0;
	if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
		return 3;
	if (a == 's' || a == 't' || a == 'm' || a == 'd')
		return 2;
	return 0;
}

static size_t run(const struct text *t, size_t i, bool (*in)(enum spz_uclass))
{
	while (i < t->n && in(cls(t, i)))
		i++;
	return i;
}

static bool cl_is_l(enum spz_uclass c)
{
	return is_l(c);
}

static bool cl_is_ws(enum spz_uclass c)
{
	return c == SPZ_UC_WS;
}

/* \s*[\r\n]+ | \s+(?!\S) | \s+ at i (a whitespace character): the end. */
static size_t whitespace(const struct text *t, size_t i)
{
	size_t k = run(t, i, cl_is_ws);
	for (size_t j = k; j-- > i;)
		if (is_crlf(t->cp[j]))
			return j + 1; /* \s*[\r\n]+: the last line end of the run */
	if (k == t->n || k - i >= 2)
		return k == t->n ? k : k - 1; /* \s+(?!\S): leave one before a non-space */
	return k;                        /* \s+ */
}

/* ` ?[^\s\p{L}\p{N}]+[\r\n]*` (o200k: [\r\n/]*): the end, or 0. */
static size_t punctuation(const struct text *t, size_t i, bool o200k)
{
	size_t j = i;
	if (t->cp[j] == ' ' && j + 1 < t->n && is_punct(t, j + 1))
		j++;
	if (!is_punct(t, j))
		return 0;
	while (j < t->n && is_punct(t, j))
		j++;
	while (j < t->n && (is_crlf(t->cp[j]) || (o200k && t->cp[j] == '/')))
		j++;
	return j;
}

static size_t numbers(const struct text *t, size_t i)
{
	size_t j = i;
	while (j < t->n && j < i + 3 && cls(t, j) == SPZ_UC_N)
		j++;
	return j > i ? j : 0;
}

/* o200k's first two alternatives at i; each is tried with its optional
 * prefix and then without, before the next, as a regex engine would. */
static size_t o200k_word(const struct text *t, size_t i)
{
	for (int alt = 1; alt <= 2; alt++) {
		for (int with_prefix = 1; with_prefix >= 0; with_prefix--) {
			if (with_prefix && !is_prefix(t, i))
				continue;
			size_t j = i + (size_t)with_prefix;
			if (j >= t->n)
				continue;
			size_t k = run(t, j, is_up); /* [up]* or [up]+, greedy */
			size_t end = 0;
			if (alt == 1) {
				/* [up]*[low]+: give back until a low can start */
				if (k < t->n && is_low(cls(t, k))) {
					end = run(t, k, is_low);
				} else {
					for (size_t b = k; b-- > j;)
						if (is_low(cls(t, b))) {
							end = b + 1;
							break;
						}
				}
			} else if (k > j) {
				end = run(t, k, is_low); /* [up]+[low]* */
			}
			if (end)
				return end + contraction(t, end);
		}
	}
	return 0;
}

static size_t cl100k_word(const struct text *t, size_t i)
{
	for (int with_prefix = 1; with_prefix >= 0; with_prefix--) {
		if (with_prefix && !is_prefix(t, i))
			continue;
		size_t j = i + (size_t)with_prefix;
		size_t k = run(t, j, cl_is_l);
		if (k > j)
			return k;
	}
	return 0;
}

/* The end of the piece starting at i. */
static size_t piece_end(const struct text *t, size_t i, enum spz_encoding enc)
{
	size_t e;
	if (enc == SPZ_ENC_CL100K && (e = contraction(t, i)))
		return i + e;
	if ((e = enc == SPZ_ENC_O200K ? o200k_word(t, i) : cl100k_word(t, i)))
		return e;
	if ((e = numbers(t, i)))
		return e;
	if ((e = punctuation(t, i, enc == SPZ_ENC_O200K)))
		return e;
	if (cls(t, i) == SPZ_UC_WS)
		return whitespace(t, i);
	return i + 1;
}

static size_t utf8_encode(uint32_t cp, uint8_t *o)
{
	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xC0 | cp >> 6);
		o[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xE0 | cp >> 12);
		o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (uint8_t)(0xF0 | cp >> 18);
	o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

static void count_piece(struct spz_tok *t, size_t from, size_t to)
{
	size_t n = 0;
	while (from < to)
		n += utf8_encode(t->cp[from++], t->bytes + n);
	t->tokens += spz_bpe_count(t->bpe, t->bytes, n);
}

/* Counts the pieces that more text cannot change; with final, all. */
static void split(struct spz_tok *t, bool final)
{
	struct text x = { t->cp, t->n };
	size_t i = 0;
	while (i < t->n) {
		size_t e = piece_end(&x, i, t->enc);
		/* A piece reaching the last few code points may still grow (a
		 * longer word, a contraction, a whitespace run's lookahead). */
		if (!final && e + 3 >= t->n && !(i == 0 && t->n == SPZ_TOK_BUF))
			break;
		count_piece(t, i, e);
		i = e;
	}
	memmove(t->cp, t->cp + i, (t->n - i) * sizeof(t->cp[0]));
	t->n -= i;
}

void spz_tok_init(struct spz_tok *t, enum spz_encoding enc, const struct spz_bpe *bpe)
{
	memset(t, 0, offsetof(struct spz_tok, cp));
	t->enc = enc;
	t->bpe = bpe;
}

static void push(struct spz_tok *t, uint32_t cp)
{
	if (t->n == SPZ_TOK_BUF)
		split(t, false);
	t->cp[t->n++] = cp;
}

void spz_tok_feed(struct spz_tok *t, const char *text, size_t len)
{
	if (!t->bpe)
		return;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)text[i];
		if (t->utf8_need) {
			if ((c & 0xC0) == 0x80) {
				t->utf8[t->utf8_len++] = c;
				if (t->utf8_len < t->utf8_need)
					continue;
				uint32_t cp = t->utf8[0] & (0x7F >> t->utf8_need);
				for (int k = 1; k < t->utf8_need; k++)
					cp = cp << 6 | (t->utf8[k] & 0x3F);
				t->utf8_need = 0;
				push(t, cp);
				continue;
			}
			t->utf8_need = 0;
			push(t, 0xFFFD);
		}
		if (c < 0x80)
			push(t, c);
		else if (c >= 0xC2 && c <= 0xF4) {
			t->utf8[0] = c;
			t->utf8_len = 1;
			t->utf8_need = (uint8_t)(c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2);
		} else {
			push(t, 0xFFFD);
		}
	}
	if (t->n > SPZ_TOK_BUF / 2)
		split(t, false);
}

void spz_tok_end(struct spz_tok *t)
{
	if (!t->bpe)
		return;
	split(t, true);
}
