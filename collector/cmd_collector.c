/* `spaturzu collector`: the daemon. Binds the socket, ingests datagrams and
 * spool files into the store until SIGTERM/SIGINT, then drains what is queued
 * and exits. SIGHUP asks for a reload of settings. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "../common/paths.h"
#include "budgets.h"
#include "policy.h"
#include "forward.h"
#include "../common/money.h"
#include "pricing.h"
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
	"Receive call records from preloaded shims, price them, store them durably\n"
	"and forward them to the spaturzu gateway. Records come as datagrams on a\n"
	"Unix socket; records a shim wrote to its spool while no collector\n"
	"listened are ingested too. Each record id is stored once, whatever path it\n"
	"took, and stays in the store until the gateway has acknowledged it.\n"
	"\n"
	"Paths:\n"
	"  -s, --socket PATH   socket to listen on (default: $SPATURZU_SOCKET, else\n"
	"                      $XDG_RUNTIME_DIR/spaturzu/collector.sock, else\n"
	"                      /tmp/spaturzu-$UID/collector.sock)\n"
	"  -d, --db PATH       SQLite database (default: $SPATURZU_DB, else\n"
	"                      $XDG_DATA_HOME/spaturzu/spaturzu.db, else\n"
	"                      ~/.local/share/spaturzu/spaturzu.db)\n"
	"      --spool DIR     spool directory to ingest (default: $SPATURZU_SPOOL,\n"
	"                      else $XDG_STATE_HOME/spaturzu/spool, else\n"
	"                      ~/.local/state/spaturzu/spool)\n"
	"      --budgets FILE  local budgets (default: $SPATURZU_BUDGETS, else\n"
	"                      ~/.config/spaturzu/budgets.json if it exists); see\n"
	"                      `spaturzu budgets --help`. Their state is published\n"
	"                      beside the socket (budgets.map) for the shims\n"
	"      --pricing FILE  price overrides merged over the built-in prices\n"
	"                      (default: $SPATURZU_PRICING, else\n"
	"                      ~/.config/spaturzu/pricing.json if it exists)\n"
	"\n"
	"Forwarding (on when SPATURZU_API_KEY or a gateway URL is set):\n"
	"      --gateway URL   the gateway's base URL (default: $SPATURZU_BASE_URL,\n"
	"                      else https://spaturzu-api.superchiu.org)\n"
	"      --api-key-file FILE  read the API key from FILE instead of\n"
	"                      $SPATURZU_API_KEY (never pass a key on the command line)\n"
	"      --no-forward    keep records local only\n"
	"      --gateway-ca FILE    CA certificates for the gateway's TLS\n"
	"      --max-in-flight N    concurrent POSTs (default 50)\n"
	"      --attempt-timeout SECONDS  per POST (default 10)\n"
	"      --retry-base SECONDS first retry delay; then 2, 4, 8, 16 times it,\n"
	"                      each times a random factor in [0.75, 1.25] (default 1)\n"
	"      --retry-max SECONDS  retry interval after that schedule, for as long\n"
	"                      as the gateway stays away (default 60)\n"
	"\n"
	"Gateway budgets (whenever forwarding is on): the collector fetches the\n"
	"policy of each agent it has seen, and \"(untagged)\" for the project's\n"
	"budgets, from {gateway}/v1/agents/{agent}/policy; follows the\n"
	"budget_breach events of {gateway}/v1/projects/_me/events; and publishes\n"
	"the limits beside the local budgets for the shims. A fetch that fails lets\n"
	"that agent's calls through (fail-open) and is logged.\n"
	"      --policy-poll SECONDS  fetch every policy again this often, the\n"
	"                      backstop to the event stream (default 60)\n"
	"      --events-reconnect SECONDS  wait before reconnecting a dropped\n"
	"                      event stream (default 5)\n"
	"      --no-gateway-budgets  forward records but take no budgets from the\n"
	"                      gateway\n"
	"\n"
	"System-wide mode (one collector for several users):\n"
	"      --system        socket " SPZ_SYSTEM_SOCKET " shared with a group (directory\n"
	"                      0750, socket 0660), database " SPZ_SYSTEM_DB ",\n"
	"                      shared spool " SPZ_SYSTEM_SPOOL " (mode 1730: members drop\n"
	"                      files, nobody lists them); each record keeps its sender's\n"
	"                      uid. Shims of users without a collector of their own\n"
	"                      send here by themselves; set SPATURZU_SPOOL=" SPZ_SYSTEM_SPOOL "\n"
	"                      for their spool. See dist/spaturzu-collector.service.\n"
	"      --group NAME    the group allowed to send (default spaturzu)\n"
	"\n"
	"Process:\n"
	"  -f, --foreground    stay in the foreground and log to stderr\n"
	"      --log FILE      log file when in the background\n"
	"                      (default: the database's directory/collector.log)\n"
	"      --drain-timeout SECONDS  on SIGTERM, how long to wait for POSTs in\n"
	"                      flight before leaving them for the next start (default 5)\n"
	"  -h, --help          show this help\n"
	"\n"
	"Signals: SIGTERM and SIGINT store what is queued, wait for POSTs in flight\n"
	"(bounded by --drain-timeout) and exit; SIGHUP reloads the budgets and the price overrides\n"
	"and prices again the stored calls that had no price.\n"
	"Exit status: 0 after a clean stop, 1 on a startup error, 2 on a usage\n"
	"error, 3 if another collector already serves the socket.\n";

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

static void log_counts(const struct spz_ingest *in, const struct spz_forwarder *fwd, const char *when)
{
	clog_info("%s: %llu received, %llu stored, %llu duplicates, %llu rejected, %llu spool files", when,
		  (unsigned long long)in->stats.received, (unsigned long long)in->stats.stored,
		  (unsigned long long)in->stats.duplicates, (unsigned long long)in->stats.rejected,
		  (unsigned long long)in->stats.spool_files);
	if (fwd) {
		const struct spz_forward_stats *fs = spz_forward_stats(fwd);
		clog_info("%s: %llu delivered to the gateway, %llu attempts to retry, %llu refused by it, %d in flight",
			  when, (unsigned long long)fs->delivered, (unsigned long long)fs->retried,
			  (unsigned long long)fs->rejected, fs->in_flight);
	}
}

/* "2.5" seconds -> 2500 ms; -1 when not a positive number. */
static long seconds_ms(const char *arg)
{
	char *end;
	double v = strtod(arg, &end);
	if (end == arg || *end || !(v > 0) || v > 86400 * 7)
		return -1;
	return (long)(v * 1000 + 0.5);
}

