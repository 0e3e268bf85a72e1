/* Attribution: which agent, run and tags a call belongs to. Merge order,
 * inner wins: process (environment) -> thread frames (public API) -> call
 * (x-spaturzu-* request headers). */
#ifndef SPZ_ATTR_H
#define SPZ_ATTR_H

#include <stdbool.h>
#include <stddef.h>

#define SPZ_TAGS_MAX 32
#define SPZ_TAG_KEY_MAX 64
#define SPZ_TAG_VALUE_MAX 256
#define SPZ_AGENT_MAX 128
#define SPZ_PATH_DEPTH 16
#define SPZ_ID_MAX 64

struct spz_tag {
	char key[SPZ_TAG_KEY_MAX + 1];
	char value[SPZ_TAG_VALUE_MAX + 1];
};

struct spz_tags {
	unsigned count;
	struct spz_tag tag[SPZ_TAGS_MAX];
};

struct spz_agent_path {
	unsigned depth;
	char agent[SPZ_PATH_DEPTH][SPZ_AGENT_MAX];
};

/* Sets or replaces key (value NULL removes it). 0, or -EINVAL outside the
 * gateway's limits, -ENOSPC past 32 tags. */
int spz_tags_set(struct spz_tags *t, const char *key, const char *value);
/* Adds "k=v,k=v" (\, \= \\ escape); out-of-limit items are dropped and
 * logged, never cut into another key. */
void spz_tags_parse(struct spz_tags *t, const char *spec);
/* Parses a JSON array of strings (SPATURZU_AGENT_PATH); 0 or -1. */
int spz_agent_path_parse(struct spz_agent_path *p, const char *json);
int spz_agent_path_push(struct spz_agent_path *p, const char *agent);

/* The process's attribution, from the environment (once). */
struct spz_process_attr {
	char run_id[SPZ_ID_MAX];
	struct spz_agent_path path; /* root to this process's agent */
	bool agent_explicit;        /* SPATURZU_AGENT (or a parent's) named it */
	struct spz_tags tags;
};
void spz_attr_process_load(struct spz_process_attr *pa);
/* Exports the run id and agent path to child processes. Only safe before
 * other threads exist: called from the shim's constructor. */
void spz_attr_export(const struct spz_process_attr *pa);

/* Renders the attribution of a call starting now on this thread as JSON
 * object members ("runId":...,"agentName":...,"agentPath":[...],
 * "parentRequestId":...,"tags":{...}) into a new heap string, with header
 * overrides (NULL when absent), and notes call_id as the innermost frame's
 * last call. NULL on failure. */
char *spz_attr_render(const struct spz_process_attr *pa, const char *call_id, const char *hdr_agent,
		      const char *hdr_run, const char *hdr_tags);
/* The same, but a call with no attribution of its own (no thread's, no
 * header's) gets the process's rendering itself, made once and never
 * freed, with *shared set, rather than a copy: most calls are such. */
char *spz_attr_render_call(const struct spz_process_attr *pa, const char *call_id, const char *hdr_agent,
			   const char *hdr_run, const char *hdr_tags, bool *shared);

/* Thread frames (the public API's implementation). */
int spz_frame_begin(const char *agent, const char *tags);
int spz_frame_end(void);
int spz_frame_set_agent(const char *agent);
int spz_frame_set_tag(const char *key, const char *value);
/* Frees this thread's frames (thread exit, fork child). */
void spz_frames_clear(void);

#endif
