/* Corpus helpers: read cases, build their HTTP bytes, check captured calls. */
#include "corpus.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "helpers.h"

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t corpus_load(const char *provider, struct corpus_case *out, size_t cap)
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/%s", corpus_dir(), provider);
	DIR *d = opendir(dir);
	ck_assert_msg(d != NULL, "corpus directory %s missing", dir);
	char *names[128];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 128) {
		size_t l = strlen(e->d_name);
		if (l > 10 && strcmp(e->d_name + l - 10, ".meta.json") == 0)
			names[n++] = strndup(e->d_name, l - 10);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	size_t count = 0;
	for (size_t i = 0; i < n && count < cap; i++) {
		struct corpus_case *c = &out[count];
		char path[1400];
		snprintf(c->name, sizeof(c->name), "%s/%s", provider, names[i]);
		snprintf(path, sizeof(path), "%s/%s.meta.json", dir, names[i]);
		c->meta = json_load_file(path, 0, NULL);
		ck_assert_msg(c->meta != NULL, "cannot read %s", path);
		snprintf(path, sizeof(path), "%s/%s.body", dir, names[i]);
		c->body = read_file(path, &c->body_len);
		ck_assert_msg(c->body != NULL, "cannot read %s", path);
		count++;
		free(names[i]);
	}
	return count;
}

void corpus_free(struct corpus_case *c)
{
	json_decref(c->meta);
	free(c->body);
}

static const char *meta_str(const struct corpus_case *c, const char *key)
{
	const char *v = json_string_value(json_object_get(c->meta, key));
	return v ? v : "";
}

/* Fixtures recorded without their request: the provider's usual one. */
static const struct {
	const char *provider, *host, *path;
} default_requests[] = {
	{ "gemini", "generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse" },
	{ "xai", "api.x.ai", "/v1/chat/completions" },
	{ "mistral", "api.mistral.ai", "/v1/chat/completions" },
};

const char *corpus_request_host(const struct corpus_case *c)
{
	const char *h = meta_str(c, "request_host");
	for (size_t i = 0; !*h && i < sizeof(default_requests) / sizeof(default_requests[0]); i++)
		if (!strcmp(meta_str(c, "provider"), default_requests[i].provider))
			h = default_requests[i].host;
	return h;
}

static const char *request_path(const struct corpus_case *c)
{
	const char *p = meta_str(c, "request_path");
	for (size_t i = 0; !*p && i < sizeof(default_requests) / sizeof(default_requests[0]); i++)
		if (!strcmp(meta_str(c, "provider"), default_requests[i].provider))
			p = default_requests[i].path;
	return p;
}

char *corpus_request_body(const struct corpus_case *c, size_t *len)
{
	const char *body = meta_str(c, "request_body");
	/* Large request bodies are kept in a file of their own. */
	if (strncmp(body, "<see ", 5) == 0) {
		char name[512], path[1024];
		snprintf(name, sizeof(name), "%s", body + 5);
		char *end = strchr(name, '>');
		if (end)
			*end = '\0';
		snprintf(path, sizeof(path), "%s/%s/%s", corpus_dir(), meta_str(c, "provider"), name);
		char *data = read_file(path, len);
		ck_assert_msg(data != NULL, "cannot read %s", path);
		return data;
	}
	*len = strlen(body);
	return strdup(body);
}

char *corpus_request(const struct corpus_case *c, size_t *len)
{
	size_t blen;
	char *body = corpus_request_body(c, &blen);
	char *head = NULL;
	int n = asprintf(&head,
			 "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer sk-test\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			 *meta_str(c, "request_method") ? meta_str(c, "request_method") : "POST", request_path(c),
			 corpus_request_host(c), blen);
	ck_assert_int_gt(n, 0);
	char *out = malloc((size_t)n + blen + 1);
	memcpy(out, head, (size_t)n);
	memcpy(out + n, body, blen);
	out[(size_t)n + blen] = '\0';
	*len = (size_t)n + blen;
	free(head);
	free(body);
	return out;
}

