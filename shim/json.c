/* Incremental JSON scanner. Owns only its fixed-size state; reports values
 * with their dotted paths through one callback. It must never read past the
 * slice it is given, allocate, or recurse: nesting is a bit stack. */
#include "json.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "scan.h"

enum {
	S_VALUE,     /* a value is expected */
	S_ARR_FIRST, /* after '[': a value or ']' */
	S_OBJ_FIRST, /* after '{': a key or '}' */
	S_OBJ_KEY,   /* after ',' in an object: a key */
	S_COLON,     /* after a key */
	S_AFTER,     /* after a value: ',' or a closing bracket */
	S_STRING,
	S_ESC,
	S_UHEX,
	S_NUMBER,
	S_LITERAL,
	S_SKIP,
	S_ERROR
};

static bool ctx_is_array(const struct spz_json *js, unsigned depth)
{
	return (js->ctx_bits[depth / 8] >> (depth % 8)) & 1;
}

static void ctx_set(struct spz_json *js, unsigned depth, bool array)
{
	if (array)
		js->ctx_bits[depth / 8] |= (uint8_t)(1u << (depth % 8));
	else
		js->ctx_bits[depth / 8] &= (uint8_t)~(1u << (depth % 8));
}

void spz_json_reset(struct spz_json *js)
{
	js->state = S_VALUE;
	js->error = false;
	js->depth = 0;
	js->path_len = 0;
	js->path[0] = '\0';
	js->level_path[0] = 0;
	js->path_overflow_at[0] = false;
	js->surrogate = 0;
	js->key_len = 0;
	js->value_len = 0;
	js->skip_next = false;
}

void spz_json_skip(struct spz_json *js)
{
	js->skip_next = true;
}

/* A container was just begun: pass over it if its event asked to. */
static void maybe_skip(struct spz_json *js)
{
	if (!js->skip_next)
		return;
	js->skip_next = false;
	js->skip_depth = 0;
	js->skip_in_string = false;
	js->skip_escape = false;
	js->state = S_SKIP;
}

void spz_json_init(struct spz_json *js, spz_json_cb cb, void *ud)
{
	/* The bit stack and the text buffers (most of the struct) are written
	 * before they are read: a push sets its level's bit, a string or number
	 * starts its buffer. Clearing them cost more than a small body's scan. */
	memset(js, 0, offsetof(struct spz_json, ctx_bits));
	js->cb = cb;
	js->ud = ud;
	js->report = ~0u;
	spz_json_reset(js);
}

void spz_json_report_only(struct spz_json *js, unsigned mask)
{
	js->report = mask;
}

void spz_json_set_chunk_cb(struct spz_json *js, spz_json_chunk_cb chunk_cb)
{
	js->chunk_cb = chunk_cb;
}

static bool reportable(const struct spz_json *js)
{
	return js->depth <= SPZ_JSON_PATH_DEPTH && !js->path_overflow_at[js->depth];
}

static inline bool reported(const struct spz_json *js, enum spz_json_type type)
{
	return ((js->report >> type) & 1u) && js->cb;
}

/* Hands an event at the current path to the consumer. */
static inline __attribute__((always_inline)) void deliver(struct spz_json *js, enum spz_json_type type,
							  const char *value, size_t value_len, bool truncated)
{
	struct spz_json_event ev = {
		.type = type,
		.path = js->path,
		.path_len = js->path_len,
		.value = value,
		.value_len = value_len,
		.truncated = truncated,
		.depth = js->depth,
	};
	js->path[js->path_len] = '\0';
	js->cb(js->ud, &ev);
}

static void emit(struct spz_json *js, enum spz_json_type type, const char *value,
		 size_t value_len, bool truncated)
{
	if (!reported(js, type) || !reportable(js))
		return;
	deliver(js, type, value, value_len, truncated);
	/* A skip asked for during any other event is no request at all. */
	if (type != SPZ_JSON_OBJECT && type != SPZ_JSON_ARRAY)
		js->skip_next = false;
}

/* Keys and scalars are mostly a few bytes: two overlapping fixed-size moves
 * cost less than a call to memcpy. */
