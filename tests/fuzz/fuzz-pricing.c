/* libFuzzer: the price file parser (a user's override file is untrusted
 * input to the collector) and model-name resolution. The first byte picks:
 * even, the input is a price file, parsed, then used to price a few calls;
 * odd, the rest is "provider\0model\0responseModel" priced with the
 * built-in data, which exercises every name decoration rule. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../collector/pricing.h"

static void price_some(const struct spz_pricing *p, const char *provider, const char *model, const char *resp)
{
	int64_t t[SPZ_TOK_COUNT];
	for (int i = 0; i < SPZ_TOK_COUNT; i++)
		t[i] = (int64_t)(i * 977 + 13);
	t[SPZ_TOK_PROMPT] = 1000000000000LL; /* the largest count a record may carry */
	struct spz_cost c;
	spz_price_call(p, provider, model, resp, 200, t, &c);
	spz_price_call(p, provider, model, resp, 500, t, &c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spz_pricing *builtin;
	char err[512];
	if (!builtin)
		builtin = spz_pricing_load(NULL, false, err, sizeof(err));
	if (size < 1 || !builtin)
		return 0;
	char *text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if ((data[0] & 1) == 0) {
		struct spz_pricing *p = spz_pricing_parse(text, size - 1, err, sizeof(err));
		if (p) {
			static const char *const providers[] = { "openai", "anthropic", "bedrock", "openrouter", "x" };
			for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
				price_some(p, providers[i], "gpt-4o-2024-08-06", "m");
			spz_pricing_free(p);
		}
	} else {
		const char *provider = text;
		const char *model = provider + strlen(provider) + 1 <= text + size - 1 ? provider + strlen(provider) + 1 : "";
		if (model > text + size - 1)
			model = "";
		const char *resp = *model && model + strlen(model) + 1 <= text + size - 1 ? model + strlen(model) + 1 : NULL;
		price_some(builtin, provider, model, resp);
	}
	free(text);
	return 0;
}
