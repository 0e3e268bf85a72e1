/* Token estimates (OpenAI's cookbook counting for chat: 3 tokens per message,
 * 1 per name, each field encoded on its own, 3 to prime the reply). */
#include "estimate.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pretok.h"
#include "zalloc.h"

/* Each thread keeps its last call's estimate, buffers and all, for its next
 * call: every call keeps its prompt text (until its response says whether
 * usage came), and allocating and freeing the three each time cost more
 * than the copy. A text buffer grown past this is freed, not kept. */
#define SPARE_TEXT_MAX 4096
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static bool spare_keyed;

static void destroy(void *p)
{
	struct spz_estimate *e = p;
	free(e->prompt.data);
	free(e->completion.data);
	free(e);
}

static void spare_init(void)
{
	spare_keyed = pthread_key_create(&spare_key, destroy) == 0;
}

/* A text buffer emptied, its room kept if it is small. */
static void text_reset(struct spz_textbuf *t)
{
	char *data = t->data;
	size_t cap = t->cap;
	if (cap > SPARE_TEXT_MAX) {
		free(data);
		data = NULL;
		cap = 0;
	}
	memset(t, 0, sizeof(*t));
	t->data = data;
	t->cap = cap;
}

static struct spz_estimate *get(struct spz_call *c)
{
	if (c->estimate)
		return c->estimate;
	pthread_once(&spare_once, spare_init);
	struct spz_estimate *e = spare_keyed ? pthread_getspecific(spare_key) : NULL;
	if (!e || pthread_setspecific(spare_key, NULL) != 0)
		e = spz_zalloc(sizeof(*e));
	c->estimate = e;
	return e;
}

/* Room for need more bytes, growing by doubling up to the bound. */
static size_t room(struct spz_textbuf *t, size_t need)
{
	if (t->used + need > t->cap && t->cap < SPZ_ESTIMATE_TEXT_MAX) {
		size_t cap = t->cap ? t->cap : 1024;
		while (cap < t->used + need && cap < SPZ_ESTIMATE_TEXT_MAX)
			cap *= 2;
		if (cap > SPZ_ESTIMATE_TEXT_MAX)
			cap = SPZ_ESTIMATE_TEXT_MAX;
		char *d = realloc(t->data, cap);
		if (d) {
			t->data = d;
			t->cap = cap;
		}
	}
	return t->cap - t->used;
}

static void append(struct spz_textbuf *t, const char *buf, size_t len, bool first)
{
	if (first || t->segments == 0) {
		t->dropping = room(t, 4 + len) < 4;
		if (!t->dropping) {
			uint32_t zero = 0;
			t->open = t->used;
			memcpy(t->data + t->used, &zero, 4);
			t->used += 4;
			t->segments++;
		}
	}
	size_t n = t->dropping ? 0 : room(t, len);
	if (n > len)
		n = len;
	if (n) {
		uint32_t l;
		memcpy(&l, t->data + t->open, 4);
		memcpy(t->data + t->used, buf, n);
		t->used += n;
		l += (uint32_t)n;
		memcpy(t->data + t->open, &l, 4);
	}
	t->overflow += len - n;
}

void spz_estimate_prompt(struct spz_call *c, const char *buf, size_t len, bool first)
{
	struct spz_estimate *e = get(c);
	if (e)
		append(&e->prompt, buf, len, first);
}

void spz_estimate_completion(struct spz_call *c, int field, const char *buf, size_t len)
{
	struct spz_estimate *e = get(c);
	if (!e)
		return;
	append(&e->completion, buf, len, field != e->completion_field);
	e->completion_field = field;
}

void spz_estimate_message(struct spz_call *c, bool named)
{
	struct spz_estimate *e = get(c);
	if (!e)
		return;
	if (named)
		e->names++;
	else
		e->messages++;
}

/* Tokens of every segment, each encoded on its own; bytes past the bound
 * are counted at the rate of those before them. */
static uint64_t count(struct spz_tok *tok, const struct spz_textbuf *t, enum spz_encoding enc,
		      const struct spz_bpe *bpe)
{
	uint64_t tokens = 0, bytes = 0;
	for (size_t off = 0; off + 4 <= t->used;) {
		uint32_t l;
		memcpy(&l, t->data + off, 4);
		spz_tok_init(tok, enc, bpe);
		spz_tok_feed(tok, t->data + off + 4, l);
		spz_tok_end(tok);
		tokens += tok->tokens;
		bytes += l;
		off += 4 + l;
	}
	if (t->overflow)
		tokens += bytes ? (t->overflow * tokens + bytes - 1) / bytes : t->overflow / 4 + 1;
	return tokens;
}

/* The encoding of a model family, as tiktoken maps them; o200k_base for the
 * models it does not know (OpenAI's current one). */
static enum spz_encoding encoding_for(const char *model)
{
	static const char *const cl100k[] = { "gpt-4-", "gpt-4", "gpt-3.5", "gpt-35", "text-embedding-3",
					      "text-embedding-ada-002", "davinci-002", "babbage-002" };
	if (!strncmp(model, "gpt-4o", 6) || !strncmp(model, "gpt-4.", 6))
		return SPZ_ENC_O200K;
	for (size_t i = 0; i < sizeof(cl100k) / sizeof(cl100k[0]); i++)
		if (!strncmp(model, cl100k[i], strlen(cl100k[i])))
			return SPZ_ENC_CL100K;
	return SPZ_ENC_O200K;
}

void spz_estimate_settle(struct spz_call *c)
{
	struct spz_estimate *e = c->estimate;
	if (!e || !spz_estimate_wanted(c))
		goto out;
	const char *model = c->response_model[0] ? c->response_model : c->model;
	enum spz_encoding enc = encoding_for(model);
	const struct spz_bpe *bpe = spz_bpe_get(enc);
	struct spz_tok *tok = bpe ? malloc(sizeof(*tok)) : NULL;
	if (!tok)
		goto out;
	uint64_t prompt = count(tok, &e->prompt, enc, bpe);
	if (e->messages)
		prompt += 3 * (uint64_t)e->messages + e->names + 3;
	uint64_t completion = count(tok, &e->completion, enc, bpe);
	free(tok);
	spz_usage_set(&c->usage, SPZ_U_INPUT, (int64_t)prompt);
	spz_usage_set(&c->usage, SPZ_U_OUTPUT, (int64_t)completion);
	c->usage_estimated = true;
out:
	spz_estimate_free(c);
}

void spz_estimate_free(struct spz_call *c)
{
	struct spz_estimate *e = c->estimate;
	if (!e)
		return;
	c->estimate = NULL;
	/* Kept for this thread's next call, emptied, unless it keeps one
	 * already. */
	pthread_once(&spare_once, spare_init);
	if (spare_keyed && !pthread_getspecific(spare_key)) {
		text_reset(&e->prompt);
		text_reset(&e->completion);
		e->messages = 0;
		e->names = 0;
		e->completion_field = 0;
		if (pthread_setspecific(spare_key, e) == 0)
			return;
	}
	destroy(e);
}
