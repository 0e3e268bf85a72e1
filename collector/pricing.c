#include "pricing.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/money.h"

enum price_field { P_INPUT, P_CACHED, P_WRITE, P_WRITE_1H, P_OUTPUT, P_REASONING, P_COUNT };

static const char *const price_names[P_COUNT] = {
	[P_INPUT] = "input",	     [P_CACHED] = "cachedInput", [P_WRITE] = "cacheWrite",
	[P_WRITE_1H] = "cacheWrite1h", [P_OUTPUT] = "output",	 [P_REASONING] = "reasoning",
};

struct tier {
	int64_t price[P_COUNT]; /* micro-dollars per million tokens */
	unsigned has;		/* bit per field */
};

struct model {
	int provider;
	char *name;
	struct tier base, above;
	int64_t above_tokens; /* 0: no long-context tier */
};

struct vendor {
	char *prefix;
	int provider;
};

struct provider {
	char *name;
	bool input_includes_cached, input_includes_cache_write, output_includes_reasoning;
	int same_as; /* -1 or a provider whose models this one serves at the same prices */
	struct vendor *vendors;
	size_t vendor_count;
	json_t *index; /* lowercase name or alias -> model index */
};

struct spz_pricing {
	struct provider *providers;
	size_t provider_count;
	struct model *models;
	size_t model_count;
	json_t *provider_index; /* name -> provider index */
	char as_of[32];
};

#define NAME_MAX_LEN 255

static void lower_copy(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < cap; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

static int parse_tier(json_t *obj, struct tier *t, const char *where, char *err, size_t err_len)
{
	memset(t, 0, sizeof(*t));
	for (int f = 0; f < P_COUNT; f++) {
		json_t *v = json_object_get(obj, price_names[f]);
		if (!v)
			continue;
		if (!json_is_string(v) ||
		    spz_price_parse(json_string_value(v), json_string_length(v), &t->price[f]) < 0) {
			snprintf(err, err_len, "%s: %s must be a decimal string of USD per million tokens, such as \"2.50\"",
				 where, price_names[f]);
			return -1;
		}
		t->has |= 1u << f;
	}
	return 0;
}

static bool known_model_key(const char *k)
{
	for (int f = 0; f < P_COUNT; f++)
		if (strcmp(k, price_names[f]) == 0)
			return true;
	return strcmp(k, "aliases") == 0 || strcmp(k, "aboveInputTokens") == 0 || strcmp(k, "above") == 0 ||
	       strcmp(k, "note") == 0;
}

static int add_name(struct provider *pv, const char *name, size_t model, const char *where, char *err, size_t err_len)
{
	char key[NAME_MAX_LEN + 1];
	if (strlen(name) == 0 || strlen(name) > NAME_MAX_LEN) {
		snprintf(err, err_len, "%s: model names are 1 to %d bytes", where, NAME_MAX_LEN);
		return -1;
	}
	lower_copy(key, sizeof(key), name);
	json_t *prev = json_object_get(pv->index, key);
	if (prev && (size_t)json_integer_value(prev) != model) {
		snprintf(err, err_len, "%s: the name \"%s\" is given to two models", where, key);
		return -1;
	}
	json_object_set_new(pv->index, key, json_integer((json_int_t)model));
	return 0;
}

static int parse_model(struct spz_pricing *p, int prov, const char *name, json_t *obj, char *err, size_t err_len)
{
	char where[320];
	snprintf(where, sizeof(where), "providers.%s.models.%s", p->providers[prov].name, name);
	if (!json_is_object(obj)) {
		snprintf(err, err_len, "%s: not an object", where);
		return -1;
	}
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v) {
		if (!known_model_key(k)) {
			snprintf(err, err_len, "%s: unknown field \"%s\"", where, k);
			return -1;
		}
	}
	struct model *m = &p->models[p->model_count];
	memset(m, 0, sizeof(*m));
	m->provider = prov;
	if (parse_tier(obj, &m->base, where, err, err_len) < 0)
		return -1;
	if (!(m->base.has & (1u << P_INPUT)) || !(m->base.has & (1u << P_OUTPUT))) {
		snprintf(err, err_len, "%s: input and output prices are required", where);
		return -1;
	}
	json_t *above_tokens = json_object_get(obj, "aboveInputTokens");
	json_t *above = json_object_get(obj, "above");
	if (above_tokens || above) {
		if (!json_is_integer(above_tokens) || json_integer_value(above_tokens) <= 0 || !json_is_object(above)) {
			snprintf(err, err_len, "%s: a long-context tier needs aboveInputTokens (a positive integer) and above (prices)",
				 where);
			return -1;
		}
		m->above_tokens = json_integer_value(above_tokens);
		if (parse_tier(above, &m->above, where, err, err_len) < 0)
			return -1;
	}
	m->name = strdup(name);
	if (!m->name) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	size_t idx = p->model_count++;
	if (add_name(&p->providers[prov], name, idx, where, err, err_len) < 0)
		return -1;
	json_t *aliases = json_object_get(obj, "aliases");
	if (aliases) {
		size_t i;
		json_t *a;
		if (!json_is_array(aliases))
			goto bad_alias;
		json_array_foreach(aliases, i, a) {
			if (!json_is_string(a))
				goto bad_alias;
			if (add_name(&p->providers[prov], json_string_value(a), idx, where, err, err_len) < 0)
				return -1;
		}
	}
	return 0;
bad_alias:
	snprintf(err, err_len, "%s: aliases must be an array of strings", where);
	return -1;
}

