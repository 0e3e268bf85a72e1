/* `spaturzu run [--agent NAME] [--tags k=v,...] -- CMD [ARGS]`: runs a
 * command under the shim as one run. Starts a collector when none listens
 * (and stops it at the end), waits until the run's records are stored, and
 * prints what the run cost per agent path on stderr, so the command's own
 * stdout stays as it was. Exits with the command's status. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/paths.h"
#include "cli.h"
#include "ingest.h"
#include "../common/money.h"
#include "spend.h"
#include "store.h"

static const char usage[] =
	"Usage: spaturzu run [OPTIONS] -- COMMAND [ARGS...]\n"
	"\n"
	"Run COMMAND with the shim preloaded, as one run: every LLM call it and\n"
	"its child processes make (fork, exec, for hours) is recorded with one run\n"
	"id. A collector is started if none listens, and stopped at the end. When\n"
	"COMMAND ends, spaturzu waits until the run's records are stored and\n"
	"prints calls, tokens and cost per agent path, and the run's total, on\n"
	"stderr. The exit status is COMMAND's (128 + N when signal N ended it).\n"
	"\n"
	"Options:\n"
	"  -a, --agent NAME    the agent of COMMAND's calls (default: its program\n"
	"                      name); child processes with their own agent nest\n"
	"                      under it (\"pipeline / writer\")\n"
	"  -t, --tags K=V,...  tags for every call of the run\n"
	"      --run-id UUID   join or name the run (default: a new UUIDv7)\n"
	"  -q, --quiet         print no table\n"
	"  -s, --socket PATH   the collector's socket (default as for `collector`)\n"
	"  -d, --db PATH       the database (default as for `collector`)\n"
	"      --spool DIR     the spool (default as for `collector`)\n"
	"  -h, --help          show this help\n"
	"\n"
	"Environment: SPATURZU_SHIM names the shim library when it is not beside\n"
	"this program (../shim, ../lib) or installed; SPATURZU_API_KEY makes a\n"
	"collector started here forward to the gateway.\n"
	"Exit status 125: spaturzu itself failed (no shim, no collector); 127: COMMAND\n"
	"was not found.\n";

#define EXIT_RUN_FAILED 125

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static bool exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int find_shim(char *out, size_t cap)
{
	const char *env = getenv("SPATURZU_SHIM");
	if (env && *env) {
		snprintf(out, cap, "%s", env);
		return exists(out) ? 0 : -1;
	}
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		static const char *const rel[] = {
			"../shim/libspaturzu_shim.so", "../lib/x86_64-linux-gnu/libspaturzu_shim.so",
			"../lib/libspaturzu_shim.so", "../lib64/libspaturzu_shim.so",
		};
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			if (snprintf(out, cap, "%.3000s/%s", self, rel[i]) >= (int)cap)
				continue;
			if (exists(out)) {
				char *real = realpath(out, NULL);
				if (real) {
					snprintf(out, cap, "%s", real);
					free(real);
				}
				return 0;
			}
		}
	}
	snprintf(out, cap, "%s/libspaturzu_shim.so", SPZ_LIBDIR);
	return exists(out) ? 0 : -1;
}

static void new_run_id(char *out, size_t cap)
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(rand() & 0xff);
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	snprintf(out, cap, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* A collector of our own, in the foreground as our child: it dies with us
 * (PR_SET_PDEATHSIG) and we stop it at the end. */
static pid_t start_collector(const char *socket_path, const char *db_path, const char *spool_dir)
{
	char log_path[4200];
	snprintf(log_path, sizeof(log_path), "%s", db_path);
	char *slash = strrchr(log_path, '/');
	if (slash) {
		*slash = '\0';
		spz_mkdirs(log_path, 0700);
		*slash = '/';
		snprintf(slash + 1, sizeof(log_path) - (size_t)(slash + 1 - log_path), "collector.log");
	}
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	setpgid(0, 0); /* the terminal's ^C is for the command, not for it */
	unsetenv("LD_PRELOAD");
	int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0)
		dup2(fd, 2);
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
	}
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	execl(self, "spaturzu", "collector", "--foreground", "--socket", socket_path, "--db", db_path, "--spool",
	      spool_dir, (char *)NULL);
	_exit(127);
}

