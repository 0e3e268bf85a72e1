/* `spaturzu status`: is the collector running, what is stored, what waits
 * for the gateway and why, which models have no price. Reads the database
 * (the collector keeps its own state in table meta) and probes the socket's
 * lock; changes nothing. */
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/paths.h"
#include "cli.h"
#include "ingest.h"
#include "../common/money.h"
#include "spend.h"
#include "store.h"

static const char usage[] =
	"Usage: spaturzu status [OPTIONS]\n"
	"\n"
	"Show the collector's health: whether it runs, the database, the spool,\n"
	"records waiting for the gateway and the last delivery error, records the\n"
	"gateway refused, and the models seen without a price (their calls have a\n"
	"null cost until a price is added and the collector gets SIGHUP).\n"
	"\n"
	"Options:\n"
	"      --json          one JSON object instead of text\n"
	"  -s, --socket PATH   the collector's socket (default as for `collector`)\n"
	"  -d, --db PATH       database (default: $SPATURZU_DB, else\n"
	"                      $XDG_DATA_HOME/spaturzu/spaturzu.db)\n"
	"      --spool DIR     spool directory (default as for `collector`)\n"
	"  -h, --help          show this help\n"
	"\n"
	"Exit status: 0 when a collector is running, 1 when none is (the report\n"
	"is printed either way), 2 on a usage error.\n";

static int spool_files(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".jsonl"))
			n++;
	closedir(d);
	return n;
}

static json_t *meta_value(sqlite3 *db, const char *key)
{
	sqlite3_stmt *s;
	json_t *v = NULL;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &s, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		const char *text = (const char *)sqlite3_column_text(s, 0);
		v = text[0] == '{' ? json_loads(text, 0, NULL) : json_string(text);
	}
	sqlite3_finalize(s);
	return v;
}

