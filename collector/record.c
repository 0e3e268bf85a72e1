/* Record validation. The shim is trusted code, but the socket is reachable by
 * any process of the same user and spool files can be damaged, so every
 * field is checked for type and bounds, and only known fields are kept. */
#include "record.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../common/record_pack.h"
#include "../shim/json.h"
#include "../shim/scan.h"

const char *const spz_token_names[SPZ_TOK_COUNT] = {
	[SPZ_TOK_PROMPT] = "promptTokens",
	[SPZ_TOK_COMPLETION] = "completionTokens",
	[SPZ_TOK_CACHED_INPUT] = "cachedInputTokens",
	[SPZ_TOK_CACHE_WRITE] = "cacheWriteTokens",
	[SPZ_TOK_REASONING] = "reasoningTokens",
	[SPZ_TOK_CACHE_WRITE_1H] = "cacheWrite1hTokens",
	[SPZ_TOK_TOOL_PROMPT] = "toolPromptTokens",
};

enum kind { K_STR, K_INT, K_BOOL, K_PATH, K_TAGS, K_TOKEN, K_REFUSED };

struct field {
	const char *name;
	enum kind kind;
	bool required;
	size_t max; /* string bytes, or largest integer */
};

/* The order here is the order of the stored record. */
static const struct field fields[] = {
	{ "id", K_STR, true, 36 },
	{ "provider", K_STR, true, 64 },
	{ "model", K_STR, true, 256 },
	{ "responseModel", K_STR, false, 256 },
	{ "runId", K_STR, false, 64 },
	{ "parentRequestId", K_STR, false, 64 },
	{ "agentName", K_STR, false, 256 },
	{ "agentPath", K_PATH, false, 256 },
	{ "promptTokens", K_TOKEN, false, 0 },
	{ "completionTokens", K_TOKEN, false, 0 },
	{ "cachedInputTokens", K_TOKEN, false, 0 },
	{ "cacheWriteTokens", K_TOKEN, false, 0 },
	{ "reasoningTokens", K_TOKEN, false, 0 },
	{ "cacheWrite1hTokens", K_TOKEN, false, 0 },
	{ "toolPromptTokens", K_TOKEN, false, 0 },
	{ "usageSource", K_STR, false, 16 },
	{ "status", K_INT, true, 599 },
	{ "error", K_STR, false, 64 },
	{ "latencyMs", K_INT, false, 100000000000 },
	{ "stream", K_BOOL, false, 0 },
	{ "ttftMs", K_INT, false, 100000000000 },
	{ "startedAt", K_STR, false, 40 },
	{ "host", K_STR, false, 256 },
	{ "endpoint", K_STR, false, 512 },
	{ "requestId", K_STR, false, 256 },
	{ "pid", K_INT, false, 4194304 },
	{ "exe", K_STR, false, 4096 },
	{ "tags", K_TAGS, false, 0 },
	{ "refused", K_REFUSED, false, 0 }, /* the budget that refused the call */
};

#define TOKEN_MAX 1000000000000LL /* a trillion tokens: beyond any real call */
#define PATH_ITEMS_MAX 32
#define TAGS_MAX 32

static bool is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return true;
}

static int check_tags(json_t *v, char *why, size_t why_len)
{
	if (!json_is_object(v) || json_object_size(v) > TAGS_MAX) {
		snprintf(why, why_len, "tags: not an object of at most %d keys", TAGS_MAX);
		return -1;
	}
	const char *k;
	json_t *tv;
	json_object_foreach(v, k, tv) {
		size_t kl = strlen(k);
		if (kl == 0 || kl > 64 || !json_is_string(tv) || json_string_length(tv) > 256) {
			snprintf(why, why_len, "tags: keys 1-64 bytes, values strings up to 256");
			return -1;
		}
	}
	return 0;
}