static int read_key_file(const char *path, char *key, size_t cap)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(key, 1, cap - 1, f);
	fclose(f);
	key[n] = '\0';
	while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r' || key[n - 1] == ' '))
		key[--n] = '\0';
	return n > 0 ? 0 : -1;
}

struct collector_state {
	struct spz_budgets budgets;
	char budgets_path[4096];
	bool budgets_required;
	struct spz_budget_publisher publisher;
	bool budgets_dirty;
	int64_t budgets_evaluated_ms;
	struct spz_store store;
	struct spz_ingest in;
	struct spz_forwarder *fwd;
	struct spz_policy *policy;
	int64_t agents_seen_seq; /* calls up to this seq have had their agents tracked */
	uint64_t policy_mark;
	struct spz_pricing *pricing;
	char pricing_path[4096];
	bool pricing_required;
	int64_t reprice_cursor;
	bool repricing;
};

static void publish_state(struct collector_state *cs, const char *socket_path, const char *spool_dir,
			  const struct spz_forward_config *fcfg)
{
	char v[640];
	snprintf(v, sizeof(v), "%d", (int)getpid());
	spz_store_meta_set(&cs->store, "collector.pid", v);
	spz_store_meta_set(&cs->store, "collector.version", SPZ_VERSION);
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(v, sizeof(v), "%Y-%m-%dT%H:%M:%SZ", &tm);
	spz_store_meta_set(&cs->store, "collector.started_at", v);
	spz_store_meta_set(&cs->store, "collector.socket", socket_path);
	spz_store_meta_set(&cs->store, "collector.spool", spool_dir);
	spz_store_meta_set(&cs->store, "forward.url", fcfg->enabled && cs->fwd ? fcfg->base_url : NULL);
	spz_store_meta_set(&cs->store, "forward.state",
			   !fcfg->enabled ? "off (no SPATURZU_API_KEY or gateway URL)" :
			   cs->fwd	  ? "on" :
					    "failed to start (see the log)");
	spz_store_meta_set(&cs->store, "policy.status", NULL); /* until this collector has its own */
	spz_store_meta_set(&cs->store, "pricing.as_of", spz_pricing_as_of(cs->pricing));
	spz_store_meta_set(&cs->store, "pricing.override",
			   cs->pricing_path[0] && access(cs->pricing_path, F_OK) == 0 ? cs->pricing_path : NULL);
}

