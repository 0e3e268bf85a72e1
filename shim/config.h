/* The shim's settings, read once from the environment at first use, and the
 * process-level attribution (agent, run, tags) they give. */
#ifndef SPZ_CONFIG_H
#define SPZ_CONFIG_H

#include <stdbool.h>

#include "attr.h"

struct spz_config {
	bool disabled;
	char socket_path[108]; /* sun_path's size */
	bool socket_defaulted;  /* no SPATURZU_SOCKET: the system socket is a fallback */
	char spool_dir[512];
	char exe[256];
	struct spz_process_attr attr;
};

/* This process's id, without a system call (refreshed in a forked child). */
int spz_pid(void);

/* Loads on the first call (thread-safe), then returns the same settings. */
const struct spz_config *spz_config(void);

#endif