static int provider_by_name(const struct spz_pricing *p, const char *name)
{
	json_t *v = json_object_get(p->provider_index, name);
	return v ? (int)json_integer_value(v) : -1;
}

static int parse_provider_refs(struct spz_pricing *p, int prov, json_t *obj, char *err, size_t err_len)
{
	struct provider *pv = &p->providers[prov];
	json_t *same = json_object_get(obj, "sameAs");
	if (same) {
		pv->same_as = json_is_string(same) ? provider_by_name(p, json_string_value(same)) : -1;
		if (pv->same_as < 0 || pv->same_as == prov) {
			snprintf(err, err_len, "providers.%s.sameAs: must name another provider of this file", pv->name);
			return -1;
		}
	}
	json_t *vendors = json_object_get(obj, "vendors");
	if (vendors) {
		if (!json_is_object(vendors))
			goto bad_vendor;
		pv->vendors = calloc(json_object_size(vendors) + 1, sizeof(*pv->vendors));
		if (!pv->vendors)
			goto bad_vendor;
		const char *prefix;
		json_t *target;
		json_object_foreach(vendors, prefix, target) {
			int t = json_is_string(target) ? provider_by_name(p, json_string_value(target)) : -1;
			if (t < 0 || t == prov || prefix[0] == '\0')
				goto bad_vendor;
			char low[NAME_MAX_LEN + 1];
			lower_copy(low, sizeof(low), prefix);
			pv->vendors[pv->vendor_count].prefix = strdup(low);
			pv->vendors[pv->vendor_count].provider = t;
			pv->vendor_count++;
		}
	}
	return 0;
bad_vendor:
	snprintf(err, err_len, "providers.%s.vendors: must map name prefixes to other providers of this file", pv->name);
	return -1;
}

