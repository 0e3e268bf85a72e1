/* Attribution state. Process attribution is read once; frames live in a
 * thread-local stack owned by the thread that opened them. Rendering copies
 * what it needs, so a frame may close while its calls are still in flight. */
#include "attr.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsonw.h"
#include "log.h"
#include "uuid.h"

extern char *program_invocation_short_name;

/* ---- tags ---------------------------------------------------------------- */

int spz_tags_set(struct spz_tags *t, const char *key, const char *value)
{
	size_t klen = key ? strlen(key) : 0;
	if (klen == 0 || klen > SPZ_TAG_KEY_MAX || (value && strlen(value) > SPZ_TAG_VALUE_MAX))
		return -EINVAL;
	for (unsigned i = 0; i < t->count; i++) {
		if (strcmp(t->tag[i].key, key) != 0)
			continue;
		if (value) {
			strcpy(t->tag[i].value, value);
		} else {
			t->tag[i] = t->tag[--t->count];
		}
		return 0;
	}
	if (!value)
		return 0;
	if (t->count == SPZ_TAGS_MAX)
		return -ENOSPC;
	strcpy(t->tag[t->count].key, key);
	strcpy(t->tag[t->count].value, value);
	t->count++;
	return 0;
}

/* One escaped item up to `stop` or ','; returns the rest after the
 * separator, which it stores in *sep. *too_long if it did not fit in out. */
static const char *tag_token(const char *s, char *out, size_t cap, bool *too_long, char stop, char *sep)
{
	size_t n = 0;
	*too_long = false;
	while (*s && *s != stop && *s != ',') {
		char c = *s++;
		if (c == '\\' && *s)
			c = *s++;
		if (n + 1 < cap)
			out[n++] = c;
		else
			*too_long = true;
	}
	out[n] = '\0';
	*sep = *s;
	return *s ? s + 1 : s;
}

void spz_tags_parse(struct spz_tags *t, const char *spec)
{
	const char *s = spec ? spec : "";
	while (*s) {
		char key[SPZ_TAG_KEY_MAX + 2], value[SPZ_TAG_VALUE_MAX + 2] = "";
		bool klong, vlong = false;
		char sep;
		s = tag_token(s, key, sizeof(key), &klong, '=', &sep);
		if (sep == '=')
			s = tag_token(s, value, sizeof(value), &vlong, '\0', &sep);
		if (!key[0] && !klong)
			continue;
		int rc = (klong || vlong) ? -EINVAL : spz_tags_set(t, key, value);
		if (rc == -EINVAL)
			spz_log("tag \"%.64s\" dropped: keys are 1-64 characters, values at most 256", key);
		else if (rc == -ENOSPC)
			spz_log("tag \"%s\" dropped: at most %d tags", key, SPZ_TAGS_MAX);
	}
}

/* ---- agent paths ------------------------------------------------------- */

int spz_agent_path_push(struct spz_agent_path *p, const char *agent)
{
	size_t n = agent ? strlen(agent) : 0;
	if (n == 0 || n >= SPZ_AGENT_MAX)
		return -EINVAL;
	if (p->depth == SPZ_PATH_DEPTH)
		return -ENOSPC;
	memcpy(p->agent[p->depth++], agent, n + 1);
	return 0;
}

struct path_parse {
	struct spz_agent_path *p;
	bool bad;
};

static void path_event(void *ud, const struct spz_json_event *ev)
{
	struct path_parse *pp = ud;
	if (ev->depth == 0 && ev->type != SPZ_JSON_ARRAY && ev->type != SPZ_JSON_DOC_END && ev->type != SPZ_JSON_END)
		pp->bad = true;
	else if (ev->depth == 1 && ev->type == SPZ_JSON_STRING)
		pp->bad |= ev->truncated || spz_agent_path_push(pp->p, ev->value) < 0;
	else if (ev->depth >= 1 && ev->type != SPZ_JSON_END)
		pp->bad = true;
}

