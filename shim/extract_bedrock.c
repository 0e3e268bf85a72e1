/* Amazon Bedrock runtime (docs.aws.amazon.com/bedrock/latest/APIReference):
 * the model id is in the path (/model/{modelId}/converse, URL-encoded).
 * Converse reports usage.inputTokens / outputTokens / cacheReadInputTokens /
 * cacheWriteInputTokens; ConverseStream sends the same usage in its
 * "metadata" event on the binary event stream. InvokeModel's body is the
 * model's own format, so its counts are read from the
 * x-amzn-bedrock-input-token-count / -output-token-count headers.
 * InvokeModelWithResponseStream wraps each of the model's chunks as
 * {"bytes": base64} in an event stream message; the last chunk carries
 * amazon-bedrock-invocationMetrics with the counts, whatever the model. */
#include <stdlib.h>
#include <string.h>

#include "extract.h"

static const struct spz_usage_path converse_usage[] = {
	SPZ_USAGE_PATH("usage.inputTokens", SPZ_U_INPUT),
	SPZ_USAGE_PATH("usage.outputTokens", SPZ_U_OUTPUT),
	SPZ_USAGE_PATH("usage.cacheReadInputTokens", SPZ_U_CACHE_READ),
	SPZ_USAGE_PATH("usage.cacheWriteInputTokens", SPZ_U_CACHE_WRITE),
	{ NULL, 0, 0 },
};


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
		if (*s == '%' && end - s > 2 && (hi = spz_hexval(s[1])) >= 0 && (lo = spz_hexval(s[2])) >= 0) {
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

/* A count InvokeModel's response gives in a header (arg: the field). */
static void header_count(struct spz_call *c, int arg, const char *v, size_t n)
{
	int64_t count;
	if (spz_json_parse_count(v, n, &count) == 0)
		spz_usage_set(&c->usage, (enum spz_usage_field)arg, count);
}

static const struct spz_header_read bedrock_headers[] = {
	SPZ_HEADER_READ("x-amzn-requestid", spz_header_request_id, 0),
	SPZ_HEADER_READ("x-amzn-bedrock-input-token-count", header_count, SPZ_U_INPUT),
	SPZ_HEADER_READ("x-amzn-bedrock-output-token-count", header_count, SPZ_U_OUTPUT),
	SPZ_HEADER_READ("x-amzn-bedrock-cache-read-input-token-count", header_count, SPZ_U_CACHE_READ),
	SPZ_HEADER_READ("x-amzn-bedrock-cache-write-input-token-count", header_count, SPZ_U_CACHE_WRITE),
	{ NULL, 0, NULL, 0 },
};

static const struct spz_usage_path invocation_usage[] = {
	SPZ_USAGE_PATH("amazon-bedrock-invocationMetrics.inputTokenCount", SPZ_U_INPUT),
	SPZ_USAGE_PATH("amazon-bedrock-invocationMetrics.outputTokenCount", SPZ_U_OUTPUT),
	SPZ_USAGE_PATH("amazon-bedrock-invocationMetrics.cacheReadInputTokenCount", SPZ_U_CACHE_READ),
	SPZ_USAGE_PATH("amazon-bedrock-invocationMetrics.cacheWriteInputTokenCount", SPZ_U_CACHE_WRITE),
	{ NULL, 0, 0 },
};

static void inner_event(void *ud, const struct spz_json_event *ev)
{
	struct spz_call *c = ud;
	spz_usage_from_event(&c->usage, ev, ev->path, invocation_usage);
}

static int b64val(uint8_t ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1; /* '=' and anything else */
}

/* InvokeModel's stream: each event's "bytes" hold a chunk of the model's
 * own JSON, base64-encoded. */
struct invoke_scratch {
	struct spz_json inner; /* the model's chunk inside "bytes" */
	uint8_t quad[4];       /* base64 quantum being gathered */
	uint8_t quad_len;
};

static void invoke_string(struct spz_call *c, const char *path, size_t path_len, const char *buf, size_t len,
			  bool first)
{
	if (path_len != 5 || memcmp(path, "bytes", 5) != 0)
		return;
	if (!c->scratch && !(c->scratch = malloc(sizeof(struct invoke_scratch))))
		return; /* no memory: this call's usage goes unread */
	struct invoke_scratch *x = c->scratch;
	if (first) {
		spz_json_init(&x->inner, inner_event, c);
		x->quad_len = 0;
	}
	char out[192];
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64val((uint8_t)buf[i]);
		if (v < 0)
			continue;
		x->quad[x->quad_len++] = (uint8_t)v;
		if (x->quad_len == 4) {
			const uint8_t *q = x->quad;
			out[n++] = (char)(q[0] << 2 | q[1] >> 4);
			out[n++] = (char)(q[1] << 4 | q[2] >> 2);
			out[n++] = (char)(q[2] << 6 | q[3]);
			x->quad_len = 0;
		}
		if (n + 3 > sizeof(out)) {
			spz_json_feed(&x->inner, out, n);
			n = 0;
		}
	}
	spz_json_feed(&x->inner, out, n);
}

static void invoke_value(struct spz_call *c, const struct spz_json_event *ev)
{
	/* The "bytes" string has ended: decode what its padding held back. */
	struct invoke_scratch *x = c->scratch;
	if (ev->type != SPZ_JSON_STRING || strcmp(ev->path, "bytes") != 0 || !x)
		return;
	const uint8_t *q = x->quad;
	char out[2];
	size_t n = 0;
	if (x->quad_len >= 2)
		out[n++] = (char)(q[0] << 2 | q[1] >> 4);
	if (x->quad_len == 3)
		out[n++] = (char)(q[1] << 4 | q[2] >> 2);
	spz_json_feed(&x->inner, out, n);
	spz_json_finish(&x->inner);
	x->quad_len = 0;
}

const struct spz_api spz_api_bedrock_converse = {
	.provider = "bedrock",
	.kind = "converse",
	.request_path = bedrock_path,
	.response_headers = bedrock_headers,
	.response_value = bedrock_response,
};

const struct spz_api spz_api_bedrock_invoke = {
	.provider = "bedrock",
	.kind = "invoke",
	.request_path = bedrock_path,
	.response_headers = bedrock_headers,
	.response_value = invoke_value,
	.response_string = invoke_string,
};