static int64_t scalar(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static json_t *text_of(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	json_t *v = json_null();
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_type(s, 0) != SQLITE_NULL) {
		json_decref(v);
		v = json_string((const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_finalize(s);
	return v;
}

static const char *str(json_t *o, const char *k, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : dflt;
}

static json_t *gather(sqlite3 *db, const char *db_path, const char *socket_path, const char *spool_dir, bool running)
{
	json_t *o = json_object();
	json_t *col = json_object();
	json_object_set_new(col, "running", json_boolean(running));
	if (running) {
		json_t *pid = meta_value(db, "collector.pid");
		if (pid)
			json_object_set_new(col, "pid", json_integer(atoi(json_string_value(pid))));
		json_decref(pid);
		json_object_set_new(col, "since", meta_value(db, "collector.started_at") ?: json_null());
		json_object_set_new(col, "version", meta_value(db, "collector.version") ?: json_null());
	}
	json_object_set_new(col, "socket", json_string(socket_path));
	json_object_set_new(o, "collector", col);

	json_t *d = json_object();
	struct stat st;
	json_object_set_new(d, "path", json_string(db_path));
	json_object_set_new(d, "bytes", json_integer(stat(db_path, &st) == 0 ? st.st_size : 0));
	json_object_set_new(d, "calls", json_integer(scalar(db, "SELECT count(*) FROM calls")));
	json_object_set_new(d, "newest", text_of(db, "SELECT max(started_at) FROM calls"));
	json_object_set_new(o, "database", d);

	json_t *sp = json_object();
	json_object_set_new(sp, "path", json_string(spool_dir));
	json_object_set_new(sp, "filesWaiting", json_integer(spool_files(spool_dir)));
	json_object_set_new(o, "spool", sp);

	json_t *f = json_object();
	json_t *state = meta_value(db, "forward.state");
	json_object_set_new(f, "state", state ?: json_string("unknown (the collector has not run with this database)"));
	json_object_set_new(f, "url", meta_value(db, "forward.url") ?: json_null());
	json_object_set_new(f, "backlog", json_integer(scalar(db, "SELECT count(*) FROM calls WHERE delivery = 0")));
	json_object_set_new(f, "oldestWaiting", text_of(db, "SELECT min(started_at) FROM calls WHERE delivery = 0"));
	json_object_set_new(f, "failing",
			    json_integer(scalar(db, "SELECT count(*) FROM calls WHERE delivery = 0 AND attempts > 0")));
	json_object_set_new(f, "lastError",
			    text_of(db, "SELECT last_error FROM calls WHERE delivery = 0 AND last_error IS NOT NULL"
					" ORDER BY next_attempt_ms DESC LIMIT 1"));
	json_object_set_new(f, "delivered", json_integer(scalar(db, "SELECT count(*) FROM calls WHERE delivery = 1")));
	json_object_set_new(f, "lastDelivery", text_of(db, "SELECT max(delivered_at) FROM calls WHERE delivery = 1"));
	json_object_set_new(f, "refused", json_integer(scalar(db, "SELECT count(*) FROM calls WHERE delivery = 2")));
	json_object_set_new(f, "lastRefusal",
			    text_of(db, "SELECT last_error FROM calls WHERE delivery = 2 ORDER BY seq DESC LIMIT 1"));
	json_object_set_new(f, "localOnly", json_integer(scalar(db, "SELECT count(*) FROM calls WHERE delivery = 3")));
	json_object_set_new(o, "forwarding", f);

	json_t *pr = json_object();
	json_object_set_new(pr, "dataAsOf", meta_value(db, "pricing.as_of") ?: json_null());
	json_object_set_new(pr, "overrides", meta_value(db, "pricing.override") ?: json_null());
	json_t *unknown = json_array();
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db,
			       "SELECT provider, model, count(*), max(started_at) FROM calls WHERE cost_pusd IS NULL"
			       " AND (prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL)"
			       " GROUP BY provider, model ORDER BY count(*) DESC",
			       -1, &s, NULL) == SQLITE_OK) {
		while (sqlite3_step(s) == SQLITE_ROW)
			json_array_append_new(unknown,
					      json_pack("{s:s,s:s,s:I,s:s}", "provider", sqlite3_column_text(s, 0),
							"model", sqlite3_column_text(s, 1), "calls",
							(json_int_t)sqlite3_column_int64(s, 2), "lastSeen",
							sqlite3_column_text(s, 3)));
		sqlite3_finalize(s);
	}
	json_object_set_new(pr, "unknownModels", unknown);
	json_object_set_new(pr, "callsWithoutUsage",
			    json_integer(scalar(db, "SELECT count(*) FROM calls WHERE cost_pusd IS NULL AND"
						    " prompt_tokens IS NULL AND completion_tokens IS NULL")));
	json_object_set_new(o, "pricing", pr);
	json_t *counts = meta_value(db, "ingest.counts");
	json_object_set_new(o, "ingest", counts ?: json_null());
	return o;
}

static void print_text(json_t *o)
{
	json_t *c = json_object_get(o, "collector"), *d = json_object_get(o, "database"), *sp = json_object_get(o, "spool"),
	       *f = json_object_get(o, "forwarding"), *pr = json_object_get(o, "pricing");
	if (json_is_true(json_object_get(c, "running")))
		printf("collector   running (pid %lld, since %s, version %s)\n",
		       (long long)json_integer_value(json_object_get(c, "pid")), str(c, "since", "?"), str(c, "version", "?"));
	else
		printf("collector   NOT RUNNING: start it with `spaturzu collector`; shims spool meanwhile\n");
	printf("socket      %s\n", str(c, "socket", ""));
	long long stored = (long long)json_integer_value(json_object_get(d, "calls"));
	printf("database    %s: %lld %s, %.1f MB, newest %s\n", str(d, "path", ""), stored, spend_calls_word(stored),
	       (double)json_integer_value(json_object_get(d, "bytes")) / 1e6, str(d, "newest", "-"));
	long long spooled = (long long)json_integer_value(json_object_get(sp, "filesWaiting"));
	printf("spool       %s: %lld %s waiting\n", str(sp, "path", ""), spooled, spooled == 1 ? "file" : "files");
	printf("forwarding  %s%s%s\n", str(f, "state", "?"), json_is_string(json_object_get(f, "url")) ? ": " : "",
	       str(f, "url", ""));
	bool off = strncmp(str(f, "state", ""), "off", 3) == 0;
	long long backlog = (long long)json_integer_value(json_object_get(f, "backlog"));
	printf("  backlog   %lld %s %s", backlog, backlog == 1 ? "record" : "records",
	       off ? "kept locally, sent if forwarding is turned on" : "waiting");
	if (json_integer_value(json_object_get(f, "backlog")) && !off)
		printf(" (oldest %s), %lld after failed attempts", str(f, "oldestWaiting", "-"),
		       (long long)json_integer_value(json_object_get(f, "failing")));
	putchar('\n');
	if (json_is_string(json_object_get(f, "lastError")))
		printf("  failing   last error: %s\n", str(f, "lastError", ""));
	printf("  delivered %lld (last %s)\n", (long long)json_integer_value(json_object_get(f, "delivered")),
	       str(f, "lastDelivery", "never"));
	if (json_integer_value(json_object_get(f, "refused")))
		printf("  refused   %lld by the gateway for good, kept locally (last: %s)\n",
		       (long long)json_integer_value(json_object_get(f, "refused")), str(f, "lastRefusal", ""));
	printf("prices      data of %s%s%s\n", str(pr, "dataAsOf", "?"),
	       json_is_string(json_object_get(pr, "overrides")) ? "; overrides from " : "", str(pr, "overrides", ""));
	json_t *unknown = json_object_get(pr, "unknownModels");
	if (json_array_size(unknown)) {
		printf("unpriced    %zu %s no price; %s calls have a null cost:\n", json_array_size(unknown),
		       json_array_size(unknown) == 1 ? "model has" : "models have",
		       json_array_size(unknown) == 1 ? "its" : "their");
		size_t i;
		json_t *u;
		json_array_foreach(unknown, i, u)
			printf("              %-18s %-36s %6lld calls, last %s\n", str(u, "provider", ""), str(u, "model", ""),
			       (long long)json_integer_value(json_object_get(u, "calls")), str(u, "lastSeen", ""));
		printf("            add them to the price overrides (see `spaturzu collector --help`), then\n"
		       "            `kill -HUP` the collector: their calls are priced again.\n");
	} else {
		printf("unpriced    none\n");
	}
	json_t *in = json_object_get(o, "ingest");
	if (json_is_object(in))
		printf("ingest      since start: %lld received, %lld stored, %lld duplicates, %lld rejected\n",
		       (long long)json_integer_value(json_object_get(in, "received")),
		       (long long)json_integer_value(json_object_get(in, "stored")),
		       (long long)json_integer_value(json_object_get(in, "duplicates")),
		       (long long)json_integer_value(json_object_get(in, "rejected")));
}

int cmd_status(int argc, char **argv)
{
	enum { O_SPOOL = 256 };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },	    { "socket", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' },	    { "spool", required_argument, NULL, O_SPOOL },
		{ "help", no_argument, NULL, 'h' },	    { NULL, 0, NULL, 0 },
	};
	char socket_path[4096] = "", db_path[4096] = "", spool_dir[4096] = "";
	bool as_json = false;
	int c;
	while ((c = getopt_long(argc, argv, "s:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': as_json = true; break;
		case 's': snprintf(socket_path, sizeof(socket_path), "%s", optarg); break;
		case 'd': snprintf(db_path, sizeof(db_path), "%s", optarg); break;
		case O_SPOOL: snprintf(spool_dir, sizeof(spool_dir), "%s", optarg); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "spaturzu status: unexpected argument '%s'\n\n%s", argv[optind], usage);
		return EXIT_USAGE;
	}
	if ((!socket_path[0] && spz_path_socket(socket_path, sizeof(socket_path)) < 0) ||
	    (!db_path[0] && spz_path_db(db_path, sizeof(db_path)) < 0) ||
	    (!spool_dir[0] && spz_path_spool_dir(spool_dir, sizeof(spool_dir)) < 0)) {
		fprintf(stderr, "spaturzu status: a default path is too long; pass --socket, --db, --spool\n");
		return 1;
	}
	bool running = spz_collector_listening(socket_path);
	struct stat st;
	if (stat(db_path, &st) < 0) {
		if (as_json)
			printf("{\"collector\":{\"running\":%s},\"database\":null}\n", running ? "true" : "false");
		else
			printf("collector   %s\ndatabase    none at %s: nothing collected yet\n",
			       running ? "running" : "NOT RUNNING: start it with `spaturzu collector`", db_path);
		return running ? 0 : 1;
	}
	struct spz_store store;
	if (spz_store_open(&store, db_path, true) < 0)
		return 1;
	json_t *o = gather(store.db, db_path, socket_path, spool_dir, running);
	spz_store_close(&store);
	if (as_json) {
		char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		puts(text);
		free(text);
	} else {
		print_text(o);
	}
	json_decref(o);
	return running ? 0 : 1;
}