int spz_agent_path_parse(struct spz_agent_path *p, const char *json)
{
	struct path_parse pp = { p, false };
	struct spz_json js;
	p->depth = 0;
	spz_json_init(&js, path_event, &pp);
	if (spz_json_feed(&js, json, strlen(json)) < 0 || spz_json_finish(&js) < 0 || pp.bad) {
		p->depth = 0;
		return -1;
	}
	return 0;
}

static void render_path(struct spz_jw *w, const struct spz_agent_path *p)
{
	spz_jw_raw(w, "[", 1);
	for (unsigned i = 0; i < p->depth; i++) {
		if (i)
			spz_jw_raw(w, ",", 1);
		spz_jw_str(w, p->agent[i], strlen(p->agent[i]));
	}
	spz_jw_raw(w, "]", 1);
}

/* ---- process ----------------------------------------------------------- */

void spz_attr_process_load(struct spz_process_attr *pa)
{
	memset(pa, 0, sizeof(*pa));
	const char *run = getenv("SPATURZU_RUN_ID");
	if (run && *run && strlen(run) < sizeof(pa->run_id))
		strcpy(pa->run_id, run);
	else
		spz_uuid_v4(pa->run_id);

	/* A parent under the shim exported its path: this process nests in it.
	 * SPATURZU_AGENT inherited unchanged names the same agent (no new
	 * level); a different one nests. Without any, the program's name. */
	struct spz_agent_path inherited = { 0 };
	const char *ip = getenv("SPATURZU_AGENT_PATH");
	if (ip && *ip && spz_agent_path_parse(&inherited, ip) < 0)
		spz_log("SPATURZU_AGENT_PATH is not a JSON array of agent names: ignored");
	const char *agent = getenv("SPATURZU_AGENT");
	pa->agent_explicit = agent && *agent;
	if (!pa->agent_explicit)
		agent = program_invocation_short_name;
	pa->path = inherited;
	bool same = inherited.depth && strcmp(inherited.agent[inherited.depth - 1], agent) == 0;
	if (!same && spz_agent_path_push(&pa->path, agent) < 0 && pa->path.depth == 0)
		spz_agent_path_push(&pa->path, "unknown");
	spz_tags_parse(&pa->tags, getenv("SPATURZU_TAGS"));
}

void spz_attr_export(const struct spz_process_attr *pa)
{
	char buf[SPZ_PATH_DEPTH * (SPZ_AGENT_MAX * 6 + 4) + 8];
	struct spz_jw w;
	spz_jw_init(&w, buf, sizeof(buf));
	render_path(&w, &pa->path);
	if (!w.overflow)
		setenv("SPATURZU_AGENT_PATH", buf, 1);
	setenv("SPATURZU_RUN_ID", pa->run_id, 1);
}

/* ---- frames ------------------------------------------------------------ */

struct frame {
	struct frame *outer;
	char run_id[SPZ_ID_MAX];
	char agent[SPZ_AGENT_MAX]; /* "" keeps the enclosing agent */
	char parent_request_id[SPZ_ID_MAX];
	char last_call_id[SPZ_ID_MAX];
	struct spz_tags tags;
};

/* Thread level: an agent and tags set with no frame open. */
struct thread_attr {
	struct frame *top;
	char agent[SPZ_AGENT_MAX];
	char last_call_id[SPZ_ID_MAX];
	struct spz_tags tags;
};

static __thread struct thread_attr *thread_attr;
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

static void free_thread_attr(void *p)
{
	struct thread_attr *ta = p;
	while (ta->top) {
		struct frame *f = ta->top;
		ta->top = f->outer;
		free(f);
	}
	free(ta);
}

static void make_thread_key(void)
{
	pthread_key_create(&thread_key, free_thread_attr);
}

/* The thread's state; made on first use and freed when the thread exits, so
 * threads that come and go leave nothing behind. */
static struct thread_attr *thread_state(bool create)
{
	if (!thread_attr && create) {
		pthread_once(&thread_key_once, make_thread_key);
		thread_attr = calloc(1, sizeof(*thread_attr));
		if (thread_attr)
			pthread_setspecific(thread_key, thread_attr);
	}
	return thread_attr;
}

