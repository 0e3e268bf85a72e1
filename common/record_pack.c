/* Packing, unpacking and rendering of records (record_pack.h). Unpacking
 * reads bytes any process of the user may have written into the ring: every
 * length is checked against what is left before it is used. */
#include "record_pack.h"

#include <string.h>

#include "../shim/jsonw.h"
#include "money.h"

/* magic, version, flags, error, status, usage bits, then four i64 */
#define HEAD_SIZE (8 + 4 * 8)
#define REFUSAL_SIZE (2 + 2 * 8)

static bool refused(const struct spz_record_fields *f)
{
	return (f->flags & SPZ_REC_REFUSED) != 0;
}

/* The strings a record carries: the budget's id only in a refusal. */
static int strings_of(const struct spz_record_fields *f)
{
	return refused(f) ? SPZ_REC_STR_COUNT : SPZ_REC_BUDGET_ID;
}

/* Bits set in v (usage bits: a few): no library call, where the CPU may
 * not count them itself. */
static unsigned bits_in(unsigned v)
{
	unsigned n = 0;
	for (; v; v &= v - 1)
		n++;
	return n;
}

size_t spz_record_packed_size(const struct spz_record_fields *f)
{
	size_t n = HEAD_SIZE + 8 * (size_t)bits_in(f->usage_present & ((1u << SPZ_REC_USAGE_COUNT) - 1));
	for (int s = 0; s < strings_of(f); s++) {
		if (f->str[s].len > UINT16_MAX)
			return SIZE_MAX; /* more than its length field can say */
		n += 2 + f->str[s].len;
	}
	return n + (refused(f) ? REFUSAL_SIZE : 0);
}

static inline char *put_u16(char *o, uint16_t v)
{
	o[0] = (char)(v & 0xff);
	o[1] = (char)(v >> 8);
	return o + 2;
}

static inline char *put_i64(char *o, int64_t v)
{
	uint64_t u = (uint64_t)v;
	for (int k = 0; k < 8; k++)
		o[k] = (char)(u >> (8 * k));
	return o + 8;
}

size_t spz_record_pack(const struct spz_record_fields *f, char *buf, size_t cap)
{
	size_t n = spz_record_packed_size(f);
	return n > cap ? 0 : spz_record_pack_sized(f, buf, n);
}

size_t spz_record_pack_sized(const struct spz_record_fields *f, char *buf, size_t size)
{
	(void)size; /* what the bytes below come to: the caller measured it */
	char *o = buf;
	*o++ = SPZ_PACKED_MAGIC;
	*o++ = SPZ_PACKED_VERSION;
	*o++ = (char)(f->flags & SPZ_REC_FLAGS);
	*o++ = (char)f->error;
	o = put_u16(o, f->status);
	uint16_t present = f->usage_present & ((1u << SPZ_REC_USAGE_COUNT) - 1);
	o = put_u16(o, present);
	o = put_i64(o, f->latency_ms);
	o = put_i64(o, f->ttft_ms);
	o = put_i64(o, f->started_ms);
	o = put_i64(o, f->pid);
	for (int u = 0; u < SPZ_REC_USAGE_COUNT; u++)
		if (present & (1u << u))
			o = put_i64(o, f->usage[u]);
	for (int s = 0; s < strings_of(f); s++) {
		o = put_u16(o, (uint16_t)f->str[s].len);
		if (f->str[s].len) /* an absent string may have no pointer */
			memcpy(o, f->str[s].s, f->str[s].len);
		o += f->str[s].len;
	}
	if (refused(f)) {
		*o++ = (char)f->refusal_scope;
		*o++ = (char)f->refusal_period;
		o = put_i64(o, f->limit_pusd);
		o = put_i64(o, f->current_pusd);
	}
	return (size_t)(o - buf);
}

static uint16_t get_u16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static int64_t get_i64(const unsigned char *p)
{
	uint64_t u = 0;
	for (int k = 0; k < 8; k++)
		u |= (uint64_t)p[k] << (8 * k);
	return (int64_t)u;
}