static void publish_counts(struct collector_state *cs)
{
	char v[512];
	snprintf(v, sizeof(v), "{\"received\":%llu,\"stored\":%llu,\"duplicates\":%llu,\"rejected\":%llu}",
		 (unsigned long long)cs->in.stats.received, (unsigned long long)cs->in.stats.stored,
		 (unsigned long long)cs->in.stats.duplicates, (unsigned long long)cs->in.stats.rejected);
	spz_store_meta_set(&cs->store, "ingest.counts", v);
	if (cs->fwd) {
		const struct spz_forward_stats *fs = spz_forward_stats(cs->fwd);
		json_t *o = json_pack("{s:I,s:I,s:I,s:i}", "delivered", (json_int_t)fs->delivered, "retried",
				      (json_int_t)fs->retried, "rejected", (json_int_t)fs->rejected, "inFlight",
				      fs->in_flight);
		if (fs->last_error[0])
			json_object_set_new(o, "lastError", json_string(fs->last_error));
		char *text = json_dumps(o, JSON_COMPACT);
		spz_store_meta_set(&cs->store, "forward.counts", text);
		free(text);
		json_decref(o);
	}
}

static int load_budgets(struct collector_state *cs)
{
	char err[600];
	struct spz_budgets b;
	if (spz_budgets_load(&b, cs->budgets_path, cs->budgets_required, err, sizeof(err)) < 0) {
		clog_error("budgets: %s", err);
		return -1;
	}
	/* A budget kept across the reload keeps its state, so that its change
	 * (a raised limit lifting a breach) is told. */
	for (size_t i = 0; i < b.count; i++)
		for (size_t k = 0; k < cs->budgets.count; k++)
			if (strcmp(b.items[i].id, cs->budgets.items[k].id) == 0)
				b.items[i].breached = cs->budgets.items[k].breached;
	spz_budgets_free(&cs->budgets);
	cs->budgets = b;
	cs->budgets_dirty = true;
	if (b.count)
		clog_info("%zu budgets from %s", b.count, b.source);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Spend against the budgets, published for the shims: after new records
 * (at most every 200 ms) and every second (a new day or month begins). */
static void update_budgets(struct collector_state *cs, bool force)
{
	int64_t now = now_ms();
	if (!force && !(cs->budgets_dirty && now - cs->budgets_evaluated_ms >= 200) &&
	    now - cs->budgets_evaluated_ms < 1000)
		return;
	cs->budgets_dirty = false;
	cs->budgets_evaluated_ms = now;
	bool was[SPZ_BUDGET_MAP_MAX];
	for (size_t i = 0; i < cs->budgets.count && i < SPZ_BUDGET_MAP_MAX; i++)
		was[i] = cs->budgets.items[i].breached;
	if (cs->budgets.count && spz_budgets_evaluate(&cs->budgets, cs->store.db, now / 1000) < 0)
		clog_error("budgets: cannot read the spend from the database: %s", sqlite3_errmsg(cs->store.db));
	for (size_t i = 0; i < cs->budgets.count && i < SPZ_BUDGET_MAP_MAX; i++) {
		const struct spz_budget *b = &cs->budgets.items[i];
		if (b->breached != was[i]) {
			char cur[48], lim[48];
			spz_money_format(b->current_pusd, 2, cur, sizeof(cur));
			spz_money_format(b->limit_pusd, 2, lim, sizeof(lim));
			if (b->breached)
				clog_warn("budget %s breached: %s >= %s USD%s", b->id, cur, lim,
					  b->enforcement == SPZ_BUDGET_HARD_CAP ? "; its calls are refused" : " (alert only)");
			else
				clog_info("budget %s under its limit again (%s < %s USD)", b->id, cur, lim);
		}
	}
	/* The gateway's limits go beside the local ones; the gateway decides
	 * their state. */
	struct spz_budget merged[SPZ_BUDGET_MAP_MAX];
	size_t n = cs->budgets.count < SPZ_BUDGET_MAP_MAX ? cs->budgets.count : SPZ_BUDGET_MAP_MAX;
	if (n) /* items is NULL when there is no budgets file */
		memcpy(merged, cs->budgets.items, n * sizeof(merged[0]));
	n += spz_policy_budgets(cs->policy, merged + n, SPZ_BUDGET_MAP_MAX - n, now);
	struct spz_budgets all = { .items = merged, .count = n };
	spz_budget_publish(&cs->publisher, &all, now);
}

/* A shim's notice: an agent's first call in a process is starting. */
static void agent_announced(void *ud, const char *agent)
{
	struct collector_state *cs = ud;
	spz_policy_track(cs->policy, agent);
}

/* The agents whose gateway policies matter: every agent that made a call
 * here (the last 35 days at start, then each new one as it arrives). */
static void track_agents(struct collector_state *cs, bool at_start)
{
	if (!cs->policy)
		return;
	sqlite3_stmt *q = NULL;
	const char *sql = at_start ? "SELECT DISTINCT agent_name, (SELECT max(seq) FROM calls) FROM calls"
				     " WHERE agent_name IS NOT NULL AND started_at >= ?"
				   : "SELECT DISTINCT agent_name, (SELECT max(seq) FROM calls) FROM calls"
				     " WHERE agent_name IS NOT NULL AND seq > ?";
	if (sqlite3_prepare_v2(cs->store.db, sql, -1, &q, NULL) != SQLITE_OK)
		return;
	char since[32];
	if (at_start) {
		spz_budget_period_start(SPZ_BUDGET_DAILY, now_ms() / 1000 - 35 * 86400, since, sizeof(since));
		sqlite3_bind_text(q, 1, since, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_int64(q, 1, cs->agents_seen_seq);
	}
	int64_t max_seq = cs->agents_seen_seq;
	while (sqlite3_step(q) == SQLITE_ROW) {
		spz_policy_track(cs->policy, (const char *)sqlite3_column_text(q, 0));
		max_seq = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	if (at_start) {
		sqlite3_stmt *m = NULL;
		if (sqlite3_prepare_v2(cs->store.db, "SELECT coalesce(max(seq), 0) FROM calls", -1, &m, NULL) == SQLITE_OK &&
		    sqlite3_step(m) == SQLITE_ROW)
			max_seq = sqlite3_column_int64(m, 0);
		sqlite3_finalize(m);
	}
	cs->agents_seen_seq = max_seq;
}

/* How following the gateway's budgets goes, for `spaturzu budgets`: written
 * when it changes. */
static void publish_policy(struct collector_state *cs)
{
	if (!cs->policy)
		return;
	const struct spz_policy_stats *ps = spz_policy_stats(cs->policy);
	uint64_t mark = ps->fetches * 1000003u + ps->fetch_failures * 7919u + ps->event_connects * 31u +
			(uint64_t)ps->events_connected + (uint64_t)ps->agents * 131u + (uint64_t)ps->agents_known * 17u;
	if (mark == cs->policy_mark)
		return;
	cs->policy_mark = mark;
	char state[300];
	int failing = ps->agents - ps->agents_known;
	if (ps->fetches == 0)
		snprintf(state, sizeof(state), "starting");
	else if (failing > 0)
		snprintf(state, sizeof(state),
			 "fail-open for %d of %d agents: their last policy fetch failed, so the gateway's budgets "
			 "do not stop their calls",
			 failing, ps->agents);
	else
		snprintf(state, sizeof(state), "following %d agents' policies; event stream %s", ps->agents,
			 ps->events_connected ? "connected" : "down (polling)");
	json_t *o = json_pack("{s:s,s:i,s:i,s:b,s:I,s:I}", "state", state, "agents", ps->agents, "agentsKnown",
			      ps->agents_known, "eventStream", ps->events_connected, "fetches", (json_int_t)ps->fetches,
			      "failures", (json_int_t)ps->fetch_failures);
	if (ps->last_error[0])
		json_object_set_new(o, "lastError", json_string(ps->last_error));
	char *text = json_dumps(o, JSON_COMPACT);
	spz_store_meta_set(&cs->store, "policy.status", text);
	free(text);
	json_decref(o);
}

/* Waits for the ingest socket, the gateway's sockets or what is due. */
static int wait_ready(struct collector_state *cs, int timeout)
{
	struct curl_waitfd fds[65] = { { .fd = cs->in.sock, .events = CURL_WAIT_POLLIN } };
	size_t n = 1 + spz_policy_waitfds(cs->policy, fds + 1, 64, &timeout);
	if (cs->fwd)
		return spz_forward_wait(cs->fwd, fds, n, timeout);
	struct pollfd pfd[65];
	for (size_t i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ .fd = fds[i].fd,
					  .events = (short)((fds[i].events & CURL_WAIT_POLLIN ? POLLIN : 0) |
							    (fds[i].events & CURL_WAIT_POLLOUT ? POLLOUT : 0) |
							    (fds[i].events & CURL_WAIT_POLLPRI ? POLLPRI : 0)) };
	return poll(pfd, n, timeout) > 0 && (pfd[0].revents & POLLIN);
}

static int load_pricing(struct collector_state *cs)
{
	char err[600];
	struct spz_pricing *p = spz_pricing_load(cs->pricing_path, cs->pricing_required, err, sizeof(err));
	if (!p) {
		clog_error("prices: %s", err);
		return -1;
	}
	spz_pricing_free(cs->pricing);
	cs->pricing = p;
	cs->in.pricing = p;
	cs->reprice_cursor = 0;
	cs->repricing = true;
	bool overridden = cs->pricing_path[0] && access(cs->pricing_path, F_OK) == 0;
	clog_info("prices of %zu models (data of %s)%s%s", spz_pricing_model_count(p), spz_pricing_as_of(p),
		  overridden ? ", overrides from " : "", overridden ? cs->pricing_path : "");
	return 0;
}

int cmd_collector(int argc, char **argv)
{
	enum {
		O_SPOOL = 256, O_LOG, O_PRICING, O_GATEWAY, O_KEYFILE, O_NOFWD, O_CA, O_INFLIGHT, O_TIMEOUT,
		O_RBASE, O_RMAX, O_DRAIN, O_SYSTEM, O_GROUP, O_BUDGETS, O_POLL, O_RECONNECT, O_NOPOLICY,
	};
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' },
		{ "spool", required_argument, NULL, O_SPOOL },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log", required_argument, NULL, O_LOG },
		{ "pricing", required_argument, NULL, O_PRICING },
		{ "gateway", required_argument, NULL, O_GATEWAY },
		{ "api-key-file", required_argument, NULL, O_KEYFILE },
		{ "no-forward", no_argument, NULL, O_NOFWD },
		{ "gateway-ca", required_argument, NULL, O_CA },
		{ "max-in-flight", required_argument, NULL, O_INFLIGHT },
		{ "attempt-timeout", required_argument, NULL, O_TIMEOUT },
		{ "retry-base", required_argument, NULL, O_RBASE },
		{ "retry-max", required_argument, NULL, O_RMAX },
		{ "drain-timeout", required_argument, NULL, O_DRAIN },
		{ "system", no_argument, NULL, O_SYSTEM },
		{ "group", required_argument, NULL, O_GROUP },
		{ "budgets", required_argument, NULL, O_BUDGETS },
		{ "policy-poll", required_argument, NULL, O_POLL },
		{ "events-reconnect", required_argument, NULL, O_RECONNECT },
		{ "no-gateway-budgets", no_argument, NULL, O_NOPOLICY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char socket_path[4096] = "", db_path[4096] = "", spool_dir[4096] = "", log_path[4096] = "";
	static struct collector_state cs;
	memset(&cs, 0, sizeof(cs));
	struct spz_forward_config fcfg;
	spz_forward_config_defaults(&fcfg);
	bool foreground = false, no_forward = false, system_mode = false;
	const char *group_name = "spaturzu";
	long drain_ms = 5000, poll_ms = 60000, reconnect_ms = 5000;
	bool no_policy = false;
	int c;
	while ((c = getopt_long(argc, argv, "s:d:fh", opts, NULL)) != -1) {
		long ms;
		switch (c) {
		case 's': snprintf(socket_path, sizeof(socket_path), "%s", optarg); break;
		case 'd': snprintf(db_path, sizeof(db_path), "%s", optarg); break;
		case O_SPOOL: snprintf(spool_dir, sizeof(spool_dir), "%s", optarg); break;
		case 'f': foreground = true; break;
		case O_LOG: snprintf(log_path, sizeof(log_path), "%s", optarg); break;
		case O_PRICING:
			snprintf(cs.pricing_path, sizeof(cs.pricing_path), "%s", optarg);
			cs.pricing_required = true;
			break;
		case O_GATEWAY:
			snprintf(fcfg.base_url, sizeof(fcfg.base_url), "%s", optarg);
			fcfg.enabled = true;
			break;
		case O_KEYFILE:
			if (read_key_file(optarg, fcfg.api_key, sizeof(fcfg.api_key)) < 0) {
				fprintf(stderr, "spaturzu collector: cannot read an API key from %s\n", optarg);
				return EXIT_USAGE;
			}
			fcfg.enabled = true;
			break;
		case O_NOFWD: no_forward = true; break;
		case O_NOPOLICY: no_policy = true; break;
		case O_SYSTEM: system_mode = true; break;
		case O_GROUP: group_name = optarg; break;
		case O_BUDGETS:
			snprintf(cs.budgets_path, sizeof(cs.budgets_path), "%s", optarg);
			cs.budgets_required = true;
			break;
		case O_CA: snprintf(fcfg.ca_file, sizeof(fcfg.ca_file), "%s", optarg); break;
		case O_INFLIGHT:
			fcfg.max_in_flight = atoi(optarg);
			if (fcfg.max_in_flight < 1 || fcfg.max_in_flight > 1000) {
				fprintf(stderr, "spaturzu collector: --max-in-flight takes 1 to 1000\n");
				return EXIT_USAGE;
			}
			break;
		case O_TIMEOUT:
		case O_RBASE:
		case O_RMAX:
		case O_DRAIN:
		case O_POLL:
		case O_RECONNECT:
			if ((ms = seconds_ms(optarg)) < 0) {
				fprintf(stderr, "spaturzu collector: '%s' is not a positive number of seconds\n", optarg);
				return EXIT_USAGE;
			}
			if (c == O_TIMEOUT)
				fcfg.attempt_timeout_ms = ms;
			else if (c == O_RBASE)
				fcfg.retry_base_ms = ms;
			else if (c == O_RMAX)
				fcfg.retry_max_ms = ms;
			else if (c == O_POLL)
				poll_ms = ms;
			else if (c == O_RECONNECT)
				reconnect_ms = ms;
			else
				drain_ms = ms;
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (no_forward)
		fcfg.enabled = false;
	if (optind < argc) {
		fprintf(stderr, "spaturzu collector: unexpected argument '%s'\n\n%s", argv[optind], usage);
		return EXIT_USAGE;
	}
	if (fcfg.enabled && strncmp(fcfg.base_url, "http://", 7) != 0 && strncmp(fcfg.base_url, "https://", 8) != 0) {
		fprintf(stderr, "spaturzu collector: the gateway URL must start with https:// (or http://): %s\n",
			fcfg.base_url);
		return EXIT_USAGE;
	}
	if (!cs.pricing_path[0]) {
		const char *env_pricing = getenv("SPATURZU_PRICING");
		if (env_pricing && *env_pricing) {
			snprintf(cs.pricing_path, sizeof(cs.pricing_path), "%s", env_pricing);
			cs.pricing_required = true;
		} else if (spz_path_config(cs.pricing_path, sizeof(cs.pricing_path), "pricing.json") < 0) {
			cs.pricing_path[0] = '\0';
		}
	}
	long gid = -1;
	if (system_mode) {
		struct group *g = getgrnam(group_name);
		if (!g) {
			fprintf(stderr,
				"spaturzu collector: group '%s' does not exist. Create it (groupadd --system %s) and add\n"
				"  the users whose programs should report, or name another with --group.\n",
				group_name, group_name);
			return 1;
		}
		gid = (long)g->gr_gid;
		if (!socket_path[0])
			snprintf(socket_path, sizeof(socket_path), "%s", SPZ_SYSTEM_SOCKET);
		if (!db_path[0])
			snprintf(db_path, sizeof(db_path), "%s", SPZ_SYSTEM_DB);
		if (!spool_dir[0])
			snprintf(spool_dir, sizeof(spool_dir), "%s", SPZ_SYSTEM_SPOOL);
		/* A drop box: members create their spool files, nobody lists or
		 * removes another's; the collector reads and removes them. */
		if (spz_mkdirs(spool_dir, 01730) < 0 || chown(spool_dir, (uid_t)-1, (gid_t)gid) < 0 ||
		    chmod(spool_dir, 01730) < 0) {
			fprintf(stderr, "spaturzu collector: cannot prepare the shared spool %s: %s\n", spool_dir,
				strerror(errno));
			return 1;
		}
	}
	if ((!socket_path[0] && spz_path_socket(socket_path, sizeof(socket_path)) < 0) ||
	    (!db_path[0] && spz_path_db(db_path, sizeof(db_path)) < 0) ||
	    (!spool_dir[0] && spz_path_spool_dir(spool_dir, sizeof(spool_dir)) < 0)) {
		fprintf(stderr, "spaturzu collector: a default path is too long; pass --socket, --db, --spool\n");
		return 1;
	}
	if (!cs.budgets_path[0]) {
		const char *env_budgets = getenv("SPATURZU_BUDGETS");
		if (env_budgets && *env_budgets) {
			snprintf(cs.budgets_path, sizeof(cs.budgets_path), "%s", env_budgets);
			cs.budgets_required = true;
		} else if (spz_path_config(cs.budgets_path, sizeof(cs.budgets_path), "budgets.json") < 0) {
			cs.budgets_path[0] = '\0';
		}
	}
	if (load_budgets(&cs) < 0) {
		fprintf(stderr, "spaturzu collector: fix or remove the budgets file, then start again\n");
		return 1;
	}
	/* Prices are checked before going to the background, so that a broken
	 * override file is an error the user sees. */
	if (load_pricing(&cs) < 0) {
		fprintf(stderr, "spaturzu collector: fix or remove the price file, then start again\n");
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
		setvbuf(lf, NULL, _IOLBF, 0);
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

	if (spz_store_open(&cs.store, db_path, false) < 0) {
		tell_parent(&ready_fd, 1);
		return 1;
	}
	int rc = system_mode ? spz_ingest_open_shared(&cs.in, socket_path, spool_dir, &cs.store, gid) :
			       spz_ingest_open(&cs.in, socket_path, spool_dir, &cs.store);
	if (rc < 0) {
		if (rc == -2)
			clog_error("another collector already serves %s", socket_path);
		spz_store_close(&cs.store);
		tell_parent(&ready_fd, rc == -2 ? 3 : 1);
		if (rc == -2 && foreground)
			fprintf(stderr, "spaturzu collector: another collector already serves %s\n", socket_path);
		return rc == -2 ? 3 : 1;
	}
	cs.in.pricing = cs.pricing;
	cs.publisher.fd = -1;
	spz_budget_publisher_open(&cs.publisher, socket_path, system_mode ? gid : -1);
	update_budgets(&cs, true);

	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	cs.fwd = spz_forward_new(&fcfg, &cs.store);
	if (fcfg.enabled && !no_policy) {
		struct spz_policy_config pcfg = { .poll_ms = poll_ms, .reconnect_ms = reconnect_ms,
						  .timeout_ms = fcfg.attempt_timeout_ms };
		snprintf(pcfg.base_url, sizeof(pcfg.base_url), "%s", fcfg.base_url);
		snprintf(pcfg.api_key, sizeof(pcfg.api_key), "%s", fcfg.api_key);
		snprintf(pcfg.ca_file, sizeof(pcfg.ca_file), "%s", fcfg.ca_file);
		cs.policy = spz_policy_new(&pcfg);
		memset(pcfg.api_key, 0, sizeof(pcfg.api_key));
		if (!cs.policy)
			clog_error("budgets: cannot follow the gateway's policies (out of memory); its budgets are not "
				   "enforced");
		track_agents(&cs, true);
		cs.in.on_agent = agent_announced;
		cs.in.on_agent_ud = &cs;
	}
	memset(fcfg.api_key, 0, sizeof(fcfg.api_key));
	publish_state(&cs, socket_path, spool_dir, &fcfg);

	clog_info("collector %d listening on %s, database %s, spool %s%s", (int)getpid(), socket_path, db_path,
		  spool_dir, fcfg.enabled ? "" : "; forwarding off (no SPATURZU_API_KEY or gateway URL)");
	if (spz_ingest_spool(&cs.in) > 0)
		spz_forward_notify(cs.fwd);
	tell_parent(&ready_fd, 0);

	struct timespec last_spool, last_publish;
	clock_gettime(CLOCK_MONOTONIC, &last_spool);
	last_publish = last_spool;
	bool store_failing = false, ring_busy = false;
	while (!stop_requested) {
		spz_forward_pump(cs.fwd);
		/* The ring is looked at after every wake-up; a writer still inside
		 * a slot, or records that came by it, bring the next look closer
		 * (writers ring the doorbell only when they find it empty). */
		int timeout = cs.repricing ? 0 : store_failing ? 1000 : cs.in.ring_pending ? 2 : ring_busy ? 20 : 500;
		int commit_in = spz_ingest_commit_in_ms(&cs.in);
		if (!store_failing && commit_in >= 0 && commit_in < timeout)
			timeout = commit_in;
		/* While records flow or wait to be committed, writers need not
		 * wake us: we look within the timeout. Otherwise the promise is
		 * withdrawn, and a writer that claimed a slot under the old one
		 * (and so did not ring) is looked for before sleeping. */
		if (timeout <= SPZ_RING_COMMIT_MS && !store_failing) {
			spz_ingest_ring_promise(&cs.in, timeout);
		} else {
			spz_ingest_ring_promise(&cs.in, 0);
			if (!store_failing && spz_ingest_ring_unread(&cs.in))
				timeout = 0;
		}
		int readable = wait_ready(&cs, timeout);
		if (reload_requested) {
			reload_requested = 0;
			if (load_pricing(&cs) == 0)
				clog_info("SIGHUP: prices reloaded");
			else
				clog_error("SIGHUP: the price file is broken; keeping the prices in use");
			if (load_budgets(&cs) == 0)
				clog_info("SIGHUP: budgets reloaded");
			else
				clog_error("SIGHUP: the budgets file is broken; keeping the budgets in use");
		}
		uint64_t stored_before = cs.in.stats.stored;
		if (readable || store_failing) {
			int got = spz_ingest_socket(&cs.in);
			bool failed = got < 0;
			if (failed && !store_failing)
				clog_error("the database does not take records (disk full?); holding them and retrying");
			store_failing = failed;
		}
		if (!store_failing) {
			int got = spz_ingest_ring(&cs.in, false);
			if (got < 0 && !store_failing)
				clog_error("the database does not take records (disk full?); holding them and retrying");
			store_failing = got < 0;
			ring_busy = got > 0;
		}
		/* Records reach the store in groups: what follows them (forwarding,
		 * spend, agents' policies) starts when they are committed. */
		if (cs.in.stats.stored != stored_before) {
			spz_forward_notify(cs.fwd);
			cs.budgets_dirty = true;
			track_agents(&cs, false);
		}
		spz_policy_run(cs.policy);
		publish_policy(&cs);
		update_budgets(&cs, spz_policy_take_changed(cs.policy));
		spz_forward_progress(cs.fwd);
		if (cs.repricing && spz_store_reprice_step(&cs.store, cs.pricing, &cs.reprice_cursor, 500) <= 0)
			cs.repricing = false;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - last_spool.tv_sec >= 1) {
			if (spz_ingest_spool(&cs.in) > 0)
				spz_forward_notify(cs.fwd);
			last_spool = now;
		}
		if (now.tv_sec - last_publish.tv_sec >= 5) {
			publish_counts(&cs);
			last_publish = now;
		}
	}
	/* Drain: what is queued on the socket and in the spool is stored before
	 * exit, bounded so a stuck database cannot hold the stop forever; POSTs
	 * in flight get drain_ms to finish, the rest stay pending for the next
	 * start. */
	for (int i = 0; i < 50 && spz_ingest_socket(&cs.in) > 0; i++)
		;
	for (int i = 0; i < 50 && spz_ingest_ring(&cs.in, true) > 0; i++)
		;
	spz_ingest_spool(&cs.in);
	if (cs.fwd) {
		struct timespec t0, now;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			spz_forward_progress(cs.fwd);
			if (spz_forward_stats(cs.fwd)->in_flight == 0)
				break;
			clock_gettime(CLOCK_MONOTONIC, &now);
			long elapsed = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
			if (elapsed >= drain_ms)
				break;
			spz_forward_wait(cs.fwd, NULL, 0, (int)(drain_ms - elapsed < 100 ? drain_ms - elapsed : 100));
		}
		if (spz_forward_stats(cs.fwd)->in_flight)
			clog_info("stopping: %d POSTs still in flight after %ld ms; their records are sent at the next start",
				  spz_forward_stats(cs.fwd)->in_flight, drain_ms);
	}
	log_counts(&cs.in, cs.fwd, "stopping");
	publish_counts(&cs);
	spz_store_meta_set(&cs.store, "collector.pid", NULL);
	spz_policy_free(cs.policy);
	spz_forward_free(cs.fwd);
	curl_global_cleanup();
	spz_ingest_close(&cs.in);
	spz_store_close(&cs.store);
	spz_pricing_free(cs.pricing);
	spz_budget_publisher_close(&cs.publisher);
	spz_budgets_free(&cs.budgets);
	return 0;
}
