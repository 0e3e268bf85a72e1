/* Exact money. Prices are decimal strings in USD per million tokens; a cost
 * is an integer number of picodollars (1e-12 USD). One token at a price of
 * p micro-dollars per million tokens costs exactly p picodollars, so every
 * cost is an exact integer sum: no binary float ever rounds a price or a
 * total. An int64 holds 9.2 million dollars in picodollars, beyond any one
 * call and any local report; arithmetic that would pass it fails loudly. */
#ifndef SPZ_MONEY_H
#define SPZ_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPZ_PUSD_PER_USD 1000000000000LL

/* Parses a non-negative decimal ("2.50", "0.075", "15") with at most
 * `max_frac` fractional digits into units of 10^-max_frac; no sign, no
 * exponent, no more than `max_int` integer value. 0 or -1. */
int spz_decimal_parse(const char *s, size_t len, int max_frac, int64_t max_int, int64_t *out);

/* A price per million tokens, in micro-dollars per million tokens. */
static inline int spz_price_parse(const char *s, size_t len, int64_t *micro_per_m)
{
	return spz_decimal_parse(s, len, 6, 1000000, micro_per_m);
}

/* A money amount ("1.2345000000", the gateway's form), in picodollars. */
static inline int spz_money_parse(const char *s, size_t len, int64_t *pusd)
{
	return spz_decimal_parse(s, len, 12, 9000000, pusd);
}

/* Writes picodollars as a decimal string in USD, exactly, without trailing
 * zeros: 139900000 -> "0.0001399", 0 -> "0". With min_frac, at least that
 * many fractional digits ("2.50" with min_frac 2). Needs cap >= 32. */
void spz_money_format(int64_t pusd, int min_frac, char *out, size_t cap);

/* a + b * c with overflow detection; false on overflow. */
bool spz_money_muladd(int64_t *acc, int64_t tokens, int64_t micro_per_m);

#endif