int spz_record_unpack(const char *buf, size_t len, struct spz_record_fields *f)
{
	const unsigned char *p = (const unsigned char *)buf, *end = p + len;
	memset(f, 0, sizeof(*f));
	if (len < HEAD_SIZE || p[0] != SPZ_PACKED_MAGIC || p[1] != SPZ_PACKED_VERSION || (p[2] & ~SPZ_REC_FLAGS) ||
	    p[3] > SPZ_REC_TRUNCATED)
		return -1;
	f->flags = p[2];
	f->error = p[3];
	f->status = get_u16(p + 4);
	f->usage_present = get_u16(p + 6);
	if (f->usage_present >> SPZ_REC_USAGE_COUNT)
		return -1;
	f->latency_ms = get_i64(p + 8);
	f->ttft_ms = get_i64(p + 16);
	f->started_ms = get_i64(p + 24);
	f->pid = get_i64(p + 32);
	p += HEAD_SIZE;
	for (int u = 0; u < SPZ_REC_USAGE_COUNT; u++) {
		if (!(f->usage_present & (1u << u)))
			continue;
		if (end - p < 8)
			return -1;
		f->usage[u] = get_i64(p);
		p += 8;
	}
	for (int s = 0; s < strings_of(f); s++) {
		if (end - p < 2)
			return -1;
		size_t n = get_u16(p);
		p += 2;
		if ((size_t)(end - p) < n)
			return -1;
		f->str[s].s = (const char *)p;
		f->str[s].len = n;
		p += n;
	}
	if (refused(f)) {
		if (end - p < REFUSAL_SIZE || p[0] > 1 || p[1] > 1)
			return -1;
		f->refusal_scope = p[0];
		f->refusal_period = p[1];
		f->limit_pusd = get_i64(p + 2);
		f->current_pusd = get_i64(p + 10);
		p += REFUSAL_SIZE;
	}
	for (int s = 0; s < SPZ_REC_STR_COUNT; s++)
		if (!f->str[s].s)
			f->str[s].s = "";
	return p == end ? 0 : -1;
}

size_t spz_record_render_bound(const struct spz_record_fields *f)
{
	/* Keys, numbers and punctuation take under 1 KiB; a string byte is at
	 * most six ("\u00XX" or "\ufffd"), its quotes two. */
	size_t n = 1024 + f->str[SPZ_REC_ATTRIBUTION].len; /* written as it is */
	for (int s = 0; s < SPZ_REC_STR_COUNT; s++)
		if (s != SPZ_REC_ATTRIBUTION)
			n += 6 * f->str[s].len + 2;
	return n;
}

