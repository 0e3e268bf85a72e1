/* `spaturzu calls`: one line per stored call, newest last, as a table or as
 * JSON lines with the record's field names. Reads the database only. */
#include <getopt.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/paths.h"
#include "cli.h"
#include "clog.h"
#include "spend.h"
#include "store.h"

static const char usage[] =
	"Usage: spaturzu calls [OPTIONS]\n"
	"\n"
	"List stored LLM calls, oldest first, one per line.\n"
	"\n"
	"Options:\n"
	"      --json          JSON lines with the record fields (id, provider, model,\n"
	"                      runId, agentName, agentPath, promptTokens, ...,\n"
	"                      costUsd: a decimal string, or null when unpriced)\n"
	"  -a, --agent NAME    only calls of this agent\n"
	"  -r, --run ID        only calls of this run\n"
	"  -m, --model NAME    only calls that asked for this model\n"
	"      --provider NAME only calls to this provider (openai, anthropic, ...)\n"
	"      --status S      only calls with this HTTP status: 429, 4xx, 5xx, ok\n"
	"                      (2xx) or error (4xx and 5xx)\n"
	"      --since TIME    only calls started at or after TIME: 2026-11-01,\n"
	"                      2026-11-01T09:30Z, or an age such as 7d, 24h, 90m\n"
	"  -n, --limit N       at most the N most recent calls (default: all)\n"
	"  -d, --db PATH       database (default: $SPATURZU_DB, else\n"
	"                      $XDG_DATA_HOME/spaturzu/spaturzu.db)\n"
	"  -h, --help          show this help\n";

static void print_opt_int(sqlite3_stmt *s, int col, int width)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		printf(" %*s", width, "-");
	else
		printf(" %*lld", width, (long long)sqlite3_column_int64(s, col));
}

