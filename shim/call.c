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
	/* Counts are numbers: the other values (most of a body) need no lookup. */
	if (ev->type != SPZ_JSON_NUMBER)
		return false;
	/* path is ev->path or a suffix of it. */
	size_t len = ev->path_len - (size_t)(path - ev->path);
	for (const struct spz_usage_path *t = table; t->path; t++) {
		if (t->len != len || memcmp(path, t->path, len) != 0)
			continue;
		int64_t n;
		if (spz_event_count(ev, &n) == 0)
			spz_usage_set(u, t->field, n);
		return true;
	}
	return false;
}

void spz_request_model_stream(struct spz_call *c, const struct spz_json_event *ev)
{
	if (ev->depth != 1)
		return;
	/* Nothing else of the request is read: its messages, tools and the
	 * rest are passed over unread. */
	if (ev->type == SPZ_JSON_OBJECT || ev->type == SPZ_JSON_ARRAY) {
		c->skip_value = true;
		return;
	}
	if (ev->type == SPZ_JSON_STRING && SPZ_PATH_IS(ev, "model"))
		spz_copy_str(c->model, sizeof(c->model), ev->value, ev->value_len);
	else if (SPZ_PATH_IS(ev, "stream"))
		c->stream_requested = ev->type == SPZ_JSON_TRUE;
}

void spz_header_request_id(struct spz_call *c, int arg, const char *value, size_t len)
{
	(void)arg;
	spz_copy_str(c->request_id, sizeof(c->request_id), value, len);
}

void spz_response_model_id(struct spz_call *c, const struct spz_json_event *ev, const char *path,
			   const char *model_key, const char *id_key)
{
	if (ev->type != SPZ_JSON_STRING || ev->value_len == 0)
		return;
	/* path is ev->path or a suffix of it: its length is known. */
	size_t len = ev->path_len - (size_t)(path - ev->path);
	if (len == strlen(model_key) && memcmp(path, model_key, len) == 0)
		spz_copy_str(c->response_model, sizeof(c->response_model), ev->value, ev->value_len);
	else if (len == strlen(id_key) && memcmp(path, id_key, len) == 0 && c->request_id[0] == '\0')
		spz_copy_str(c->request_id, sizeof(c->request_id), ev->value, ev->value_len);
}