static inline void copy_short(char *dst, const char *src, size_t n)
{
	if (n >= 8 && n <= 16) {
		uint64_t a, b;
		memcpy(&a, src, 8);
		memcpy(&b, src + n - 8, 8);
		memcpy(dst, &a, 8);
		memcpy(dst + n - 8, &b, 8);
	} else if (n >= 4 && n < 8) {
		uint32_t a, b;
		memcpy(&a, src, 4);
		memcpy(&b, src + n - 4, 4);
		memcpy(dst, &a, 4);
		memcpy(dst + n - 4, &b, 4);
	} else if (n < 4) {
		for (size_t k = 0; k < n; k++)
			dst[k] = src[k];
	} else {
		memcpy(dst, src, n);
	}
}

static void path_append(struct spz_json *js, const char *s, size_t n, bool dot)
{
	size_t need = n + (dot ? 1 : 0);
	if (js->path_len + need > SPZ_JSON_PATH_MAX) {
		js->path_overflow_at[js->depth] = true;
		return;
	}
	if (dot)
		js->path[js->path_len++] = '.';
	copy_short(js->path + js->path_len, s, n);
	js->path_len += n;
}

/* A key completed at the current depth: the path becomes container path + key. */
static void set_key(struct spz_json *js, const char *key, size_t key_len, bool truncated)
{
	if (js->depth > SPZ_JSON_PATH_DEPTH)
		return;
	unsigned d = js->depth;
	bool inherited = d > 0 && js->path_overflow_at[d - 1];
	js->path_len = js->level_path[d];
	js->path_overflow_at[d] = inherited;
	if (inherited)
		return;
	path_append(js, key, key_len, js->path_len > 0);
	if (truncated)
		path_append(js, "\x01", 1, false); /* a cut key must never match */
}

static int push(struct spz_json *js, bool array)
{
	emit(js, array ? SPZ_JSON_ARRAY : SPZ_JSON_OBJECT, NULL, 0, false);
	if (js->depth + 1 >= SPZ_JSON_DEPTH_MAX)
		return -1;
	bool overflow = !reportable(js);
	js->depth++;
	ctx_set(js, js->depth, array);
	if (js->depth <= SPZ_JSON_PATH_DEPTH) {
		js->level_path[js->depth] = (uint16_t)js->path_len;
		js->path_overflow_at[js->depth] = overflow;
		if (array && !overflow)
			path_append(js, "[]", 2, false);
	}
	return 0;
}

static void value_done(struct spz_json *js)
{
	js->state = S_AFTER;
	if (js->depth == 0) {
		emit(js, SPZ_JSON_DOC_END, NULL, 0, false);
		js->state = S_VALUE;
	}
}

static void pop(struct spz_json *js)
{
	if (js->depth <= SPZ_JSON_PATH_DEPTH)
		js->path_len = js->level_path[js->depth];
	js->depth--;
	emit(js, SPZ_JSON_END, NULL, 0, false);
	value_done(js);
}

static void buf_put(struct spz_json *js, const char *s, size_t n)
{
	if (js->in_key) {
		size_t room = SPZ_JSON_KEY_MAX - js->key_len;
		if (n > room) {
			n = room;
			js->key_truncated = true;
		}
		copy_short(js->key + js->key_len, s, n);
		js->key_len += n;
	} else {
		if (js->chunk_cb && js->in_string && n && reportable(js)) {
			js->path[js->path_len] = '\0';
			js->chunk_cb(js->ud, js->path, js->path_len, s, n, js->chunk_first);
			js->chunk_first = false;
		}
		size_t room = SPZ_JSON_VALUE_MAX - js->value_len;
		if (n > room) {
			n = room;
			js->value_truncated = true;
		}
		copy_short(js->value + js->value_len, s, n);
		js->value_len += n;
	}
}

static void put_codepoint(struct spz_json *js, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	buf_put(js, u, n);
}

/* A high surrogate not followed by a low one decodes as U+FFFD. */
static void flush_surrogate(struct spz_json *js)
{
	if (js->surrogate) {
		js->surrogate = 0;
		put_codepoint(js, 0xFFFD);
	}
}

static void string_begin(struct spz_json *js, bool key)
{
	js->in_key = key;
	js->surrogate = 0;
	if (key) {
		js->key_len = 0;
		js->key_truncated = false;
	} else {
		js->value_len = 0;
		js->value_truncated = false;
		js->chunk_first = true;
	}
	js->in_string = !key;
	js->state = S_STRING;
}

static void string_end(struct spz_json *js)
{
	flush_surrogate(js);
	if (js->in_key) {
		js->key[js->key_len] = '\0';
		set_key(js, js->key, js->key_len, js->key_truncated);
		js->state = S_COLON;
	} else {
		js->value[js->value_len] = '\0';
		emit(js, SPZ_JSON_STRING, js->value, js->value_len, js->value_truncated);
		value_done(js);
	}
}