int cmd_calls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "agent", required_argument, NULL, 'a' },
		{ "run", required_argument, NULL, 'r' },
		{ "limit", required_argument, NULL, 'n' },
		{ "model", required_argument, NULL, 'm' },
		{ "provider", required_argument, NULL, 'P' },
		{ "status", required_argument, NULL, 'S' },
		{ "since", required_argument, NULL, 'T' },
		{ "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	const char *agent = NULL, *run = NULL, *model = NULL, *provider = NULL;
	int status_lo = -1, status_hi = -1;
	char since[40] = "";
	long limit = -1;
	char db_path[4096] = "";
	int c;
	while ((c = getopt_long(argc, argv, "a:r:n:m:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'a': agent = optarg; break;
		case 'r': run = optarg; break;
		case 'm': model = optarg; break;
		case 'P': provider = optarg; break;
		case 'S': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (strcmp(optarg, "ok") == 0) {
				status_lo = 200, status_hi = 299;
			} else if (strcmp(optarg, "error") == 0) {
				status_lo = 400, status_hi = 599;
			} else if (strlen(optarg) == 3 && optarg[1] == 'x' && optarg[2] == 'x' && optarg[0] >= '1' &&
				   optarg[0] <= '5') {
				status_lo = (optarg[0] - '0') * 100, status_hi = status_lo + 99;
			} else if (*end == '\0' && end != optarg && v >= 100 && v <= 599) {
				status_lo = status_hi = (int)v;
			} else {
				fprintf(stderr, "spaturzu calls: --status takes 429, 4xx, 5xx, ok or error, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 'T':
			if (spend_parse_time(optarg, (int64_t)time(NULL), since, sizeof(since)) < 0) {
				fprintf(stderr, "spaturzu calls: --since '%s' is not a date (2026-11-01), a UTC time "
						"(2026-11-01T09:30Z) or an age (7d, 24h)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'n': {
			char *end;
			limit = strtol(optarg, &end, 10);
			if (*end || limit < 0) {
				fprintf(stderr, "spaturzu calls: --limit takes a whole number, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 'd': snprintf(db_path, sizeof(db_path), "%s", optarg); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (!db_path[0] && spz_path_db(db_path, sizeof(db_path)) < 0) {
		fprintf(stderr, "spaturzu calls: database path too long; pass --db\n");
		return 1;
	}
	struct stat st;
	if (stat(db_path, &st) < 0) {
		fprintf(stderr,
			"spaturzu calls: no database at %s\n"
			"  Nothing has been collected yet: start `spaturzu collector`, or pass --db PATH.\n",
			db_path);
		return 1;
	}
	struct spz_store store;
	if (spz_store_open(&store, db_path, true) < 0)
		return 1;
	/* The most recent N, shown oldest first. */
	const char *sql =
		"SELECT * FROM (SELECT seq, record, cost_usd, sender_uid, started_at, agent_name, provider, model, status,"
		" prompt_tokens, completion_tokens, cached_input_tokens, latency_ms FROM calls"
		" WHERE (?1 IS NULL OR agent_name = ?1) AND (?2 IS NULL OR run_id = ?2)"
		" AND (?4 IS NULL OR model = ?4) AND (?5 IS NULL OR provider = ?5)"
		" AND (?6 IS NULL OR status BETWEEN ?6 AND ?7) AND (?8 IS NULL OR started_at >= ?8)"
		" ORDER BY started_at DESC, seq DESC LIMIT ?3) ORDER BY started_at, seq";
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(store.db, sql, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "spaturzu calls: %s: %s\n", db_path, sqlite3_errmsg(store.db));
		spz_store_close(&store);
		return 1;
	}
	if (agent)
		sqlite3_bind_text(s, 1, agent, -1, SQLITE_STATIC);
	if (run)
		sqlite3_bind_text(s, 2, run, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, limit);
	if (model)
		sqlite3_bind_text(s, 4, model, -1, SQLITE_STATIC);
	if (provider)
		sqlite3_bind_text(s, 5, provider, -1, SQLITE_STATIC);
	if (status_lo >= 0) {
		sqlite3_bind_int(s, 6, status_lo);
		sqlite3_bind_int(s, 7, status_hi);
	}
	if (since[0])
		sqlite3_bind_text(s, 8, since, -1, SQLITE_STATIC);
	if (!json)
		printf("%-24s %-20s %-12s %-28s %6s %9s %9s %9s %8s %12s\n", "STARTED", "AGENT", "PROVIDER", "MODEL",
		       "STATUS", "INPUT", "OUTPUT", "CACHED", "MS", "COST USD");
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (json) {
			json_t *rec = json_loads((const char *)sqlite3_column_text(s, 1), 0, NULL);
			if (!rec)
				continue;
			const char *cost = (const char *)sqlite3_column_text(s, 2);
			json_object_set_new(rec, "costUsd", cost ? json_string(cost) : json_null());
			if (sqlite3_column_type(s, 3) != SQLITE_NULL)
				json_object_set_new(rec, "uid", json_integer(sqlite3_column_int64(s, 3)));
			char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
			if (line)
				puts(line);
			free(line);
			json_decref(rec);
		} else {
			printf("%-24.24s %-20.20s %-12.12s %-28.28s %6d", (const char *)sqlite3_column_text(s, 4),
			       sqlite3_column_text(s, 5) ? (const char *)sqlite3_column_text(s, 5) : "-",
			       (const char *)sqlite3_column_text(s, 6), (const char *)sqlite3_column_text(s, 7),
			       sqlite3_column_int(s, 8));
			print_opt_int(s, 9, 9);
			print_opt_int(s, 10, 9);
			print_opt_int(s, 11, 9);
			print_opt_int(s, 12, 8);
			const char *cost = (const char *)sqlite3_column_text(s, 2);
			printf(" %12s\n", cost ? cost : "?");
		}
	}
	int result = 0;
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "spaturzu calls: %s: %s\n", db_path, sqlite3_errmsg(store.db));
		result = 1;
	}
	sqlite3_finalize(s);
	spz_store_close(&store);
	return result;
}
