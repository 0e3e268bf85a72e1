/* Which provider API a request is: from its host (a table of provider hosts
 * plus SPATURZU_PROVIDER_HOSTS) and its method and path. */
#ifndef SPZ_PROVIDER_H
#define SPZ_PROVIDER_H

#include <stddef.h>

#include "call.h"

/* The provider that serves host (no port, any case), or NULL. */
const char *spz_provider_for_host(const char *host, size_t len);
/* The API of a request, or NULL when it is not an LLM call we read.
 * provider is the host's provider, or NULL for an unknown host. */
const struct spz_api *spz_api_for_request(const char *provider, const char *method, size_t method_len,
					  const char *path, size_t path_len);
/* Extra hosts, "host=provider,host=provider", from SPATURZU_PROVIDER_HOSTS. */
void spz_provider_set_extra_hosts(const char *spec);

#endif
