/* Amazon Bedrock runtime (docs.aws.amazon.com/bedrock/latest/APIReference):
 * the model id is in the path (/model/{modelId}/converse, URL-encoded).
 * Converse reports usage.inputTokens / outputTokens / cacheReadInputTokens /
 * cacheWriteInputTokens; ConverseStream sends the same usage in its
 * "metadata" event on the binary event stream. InvokeModel's body is the
 * model's own format, so its counts are read from the
 * x-amzn-bedrock-input-token-count / -output-token-count headers. */
#include <string.h>

#include "extract.h"

static const struct spz_usage_path converse_usage[] = {
	{ "usage.inputTokens", SPZ_U_INPUT },
	{ "usage.outputTokens", SPZ_U_OUTPUT },
	{ "usage.cacheReadInputTokens", SPZ_U_CACHE_READ },
	{ "usage.cacheWriteInputTokens", SPZ_U_CACHE_WRITE },
	{ NULL, 0 },
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void bedrock_path(struct spz_call *c, const char *path, size_t len)
{
	if (len <= 7 || memcmp(path, "/model/", 7) != 0)
		return;
	const char *id = path + 7;
	const char *end = memchr(id, '/', len - 7);
	if (!end)
		return;
	size_t n = 0;
	for (const char *s = id; s < end && n + 1 < sizeof(c->model); s++) {
		int hi, lo;
		if (*s == '%' && end - s > 2 && (hi = hexval(s[1])) >= 0 && (lo = hexval(s[2])) >= 0) {
			c->model[n++] = (char)(hi << 4 | lo);
			s += 2;
		} else {
			c->model[n++] = *s;
		}
	}
	c->model[n] = '\0';
	size_t rest = len - (size_t)(end - path);
	if ((rest == 15 && memcmp(end, "/converse-stream", 15) == 0) ||
	    (rest == 28 && memcmp(end, "/invoke-with-response-stream", 28) == 0)) {
		c->stream_requested = true;
		c->stream = true;
	}
}

static void bedrock_response(struct spz_call *c, const struct spz_json_event *ev)
{
	spz_usage_from_event(&c->usage, ev, ev->path, converse_usage);
}

static void header_count(struct spz_call *c, enum spz_usage_field f, const char *v, size_t n)
{
	int64_t count;
	if (spz_json_parse_count(v, n, &count) == 0)
		spz_usage_set(&c->usage, f, count);
}

static void bedrock_header(struct spz_call *c, const char *name, size_t name_len, const char *value,
			   size_t value_len)
{
	if (spz_header_is(name, name_len, "x-amzn-requestid"))
		spz_copy_str(c->request_id, sizeof(c->request_id), value, value_len);
	else if (spz_header_is(name, name_len, "x-amzn-bedrock-input-token-count"))
		header_count(c, SPZ_U_INPUT, value, value_len);
	else if (spz_header_is(name, name_len, "x-amzn-bedrock-output-token-count"))
		header_count(c, SPZ_U_OUTPUT, value, value_len);
	else if (spz_header_is(name, name_len, "x-amzn-bedrock-cache-read-input-token-count"))
		header_count(c, SPZ_U_CACHE_READ, value, value_len);
	else if (spz_header_is(name, name_len, "x-amzn-bedrock-cache-write-input-token-count"))
		header_count(c, SPZ_U_CACHE_WRITE, value, value_len);
}

const struct spz_api spz_api_bedrock_converse = {
	.provider = "bedrock",
	.kind = "converse",
	.request_path = bedrock_path,
	.response_header = bedrock_header,
	.response_value = bedrock_response,
};

const struct spz_api spz_api_bedrock_invoke = {
	.provider = "bedrock",
	.kind = "invoke",
	.request_path = bedrock_path,
	.response_header = bedrock_header,
};