static size_t gzip_bytes(const char *in, size_t len, unsigned char **out)
{
	z_stream zs = { 0 };
	ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	size_t cap = deflateBound(&zs, (uLong)len) + 64;
	*out = malloc(cap);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = *out;
	zs.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	size_t n = cap - zs.avail_out;
	deflateEnd(&zs);
	return n;
}

static void append(char **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*buf = realloc(*buf, *cap);
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

char *corpus_response(const struct corpus_case *c, enum framing f, unsigned seed, size_t *len)
{
	char *out = NULL;
	size_t n = 0, cap = 0;
	char line[1024];
	int status = (int)json_integer_value(json_object_get(c->meta, "status"));
	snprintf(line, sizeof(line), "HTTP/1.1 %d Recorded\r\n", status ? status : 200);
	append(&out, &n, &cap, line, strlen(line));
	const char *k;
	json_t *v;
	json_t *headers = json_object_get(c->meta, "response_headers");
	bool has_type = false;
	json_object_foreach(headers, k, v)
		has_type |= !strcasecmp(k, "content-type");
	if (!has_type) {
		/* Fixtures stored without headers: what the provider sends. */
		const char *type = strncmp(c->body, "data:", 5) == 0 ? "text/event-stream" : "application/json";
		snprintf(line, sizeof(line), "content-type: %s\r\n", type);
		append(&out, &n, &cap, line, strlen(line));
	}
	json_object_foreach(headers, k, v) {
		if (!strcasecmp(k, "content-length") || !strcasecmp(k, "transfer-encoding") ||
		    !strcasecmp(k, "content-encoding") || !strcasecmp(k, "connection"))
			continue;
		size_t i;
		json_t *item;
		if (json_is_array(v)) {
			json_array_foreach(v, i, item) {
				snprintf(line, sizeof(line), "%s: %s\r\n", k, json_string_value(item));
				append(&out, &n, &cap, line, strlen(line));
			}
		} else if (json_is_string(v)) {
			snprintf(line, sizeof(line), "%s: %s\r\n", k, json_string_value(v));
			append(&out, &n, &cap, line, strlen(line));
		}
	}
	const char *payload = c->body;
	size_t plen = c->body_len;
	unsigned char *gz = NULL;
	if (f == FRAME_GZIP) {
		plen = gzip_bytes(c->body, c->body_len, &gz);
		payload = (const char *)gz;
		append(&out, &n, &cap, "Content-Encoding: gzip\r\n", 24);
	}
	switch (f) {
	case FRAME_LENGTH:
	case FRAME_GZIP:
		snprintf(line, sizeof(line), "Content-Length: %zu\r\n\r\n", plen);
		append(&out, &n, &cap, line, strlen(line));
		append(&out, &n, &cap, payload, plen);
		break;
	case FRAME_CLOSE:
		append(&out, &n, &cap, "Connection: close\r\n\r\n", 21);
		append(&out, &n, &cap, payload, plen);
		break;
	case FRAME_CHUNKED: {
		append(&out, &n, &cap, "Transfer-Encoding: chunked\r\n\r\n", 30);
		unsigned s = seed ? seed : 1;
		for (size_t i = 0; i < plen;) {
			s = s * 1103515245u + 12345u;
			size_t k = 1 + (s >> 8) % 700;
			if (k > plen - i)
				k = plen - i;
			snprintf(line, sizeof(line), "%zx%s\r\n", k, (s & 0x100) ? ";ext=1" : "");
			append(&out, &n, &cap, line, strlen(line));
			append(&out, &n, &cap, payload + i, k);
			append(&out, &n, &cap, "\r\n", 2);
			i += k;
		}
		append(&out, &n, &cap, "0\r\n\r\n", 5);
		break;
	}
	default:
		break;
	}
	free(gz);
	*len = n;
	return out;
}

static void check_count(const struct corpus_case *c, const struct spz_call *call, const char *key,
			enum spz_usage_field f)
{
	json_t *want = json_object_get(json_object_get(c->meta, "expected_usage"), key);
	bool present = (call->usage.present & (1u << f)) && !call->usage_estimated;
	if (!want || json_is_null(want)) {
		ck_assert_msg(!present, "%s: %s reported as %lld, expected absent", c->name, key,
			      (long long)call->usage.v[f]);
		return;
	}
	ck_assert_msg(present, "%s: %s missing, expected %lld", c->name, key, (long long)json_integer_value(want));
	ck_assert_msg(call->usage.v[f] == json_integer_value(want), "%s: %s = %lld, expected %lld", c->name, key,
		      (long long)call->usage.v[f], (long long)json_integer_value(want));
}

void corpus_check_call(const struct corpus_case *c, const struct spz_call *call)
{
	json_t *exp = json_object_get(c->meta, "expected_usage");
	json_t *sum = json_object_get(exp, "iterations_sum");
	if (sum) {
		/* Billed usage is the sum over iterations (corpus README). */
		json_t *copy = json_deep_copy(exp);
		json_object_update(copy, sum);
		json_object_set(c->meta, "expected_usage", copy);
		json_decref(copy);
		exp = json_object_get(c->meta, "expected_usage"); /* the old one is freed */
	}
	check_count(c, call, "input", SPZ_U_INPUT);
	check_count(c, call, "output", SPZ_U_OUTPUT);
	check_count(c, call, "cached_read", SPZ_U_CACHE_READ);
	check_count(c, call, "cache_creation", SPZ_U_CACHE_WRITE);
	check_count(c, call, "reasoning", SPZ_U_REASONING);
	/* Anthropic splits cache writes by lifetime; the hour-long ones are kept
	 * apart because they are priced apart. */
	json_t *one_hour = json_object_get(json_object_get(json_object_get(exp, "provider_usage_raw"), "cache_creation"),
					   "ephemeral_1h_input_tokens");
	if (json_is_integer(one_hour)) {
		ck_assert_msg(call->usage.present & (1u << SPZ_U_CACHE_WRITE_1H), "%s: 1h cache writes missing", c->name);
		ck_assert_int_eq(call->usage.v[SPZ_U_CACHE_WRITE_1H], json_integer_value(one_hour));
	}
	json_t *tool_prompt = json_object_get(json_object_get(exp, "provider_usage_raw"), "toolUsePromptTokenCount");
	if (json_is_integer(tool_prompt)) {
		ck_assert_msg(call->usage.present & (1u << SPZ_U_TOOL_INPUT), "%s: tool prompt tokens missing", c->name);
		ck_assert_int_eq(call->usage.v[SPZ_U_TOOL_INPUT], json_integer_value(tool_prompt));
	}
	/* The model the response names; a provider that names none (Bedrock,
	 * Cohere) served the one asked for. */
	const char *model = json_string_value(json_object_get(c->meta, "expected_model"));
	const char *got = call->response_model[0] ? call->response_model : call->model;
	if (model)
		ck_assert_msg(strcmp(got, model) == 0, "%s: model %s, expected %s", c->name, got, model);
	int status = (int)json_integer_value(json_object_get(c->meta, "status"));
	ck_assert_int_eq(call->status, status ? status : 200);
	ck_assert_msg(call->stream == json_is_true(json_object_get(c->meta, "streamed")), "%s: stream flag",
		      c->name);
	ck_assert_msg(!call->truncated && !call->no_response, "%s: call not complete", c->name);
	size_t blen;
	char *req = corpus_request_body(c, &blen);
	json_t *rq = json_loadb(req, blen, 0, NULL);
	const char *want_model = rq ? json_string_value(json_object_get(rq, "model")) : NULL;
	if (want_model)
		ck_assert_str_eq(call->model, want_model);
	json_decref(rq);
	free(req);
}
