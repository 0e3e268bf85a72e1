/* Settings from SPATURZU_* variables (README "Configuration"). Read once:
 * the host may change its environment later, and getenv is not free. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/paths.h"
#include "jsonw.h"
#include "log.h"
#include "provider.h"
#include "uuid.h"

static struct spz_config config;
static pthread_once_t config_once = PTHREAD_ONCE_INIT;

static void copy_env(char *dst, size_t cap, const char *name, const char *fallback)
{
	const char *v = getenv(name);
	if (!v || !*v)
		v = fallback;
	size_t n = strlen(v);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* Splits one escaped item of a tag list into out; returns the position after
 * the separator, and sets *sep to the separator met ('=', ',' or 0). */
static const char *tag_token(const char *s, char *out, size_t cap, size_t *len, bool *too_long, char stop1,
			     char *sep)
{
	size_t n = 0;
	*too_long = false;
	while (*s && *s != stop1 && *s != ',') {
		char c = *s++;
		if (c == '\\' && *s)
			c = *s++;
		if (n + 1 < cap)
			out[n++] = c;
		else
			*too_long = true;
	}
	out[n] = '\0';
	*len = n;
	*sep = *s;
	return *s ? s + 1 : s;
}

void spz_tags_to_json(const char *spec, char *out, unsigned cap)
{
	struct spz_jw w;
	spz_jw_init(&w, out, cap);
	spz_jw_raw(&w, "{", 1);
	unsigned count = 0;
	const char *s = spec ? spec : "";
	while (*s) {
		char key[SPZ_TAG_KEY_MAX + 2], value[SPZ_TAG_VALUE_MAX + 2];
		size_t klen, vlen = 0;
		bool klong, vlong = false;
		char sep;
		s = tag_token(s, key, sizeof(key), &klen, &klong, '=', &sep);
		value[0] = '\0';
		if (sep == '=')
			s = tag_token(s, value, sizeof(value), &vlen, &vlong, '\0', &sep);
		if (klen == 0 && !klong)
			continue;
		if (klong || klen > SPZ_TAG_KEY_MAX || vlong || vlen > SPZ_TAG_VALUE_MAX) {
			spz_log("tag \"%.64s\" dropped: keys are 1-64 characters, values at most 256", key);
			continue;
		}
		if (count == SPZ_TAGS_MAX) {
			spz_log("tag \"%s\" dropped: at most %d tags", key, SPZ_TAGS_MAX);
			continue;
		}
		spz_jw_key(&w, key);
		spz_jw_str(&w, value, vlen);
		count++;
	}
	spz_jw_raw(&w, "}", 1);
	if (w.overflow && cap >= 3)
		memcpy(out, "{}", 3);
}

static void load(void)
{
	const char *d = getenv("SPATURZU_DISABLE");
	config.disabled = d && *d && strcmp(d, "0") != 0;
	spz_log_init(getenv("SPATURZU_LOG"));
	if (spz_path_socket(config.socket_path, sizeof(config.socket_path)) < 0) {
		spz_log("socket path too long; records go to the spool");
		config.socket_path[0] = '\0';
	}
	if (spz_path_spool_dir(config.spool_dir, sizeof(config.spool_dir)) < 0)
		config.spool_dir[0] = '\0';
	ssize_t n = readlink("/proc/self/exe", config.exe, sizeof(config.exe) - 1);
	config.exe[n > 0 ? n : 0] = '\0';
	copy_env(config.agent, sizeof(config.agent), "SPATURZU_AGENT", program_invocation_short_name);
	const char *run = getenv("SPATURZU_RUN_ID");
	if (run && *run && strlen(run) < sizeof(config.run_id))
		strcpy(config.run_id, run);
	else
		spz_uuid_v4(config.run_id);
	spz_tags_to_json(getenv("SPATURZU_TAGS"), config.tags_json, sizeof(config.tags_json));
	spz_provider_set_extra_hosts(getenv("SPATURZU_PROVIDER_HOSTS"));
}

const struct spz_config *spz_config(void)
{
	pthread_once(&config_once, load);
	return &config;
}
