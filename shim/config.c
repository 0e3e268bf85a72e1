/* Settings from SPATURZU_* variables (README "Configuration"). Read once:
 * the host may change its environment later, and getenv is not free. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/paths.h"
#include "log.h"
#include "provider.h"

static struct spz_config config;
static volatile int cached_pid;

static void pid_after_fork(void)
{
	cached_pid = (int)getpid();
}

int spz_pid(void)
{
	int pid = cached_pid;
	return pid ? pid : (int)getpid();
}
static pthread_once_t config_once = PTHREAD_ONCE_INIT;

static void load(void)
{
	cached_pid = (int)getpid();
	pthread_atfork(NULL, NULL, pid_after_fork);
	const char *d = getenv("SPATURZU_DISABLE");
	config.disabled = d && *d && strcmp(d, "0") != 0;
	spz_log_init(getenv("SPATURZU_LOG"));
	if (spz_path_socket(config.socket_path, sizeof(config.socket_path)) < 0) {
		spz_log("socket path too long; records go to the spool");
		config.socket_path[0] = '\0';
	}
	const char *sock_env = getenv("SPATURZU_SOCKET");
	config.socket_defaulted = !(sock_env && *sock_env);
	if (spz_path_spool_dir(config.spool_dir, sizeof(config.spool_dir)) < 0)
		config.spool_dir[0] = '\0';
	ssize_t n = readlink("/proc/self/exe", config.exe, sizeof(config.exe) - 1);
	config.exe[n > 0 ? n : 0] = '\0';
	spz_attr_process_load(&config.attr);
	spz_provider_set_extra_hosts(getenv("SPATURZU_PROVIDER_HOSTS"));
}

const struct spz_config *spz_config(void)
{
	pthread_once(&config_once, load);
	return &config;
}
