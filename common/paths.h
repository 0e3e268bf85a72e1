/* Default locations shared by the shim and the collector, so both agree
 * without configuration: the collector's socket, the spool directory where the
 * shim leaves records the collector could not take, and the database. */
#ifndef SPZ_PATHS_H
#define SPZ_PATHS_H

#include <stddef.h>

/* The system-wide collector (`spaturzu collector --system`): one socket
 * for the members of a group, its database and a shared spool. */
#define SPZ_SYSTEM_SOCKET "/run/spaturzu/collector.sock"
#define SPZ_SYSTEM_DB "/var/lib/spaturzu/spaturzu.db"
#define SPZ_SYSTEM_SPOOL "/var/spool/spaturzu"

/* Each fills out (NUL-terminated) and returns 0, or -1 if it does not fit.
 * Order: the SPATURZU_* variable, then XDG, then a per-uid /tmp fallback. */
int spz_path_socket(char *out, size_t cap);
int spz_path_spool_dir(char *out, size_t cap);
int spz_path_db(char *out, size_t cap);
/* A user's configuration file: $XDG_CONFIG_HOME/spaturzu/NAME, else
 * ~/.config/spaturzu/NAME, else /etc/spaturzu/NAME. */
int spz_path_config(char *out, size_t cap, const char *name);
/* Creates dir and its missing parents, the last one with mode. */
int spz_mkdirs(const char *dir, unsigned mode);

#endif
