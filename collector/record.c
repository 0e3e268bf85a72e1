/* Record validation. The shim is trusted code, but the socket is reachable by
 * any process of the same user and spool files can be damaged, so every
 * field is checked for type and bounds, and only known fields are kept. */
#include "record.h"

#include <string.h>

const char *const spz_token_names[SPZ_TOK_COUNT] = {
	[SPZ_TOK_PROMPT] = "promptTokens",
	[SPZ_TOK_COMPLETION] = "completionTokens",
	[SPZ_TOK_CACHED_INPUT] = "cachedInputTokens",
	[SPZ_TOK_CACHE_WRITE] = "cacheWriteTokens",
	[SPZ_TOK_REASONING] = "reasoningTokens",
	[SPZ_TOK_CACHE_WRITE_1H] = "cacheWrite1hTokens",
	[SPZ_TOK_TOOL_PROMPT] = "toolPromptTokens",
};

enum kind { K_STR, K_INT, K_BOOL, K_PATH, K_TAGS, K_TOKEN };

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

int spz_record_decode(const char *buf, size_t len, struct spz_record *rec, char *why, size_t why_len)
{
	memset(rec, 0, sizeof(*rec));
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

void spz_record_clear(struct spz_record *rec)
{
	json_decref(rec->json);
	free(rec->text);
	memset(rec, 0, sizeof(*rec));
}