static int copy_agent(char *dst, const char *agent)
{
	size_t n = agent ? strlen(agent) : 0;
	if (n >= SPZ_AGENT_MAX)
		return -EINVAL;
	memcpy(dst, agent ? agent : "", n + 1);
	return 0;
}

int spz_frame_begin(const char *agent, const char *tags)
{
	struct thread_attr *ta = thread_state(true);
	struct frame *f = ta ? calloc(1, sizeof(*f)) : NULL;
	if (!f)
		return -ENOMEM;
	if (copy_agent(f->agent, agent) < 0) {
		free(f);
		return -EINVAL;
	}
	f->outer = ta->top;
	if (f->outer) {
		strcpy(f->run_id, f->outer->run_id);
		strcpy(f->parent_request_id, f->outer->last_call_id);
	} else {
		spz_uuid_v4(f->run_id);
		strcpy(f->parent_request_id, ta->last_call_id);
	}
	spz_tags_parse(&f->tags, tags);
	ta->top = f;
	return 0;
}

int spz_frame_end(void)
{
	struct thread_attr *ta = thread_state(false);
	if (!ta || !ta->top)
		return -ENOENT;
	struct frame *f = ta->top;
	ta->top = f->outer;
	free(f);
	return 0;
}

int spz_frame_set_agent(const char *agent)
{
	struct thread_attr *ta = thread_state(true);
	if (!ta)
		return -ENOMEM;
	return copy_agent(ta->top ? ta->top->agent : ta->agent, agent);
}

int spz_frame_set_tag(const char *key, const char *value)
{
	struct thread_attr *ta = thread_state(true);
	if (!ta)
		return -ENOMEM;
	return spz_tags_set(ta->top ? &ta->top->tags : &ta->tags, key, value);
}

void spz_frames_clear(void)
{
	if (!thread_attr)
		return;
	pthread_setspecific(thread_key, NULL);
	free_thread_attr(thread_attr);
	thread_attr = NULL;
}

/* ---- rendering --------------------------------------------------------- */

static void merge_tags(struct spz_tags *into, const struct spz_tags *from)
{
	for (unsigned i = 0; i < from->count; i++)
		if (spz_tags_set(into, from->tag[i].key, from->tag[i].value) == -ENOSPC)
			spz_log("tag \"%s\" dropped: at most %d tags", from->tag[i].key, SPZ_TAGS_MAX);
}

/* Frames outermost first, so that inner ones win. */
static void merge_frames(struct spz_tags *tags, struct spz_agent_path *path, const struct frame *f)
{
	if (!f)
		return;
	merge_frames(tags, path, f->outer);
	if (f->agent[0])
		spz_agent_path_push(path, f->agent);
	merge_tags(tags, &f->tags);
}

static char *render(const struct spz_process_attr *pa, struct thread_attr *ta, const char *hdr_agent,
		    const char *hdr_run, const char *hdr_tags);

/* The process-level attribution, rendered once: most calls of most programs
 * name nothing in code or headers, and get exactly this. */
static _Atomic(char *) process_rendering;

char *spz_attr_render(const struct spz_process_attr *pa, const char *call_id, const char *hdr_agent,
		      const char *hdr_run, const char *hdr_tags)
{
	bool shared;
	char *out = spz_attr_render_call(pa, call_id, hdr_agent, hdr_run, hdr_tags, &shared);
	return out && shared ? strdup(out) : out;
}

char *spz_attr_render_call(const struct spz_process_attr *pa, const char *call_id, const char *hdr_agent,
			   const char *hdr_run, const char *hdr_tags, bool *shared)
{
	struct thread_attr *ta = thread_state(false);
	bool plain = (!ta || (!ta->top && !ta->agent[0] && !ta->tags.count)) && !(hdr_agent && *hdr_agent) &&
		     !(hdr_run && *hdr_run) && !(hdr_tags && *hdr_tags);
	char *out = NULL;
	if (plain) {
		char *cached = atomic_load(&process_rendering);
		if (!cached) {
			char *fresh = render(pa, NULL, NULL, NULL, NULL);
			char *expected = NULL;
			if (fresh && !atomic_compare_exchange_strong(&process_rendering, &expected, fresh))
				free(fresh); /* another thread won */
			cached = atomic_load(&process_rendering);
		}
		out = cached;
	} else {
		out = render(pa, ta, hdr_agent, hdr_run, hdr_tags);
	}
	*shared = plain;
	if (out && call_id && ta) {
		char *last = ta->top ? ta->top->last_call_id : ta->last_call_id;
		strncpy(last, call_id, SPZ_ID_MAX - 1);
		last[SPZ_ID_MAX - 1] = '\0';
	}
	return out;
}