static int parse_root(struct spz_pricing *p, json_t *root, char *err, size_t err_len)
{
	json_t *providers = json_object_get(root, "providers");
	if (!json_is_object(root) || !json_is_object(providers)) {
		snprintf(err, err_len, "the top level must be an object with a \"providers\" object");
		return -1;
	}
	json_t *as_of = json_object_get(root, "asOf");
	snprintf(p->as_of, sizeof(p->as_of), "%s", json_is_string(as_of) ? json_string_value(as_of) : "");
	size_t nprov = json_object_size(providers), nmodels = 0;
	const char *name;
	json_t *obj;
	json_object_foreach(providers, name, obj) {
		json_t *models = json_object_get(obj, "models");
		if (!json_is_object(obj) || (models && !json_is_object(models))) {
			snprintf(err, err_len, "providers.%s: must be an object whose \"models\" is an object", name);
			return -1;
		}
		nmodels += json_object_size(models);
	}
	p->providers = calloc(nprov + 1, sizeof(*p->providers));
	p->models = calloc(nmodels + 1, sizeof(*p->models));
	p->provider_index = json_object();
	if (!p->providers || !p->models || !p->provider_index) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	json_object_foreach(providers, name, obj) {
		struct provider *pv = &p->providers[p->provider_count++]; /* counted now: freed on any error */
		pv->name = strdup(name);
		pv->same_as = -1;
		pv->index = json_object();
		if (!pv->name || !pv->index) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		json_t *usage = json_object_get(obj, "usage");
		if (!json_is_object(usage)) {
			snprintf(err, err_len, "providers.%s.usage: the provider's token semantics are required", name);
			return -1;
		}
		json_t *b;
		if (!json_is_boolean(b = json_object_get(usage, "inputIncludesCached"))) {
			snprintf(err, err_len, "providers.%s.usage.inputIncludesCached: true or false is required", name);
			return -1;
		}
		pv->input_includes_cached = json_is_true(b);
		pv->input_includes_cache_write = json_is_true(json_object_get(usage, "inputIncludesCacheWrite"));
		b = json_object_get(usage, "outputIncludesReasoning");
		pv->output_includes_reasoning = !b || json_is_true(b);
		json_object_set_new(p->provider_index, name, json_integer((json_int_t)(p->provider_count - 1)));
	}
	for (size_t i = 0; i < p->provider_count; i++) {
		obj = json_object_get(providers, p->providers[i].name);
		if (parse_provider_refs(p, (int)i, obj, err, err_len) < 0)
			return -1;
		const char *mname;
		json_t *mobj;
		json_object_foreach(json_object_get(obj, "models"), mname, mobj) {
			if (parse_model(p, (int)i, mname, mobj, err, err_len) < 0)
				return -1;
		}
	}
	return 0;
}

void spz_pricing_free(struct spz_pricing *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->provider_count; i++) {
		free(p->providers[i].name);
		for (size_t v = 0; v < p->providers[i].vendor_count; v++)
			free(p->providers[i].vendors[v].prefix);
		free(p->providers[i].vendors);
		json_decref(p->providers[i].index);
	}
	for (size_t i = 0; i < p->model_count; i++)
		free(p->models[i].name);
	free(p->providers);
	free(p->models);
	json_decref(p->provider_index);
	free(p);
}

static struct spz_pricing *from_json(json_t *root, char *err, size_t err_len)
{
	struct spz_pricing *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	if (parse_root(p, root, err, err_len) < 0) {
		spz_pricing_free(p);
		return NULL;
	}
	return p;
}

struct spz_pricing *spz_pricing_parse(const char *json, size_t len, char *err, size_t err_len)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, err_len, "line %d: %s", jerr.line, jerr.text);
		return NULL;
	}
	struct spz_pricing *p = from_json(root, err, err_len);
	json_decref(root);
	return p;
}

struct spz_pricing *spz_pricing_load(const char *override_path, bool override_required, char *err, size_t err_len)
{
	json_error_t jerr;
	json_t *root = json_loadb(spz_pricing_builtin, spz_pricing_builtin_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, err_len, "built-in price data, line %d: %s", jerr.line, jerr.text);
		return NULL;
	}
	if (override_path && override_path[0]) {
		FILE *f = fopen(override_path, "re");
		if (!f && (errno != ENOENT || override_required)) {
			snprintf(err, err_len, "%s: %s", override_path, strerror(errno));
			json_decref(root);
			return NULL;
		}
		if (f) {
			json_t *over = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
			fclose(f);
			if (!over || !json_is_object(over)) {
				snprintf(err, err_len, "%s, line %d: %s", override_path, over ? 1 : jerr.line,
					 over ? "not a JSON object" : jerr.text);
				json_decref(over);
				json_decref(root);
				return NULL;
			}
			/* Merged member by member: an override may change one price of
			 * one model, or add providers and models. */
			json_object_update_recursive(root, over);
			json_decref(over);
		}
	}
	char inner[400];
	struct spz_pricing *p = from_json(root, inner, sizeof(inner));
	json_decref(root);
	if (!p)
		snprintf(err, err_len, "%s: %s", override_path && override_path[0] ? override_path : "built-in price data",
			 inner);
	return p;
}

size_t spz_pricing_model_count(const struct spz_pricing *p)
{
	return p->model_count;
}

const char *spz_pricing_as_of(const struct spz_pricing *p)
{
	return p->as_of;
}

/* ---- resolving a model name ---- */