static void number_end(struct spz_json *js)
{
	js->value[js->value_len] = '\0';
	emit(js, SPZ_JSON_NUMBER, js->value, js->value_len, js->value_truncated);
	value_done(js);
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Where the whitespace from i ends: pretty-printed bodies put a newline
 * and an indent of spaces between tokens. Only called on whitespace, so a
 * stream's compact JSON pays nothing for it. */
static inline __attribute__((always_inline)) size_t ws_end(const char *buf, size_t i, size_t len)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* An indent of up to seven spaces (most of them) in one word. */
	if (len - i >= 8) {
		uint64_t w;
		memcpy(&w, buf + i, 8);
		w ^= 0x2020202020202020ull;
		if (w) {
			i += (size_t)__builtin_ctzll(w) / 8;
			if (!is_ws(buf[i]))
				return i;
		} else {
			i += 8;
		}
	}
#endif
	i += spz_scan_spaces(buf + i, len - i);
	while (i < len && is_ws(buf[i]))
		i++;
	return i;
}

/* Where the whitespace at i (if any) ends. */
static inline size_t ws_skip(const char *buf, size_t i, size_t len)
{
	return i < len && is_ws(buf[i]) ? ws_end(buf, i + 1, len) : i;
}

static bool is_number_byte(char c)
{
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}


/* Starts a value at c; returns -1 if c cannot start one. */
static int value_begin(struct spz_json *js, char c)
{
	switch (c) {
	case '{':
		if (push(js, false) < 0)
			return -1;
		js->state = S_OBJ_FIRST;
		maybe_skip(js);
		return 0;
	case '[':
		if (push(js, true) < 0)
			return -1;
		js->state = S_ARR_FIRST;
		maybe_skip(js);
		return 0;
	case '"':
		string_begin(js, false);
		return 0;
	case 't':
		js->lit = "true";
		js->lit_type = SPZ_JSON_TRUE;
		break;
	case 'f':
		js->lit = "false";
		js->lit_type = SPZ_JSON_FALSE;
		break;
	case 'n':
		js->lit = "null";
		js->lit_type = SPZ_JSON_NULL;
		break;
	default:
		if (c == '-' || (c >= '0' && c <= '9')) {
			js->value_len = 0;
			js->value_truncated = false;
			js->in_key = false;
			js->in_string = false;
			buf_put(js, &c, 1);
			js->state = S_NUMBER;
			return 0;
		}
		return -1;
	}
	js->lit_pos = 1;
	js->state = S_LITERAL;
	return 0;
}

/* Fast paths. Most tokens of a body lie whole inside one slice: each is
 * taken in one step when it does, and every other case (a token cut by the
 * slice's end, an escape) is left to the byte-at-a-time states, which give
 * the same events. Each returns where it stopped, or i when it took nothing. */

/* A key whose closing quote is in the slice, with nothing to decode: the
 * path is set straight from buf, and the colon taken if it follows. */
static size_t key_whole(struct spz_json *js, const char *buf, size_t i, size_t len)
{
	size_t k = spz_scan_json_string(buf + i + 1, len - i - 1);
	size_t j = i + 1 + k;
	if (j >= len || buf[j] != '"' || k > SPZ_JSON_KEY_MAX)
		return i;
	set_key(js, buf + i + 1, k, false);
	j++;
	if (j < len && buf[j] == ':') {
		js->state = S_VALUE;
		j++;
		if (j < len && buf[j] == ' ')
			j++;
	} else {
		js->state = S_COLON;
	}
	return j;
}

/* A string value whose closing quote is in the slice, with no escape. */
static size_t string_whole(struct spz_json *js, const char *buf, size_t i, size_t len)
{
	size_t k = spz_scan_json_string(buf + i + 1, len - i - 1);
	size_t j = i + 1 + k;
	if (j >= len || buf[j] != '"')
		return i;
	string_begin(js, false);
	buf_put(js, buf + i + 1, k);
	string_end(js);
	return j + 1;
}

/* A number whose end is in the slice. */
static size_t number_whole(struct spz_json *js, const char *buf, size_t i, size_t len)
{
	size_t j = i + 1;
	while (j < len && is_number_byte(buf[j]))
		j++;
	if (j >= len)
		return i;
	js->value_len = 0;
	js->value_truncated = false;
	js->in_key = false;
	js->in_string = false;
	buf_put(js, buf + i, j - i);
	number_end(js);
	return j;
}

