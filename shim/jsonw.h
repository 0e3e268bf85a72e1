/* A bounded JSON writer for records: writes into a caller's buffer, escapes
 * strings, and replaces invalid UTF-8 so every record it makes is valid JSON. */
#ifndef SPZ_JSONW_H
#define SPZ_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct spz_jw {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

void spz_jw_init(struct spz_jw *w, char *buf, size_t cap);
/* Inline: most writes are a few bytes, and a call cost more than them. */
static inline void spz_jw_raw(struct spz_jw *w, const char *s, size_t n)
{
	if (w->overflow || w->len + n + 1 > w->cap) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}
void spz_jw_str(struct spz_jw *w, const char *s, size_t n);
void spz_jw_int(struct spz_jw *w, int64_t value);

/* The comma before a member or an element, unless it is the first. */
static inline void spz_jw_sep(struct spz_jw *w)
{
	if (w->len > 0 && w->buf[w->len - 1] != '{' && w->buf[w->len - 1] != '[')
		spz_jw_raw(w, ",", 1);
}
/* Writes the separator if needed, then "key": */
void spz_jw_key(struct spz_jw *w, const char *key);
void spz_jw_kstr(struct spz_jw *w, const char *key, const char *value);

#endif
