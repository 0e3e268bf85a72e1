/* The shim's settings, read once from the environment at first use, and the
 * process-level attribution (agent, run, tags) they give. */
#ifndef SPZ_CONFIG_H
#define SPZ_CONFIG_H

#include <stdbool.h>

#define SPZ_TAGS_MAX 32
#define SPZ_TAG_KEY_MAX 64
#define SPZ_TAG_VALUE_MAX 256

struct spz_config {
	bool disabled;
	char socket_path[108]; /* sun_path's size */
	char spool_dir[512];
	char agent[128];
	char run_id[64];
	char exe[256];
	char tags_json[16384]; /* a JSON object, "{}" when none */
};

/* Loads on the first call (thread-safe), then returns the same settings. */
const struct spz_config *spz_config(void);
/* Renders "k=v,k=v" (backslash escapes \, \= \\) as a JSON object within the
 * gateway's limits; out-of-limit tags are dropped and logged. */
void spz_tags_to_json(const char *spec, char *out, unsigned cap);

#endif