static int check_field(const struct field *f, json_t *v, char *why, size_t why_len)
{
	switch (f->kind) {
	case K_STR:
		if (!json_is_string(v) || json_string_length(v) > f->max || (f->required && json_string_length(v) == 0) ||
		    memchr(json_string_value(v), '\0', json_string_length(v)))
			goto bad;
		if (strcmp(f->name, "id") == 0 && !is_uuid(json_string_value(v)))
			goto bad;
		return 0;
	case K_INT:
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (json_int_t)f->max)
			goto bad;
		if (strcmp(f->name, "status") == 0 && json_integer_value(v) < 100)
			goto bad;
		return 0;
	case K_TOKEN:
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > TOKEN_MAX)
			goto bad;
		return 0;
	case K_BOOL:
		if (!json_is_boolean(v))
			goto bad;
		return 0;
	case K_PATH: {
		if (!json_is_array(v) || json_array_size(v) > PATH_ITEMS_MAX)
			goto bad;
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item) {
			if (!json_is_string(item) || json_string_length(item) == 0 || json_string_length(item) > f->max)
				goto bad;
		}
		return 0;
	}
	case K_TAGS:
		return check_tags(v, why, why_len);
	case K_REFUSED: {
		if (!json_is_object(v) || json_object_size(v) > 8)
			goto bad;
		const char *k;
		json_t *rv;
		json_object_foreach(v, k, rv) {
			if (strlen(k) > 32 || !json_is_string(rv) || json_string_length(rv) > 64)
				goto bad;
		}
		return 0;
	}
	}
bad:
	snprintf(why, why_len, "field %s: wrong type or out of bounds", f->name);
	return -1;
}

static const char *str_or_null(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return v ? json_string_value(v) : NULL;
}

static int64_t int_or(json_t *o, const char *k, int64_t dflt)
{
	json_t *v = json_object_get(o, k);
	return v ? (int64_t)json_integer_value(v) : dflt;
}

/* ---- The fast path: one pass of the shim's JSON scanner over the bytes,
 * for records that hold known fields only, in the shim's compact form. It
 * only ever accepts or defers: whatever it is unsure of (an unknown field,
 * a null, an escape, a control byte, a long value, a duplicate key) goes to
 * the full decoder below, which also gives every rejection its reason. A
 * fuzz target checks that what it accepts, jansson accepts too. */

struct fast {
	struct spz_record *rec;
	bool defer;
	int next_field; /* the shim writes fields in fields[] order: look there first */
	bool ended;     /* the top-level object is complete: nothing may follow */
	uint64_t seen;    /* top-level fields, by index in fields[] */
	unsigned items;   /* agentPath items, or tags */
	char tag_keys[TAGS_MAX][65];
	unsigned tag_count;
};

#define FIELD_COUNT ((int)(sizeof(fields) / sizeof(fields[0])))

static int field_index(struct fast *f, const char *name)
{
	for (int k = 0; k < FIELD_COUNT; k++) {
		int i = (f->next_field + k) % FIELD_COUNT;
		if (strcmp(fields[i].name, name) == 0) {
			f->next_field = i + 1;
			return i;
		}
	}
	return -1;
}

/* Where each field's value goes in a record, worked out once. */
enum slot { SLOT_NONE, SLOT_ID, SLOT_PROVIDER, SLOT_MODEL, SLOT_RESPONSE_MODEL, SLOT_RUN, SLOT_AGENT, SLOT_STARTED,
	    SLOT_USAGE_SOURCE, SLOT_STATUS, SLOT_LATENCY, SLOT_PID, SLOT_STREAM, SLOT_TOKEN0 };

static int slots[sizeof(fields) / sizeof(fields[0])];

static void init_slots(void)
{
	static const struct {
		const char *name;
		enum slot slot;
	} named[] = {
		{ "id", SLOT_ID },		{ "provider", SLOT_PROVIDER },   { "model", SLOT_MODEL },
		{ "responseModel", SLOT_RESPONSE_MODEL }, { "runId", SLOT_RUN }, { "agentName", SLOT_AGENT },
		{ "startedAt", SLOT_STARTED }, { "usageSource", SLOT_USAGE_SOURCE }, { "status", SLOT_STATUS },
		{ "latencyMs", SLOT_LATENCY }, { "pid", SLOT_PID },		    { "stream", SLOT_STREAM },
	};
	for (int i = 0; i < FIELD_COUNT; i++) {
		slots[i] = SLOT_NONE;
		for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++)
			if (strcmp(fields[i].name, named[k].name) == 0)
				slots[i] = named[k].slot;
		for (int t = 0; t < SPZ_TOK_COUNT; t++)
			if (strcmp(fields[i].name, spz_token_names[t]) == 0)
				slots[i] = SLOT_TOKEN0 + t;
	}
}

