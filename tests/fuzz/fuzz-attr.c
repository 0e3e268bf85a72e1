/* libFuzzer: attribution inputs that come from outside the program's code:
 * SPATURZU_TAGS and x-spaturzu-tags lists, SPATURZU_AGENT_PATH, and the
 * header overrides of a rendered attribution. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/attr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	struct spz_tags *t = calloc(1, sizeof(*t));
	spz_tags_parse(t, s);
	struct spz_agent_path *p = calloc(1, sizeof(*p));
	spz_agent_path_parse(p, s);
	struct spz_process_attr *pa = calloc(1, sizeof(*pa));
	strcpy(pa->run_id, "run");
	spz_agent_path_push(&pa->path, "agent");
	size_t third = size / 3;
	char *agent = strndup(s, third), *run = strndup(s + third, third), *tags = strdup(s + 2 * third);
	free(spz_attr_render(pa, "id", agent, run, tags));
	free(agent);
	free(run);
	free(tags);
	free(pa);
	free(p);
	free(t);
	free(s);
	return 0;
}
