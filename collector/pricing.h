/* Pricing: what a call cost, from the price data shipped with the collector
 * (data/pricing.json, built in) merged with the user's override file.
 *
 * Each provider declares its token semantics: whether its input count
 * includes cache reads (OpenAI, Gemini: yes; Anthropic, Bedrock: no) and
 * cache writes (OpenRouter), and whether its output count includes reasoning
 * (Gemini's thoughts and xAI's reasoning are counted apart and billed as
 * output). A model name is resolved through aliases, dated snapshot
 * suffixes, Bedrock region and version decorations and vendor prefixes
 * ("anthropic/claude-sonnet-4.6" on OpenRouter); a name that resolves to
 * nothing has no cost (unknown, never 0). */
#ifndef SPZ_PRICING_H
#define SPZ_PRICING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct spz_pricing;

/* The price data compiled into the collector (data/pricing.json). */
extern const char spz_pricing_builtin[];
extern const size_t spz_pricing_builtin_len;

/* Loads the built-in data merged with the override file, if override_path
 * is set and the file exists (a missing default file is not an error; a
 * named one is). NULL with a reason naming the file and the entry. */
struct spz_pricing *spz_pricing_load(const char *override_path, bool override_required, char *err, size_t err_len);
/* Loads from a JSON text alone (tests, fuzzing). */
struct spz_pricing *spz_pricing_parse(const char *json, size_t len, char *err, size_t err_len);
void spz_pricing_free(struct spz_pricing *p);
size_t spz_pricing_model_count(const struct spz_pricing *p);
const char *spz_pricing_as_of(const struct spz_pricing *p);

enum spz_cost_kind {
	SPZ_COST_PRICED,   /* pusd is exact for the reported (or estimated) tokens */
	SPZ_COST_NO_USAGE, /* an error with no usage: nothing billed, pusd = 0 */
	SPZ_COST_UNKNOWN,  /* no price for the model, or no usage on a success */
};

struct spz_cost {
	enum spz_cost_kind kind;
	int64_t pusd;
	char priced_as[192]; /* "anthropic/claude-sonnet-4-6" */
};

/* Prices one call. Uses the model the response named when it has a price,
 * else the model the request asked for. */
void spz_price_call(const struct spz_pricing *p, const char *provider, const char *model, const char *response_model,
		    int status, const int64_t tokens[SPZ_TOK_COUNT], struct spz_cost *out);

#endif