/* A literal (true, false, null) whole in the slice. */
static size_t literal_whole(struct spz_json *js, const char *buf, size_t i, size_t len)
{
	const char *lit = buf[i] == 't' ? "true" : buf[i] == 'f' ? "false" : "null";
	enum spz_json_type type = buf[i] == 't' ? SPZ_JSON_TRUE : buf[i] == 'f' ? SPZ_JSON_FALSE : SPZ_JSON_NULL;
	size_t n = type == SPZ_JSON_FALSE ? 5 : 4;
	if (len - i < n || memcmp(buf + i, lit, n) != 0)
		return i;
	emit(js, type, NULL, 0, false);
	value_done(js);
	return i + n;
}

#ifdef __SSE2__
/* Where members_fast stopped. */
enum member_stop {
	AT_KEY,   /* at a key's opening quote it left to key_whole */
	AT_VALUE, /* the key was taken: at its value, which it left to value_here */
	AT_AFTER  /* a value was taken: at what follows it */
};

/* A scalar's event, where it is known to be reportable. */
static inline __attribute__((always_inline)) void emit_scalar(struct spz_json *js, enum spz_json_type type,
							      const char *value, size_t value_len, bool truncated)
{
	if (!reported(js, type))
		return;
	deliver(js, type, value, value_len, truncated);
	js->skip_next = false;
}

/* An object's members, one after another, while each lies whole well inside
 * the slice: a key of up to 31 plain bytes, a colon, a scalar. Most of
 * a body's members are these, and each took key_whole, set_key,
 * string_whole or number_whole and value_done in turn, every one checking
 * the slice's end and storing the state. Here a member's key is found and
 * copied into the path in one or two sixteen-byte moves, its value taken where it
 * is. The events are key_whole's and the value's own, in the same order;
 * anything else (a long or escaped key, a container, a number that may run
 * on) is left where it begins. Called at a key's quote, in an object at a
 * depth with a path that has room for the key; *stop says where it left. */