static const char *keep_string(struct fast *f, const char *v, size_t len)
{
	struct spz_record *r = f->rec;
	if (r->strings_len + len + 1 > sizeof(r->strings)) {
		f->defer = true;
		return NULL;
	}
	char *out = r->strings + r->strings_len;
	memcpy(out, v, len);
	out[len] = '\0';
	r->strings_len += len + 1;
	return out;
}

static void fast_top(struct fast *f, const struct spz_json_event *ev)
{
	int idx = field_index(f, ev->path);
	if (idx < 0 || (f->seen >> idx) & 1) {
		f->defer = true; /* unknown or repeated */
		return;
	}
	f->seen |= 1ull << idx;
	const struct field *fd = &fields[idx];
	struct spz_record *r = f->rec;
	int slot = slots[idx];
	int64_t v;
	switch (fd->kind) {
	case K_STR: {
		if (ev->type != SPZ_JSON_STRING || ev->truncated || ev->value_len > fd->max ||
		    (fd->required && ev->value_len == 0) || memchr(ev->value, '\0', ev->value_len) ||
		    (slot == SLOT_ID && !is_uuid(ev->value))) {
			f->defer = true;
			return;
		}
		if (slot == SLOT_NONE)
			return;
		const char *kept = keep_string(f, ev->value, ev->value_len);
		const char **dst[] = {
			[SLOT_ID] = &r->id,	       [SLOT_PROVIDER] = &r->provider, [SLOT_MODEL] = &r->model,
			[SLOT_RESPONSE_MODEL] = &r->response_model, [SLOT_RUN] = &r->run_id,
			[SLOT_AGENT] = &r->agent_name, [SLOT_STARTED] = &r->started_at,
			[SLOT_USAGE_SOURCE] = &r->usage_source,
		};
		if (kept && slot < (int)(sizeof(dst) / sizeof(dst[0])) && dst[slot])
			*dst[slot] = kept;
		return;
	}
	case K_INT:
	case K_TOKEN:
		if (ev->type != SPZ_JSON_NUMBER || spz_json_parse_count(ev->value, ev->value_len, &v) < 0 ||
		    v > (fd->kind == K_TOKEN ? TOKEN_MAX : (int64_t)fd->max) || (slot == SLOT_STATUS && v < 100)) {
			f->defer = true;
			return;
		}
		if (slot >= SLOT_TOKEN0)
			r->tokens[slot - SLOT_TOKEN0] = v;
		else if (slot == SLOT_STATUS)
			r->status = (int)v;
		else if (slot == SLOT_LATENCY)
			r->latency_ms = v;
		else if (slot == SLOT_PID)
			r->pid = v;
		return;
	case K_BOOL:
		if (ev->type != SPZ_JSON_TRUE && ev->type != SPZ_JSON_FALSE) {
			f->defer = true;
			return;
		}
		if (slot == SLOT_STREAM)
			r->stream = ev->type == SPZ_JSON_TRUE;
		return;
	case K_PATH:
		if (ev->type != SPZ_JSON_ARRAY)
			f->defer = true;
		f->items = 0;
		return;
	case K_TAGS:
		if (ev->type != SPZ_JSON_OBJECT)
			f->defer = true;
		f->tag_count = 0;
		return;
	case K_REFUSED:
		f->defer = true; /* rare: the full decoder takes it */
		return;
	}
}

