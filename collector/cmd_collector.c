/* `spaturzu collector`: the daemon. Binds the socket, ingests datagrams and
 * spool files into the store until SIGTERM/SIGINT, then drains what is queued
 * and exits. SIGHUP asks for a reload of settings. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/paths.h"
#include "clog.h"
#include "cli.h"
#include "ingest.h"
#include "store.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	reload_requested = 1;
}

static const char usage[] =
	"Usage: spaturzu collector [OPTIONS]\n"
	"\n"
	"Receive call records from preloaded shims, store them durably and keep\n"
	"them for reports. Records come as datagrams on a Unix socket; records a\n"
	"shim wrote to its spool while no collector listened are ingested too.\n"
	"Each record id is stored once, whatever path it took.\n"
	"\n"
	"Options:\n"
	"  -s, --socket PATH   socket to listen on\n"
	"                      (default: $SPATURZU_SOCKET, else\n"
	"                      $XDG_RUNTIME_DIR/spaturzu/collector.sock, else\n"
	"                      /tmp/spaturzu-$UID/collector.sock)\n"
	"  -d, --db PATH       SQLite database (default: $SPATURZU_DB, else\n"
	"                      $XDG_DATA_HOME/spaturzu/spaturzu.db, else\n"
	"                      ~/.local/share/spaturzu/spaturzu.db)\n"
	"      --spool DIR     spool directory to ingest (default: $SPATURZU_SPOOL,\n"
	"                      else $XDG_STATE_HOME/spaturzu/spool, else\n"
	"                      ~/.local/state/spaturzu/spool)\n"
	"  -f, --foreground    stay in the foreground and log to stderr\n"
	"      --log FILE      log file when in the background\n"
	"                      (default: the database's directory/collector.log)\n"
	"  -h, --help          show this help\n"
	"\n"
	"Signals: SIGTERM and SIGINT drain queued records and exit; SIGHUP reloads.\n"
	"Exit status: 0 after a clean stop, 1 on a startup error, 3 if another\n"
	"collector already serves the socket.\n";

/* Background mode: the parent returns only once the child is listening, so a
 * script can start the collector and use it on the next line. */
static int daemonize(int *ready_fd)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		char status = 1;
		ssize_t n = read(p[0], &status, 1);
		_exit(n == 1 ? status : 1);
	}
	close(p[0]);
	setsid();
	if (chdir("/") < 0) {
		/* not fatal: we use absolute paths */
	}
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		close(devnull);
	}
	*ready_fd = p[1];
	return 0;
}

static void tell_parent(int *ready_fd, char status)
{
	if (*ready_fd >= 0) {
		ssize_t n = write(*ready_fd, &status, 1);
		(void)n;
		close(*ready_fd);
		*ready_fd = -1;
	}
}

static void log_counts(const struct spz_ingest *in, const char *when)
{
	clog_info("%s: %llu received, %llu stored, %llu duplicates, %llu rejected, %llu spool files", when,
		  (unsigned long long)in->stats.received, (unsigned long long)in->stats.stored,
		  (unsigned long long)in->stats.duplicates, (unsigned long long)in->stats.rejected,
		  (unsigned long long)in->stats.spool_files);
}

int cmd_collector(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' },
		{ "spool", required_argument, NULL, 'S' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char socket_path[4096] = "", db_path[4096] = "", spool_dir[4096] = "", log_path[4096] = "";
	bool foreground = false;
	int c;
	while ((c = getopt_long(argc, argv, "s:d:fh", opts, NULL)) != -1) {
		switch (c) {
		case 's': snprintf(socket_path, sizeof(socket_path), "%s", optarg); break;
		case 'd': snprintf(db_path, sizeof(db_path), "%s", optarg); break;
		case 'S': snprintf(spool_dir, sizeof(spool_dir), "%s", optarg); break;
		case 'f': foreground = true; break;
		case 'L': snprintf(log_path, sizeof(log_path), "%s", optarg); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "spaturzu collector: unexpected argument '%s'\n\n%s", argv[optind], usage);
		return EXIT_USAGE;
	}
	if ((!socket_path[0] && spz_path_socket(socket_path, sizeof(socket_path)) < 0) ||
	    (!db_path[0] && spz_path_db(db_path, sizeof(db_path)) < 0) ||
	    (!spool_dir[0] && spz_path_spool_dir(spool_dir, sizeof(spool_dir)) < 0)) {
		fprintf(stderr, "spaturzu collector: a default path is too long; pass --socket, --db, --spool\n");
		return 1;
	}

	int ready_fd = -1;
	if (!foreground) {
		if (!log_path[0]) {
			snprintf(log_path, sizeof(log_path), "%s", db_path);
			char *slash = strrchr(log_path, '/');
			snprintf(slash ? slash + 1 : log_path, sizeof(log_path) - (size_t)(slash ? slash + 1 - log_path : 0),
				 "collector.log");
		}
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", log_path);
		char *slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			spz_mkdirs(dir, 0700);
		}
		FILE *lf = fopen(log_path, "ae");
		if (!lf) {
			fprintf(stderr, "spaturzu collector: cannot open log %s: %s\n", log_path, strerror(errno));
			return 1;
		}
		clog_to(lf);
		if (daemonize(&ready_fd) < 0) {
			fprintf(stderr, "spaturzu collector: cannot go to the background: %s\n", strerror(errno));
			return 1;
		}
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull >= 0) {
			dup2(devnull, 2);
			close(devnull);
		}
	}

	struct spz_store store;
	struct spz_ingest in;
	if (spz_store_open(&store, db_path, false) < 0) {
		tell_parent(&ready_fd, 1);
		return 1;
	}
	int rc = spz_ingest_open(&in, socket_path, spool_dir, &store);
	if (rc < 0) {
		if (rc == -2)
			clog_error("another collector already serves %s", socket_path);
		spz_store_close(&store);
		tell_parent(&ready_fd, rc == -2 ? 3 : 1);
		if (rc == -2 && foreground)
			fprintf(stderr, "spaturzu collector: another collector already serves %s\n", socket_path);
		return rc == -2 ? 3 : 1;
	}

	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	clog_info("collector %d listening on %s, database %s, spool %s", (int)getpid(), socket_path, db_path,
		  spool_dir);
	spz_ingest_spool(&in);
	tell_parent(&ready_fd, 0);

	struct timespec last_spool;
	clock_gettime(CLOCK_MONOTONIC, &last_spool);
	bool store_failing = false;
	while (!stop_requested) {
		struct pollfd pfd = { .fd = in.sock, .events = POLLIN };
		int n = poll(&pfd, 1, store_failing ? 1000 : 500);
		if (reload_requested) {
			reload_requested = 0;
			clog_info("SIGHUP: settings reloaded");
		}
		if (n > 0 || store_failing) {
			bool failed = spz_ingest_socket(&in) < 0;
			if (failed && !store_failing)
				clog_error("the database does not take records (disk full?); holding them and retrying");
			store_failing = failed;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - last_spool.tv_sec >= 1) {
			spz_ingest_spool(&in);
			last_spool = now;
		}
	}
	/* Drain: what is queued on the socket and in the spool is stored before
	 * exit, bounded so a stuck database cannot hold the stop forever. */
	for (int i = 0; i < 50 && spz_ingest_socket(&in) > 0; i++)
		;
	spz_ingest_spool(&in);
	log_counts(&in, "stopping");
	spz_ingest_close(&in);
	spz_store_close(&store);
	return 0;
}