static int64_t run_calls(const char *db_path, const char *run_id)
{
	sqlite3 *db;
	int64_t n = -1;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
		sqlite3_busy_timeout(db, 2000);
		sqlite3_stmt *s;
		if (sqlite3_prepare_v2(db, "SELECT count(*) FROM calls WHERE run_id = ?", -1, &s, NULL) == SQLITE_OK) {
			sqlite3_bind_text(s, 1, run_id, -1, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_ROW)
				n = sqlite3_column_int64(s, 0);
			sqlite3_finalize(s);
		}
	}
	sqlite3_close(db);
	return n;
}

static bool spool_waiting(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return false;
	bool any = false;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".jsonl") || strstr(e->d_name, ".ingesting"))
			any = true;
	closedir(d);
	return any;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool marker_seen(const char *db_path, const char *token)
{
	sqlite3 *db;
	bool seen = false;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
		sqlite3_busy_timeout(db, 2000);
		sqlite3_stmt *s;
		if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'ingest.marker'", -1, &s, NULL) ==
		    SQLITE_OK) {
			if (sqlite3_step(s) == SQLITE_ROW) {
				const unsigned char *v = sqlite3_column_text(s, 0);
				seen = v && strcmp((const char *)v, token) == 0;
			}
			sqlite3_finalize(s);
		}
	}
	sqlite3_close(db);
	return seen;
}

/* Sends the end-of-run marker behind the command's records. */
static bool send_marker(const char *socket_path, const char *token)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path);
	char msg[128];
	int n = snprintf(msg, sizeof(msg), "{\"spaturzuMarker\":\"%s\"}", token);
	bool ok = sendto(fd, msg, (size_t)n, 0, (struct sockaddr *)&addr, sizeof(addr)) == n;
	close(fd);
	return ok;
}

/* The shim sends each record when its call ends, so once the command has
 * exited its records are in the socket's queue or in the spool. A marker
 * sent now is read after all of them: when the collector says it stored
 * it, and no spool file waits, the run's records are in. A collector that
 * does not know markers (an older one already running) is waited for the
 * old way: the count holding still for half a second. */
static void wait_for_records(const char *socket_path, const char *db_path, const char *spool_dir, const char *run_id)
{
	double start = now_s(), still_since = start;
	char token[64];
	snprintf(token, sizeof(token), "run-%ld-%lld", (long)getpid(), (long long)(start * 1e6));
	bool marked = send_marker(socket_path, token);
	int64_t last = run_calls(db_path, run_id);
	while (now_s() - start < 20) {
		struct timespec pause = { 0, 20 * 1000 * 1000 };
		nanosleep(&pause, NULL);
		bool spooled = spool_waiting(spool_dir);
		if (marked && !spooled && marker_seen(db_path, token))
			return;
		int64_t n = run_calls(db_path, run_id);
		if (n != last || spooled) {
			last = n;
			still_since = now_s();
		} else if ((!marked || now_s() - start >= 3) && now_s() - still_since >= 0.5) {
			return;
		}
	}
	fprintf(stderr, "spaturzu: records of the run still arriving after 20 s; the table may be incomplete\n");
}