static char *render(const struct spz_process_attr *pa, struct thread_attr *ta, const char *hdr_agent,
		    const char *hdr_run, const char *hdr_tags)
{
	struct frame *top = ta ? ta->top : NULL;
	struct {
		struct spz_tags tags;
		struct spz_agent_path base, path;
	} *s = malloc(sizeof(*s));
	if (!s)
		return NULL;
	/* Agents named in code or headers nest under the process's agent when
	 * it was named (SPATURZU_AGENT, a parent's path); a default agent (the
	 * program's name) is replaced instead. */
	s->base = pa->path;
	if (!pa->agent_explicit && s->base.depth)
		s->base.depth--;
	s->path = s->base;
	s->tags = pa->tags;
	bool named = false;
	const char *run = pa->run_id;
	const char *parent = NULL;
	if (ta) {
		if (ta->agent[0])
			named |= spz_agent_path_push(&s->path, ta->agent) == 0;
		merge_tags(&s->tags, &ta->tags);
	}
	if (top) {
		unsigned before = s->path.depth;
		merge_frames(&s->tags, &s->path, top);
		named |= s->path.depth > before;
		run = top->run_id;
		parent = top->parent_request_id[0] ? top->parent_request_id : NULL;
	}
	if (!named)
		s->path = pa->path;
	if (hdr_agent && *hdr_agent) {
		if (!named && !pa->agent_explicit)
			s->path = s->base;
		spz_agent_path_push(&s->path, hdr_agent);
	}
	if (hdr_run && *hdr_run)
		run = hdr_run;
	if (hdr_tags && *hdr_tags) {
		struct spz_tags *call_tags = calloc(1, sizeof(*call_tags));
		if (call_tags) {
			spz_tags_parse(call_tags, hdr_tags);
			merge_tags(&s->tags, call_tags);
			free(call_tags);
		}
	}

	/* What these members can take once escaped (6 bytes a byte at worst). */
	size_t cap = 512 + 2 * strlen(run) + (parent ? 2 * strlen(parent) : 0);
	for (unsigned i = 0; i < s->path.depth; i++)
		cap += 6 * strlen(s->path.agent[i]) + 4;
	cap += 6 * strlen(s->path.depth ? s->path.agent[s->path.depth - 1] : "unknown");
	for (unsigned i = 0; i < s->tags.count; i++)
		cap += 6 * (strlen(s->tags.tag[i].key) + strlen(s->tags.tag[i].value)) + 6;
	char *out = malloc(cap);
	if (!out) {
		free(s);
		return NULL;
	}
	struct spz_jw w;
	spz_jw_init(&w, out, cap);
	spz_jw_raw(&w, "{", 1);
	spz_jw_kstr(&w, "runId", run);
	spz_jw_kstr(&w, "agentName", s->path.depth ? s->path.agent[s->path.depth - 1] : "unknown");
	spz_jw_key(&w, "agentPath");
	render_path(&w, &s->path);
	if (parent)
		spz_jw_kstr(&w, "parentRequestId", parent);
	spz_jw_key(&w, "tags");
	spz_jw_raw(&w, "{", 1);
	for (unsigned i = 0; i < s->tags.count; i++) {
		spz_jw_key(&w, s->tags.tag[i].key);
		spz_jw_str(&w, s->tags.tag[i].value, strlen(s->tags.tag[i].value));
	}
	spz_jw_raw(&w, "}", 1);
	free(s);
	if (w.overflow) {
		free(out);
		return NULL;
	}
	/* Strip the braces: the record builder embeds the members. */
	memmove(out, out + 1, w.len - 1);
	out[w.len - 1] = '\0';
	return out;
}
