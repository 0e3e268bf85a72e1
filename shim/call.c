/* Small helpers every extractor shares for filling a call. */
#include "call.h"

#include <string.h>

void spz_usage_set(struct spz_usage *u, enum spz_usage_field f, int64_t v)
{
	u->v[f] = v;
	u->present |= 1u << f;
}

void spz_copy_str(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

int spz_event_count(const struct spz_json_event *ev, int64_t *out)
{
	if (ev->type != SPZ_JSON_NUMBER || ev->truncated)
		return -1;
	return spz_json_parse_count(ev->value, ev->value_len, out);
}

bool spz_usage_from_event(struct spz_usage *u, const struct spz_json_event *ev, const char *path,
			  const struct spz_usage_path *table)
{
	for (const struct spz_usage_path *t = table; t->path; t++) {
		if (strcmp(path, t->path) != 0)
			continue;
		int64_t n;
		if (spz_event_count(ev, &n) == 0)
			spz_usage_set(u, t->field, n);
		return true;
	}
	return false;
}