int cmd_run(int argc, char **argv)
{
	enum { O_SPOOL = 256, O_RUNID };
	static const struct option opts[] = {
		{ "agent", required_argument, NULL, 'a' }, { "tags", required_argument, NULL, 't' },
		{ "run-id", required_argument, NULL, O_RUNID }, { "quiet", no_argument, NULL, 'q' },
		{ "socket", required_argument, NULL, 's' }, { "db", required_argument, NULL, 'd' },
		{ "spool", required_argument, NULL, O_SPOOL }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *agent = NULL, *tags = NULL;
	char run_id[64] = "", socket_path[4096] = "", db_path[4096] = "", spool_dir[4096] = "";
	bool quiet = false;
	int c;
	/* "+": options end at the first non-option, so COMMAND's own options
	 * are left alone even without "--". */
	while ((c = getopt_long(argc, argv, "+a:t:qs:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': agent = optarg; break;
		case 't': tags = optarg; break;
		case O_RUNID: snprintf(run_id, sizeof(run_id), "%s", optarg); break;
		case 'q': quiet = true; break;
		case 's': snprintf(socket_path, sizeof(socket_path), "%s", optarg); break;
		case 'd': snprintf(db_path, sizeof(db_path), "%s", optarg); break;
		case O_SPOOL: snprintf(spool_dir, sizeof(spool_dir), "%s", optarg); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "spaturzu run: no command given\n\n%s", usage);
		return EXIT_USAGE;
	}
	char **cmd = argv + optind;
	char shim[4096];
	if (find_shim(shim, sizeof(shim)) < 0) {
		fprintf(stderr, "spaturzu run: libspaturzu_shim.so not found (looked at %s); set SPATURZU_SHIM to its path\n",
			shim);
		return EXIT_RUN_FAILED;
	}
	if ((!socket_path[0] && spz_path_socket(socket_path, sizeof(socket_path)) < 0) ||
	    (!db_path[0] && spz_path_db(db_path, sizeof(db_path)) < 0) ||
	    (!spool_dir[0] && spz_path_spool_dir(spool_dir, sizeof(spool_dir)) < 0)) {
		fprintf(stderr, "spaturzu run: a default path is too long; pass --socket, --db, --spool\n");
		return EXIT_RUN_FAILED;
	}
	if (!run_id[0])
		new_run_id(run_id, sizeof(run_id));

	pid_t collector = 0;
	if (!spz_collector_listening(socket_path)) {
		collector = start_collector(socket_path, db_path, spool_dir);
		double start = now_s();
		while (collector > 0 && !spz_collector_listening(socket_path) && now_s() - start < 15) {
			int status;
			if (waitpid(collector, &status, WNOHANG) == collector) {
				collector = -1;
				break;
			}
			struct timespec pause = { 0, 20 * 1000 * 1000 };
			nanosleep(&pause, NULL);
		}
		if (collector <= 0 || !spz_collector_listening(socket_path)) {
			fprintf(stderr, "spaturzu run: the collector did not start (see the log beside %s); the run's "
					"records go to the spool %s\n",
				db_path, spool_dir);
		}
	}

	/* The command's environment: the shim in LD_PRELOAD, the run. */
	const char *old_preload = getenv("LD_PRELOAD");
	size_t plen = strlen(shim) + (old_preload ? strlen(old_preload) + 1 : 0) + 1;
	char *preload = malloc(plen);
	if (!preload)
		return EXIT_RUN_FAILED;
	/* After what is there: a sanitizer runtime must stay first. */
	snprintf(preload, plen, "%s%s%s", old_preload ? old_preload : "", old_preload && *old_preload ? ":" : "",
		 shim);
	setenv("LD_PRELOAD", preload, 1);
	free(preload);
	setenv("SPATURZU_RUN_ID", run_id, 1);
	setenv("SPATURZU_SOCKET", socket_path, 1);
	setenv("SPATURZU_SPOOL", spool_dir, 1);
	if (agent)
		setenv("SPATURZU_AGENT", agent, 1);
	if (tags)
		setenv("SPATURZU_TAGS", tags, 1);

	struct sigaction sa = { .sa_handler = forward_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* ^C and ^\ reach the command through the terminal; we outlive it to
	 * report. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		execvp(cmd[0], cmd);
		fprintf(stderr, "spaturzu run: cannot run %s: %s\n", cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	int exit_code = EXIT_RUN_FAILED;
	if (pid < 0) {
		fprintf(stderr, "spaturzu run: cannot start %s: %s\n", cmd[0], strerror(errno));
	} else {
		child_pid = pid;
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		child_pid = 0;
		exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
		if (exit_code != 127 || WIFSIGNALED(status))
			wait_for_records(socket_path, db_path, spool_dir, run_id);
	}
	if (collector > 0) {
		kill(collector, SIGTERM);
		int status;
		while (waitpid(collector, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (!quiet) {
		struct stat st;
		struct spz_store store;
		if (stat(db_path, &st) == 0 && spz_store_open(&store, db_path, true) == 0) {
			struct spend s;
			if (spend_query(store.db, "path", NULL, NULL, run_id, &s) == 0) {
				char title[200], cost[48];
				spend_format_usd(s.total.cost_pusd, cost, sizeof(cost));
				snprintf(title, sizeof(title), "\nspaturzu: run %s: %lld %s, %s USD%s", run_id,
					 (long long)s.total.calls, spend_calls_word(s.total.calls), cost,
					 s.total.unpriced ? " and unpriced calls" : "");
				spend_print_table(stderr, &s, title);
				spend_free(&s);
			}
			spz_store_close(&store);
		} else {
			fprintf(stderr, "\nspaturzu: run %s: no calls recorded\n", run_id);
		}
	}
	return exit_code;
}