static void fast_event(void *ud, const struct spz_json_event *ev)
{
	struct fast *f = ud;
	if (f->ended) {
		f->defer = true; /* a second document: jansson refuses "{}{}" */
		return;
	}
	if (ev->type == SPZ_JSON_DOC_END)
		f->ended = true;
	if (f->defer || ev->type == SPZ_JSON_END || ev->type == SPZ_JSON_DOC_END)
		return;
	if (ev->depth == 0) {
		if (ev->type != SPZ_JSON_OBJECT)
			f->defer = true;
		return;
	}
	if (ev->type == SPZ_JSON_NULL) {
		f->defer = true;
		return;
	}
	if (ev->depth == 1) {
		fast_top(f, ev);
		return;
	}
	if (ev->depth == 2 && strcmp(ev->path, "agentPath[]") == 0) {
		if (ev->type != SPZ_JSON_STRING || ev->truncated || ev->value_len == 0 || ev->value_len > 256 ||
		    memchr(ev->value, '\0', ev->value_len) || ++f->items > PATH_ITEMS_MAX)
			f->defer = true;
		return;
	}
	if (ev->depth == 2 && strncmp(ev->path, "tags.", 5) == 0) {
		const char *key = ev->path + 5;
		size_t klen = ev->path_len - 5;
		if (ev->type != SPZ_JSON_STRING || ev->truncated || ev->value_len > 256 || klen == 0 || klen > 64 ||
		    memchr(key, '\x01', klen) || f->tag_count == TAGS_MAX) {
			f->defer = true;
			return;
		}
		for (unsigned i = 0; i < f->tag_count; i++)
			if (strcmp(f->tag_keys[i], key) == 0) {
				f->defer = true; /* a repeated key: jansson rejects it */
				return;
			}
		memcpy(f->tag_keys[f->tag_count++], key, klen + 1);
		return;
	}
	f->defer = true; /* deeper or elsewhere: not a shim record */
}

/* 0: accepted into rec; 1: let the full decoder decide. */
static int decode_fast(const char *buf, size_t len, struct spz_record *rec)
{
	if (len < 2 || buf[0] != '{' || buf[len - 1] != '}')
		return 1;
	/* No control bytes (the shim writes compact JSON), no escapes (their
	 * decoding rules are jansson's to apply), valid UTF-8 only. */
	for (size_t i = 0; i < len; i++) {
		i += spz_scan_printable_no_bslash(buf + i, len - i); /* most of a record */
		if (i == len)
			break;
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x20 || c == 0x7f || (c == '\\' && i + 1 < len && buf[i + 1] == 'u'))
			return 1;
		if (c >= 0x80) {
			size_t n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : 9;
			if (n == 9 || c > 0xf4 || i + n >= len)
				return 1;
			uint32_t cp = c & (0x3f >> n);
			for (size_t k = 1; k <= n; k++) {
				unsigned char cc = (unsigned char)buf[i + k];
				if ((cc & 0xc0) != 0x80)
					return 1;
				cp = (cp << 6) | (cc & 0x3f);
			}
			if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
			    (cp >= 0xd800 && cp <= 0xdfff))
				return 1;
			i += n;
		}
	}
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, init_slots);
	static __thread struct spz_json js;
	static __thread struct fast f;
	memset(&f, 0, offsetof(struct fast, tag_keys));
	f.rec = rec;
	spz_json_init(&js, fast_event, &f);
	if (spz_json_feed(&js, buf, len) < 0 || spz_json_finish(&js) < 0 || f.defer || !f.ended)
		return 1;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].required && !((f.seen >> i) & 1))
			return 1;
	rec->text = malloc(len + 1);
	if (!rec->text)
		return 1;
	memcpy(rec->text, buf, len);
	rec->text[len] = '\0';
	return 0;
}

/* A packed record (the ring's form) as the JSON it stands for, which is then
 * decoded and checked like any other: malloc'd, or NULL with why. */
static char *packed_to_json(const char *buf, size_t len, size_t *json_len, char *why, size_t why_len)
{
	struct spz_record_fields f;
	if (spz_record_unpack(buf, len, &f) < 0) {
		snprintf(why, why_len, "not a packed record of version %d", SPZ_PACKED_VERSION);
		return NULL;
	}
	size_t cap = spz_record_render_bound(&f);
	char *json = malloc(cap);
	if (!json) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	*json_len = spz_record_render(&f, json, cap);
	if (*json_len == 0) {
		free(json);
		snprintf(why, why_len, "packed record larger than its bound");
		return NULL;
	}
	return json;
}

static int decode_packed(const char *buf, size_t len, struct spz_record *rec, char *why, size_t why_len,
			 int (*decode)(const char *, size_t, struct spz_record *, char *, size_t))
{
	memset(rec, 0, offsetof(struct spz_record, strings));
	size_t json_len;
	char *json = packed_to_json(buf, len, &json_len, why, why_len);
	if (!json)
		return -1;
	int rc = decode(json, json_len, rec, why, why_len);
	free(json);
	return rc;
}