static const struct model *find_in(const struct spz_pricing *p, int prov, const char *name, int depth)
{
	if (prov < 0 || depth > 4)
		return NULL;
	const struct provider *pv = &p->providers[prov];
	json_t *ix = json_object_get(pv->index, name);
	if (ix)
		return &p->models[json_integer_value(ix)];
	if (pv->same_as >= 0) {
		const struct model *m = find_in(p, pv->same_as, name, depth + 1);
		if (m)
			return m;
	}
	for (size_t v = 0; v < pv->vendor_count; v++) {
		size_t n = strlen(pv->vendors[v].prefix);
		if (strncmp(name, pv->vendors[v].prefix, n) == 0) {
			const struct model *m = find_in(p, pv->vendors[v].provider, name + n, depth + 1);
			if (m)
				return m;
		}
	}
	return NULL;
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* Does the name end with "-" + digit groups of these lengths ("-2024-08-06"
 * is {4,2,2})? Returns the length of that tail or 0. */
static size_t digit_tail(const char *name, size_t len, const int *groups, int count)
{
	size_t need = 0;
	for (int g = 0; g < count; g++)
		need += (size_t)groups[g] + 1;
	if (len <= need)
		return 0;
	const char *t = name + len - need;
	for (int g = 0; g < count; g++) {
		if (*t != '-' || !all_digits(t + 1, (size_t)groups[g]))
			return 0;
		t += groups[g] + 1;
	}
	return need;
}

/* Removes one decoration from the end of a model name: a dated snapshot
 * ("-2024-08-06", "-20250929", "-0709", "-001", "-05-06", "-03-2025"), a
 * Vertex "@20240620", Bedrock's ":0" and "-v1", "-latest", "-preview".
 * Single and double digits alone are never stripped: "claude-opus-4-7" must
 * not be priced as "claude-opus-4". False when nothing is left to strip. */
static bool strip_decoration(char *name)
{
	size_t len = strlen(name);
	static const int date_iso[] = { 4, 2, 2 }, month_day[] = { 2, 2 }, month_year[] = { 2, 4 };
	size_t cut = digit_tail(name, len, date_iso, 3);
	if (!cut)
		cut = digit_tail(name, len, month_year, 2);
	if (!cut)
		cut = digit_tail(name, len, month_day, 2);
	if (!cut) {
		const char *dash = strrchr(name, '-'), *at = strrchr(name, '@'), *colon = strrchr(name, ':');
		if (colon && all_digits(colon + 1, strlen(colon + 1)))
			cut = strlen(colon);
		else if (at && at > name && (size_t)(name + len - at) > 1)
			cut = strlen(at);
		else if (dash && dash > name) {
			const char *t = dash + 1;
			size_t tl = strlen(t);
			if ((tl >= 3 && all_digits(t, tl)) || (t[0] == 'v' && all_digits(t + 1, tl - 1)) ||
			    strcmp(t, "latest") == 0 || strcmp(t, "preview") == 0 || strcmp(t, "exp") == 0)
				cut = tl + 1;
		}
	}
	if (!cut)
		return false;
	name[len - cut] = '\0';
	return true;
}

/* "claude-sonnet-4.6" is "claude-sonnet-4-6": dots between digits as dashes. */
static bool dots_as_dashes(const char *name, char *out, size_t cap)
{
	bool changed = false;
	size_t i = 0;
	for (; name[i] && i + 1 < cap; i++) {
		out[i] = name[i];
		if (name[i] == '.' && i > 0 && isdigit((unsigned char)name[i - 1]) && isdigit((unsigned char)name[i + 1])) {
			out[i] = '-';
			changed = true;
		}
	}
	out[i] = '\0';
	return changed;
}

static const char *const bedrock_regions[] = { "us.", "eu.", "apac.", "global.", "jp.", "au.", "ca.", "us-gov.", NULL };

static const struct model *resolve(const struct spz_pricing *p, int prov, const char *raw)
{
	if (!raw || !raw[0])
		return NULL;
	char name[NAME_MAX_LEN + 1], alt[NAME_MAX_LEN + 1];
	const char *start = raw;
	if (strncmp(raw, "arn:", 4) == 0 && strrchr(raw, '/')) /* a Bedrock inference profile ARN */
		start = strrchr(raw, '/') + 1;
	lower_copy(name, sizeof(name), start);
	for (int r = 0; bedrock_regions[r]; r++) {
		size_t n = strlen(bedrock_regions[r]);
		if (strncmp(name, bedrock_regions[r], n) == 0 && strchr(name + n, '.')) {
			memmove(name, name + n, strlen(name + n) + 1);
			break;
		}
	}
	do {
		const struct model *m = find_in(p, prov, name, 0);
		if (!m && dots_as_dashes(name, alt, sizeof(alt)))
			m = find_in(p, prov, alt, 0);
		if (m)
			return m;
	} while (strip_decoration(name));
	return NULL;
}

static int64_t tok(const int64_t tokens[SPZ_TOK_COUNT], int t)
{
	return tokens[t] > 0 ? tokens[t] : 0;
}

/* The price of one field in the tier that applies, falling back as the data
 * file says: cache reads and writes without a price of their own are billed
 * as input, 1-hour writes as 5-minute ones, reasoning as output. */
static int64_t price_of(const struct model *m, const struct tier *t, enum price_field f)
{
	for (;;) {
		if (t->has & (1u << f))
			return t->price[f];
		switch (f) {
		case P_CACHED:
		case P_WRITE: f = P_INPUT; break;
		case P_WRITE_1H: f = P_WRITE; break;
		case P_REASONING: f = P_OUTPUT; break;
		default:
			/* input or output missing from a long-context tier: the base's */
			if (t == &m->base)
				return 0; /* unreachable: the base requires both */
			t = &m->base;
			break;
		}
	}
}

void spz_price_call(const struct spz_pricing *p, const char *provider, const char *model, const char *response_model,
		    int status, const int64_t tokens[SPZ_TOK_COUNT], struct spz_cost *out)
{
	memset(out, 0, sizeof(*out));
	bool any_usage = false;
	for (int t = 0; t < SPZ_TOK_COUNT; t++)
		any_usage |= tokens[t] >= 0;
	if (!any_usage) {
		/* Providers bill nothing for a refused or failed call without usage;
		 * a success without usage is a cost nobody knows. */
		out->kind = status >= 400 ? SPZ_COST_NO_USAGE : SPZ_COST_UNKNOWN;
		return;
	}
	int prov = provider ? provider_by_name(p, provider) : -1;
	const struct model *m = NULL;
	if (prov >= 0) {
		m = resolve(p, prov, response_model);
		if (!m)
			m = resolve(p, prov, model);
	}
	if (!m) {
		out->kind = SPZ_COST_UNKNOWN;
		return;
	}
	const struct provider *pv = &p->providers[prov];
	int64_t prompt = tok(tokens, SPZ_TOK_PROMPT), cached = tok(tokens, SPZ_TOK_CACHED_INPUT);
	int64_t write = tok(tokens, SPZ_TOK_CACHE_WRITE), write_1h = tok(tokens, SPZ_TOK_CACHE_WRITE_1H);
	int64_t output = tok(tokens, SPZ_TOK_COMPLETION), reasoning = tok(tokens, SPZ_TOK_REASONING);
	if (write_1h > write)
		write_1h = write;
	int64_t uncached = prompt + tok(tokens, SPZ_TOK_TOOL_PROMPT);
	if (pv->input_includes_cached)
		uncached -= cached;
	if (pv->input_includes_cache_write)
		uncached -= write;
	if (uncached < 0)
		uncached = 0;
	const struct tier *t = &m->base;
	if (m->above_tokens && uncached + cached + write > m->above_tokens)
		t = &m->above;
	int64_t sum = 0;
	bool ok = spz_money_muladd(&sum, uncached, price_of(m, t, P_INPUT)) &&
		  spz_money_muladd(&sum, cached, price_of(m, t, P_CACHED)) &&
		  spz_money_muladd(&sum, write - write_1h, price_of(m, t, P_WRITE)) &&
		  spz_money_muladd(&sum, write_1h, price_of(m, t, P_WRITE_1H)) &&
		  spz_money_muladd(&sum, output, price_of(m, t, P_OUTPUT)) &&
		  (pv->output_includes_reasoning || spz_money_muladd(&sum, reasoning, price_of(m, t, P_REASONING)));
	if (!ok) {
		out->kind = SPZ_COST_UNKNOWN; /* beyond 9.2 million dollars: not a real call */
		return;
	}
	out->kind = SPZ_COST_PRICED;
	out->pusd = sum;
	snprintf(out->priced_as, sizeof(out->priced_as), "%s/%s", p->providers[m->provider].name, m->name);
}