static size_t members_fast(struct spz_json *js, const char *buf, size_t i, size_t len, enum member_stop *stop)
{
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1f);
	const size_t base = js->level_path[js->depth];
	const bool dot = base > 0;
	char *const key_at = js->path + base + dot;
	*stop = AT_KEY;
	/* Every read below is inside the slice: its end is checked where a
	 * read could reach it. */
	while (len - i >= 24) {
		/* buf[i] is a key's opening quote; sixteen bytes follow it, and
		 * seven more (for a key of more than fifteen bytes, 39 more). */
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(buf + i + 1));
		__m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(x, c1f), c1f);
		unsigned m = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)), ctl));
		size_t k;
		__m128i y = x;
		if (m) {
			k = (size_t)__builtin_ctz(m);
		} else {
			/* A usage field's name is often longer: the next sixteen. */
			if (len - i < 40)
				return i;
			y = _mm_loadu_si128((const __m128i *)(const void *)(buf + i + 17));
			ctl = _mm_cmpeq_epi8(_mm_max_epu8(y, c1f), c1f);
			m = (unsigned)_mm_movemask_epi8(
				_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(y, quote), _mm_cmpeq_epi8(y, bslash)), ctl));
			if (!m)
				return i;
			k = 16 + (size_t)__builtin_ctz(m);
		}
		size_t j = i + 1 + k;
		if (buf[j] != '"' || buf[j + 1] != ':')
			return i;
		/* set_key, for a key that fits: the path is the container's and
		 * the key (the stores' bytes past the key are overwritten or
		 * lie past path_len). */
		js->path_overflow_at[js->depth] = false;
		if (dot)
			js->path[base] = '.';
		_mm_storeu_si128((__m128i *)(void *)key_at, x);
		if (k >= 16)
			_mm_storeu_si128((__m128i *)(void *)(key_at + 16), y);
		js->path_len = base + dot + k;
		j += 2; /* at most i + 35 */
		if (buf[j] == ' ')
			j++;
		/* The key is taken: from here on, a value is expected at j. */
		*stop = AT_VALUE;
		js->state = S_VALUE;
		char c = buf[j];
		if (c == '"') {
			size_t n = spz_scan_json_string(buf + j + 1, len - j - 1);
			size_t e = j + 1 + n;
			if (e >= len || buf[e] != '"')
				return j;
			const char *v = buf + j + 1;
			if (js->chunk_cb && n) {
				js->path[js->path_len] = '\0';
				js->chunk_cb(js->ud, js->path, js->path_len, v, n, true);
			}
			bool truncated = n > SPZ_JSON_VALUE_MAX;
			size_t kept = truncated ? SPZ_JSON_VALUE_MAX : n;
			if (n <= 16 && len - (j + 1) >= 16)
				_mm_storeu_si128((__m128i *)(void *)js->value,
						 _mm_loadu_si128((const __m128i *)(const void *)v));
			else
				memcpy(js->value, v, kept);
			js->value[kept] = '\0';
			js->value_len = kept;
			emit_scalar(js, SPZ_JSON_STRING, js->value, kept, truncated);
			j = e + 1;
		} else if ((c == '-' || (c >= '0' && c <= '9')) && len - j >= 16) {
			size_t e = j + 1;
			while (e < j + 16 && is_number_byte(buf[e]))
				e++;
			if (e == j + 16)
				return j; /* it may run on: number_whole's */
			size_t n = e - j;
			_mm_storeu_si128((__m128i *)(void *)js->value,
					 _mm_loadu_si128((const __m128i *)(const void *)(buf + j)));
			js->value[n] = '\0';
			js->value_len = n;
			emit_scalar(js, SPZ_JSON_NUMBER, js->value, n, false);
			j = e;
		} else if (len - j < 5) {
			return j;
		} else if (c == 't' && memcmp(buf + j, "true", 4) == 0) {
			emit_scalar(js, SPZ_JSON_TRUE, NULL, 0, false);
			j += 4;
		} else if (c == 'f' && memcmp(buf + j, "false", 5) == 0) {
			emit_scalar(js, SPZ_JSON_FALSE, NULL, 0, false);
			j += 5;
		} else if (c == 'n' && memcmp(buf + j, "null", 4) == 0) {
			emit_scalar(js, SPZ_JSON_NULL, NULL, 0, false);
			j += 4;
		} else {
			return j; /* a container, or not JSON: value_here's */
		}
		/* value_done: inside an object, never the top level. */
		js->state = S_AFTER;
		*stop = AT_AFTER;
		i = j;
		if (len - i < 33 || buf[i] != ',')
			return i; /* (the next key needs 24 bytes after its indent) */
		j = i + 1;
		/* A newline and an indent of up to seven spaces, or one space. */
		if (buf[j] == '\n') {
			uint64_t w;
			memcpy(&w, buf + j + 1, 8);
			w ^= 0x2020202020202020ull;
			if (!w)
				return i;
			j += 1 + (size_t)__builtin_ctzll(w) / 8;
		} else if (buf[j] == ' ') {
			j++;
		}
		if (buf[j] != '"')
			return i;
		/* The comma is taken: the next key. */
		js->state = S_OBJ_KEY;
		*stop = AT_KEY;
		i = j;
	}
	return i;
}
#endif

/* Walks a document's structure while its tokens lie whole in the slice,
 * by place in the grammar: where the code is, is the state, so nothing is
 * dispatched between tokens (that dispatch, an indirect jump a byte, was
 * the scanner's most mispredicted branch). js->state is kept at each place.
 * Returns where it stopped: the end of the slice, or a byte it leaves to
 * the byte-at-a-time states (a cut token, an escape, a skip, bad JSON). */
