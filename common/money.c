#include "money.h"

#include <stdio.h>

int spz_decimal_parse(const char *s, size_t len, int max_frac, int64_t max_int, int64_t *out)
{
	size_t i = 0;
	int64_t whole = 0;
	size_t int_digits = 0;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		whole = whole * 10 + (s[i] - '0');
		if (whole > max_int)
			return -1;
		i++;
		int_digits++;
	}
	int64_t frac = 0;
	int frac_digits = 0;
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (frac_digits == max_frac) {
				if (s[i] != '0') /* more precision than we keep: refuse, never round */
					return -1;
			} else {
				frac = frac * 10 + (s[i] - '0');
				frac_digits++;
			}
			i++;
		}
		if (frac_digits == 0 && (i == 0 || s[i - 1] == '.'))
			return -1; /* "2." */
	}
	if (i != len || int_digits == 0)
		return -1;
	for (int k = frac_digits; k < max_frac; k++)
		frac *= 10;
	int64_t scale = 1;
	for (int k = 0; k < max_frac; k++)
		scale *= 10;
	*out = whole * scale + frac;
	return 0;
}

void spz_money_format(int64_t pusd, int min_frac, char *out, size_t cap)
{
	const char *sign = "";
	uint64_t v = (uint64_t)pusd;
	if (pusd < 0) {
		sign = "-";
		v = (uint64_t)0 - (uint64_t)pusd;
	}
	uint64_t whole = v / (uint64_t)SPZ_PUSD_PER_USD, frac = v % (uint64_t)SPZ_PUSD_PER_USD;
	char digits[13];
	snprintf(digits, sizeof(digits), "%012llu", (unsigned long long)frac);
	int n = 12;
	while (n > min_frac && digits[n - 1] == '0')
		n--;
	if (n == 0)
		snprintf(out, cap, "%s%llu", sign, (unsigned long long)whole);
	else
		snprintf(out, cap, "%s%llu.%.*s", sign, (unsigned long long)whole, n, digits);
}

bool spz_money_muladd(int64_t *acc, int64_t tokens, int64_t micro_per_m)
{
	int64_t product;
	if (__builtin_mul_overflow(tokens, micro_per_m, &product))
		return false;
	return !__builtin_add_overflow(*acc, product, acc);
}
