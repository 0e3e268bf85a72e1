/* JSON text output with bounds. On overflow the writer stops writing and
 * says so; the caller drops the text rather than send a cut record. */
#include "jsonw.h"

#include "scan.h"

#include <string.h>

void spz_jw_init(struct spz_jw *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = cap == 0;
	if (cap)
		buf[0] = '\0';
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

void spz_jw_str(struct spz_jw *w, const char *s, size_t n)
{
	size_t i = spz_scan_plain_ascii(s, n);
	if (i == n) {
		/* Nothing to escape (nearly every string of a record): one
		 * bounds check and one copy, '"' s '"'. */
		if (w->overflow || w->len + n + 3 > w->cap) {
			w->overflow = true;
			return;
		}
		char *o = w->buf + w->len;
		o[0] = '"';
		memcpy(o + 1, s, n);
		o[n + 1] = '"';
		o[n + 2] = '\0';
		w->len += n + 2;
		return;
	}
	spz_jw_raw(w, "\"", 1);
	spz_jw_raw(w, s, i);
	while (i < n && !w->overflow) {
		/* Runs of plain bytes in one copy. */
		size_t j = i + spz_scan_plain_ascii(s + i, n - i);
		if (j > i) {
			spz_jw_raw(w, s + i, j - i);
			i = j;
			continue;
		}
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			spz_jw_raw(w, e, 2);
			i++;
		} else if (c < 0x20 || c == 0x7F) {
			static const char hex[] = "0123456789abcdef";
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			spz_jw_raw(w, e, 6);
			i++;
		} else {
			size_t len = utf8_seq((const unsigned char *)s + i, n - i);
			if (len == 0) {
				spz_jw_raw(w, "\\ufffd", 6);
				i++;
			} else {
				spz_jw_raw(w, s + i, len);
				i += len;
			}
		}
	}
	spz_jw_raw(w, "\"", 1);
}

void spz_jw_key(struct spz_jw *w, const char *key)
{
	spz_jw_sep(w);
	spz_jw_str(w, key, strlen(key));
	spz_jw_raw(w, ":", 1);
}

void spz_jw_kstr(struct spz_jw *w, const char *key, const char *value)
{
	spz_jw_key(w, key);
	spz_jw_str(w, value, strlen(value));
}

void spz_jw_int(struct spz_jw *w, int64_t value)
{
	/* By hand, not snprintf: a record has several and formatting was a
	 * measurable part of a call's cost. */
	char num[24];
	size_t at = sizeof(num);
	uint64_t u = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
	do {
		num[--at] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (value < 0)
		num[--at] = '-';
	spz_jw_raw(w, num + at, sizeof(num) - at);
}