static size_t walk(struct spz_json *js, const char *buf, size_t i, size_t len)
{
	size_t j;
	switch (js->state) {
	case S_VALUE:
		goto value;
	case S_ARR_FIRST:
		goto arr_first;
	case S_OBJ_FIRST:
		goto obj_first;
	case S_OBJ_KEY:
		goto obj_key;
	case S_AFTER:
		goto after;
	default:
		return i;
	}
value:
	js->state = S_VALUE;
	i = ws_skip(buf, i, len);
value_here:
	if (i >= len)
		return i;
	switch (buf[i]) {
	case '"':
		j = string_whole(js, buf, i, len);
		break;
	case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
		j = number_whole(js, buf, i, len);
		break;
	case 't': case 'f': case 'n':
		j = literal_whole(js, buf, i, len);
		break;
	case '{':
	case '[': {
		bool array = buf[i] == '[';
		if (push(js, array) < 0) {
			js->state = S_ERROR;
			js->error = true;
			return i;
		}
		js->state = array ? S_ARR_FIRST : S_OBJ_FIRST;
		i++;
		if (js->skip_next) {
			maybe_skip(js);
			return i;
		}
		if (array)
			goto arr_first;
		goto obj_first;
	}
	default:
		return i;
	}
	if (j == i)
		return i;
	i = j;
	goto ended;
arr_first:
	i = ws_skip(buf, i, len);
	if (i >= len)
		return i;
	if (buf[i] != ']') {
		js->state = S_VALUE;
		goto value_here;
	}
	pop(js);
	i++;
	goto ended;
obj_first:
	i = ws_skip(buf, i, len);
	if (i >= len)
		return i;
	if (buf[i] == '}') {
		pop(js);
		i++;
		goto ended;
	}
	goto key;
obj_key:
	js->state = S_OBJ_KEY;
	i = ws_skip(buf, i, len);
	if (i >= len)
		return i;
key:
	if (buf[i] != '"')
		return i;
#ifdef __SSE2__
	/* Runs of plain members in one go, where the path has room for a
	 * key of 32 bytes (a parent whose path overflowed has none). */
	if (len - i >= 24 && js->depth <= SPZ_JSON_PATH_DEPTH &&
	    !(js->depth > 0 && js->path_overflow_at[js->depth - 1]) &&
	    js->level_path[js->depth] + 33u <= SPZ_JSON_PATH_MAX) {
		enum member_stop stop;
		j = members_fast(js, buf, i, len, &stop);
		if (stop == AT_AFTER) {
			i = j;
			goto after;
		}
		if (stop == AT_VALUE) {
			i = j;
			goto value_here;
		}
		/* At a key it left to key_whole. (The jump to the next line
		 * is no-op C, kept: GCC 12 lays the walk out 56 instructions a
		 * call cheaper with it than with a plain i = j.) */
		if (j != i) {
			i = j;
			goto key_slow;
		}
	}
key_slow:
#endif
	j = key_whole(js, buf, i, len);
	if (j == i || js->state != S_VALUE)
		return j; /* cut, or a space before the colon: byte by byte */
	i = j;
	goto value_here;
ended:
	/* A value ended: inside a container, a comma or its end follows; at
	 * the top level, the next document may. */
	if (js->state != S_AFTER)
		goto value;
after:
	js->state = S_AFTER;
	i = ws_skip(buf, i, len);
	if (i >= len)
		return i;
	if (buf[i] == ',') {
		i++;
		if (ctx_is_array(js, js->depth))
			goto value;
		goto obj_key;
	}
	if (buf[i] != (ctx_is_array(js, js->depth) ? ']' : '}'))
		return i;
	pop(js);
	i++;
	goto ended;
}

#ifdef __SSE2__
static inline unsigned popcount16(unsigned m)
{
	/* x86-64 has no popcnt without -mpopcnt: a few shifts instead of a call. */
	m = m - ((m >> 1) & 0x5555u);
	m = (m & 0x3333u) + ((m >> 2) & 0x3333u);
	m = (m + (m >> 4)) & 0x0f0fu;
	return (m + (m >> 8)) & 0x1fu;
}

/* Passes over whole sixteen-byte blocks of a skipped container at once.
 * Most blocks of a skipped body (an answer's text) hold no bracket and no
 * backslash: only their quotes matter, and only how many (their parity
 * flips whether the next block begins inside a string). In the others,
 * which brackets lie outside strings comes from the quotes' running parity
 * (a prefix XOR of their bits), and the open count moves by the brackets'
 * difference. A block is left to skip_run's stop-to-stop loop when it holds
 * a backslash (an escaped quote would break the parity), when it may close
 * the skipped container (more closing brackets than containers open inside
 * it), or when it may reach the depth limit. Returns where it stopped. */
static inline unsigned specials16(__m128i x)
{
	/* x | 0x20 is 0x7b-0x7d for '[', '\\', ']' (0x5b-0x5d) and for '{', '|',
	 * '}': one range test finds a block with any of them. */
	__m128i d = _mm_sub_epi8(_mm_or_si128(x, _mm_set1_epi8(0x20)), _mm_set1_epi8(0x7b));
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(2)), d));
}

