/* The top-level scalars of a whole JSON object in memory (json_top.h). One
 * pass finds the members and passes over their containers as spz_json's
 * skip does; the events follow only once the whole object has been found
 * good, so a body declined half-way has been reported nothing. */
#include "json_top.h"

#include <string.h>

#include "scan.h"

/* Nesting passed over before declining (spz_json follows up to
 * SPZ_JSON_DEPTH_MAX; a body nested deeper is left to it). */
#define SKIP_DEPTH_MAX 256

struct member {
	const char *key, *value;
	size_t key_len, value_len;
	enum spz_json_type type;
};

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t ws(const char *b, size_t i, size_t len)
{
	while (i < len && is_ws(b[i]))
		i++;
	return i;
}

static bool is_number_byte(char c)
{
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

/* Passes over a container from just after its opening bracket, by
 * spz_json's rules for a skipped one: brackets counted, not matched; a
 * string's bytes unchecked but for its escapes and its end; a backslash
 * outside a string is bad JSON. Returns where the container ends, or 0 if
 * it does not in buf. */
static size_t skip_container(const char *b, size_t i, size_t len)
{
	unsigned depth = 1;
	while (i < len) {
		i += spz_scan_json_skip(b + i, len - i);
		if (i >= len)
			return 0;
		char c = b[i++];
		if (c == '"') {
			for (;;) {
				i += spz_scan_json_string(b + i, len - i);
				if (i >= len)
					return 0;
				char d = b[i++];
				if (d == '"')
					break;
				if (d == '\\' && i++ >= len)
					return 0;
				/* else a control byte, passed over unchecked */
			}
		} else if (c == '{' || c == '[') {
			if (++depth > SKIP_DEPTH_MAX)
				return 0;
		} else if (c == '}' || c == ']') {
			if (--depth == 0)
				return i;
		} else {
			return 0; /* a backslash outside a string */
		}
	}
	return 0;
}

/* A string from its opening quote at i: its bytes' length if it ends in buf
 * with no escape and no control byte (spz_json would decode or refuse
 * those), else SIZE_MAX. */
static size_t plain_string(const char *b, size_t i, size_t len)
{
	size_t n = spz_scan_json_string(b + i + 1, len - i - 1);
	return i + 1 + n < len && b[i + 1 + n] == '"' ? n : SIZE_MAX;
}

/* A scalar value at i into e: where it ends, or 0 if it is none spz_json
 * would take as this reading does. */
static size_t scalar(const char *b, size_t i, size_t len, struct member *e)
{
	char c = b[i];
	e->value = NULL;
	e->value_len = 0;
	if (c == '"') {
		size_t n = plain_string(b, i, len);
		if (n == SIZE_MAX)
			return 0;
		e->type = SPZ_JSON_STRING;
		e->value = b + i + 1;
		e->value_len = n;
		return i + n + 2;
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		/* A run of number bytes, as spz_json takes it. */
		size_t j = i + 1;
		while (j < len && is_number_byte(b[j]))
			j++;
		e->type = SPZ_JSON_NUMBER;
		e->value = b + i;
		e->value_len = j - i;
		return j;
	}
	static const struct {
		const char *text;
		size_t len;
		enum spz_json_type type;
	} literals[] = { { "true", 4, SPZ_JSON_TRUE }, { "false", 5, SPZ_JSON_FALSE }, { "null", 4, SPZ_JSON_NULL } };
	for (size_t k = 0; k < sizeof(literals) / sizeof(literals[0]); k++) {
		if (c == literals[k].text[0]) {
			if (len - i < literals[k].len || memcmp(b + i, literals[k].text, literals[k].len) != 0)
				return 0;
			e->type = literals[k].type;
			return i + literals[k].len;
		}
	}
	return 0;
}

bool spz_json_top_scalars(const char *b, size_t len, spz_json_cb cb, void *ud)
{
	struct member members[SPZ_JSON_TOP_MAX];
	size_t count = 0;
	size_t i = ws(b, 0, len);
	if (i >= len || b[i] != '{')
		return false;
	i = ws(b, i + 1, len);
	if (i < len && b[i] == '}') {
		i++;
	} else {
		for (;;) {
			if (i >= len || b[i] != '"')
				return false;
			size_t key_len = plain_string(b, i, len);
			if (key_len > SPZ_JSON_KEY_MAX) /* SIZE_MAX too */
				return false;
			const char *key = b + i + 1;
			i = ws(b, i + key_len + 2, len);
			if (i >= len || b[i] != ':')
				return false;
			i = ws(b, i + 1, len);
			if (i >= len)
				return false;
			if (b[i] == '{' || b[i] == '[') {
				i = skip_container(b, i + 1, len);
			} else {
				if (count == SPZ_JSON_TOP_MAX)
					return false;
				struct member *e = &members[count++];
				e->key = key;
				e->key_len = key_len;
				i = scalar(b, i, len, e);
			}
			if (i == 0)
				return false;
			i = ws(b, i, len);
			if (i >= len)
				return false;
			if (b[i] == '}') {
				i++;
				break;
			}
			if (b[i] != ',')
				return false;
			i = ws(b, i + 1, len);
		}
	}
	if (ws(b, i, len) != len)
		return false; /* another document, or bytes that are none */
	/* Each event's path and value NUL-terminated, as spz_json gives them. */
	char path[SPZ_JSON_KEY_MAX + 1];
	char value[SPZ_JSON_VALUE_MAX + 1];
	for (size_t k = 0; k < count; k++) {
		const struct member *e = &members[k];
		memcpy(path, e->key, e->key_len);
		path[e->key_len] = '\0';
		struct spz_json_event ev = {
			.type = e->type,
			.path = path,
			.path_len = e->key_len,
			.depth = 1,
		};
		if (e->value) {
			size_t n = e->value_len > SPZ_JSON_VALUE_MAX ? SPZ_JSON_VALUE_MAX : e->value_len;
			memcpy(value, e->value, n);
			value[n] = '\0';
			ev.value = value;
			ev.value_len = n;
			ev.truncated = n < e->value_len;
		}
		cb(ud, &ev);
	}
	return true;
}