static void digits(char *out, unsigned v, int n)
{
	while (n--) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (out has 25 bytes), by hand rather than
 * gmtime_r and strftime, which cost more than the rest of a record. The
 * date from days since 1970 is the proleptic Gregorian calendar's
 * (H. Hinnant's civil_from_days); years stay within 0000-9999. */
static void rfc3339(char out[25], int64_t unix_ms)
{
	int64_t secs = unix_ms / 1000, ms = unix_ms % 1000;
	if (ms < 0)
		ms += 1000, secs--;
	int64_t days = secs / 86400, sod = secs % 86400;
	if (sod < 0)
		sod += 86400, days--;
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t day = doy - (153 * mp + 2) / 5 + 1;
	int64_t month = mp < 10 ? mp + 3 : mp - 9;
	int64_t year = yoe + era * 400 + (month <= 2);
	if (year < 0)
		year = 0;
	if (year > 9999)
		year = 9999;
	digits(out, (unsigned)year, 4);
	out[4] = '-';
	digits(out + 5, (unsigned)month, 2);
	out[7] = '-';
	digits(out + 8, (unsigned)day, 2);
	out[10] = 'T';
	digits(out + 11, (unsigned)(sod / 3600), 2);
	out[13] = ':';
	digits(out + 14, (unsigned)(sod / 60 % 60), 2);
	out[16] = ':';
	digits(out + 17, (unsigned)(sod % 60), 2);
	out[19] = '.';
	digits(out + 20, (unsigned)ms, 3);
	out[23] = 'Z';
	out[24] = '\0';
}

/* Written with the comma before them, their quotes and colon, as literal
 * keys are. */
#define USAGE_KEY(name) { ",\"" name "\":", sizeof(",\"" name "\":") - 1 }
static const struct {
	const char *quoted;
	size_t len;
} usage_keys[SPZ_REC_USAGE_COUNT] = {
	[SPZ_REC_PROMPT] = USAGE_KEY("promptTokens"),
	[SPZ_REC_COMPLETION] = USAGE_KEY("completionTokens"),
	[SPZ_REC_CACHED_INPUT] = USAGE_KEY("cachedInputTokens"),
	[SPZ_REC_CACHE_WRITE] = USAGE_KEY("cacheWriteTokens"),
	[SPZ_REC_REASONING] = USAGE_KEY("reasoningTokens"),
	[SPZ_REC_CACHE_WRITE_1H] = USAGE_KEY("cacheWrite1hTokens"),
	[SPZ_REC_TOOL_PROMPT] = USAGE_KEY("toolPromptTokens"),
};

/* Members with literal keys (every key here is plain), each after another
 * member: the comma is part of the literal, not looked for in the buffer. */
#define KEY(key) spz_jw_raw(&w, ",\"" key "\":", sizeof(",\"" key "\":") - 1)
/* An object's first member's key, with the brace that opens it. */
#define FIRST_KEY(key) spz_jw_raw(&w, "{\"" key "\":", sizeof("{\"" key "\":") - 1)
#define KTEXT(key, field)                                        \
	do {                                                     \
		KEY(key);                                        \
		spz_jw_str(&w, f->str[field].s, f->str[field].len); \
	} while (0)
#define KSTR(key, value)                        \
	do {                                    \
		const char *v_ = (value);       \
		KEY(key);                       \
		spz_jw_str(&w, v_, strlen(v_)); \
	} while (0)
#define KINT(key, value)                 \
	do {                             \
		KEY(key);                \
		spz_jw_int(&w, (value)); \
	} while (0)

size_t spz_record_render(const struct spz_record_fields *f, char *buf, size_t cap)
{
	struct spz_jw w;
	char when[25];
	rfc3339(when, f->started_ms);

	spz_jw_init(&w, buf, cap);
	FIRST_KEY("id");
	spz_jw_str(&w, f->str[SPZ_REC_ID].s, f->str[SPZ_REC_ID].len);
	KTEXT("provider", SPZ_REC_PROVIDER);
	KTEXT("model", SPZ_REC_MODEL);
	if (f->str[SPZ_REC_RESPONSE_MODEL].len)
		KTEXT("responseModel", SPZ_REC_RESPONSE_MODEL);
	if (f->str[SPZ_REC_ATTRIBUTION].len) {
		spz_jw_raw(&w, ",", 1);
		spz_jw_raw(&w, f->str[SPZ_REC_ATTRIBUTION].s, f->str[SPZ_REC_ATTRIBUTION].len);
	}
	for (int u = 0; u < SPZ_REC_USAGE_COUNT; u++)
		if (f->usage_present & (1u << u)) {
			spz_jw_raw(&w, usage_keys[u].quoted, usage_keys[u].len);
			spz_jw_int(&w, f->usage[u]);
		}
	if (f->usage_present)
		KSTR("usageSource", f->flags & SPZ_REC_ESTIMATED ? "tiktoken" : "provider");
	KINT("status", f->status);
	if (refused(f)) {
		char amount[40];
		KEY("refused");
		FIRST_KEY("budgetId");
		spz_jw_str(&w, f->str[SPZ_REC_BUDGET_ID].s, f->str[SPZ_REC_BUDGET_ID].len);
		KSTR("scope", f->refusal_scope ? "agent" : "project");
		KSTR("period", f->refusal_period ? "monthly" : "daily");
		spz_money_format(f->limit_pusd, 2, amount, sizeof(amount));
		KSTR("limitCost", amount);
		spz_money_format(f->current_pusd, 2, amount, sizeof(amount));
		KSTR("currentCost", amount);
		spz_jw_raw(&w, "}", 1);
	} else if (f->error == SPZ_REC_NO_RESPONSE) {
		KSTR("error", "no_response");
	} else if (f->error == SPZ_REC_TRUNCATED) {
		KSTR("error", "truncated");
	}
	KINT("latencyMs", f->latency_ms);
	KEY("stream");
	spz_jw_raw(&w, f->flags & SPZ_REC_STREAM ? "true" : "false", f->flags & SPZ_REC_STREAM ? 4 : 5);
	if (f->flags & SPZ_REC_HAS_TTFT)
		KINT("ttftMs", f->ttft_ms);
	KSTR("startedAt", when);
	KTEXT("host", SPZ_REC_HOST);
	KTEXT("endpoint", SPZ_REC_ENDPOINT);
	if (f->str[SPZ_REC_REQUEST_ID].len)
		KTEXT("requestId", SPZ_REC_REQUEST_ID);
	KINT("pid", f->pid);
	KTEXT("exe", SPZ_REC_EXE);
	spz_jw_raw(&w, "}", 1);
	return w.overflow ? 0 : w.len;
}