static size_t skip_blocks(struct spz_json *js, const char *buf, size_t i, size_t len)
{
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), brace_l = _mm_set1_epi8('{'),
		      brace_r = _mm_set1_epi8('}'), square_l = _mm_set1_epi8('['), square_r = _mm_set1_epi8(']');
	unsigned in_string = js->skip_in_string;
	/* The quotes of the plain blocks passed since in_string was last
	 * brought up to date: the parity of their XOR is that of their count. */
	unsigned quotes = 0;
	while (i + 16 <= len) {
		/* Plain text, 32 bytes a step. */
		for (; i + 32 <= len; i += 32) {
			__m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)(buf + i));
			__m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(buf + i + 16));
			if (specials16(x0) | specials16(x1))
				break;
			quotes ^= (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x0, quote)) ^
				  (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x1, quote));
		}
		if (i + 16 > len)
			break;
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(buf + i));
		unsigned q = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, quote));
		if (!specials16(x)) {
			quotes ^= q;
			i += 16;
			continue;
		}
		in_string ^= (unsigned)__builtin_parity(quotes);
		quotes = 0;
		if (_mm_movemask_epi8(_mm_cmpeq_epi8(x, bslash)))
			break;
		unsigned open = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmpeq_epi8(x, brace_l), _mm_cmpeq_epi8(x, square_l)));
		unsigned close = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmpeq_epi8(x, brace_r), _mm_cmpeq_epi8(x, square_r)));
		/* Bit k: byte k is inside a string (an opening quote is, a
		 * closing one is not). */
		unsigned inside = q;
		inside ^= inside << 1;
		inside ^= inside << 2;
		inside ^= inside << 4;
		inside ^= inside << 8;
		inside = (inside ^ (in_string ? 0xffffu : 0)) & 0xffffu;
		open &= ~inside;
		close &= ~inside;
		if (open | close) {
			unsigned opens = popcount16(open), closes = popcount16(close);
			if (closes > js->skip_depth || js->depth + js->skip_depth + opens >= SPZ_JSON_DEPTH_MAX)
				break;
			js->skip_depth += opens - closes;
		}
		in_string = inside >> 15;
		i += 16;
	}
	js->skip_in_string = in_string ^ (unsigned)__builtin_parity(quotes);
	return i;
}
#endif

/* Passes over a skipped container from i, stop to stop (quotes, escapes,
 * brackets), without going back to the state dispatch for each: a skipped
 * body (a whole answer's choices) has a stop every few bytes. Returns where
 * it stopped (len, or after the container's end, which is reported), or
 * SIZE_MAX on bad JSON. Inside strings, nothing is checked. */
static size_t skip_run(struct spz_json *js, const char *buf, size_t i, size_t len)
{
#ifdef __SSE2__
	size_t slow_until = 0;
#endif
	while (i < len) {
		if (js->skip_escape) {
			js->skip_escape = false;
			i++;
			continue;
		}
#ifdef __SSE2__
		if (i >= slow_until && len - i >= 16) {
			size_t j = skip_blocks(js, buf, i, len);
			/* The block it stopped at is passed stop to stop. */
			slow_until = j + 16;
			if (j != i) {
				i = j;
				continue;
			}
		}
#endif
		if (js->skip_in_string) {
			i += spz_scan_json_string(buf + i, len - i);
			if (i >= len)
				break;
			if (buf[i] == '"')
				js->skip_in_string = false;
			else if (buf[i] == '\\')
				js->skip_escape = true;
			i++; /* or a control byte, passed over unchecked */
			continue;
		}
		i += spz_scan_json_skip(buf + i, len - i);
		if (i >= len)
			break;
		char c = buf[i++];
		if (c == '"') {
			js->skip_in_string = true;
		} else if (c == '{' || c == '[') {
			if (js->depth + ++js->skip_depth >= SPZ_JSON_DEPTH_MAX)
				return SIZE_MAX;
		} else if (c == '}' || c == ']') {
			if (js->skip_depth == 0) {
				pop(js); /* the skipped container's end, reported */
				return i;
			}
			js->skip_depth--;
		} else {
			return SIZE_MAX; /* a backslash outside a string */
		}
	}
	return i;
}

