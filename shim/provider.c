/* Provider hosts and API paths. The host names the provider; the method and
 * path name the API, so OpenAI-shaped endpoints are read on any host (vLLM,
 * Ollama, LiteLLM, local gateways). The extra-hosts table is written once,
 * before any connection is tracked, and only read afterwards. */
#include "provider.h"

#include <string.h>
#include <strings.h>

#include "extract.h"

struct host_rule {
	const char *pattern; /* exact host, or ".suffix" for any subdomain */
	const char *provider;
};

static const struct host_rule host_rules[] = {
	{ "api.openai.com", "openai" },
	{ ".openai.azure.com", "azure_openai" },
	{ "api.anthropic.com", "anthropic" },
	{ "generativelanguage.googleapis.com", "gemini" },
	{ "aiplatform.googleapis.com", "vertex" },
	{ "-aiplatform.googleapis.com", "vertex" },
	{ "bedrock-runtime.", "bedrock" }, /* bedrock-runtime.<region>.amazonaws.com */
	{ "api.mistral.ai", "mistral" },
	{ "api.cohere.com", "cohere" },
	{ "api.cohere.ai", "cohere" },
	{ "api.groq.com", "groq" },
	{ "api.deepseek.com", "deepseek" },
	{ "api.x.ai", "xai" },
	{ "openrouter.ai", "openrouter" },
	{ "api.together.xyz", "together" },
	{ "api.together.ai", "together" },
	{ "api.fireworks.ai", "fireworks" },
	{ NULL, NULL },
};

#define EXTRA_HOSTS_MAX 32
struct extra_host {
	char host[128];
	char provider[32];
};
static struct extra_host extra_hosts[EXTRA_HOSTS_MAX];
static size_t extra_host_count;

void spz_provider_set_extra_hosts(const char *spec)
{
	extra_host_count = 0;
	while (spec && *spec && extra_host_count < EXTRA_HOSTS_MAX) {
		const char *end = strchr(spec, ',');
		size_t n = end ? (size_t)(end - spec) : strlen(spec);
		const char *eq = memchr(spec, '=', n);
		if (eq && eq > spec && (size_t)(eq - spec) < sizeof(extra_hosts[0].host) &&
		    n - (size_t)(eq - spec) - 1 < sizeof(extra_hosts[0].provider) && n - (size_t)(eq - spec) > 1) {
			struct extra_host *e = &extra_hosts[extra_host_count++];
			spz_copy_str(e->host, sizeof(e->host), spec, (size_t)(eq - spec));
			spz_copy_str(e->provider, sizeof(e->provider), eq + 1, n - (size_t)(eq - spec) - 1);
		}
		spec = end ? end + 1 : NULL;
	}
}

static bool host_matches(const char *host, size_t len, const char *pattern)
{
	size_t plen = strlen(pattern);
	if (pattern[0] == '.' || pattern[0] == '-')
		return len > plen && strncasecmp(host + len - plen, pattern, plen) == 0;
	if (pattern[plen - 1] == '.') /* a prefix: "bedrock-runtime." */
		return len > plen && strncasecmp(host, pattern, plen) == 0 &&
		       len > 14 && strncasecmp(host + len - 14, ".amazonaws.com", 14) == 0;
	return len == plen && strncasecmp(host, pattern, plen) == 0;
}

const char *spz_provider_for_host(const char *host, size_t len)
{
	for (size_t i = 0; i < extra_host_count; i++)
		if (host_matches(host, len, extra_hosts[i].host))
			return extra_hosts[i].provider;
	for (const struct host_rule *r = host_rules; r->pattern; r++)
		if (host_matches(host, len, r->pattern))
			return r->provider;
	return NULL;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static bool contains(const char *s, size_t len, const char *needle)
{
	return memmem(s, len, needle, strlen(needle)) != NULL;
}

const struct spz_api *spz_api_for_request(const char *provider, const char *method, size_t method_len,
					  const char *path, size_t path_len)
{
	if (method_len != 4 || memcmp(method, "POST", 4) != 0)
		return NULL;
	const char *q = memchr(path, '?', path_len);
	if (q)
		path_len = (size_t)(q - path);
	while (path_len > 1 && path[path_len - 1] == '/')
		path_len--;
	/* OpenAI-shaped paths, under any prefix (/v1, /openai/v1, /api/v1,
	 * /openai/deployments/NAME, ...), on any host. */
	if (ends_with(path, path_len, "/chat/completions"))
		return &spz_api_openai_chat;
	if (ends_with(path, path_len, "/completions"))
		return &spz_api_openai_completions;
	if (ends_with(path, path_len, "/embeddings"))
		return &spz_api_openai_embeddings;
	if (ends_with(path, path_len, "/responses"))
		return &spz_api_openai_responses;
	/* Anthropic's Messages API, also behind gateways that mirror it. */
	if (ends_with(path, path_len, "/v1/messages"))
		return &spz_api_anthropic_messages;
	/* Gemini and Vertex: .../models/{model}:generateContent */
	if (contains(path, path_len, "/models/") &&
	    (ends_with(path, path_len, ":generateContent") || ends_with(path, path_len, ":streamGenerateContent")))
		return &spz_api_gemini_generate;
	bool bedrock = provider && strcmp(provider, "bedrock") == 0;
	if (bedrock && path_len > 7 && memcmp(path, "/model/", 7) == 0) {
		if (ends_with(path, path_len, "/converse") || ends_with(path, path_len, "/converse-stream"))
			return &spz_api_bedrock_converse;
		if (ends_with(path, path_len, "/invoke") || ends_with(path, path_len, "/invoke-with-response-stream"))
			return &spz_api_bedrock_invoke;
	}
	if (provider && strcmp(provider, "cohere") == 0 && ends_with(path, path_len, "/v2/chat"))
		return &spz_api_cohere_chat;
	return NULL;
}