int spz_record_decode_full(const char *buf, size_t len, struct spz_record *rec, char *why, size_t why_len)
{
	if (len > 0 && len <= SPZ_RECORD_MAX && buf[0] == SPZ_PACKED_MAGIC)
		return decode_packed(buf, len, rec, why, why_len, spz_record_decode_full);
	memset(rec, 0, offsetof(struct spz_record, strings));
	if (len == 0 || len > SPZ_RECORD_MAX) {
		snprintf(why, why_len, "size %zu out of bounds", len);
		return -1;
	}
	json_error_t err;
	/* jansson validates UTF-8, rejects NUL bytes and limits nesting. */
	json_t *in = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (!in) {
		snprintf(why, why_len, "not JSON: %s", err.text);
		return -1;
	}
	json_t *out = NULL;
	if (!json_is_object(in)) {
		snprintf(why, why_len, "not a JSON object");
		goto fail;
	}
	size_t known = 0;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const struct field *f = &fields[i];
		json_t *v = json_object_get(in, f->name);
		if (!v || json_is_null(v)) {
			if (f->required) {
				snprintf(why, why_len, "field %s missing", f->name);
				goto fail;
			}
			continue;
		}
		if (check_field(f, v, why, why_len) < 0)
			goto fail;
		known++;
	}
	if (known == json_object_size(in) && memchr(buf, '\n', len) == NULL) {
		/* What the shim sends: known fields only. Stored as received, which
		 * spares building and printing a copy on the ingest path. */
		out = in;
		in = NULL;
		rec->text = malloc(len + 1);
		if (!rec->text)
			goto fail;
		memcpy(rec->text, buf, len);
		rec->text[len] = '\0';
		goto decoded;
	}
	out = json_object();
	if (!out)
		goto fail;
	/* Unknown fields or nulls: keep the known, validated ones, in order. */
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *v = json_object_get(in, fields[i].name);
		if (v && !json_is_null(v))
			json_object_set(out, fields[i].name, v);
	}
	json_decref(in);
	in = NULL;
	rec->text = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!rec->text) {
		snprintf(why, why_len, "out of memory");
		goto fail;
	}
decoded:
	rec->json = out;
	rec->id = str_or_null(out, "id");
	rec->provider = str_or_null(out, "provider");
	rec->model = str_or_null(out, "model");
	rec->response_model = str_or_null(out, "responseModel");
	rec->run_id = str_or_null(out, "runId");
	rec->agent_name = str_or_null(out, "agentName");
	rec->started_at = str_or_null(out, "startedAt");
	rec->usage_source = str_or_null(out, "usageSource");
	rec->status = (int)int_or(out, "status", 500);
	for (int t = 0; t < SPZ_TOK_COUNT; t++)
		rec->tokens[t] = int_or(out, spz_token_names[t], -1);
	rec->latency_ms = int_or(out, "latencyMs", -1);
	json_t *s = json_object_get(out, "stream");
	rec->stream = s ? json_is_true(s) : -1;
	rec->pid = int_or(out, "pid", -1);
	rec->refused = json_object_get(out, "refused") != NULL;
	return 0;
fail:
	json_decref(in);
	json_decref(out);
	free(rec->text);
	rec->text = NULL;
	return -1;
}

int spz_record_decode(const char *buf, size_t len, struct spz_record *rec, char *why, size_t why_len)
{
	if (len > 0 && len <= SPZ_RECORD_MAX && buf[0] == SPZ_PACKED_MAGIC)
		return decode_packed(buf, len, rec, why, why_len, spz_record_decode);
	memset(rec, 0, offsetof(struct spz_record, strings));
	if (len > 0 && len <= SPZ_RECORD_MAX) {
		for (int t = 0; t < SPZ_TOK_COUNT; t++)
			rec->tokens[t] = -1;
		rec->latency_ms = -1;
		rec->stream = -1;
		rec->pid = -1;
		rec->status = 500;
		if (decode_fast(buf, len, rec) == 0)
			return 0;
		free(rec->text);
	}
	return spz_record_decode_full(buf, len, rec, why, why_len);
}

void spz_record_clear(struct spz_record *rec)
{
	json_decref(rec->json);
	free(rec->text);
	memset(rec, 0, offsetof(struct spz_record, strings));
}