int spz_json_feed(struct spz_json *js, const char *buf, size_t len)
{
	size_t i = 0;
	while (i < len) {
		/* The walk first; what it leaves (at a byte it has tried), the
		 * states below take one byte at a time. */
		if (js->state <= S_AFTER) {
			size_t j = walk(js, buf, i, len);
			if (js->state == S_ERROR)
				return -1;
			if (j != i) {
				i = j;
				continue;
			}
		}
		char c = buf[i];
		switch (js->state) {
		case S_ERROR:
			return -1;
		case S_VALUE:
		case S_ARR_FIRST:
			if (is_ws(c)) {
				i = ws_end(buf, i + 1, len);
				continue;
			}
			if (js->state == S_ARR_FIRST && c == ']') {
				pop(js);
				break;
			}
			if (value_begin(js, c) < 0)
				goto fail;
			break;
		case S_OBJ_FIRST:
		case S_OBJ_KEY:
			if (is_ws(c)) {
				i = ws_end(buf, i + 1, len);
				continue;
			}
			if (c == '"') {
				string_begin(js, true);
				break;
			}
			if (js->state == S_OBJ_FIRST && c == '}') {
				pop(js);
				break;
			}
			goto fail;
		case S_COLON:
			if (is_ws(c)) {
				i = ws_end(buf, i + 1, len);
				continue;
			}
			if (c != ':')
				goto fail;
			js->state = S_VALUE;
			break;
		case S_AFTER:
			if (is_ws(c)) {
				i = ws_end(buf, i + 1, len);
				continue;
			}
			if (c == ',') {
				js->state = ctx_is_array(js, js->depth) ? S_VALUE : S_OBJ_KEY;
				break;
			}
			if (c == (ctx_is_array(js, js->depth) ? ']' : '}')) {
				pop(js);
				break;
			}
			goto fail;
		case S_STRING: {
			/* Bulk copy up to the next quote, escape or control byte. */
			size_t j = i + spz_scan_json_string(buf + i, len - i);
			if (j > i) {
				flush_surrogate(js);
				buf_put(js, buf + i, j - i);
				i = j;
				continue;
			}
			if (c == '"')
				string_end(js);
			else if (c == '\\')
				js->state = S_ESC;
			else
				goto fail;
			break;
		}
		case S_ESC: {
			char out;
			switch (c) {
			case '"': out = '"'; break;
			case '\\': out = '\\'; break;
			case '/': out = '/'; break;
			case 'b': out = '\b'; break;
			case 'f': out = '\f'; break;
			case 'n': out = '\n'; break;
			case 'r': out = '\r'; break;
			case 't': out = '\t'; break;
			case 'u':
				js->unicode = 0;
				js->hex_left = 4;
				js->state = S_UHEX;
				i++;
				continue;
			default:
				goto fail;
			}
			flush_surrogate(js);
			buf_put(js, &out, 1);
			js->state = S_STRING;
			break;
		}
		case S_UHEX: {
			int h = spz_hexval(c);
			if (h < 0)
				goto fail;
			js->unicode = (js->unicode << 4) | (uint32_t)h;
			if (--js->hex_left == 0) {
				uint32_t u = js->unicode;
				if (u >= 0xD800 && u <= 0xDBFF) {
					flush_surrogate(js);
					js->surrogate = u;
				} else if (u >= 0xDC00 && u <= 0xDFFF) {
					if (js->surrogate) {
						uint32_t cp = 0x10000 + ((js->surrogate - 0xD800) << 10) + (u - 0xDC00);
						js->surrogate = 0;
						put_codepoint(js, cp);
					} else {
						put_codepoint(js, 0xFFFD);
					}
				} else {
					flush_surrogate(js);
					put_codepoint(js, u);
				}
				js->state = S_STRING;
			}
			break;
		}
		case S_NUMBER: {
			size_t j = i;
			while (j < len && is_number_byte(buf[j]))
				j++;
			if (j > i) {
				buf_put(js, buf + i, j - i);
				i = j;
				continue;
			}
			number_end(js);
			continue; /* c is looked at again in the new state */
		}
		case S_SKIP: {
			size_t j = skip_run(js, buf, i, len);
			if (j == SIZE_MAX)
				goto fail;
			i = j;
			continue;
		}
		case S_LITERAL:
			if (c != js->lit[js->lit_pos])
				goto fail;
			if (js->lit[++js->lit_pos] == '\0') {
				emit(js, (enum spz_json_type)js->lit_type, NULL, 0, false);
				value_done(js);
			}
			break;
		}
		i++;
	}
	return 0;
fail:
	js->state = S_ERROR;
	js->error = true;
	return -1;
}

int spz_json_finish(struct spz_json *js)
{
	if (js->state == S_NUMBER && js->depth == 0)
		number_end(js);
	if (js->state == S_ERROR)
		return -1;
	return (js->state == S_VALUE && js->depth == 0) ? 0 : -1;
}

int spz_json_parse_count(const char *s, size_t len, int64_t *out)
{
	if (len == 0 || len > 18)
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (len > 1 && s[0] == '0')
		return -1;
	*out = v;
	return 0;
}
