/* SQLite store. WAL with synchronous=FULL: a committed batch survives a crash
 * of the collector and of the machine. Callers batch inserts in transactions,
 * which is what makes that affordable. */
#include "store.h"

#include <errno.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/paths.h"
#include "clog.h"
#include "../common/money.h"

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS calls ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  started_at TEXT NOT NULL,"
	"  received_at TEXT NOT NULL,"
	"  provider TEXT NOT NULL,"
	"  model TEXT NOT NULL,"
	"  response_model TEXT,"
	"  run_id TEXT,"
	"  agent_name TEXT,"
	"  prompt_tokens INTEGER,"
	"  completion_tokens INTEGER,"
	"  cached_input_tokens INTEGER,"
	"  cache_write_tokens INTEGER,"
	"  reasoning_tokens INTEGER,"
	"  usage_source TEXT,"
	"  status INTEGER NOT NULL,"
	"  latency_ms INTEGER,"
	"  stream INTEGER,"
	"  cost_usd TEXT,"
	"  sender_uid INTEGER,"
	"  sender_pid INTEGER,"
	"  record TEXT NOT NULL,"
	"  delivery INTEGER NOT NULL DEFAULT 0,"
	"  cost_pusd INTEGER,"
	"  priced_as TEXT,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_ms INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT,"
	"  delivered_at TEXT"
	");"
	"CREATE INDEX IF NOT EXISTS calls_started ON calls(started_at);"
	"CREATE INDEX IF NOT EXISTS calls_agent ON calls(agent_name, started_at);"
	"CREATE INDEX IF NOT EXISTS calls_run ON calls(run_id);"
	"CREATE INDEX IF NOT EXISTS calls_undelivered ON calls(next_attempt_ms, seq) WHERE delivery = 0;"
	"CREATE INDEX IF NOT EXISTS calls_unpriced ON calls(provider, model) WHERE cost_pusd IS NULL;"
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
	"PRAGMA user_version = 2;";

/* Version 1 (the first release) had no cost in picodollars and no retry
 * bookkeeping; its rows stay, priced again on the collector's next start. */
static const char migrate_v1[] =
	"ALTER TABLE calls ADD COLUMN cost_pusd INTEGER;"
	"ALTER TABLE calls ADD COLUMN priced_as TEXT;"
	"ALTER TABLE calls ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE calls ADD COLUMN next_attempt_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE calls ADD COLUMN last_error TEXT;"
	"ALTER TABLE calls ADD COLUMN delivered_at TEXT;"
	"DROP INDEX IF EXISTS calls_undelivered;";

static const char insert_sql[] =
	"INSERT OR IGNORE INTO calls (id, started_at, received_at, provider, model, response_model, run_id,"
	" agent_name, prompt_tokens, completion_tokens, cached_input_tokens, cache_write_tokens,"
	" reasoning_tokens, usage_source, status, latency_ms, stream, cost_usd, sender_uid, sender_pid, record,"
	" cost_pusd, priced_as, delivery)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static int exec(struct spz_store *st, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		clog_error("database: %s (%s)", err ? err : sqlite3_errmsg(st->db), sql);
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

int spz_store_open(struct spz_store *st, const char *path, bool readonly)
{
	memset(st, 0, sizeof(*st));
	if (!readonly) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", path);
		if (spz_mkdirs(dirname(dir), 0700) < 0) {
			clog_error("cannot create the directory of %s: %s", path, strerror(errno));
			return -1;
		}
	}
	int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	if (sqlite3_open_v2(path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		clog_error("cannot open database %s: %s", path, st->db ? sqlite3_errmsg(st->db) : "out of memory");
		spz_store_close(st);
		return -1;
	}
	sqlite3_busy_timeout(st->db, 5000);
	if (readonly)
		return 0;
	chmod(path, 0600);
	int version = 0;
	sqlite3_stmt *v = NULL;
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &v, NULL) == SQLITE_OK && sqlite3_step(v) == SQLITE_ROW)
		version = sqlite3_column_int(v, 0);
	sqlite3_finalize(v);
	if (version > 2) {
		clog_error("database %s was written by a newer spaturzu (schema %d); upgrade this one", path, version);
		spz_store_close(st);
		return -1;
	}
	if (exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;") < 0 ||
	    (version == 1 && exec(st, migrate_v1) < 0) || exec(st, schema) < 0 ||
	    sqlite3_prepare_v2(st->db, insert_sql, -1, &st->insert, NULL) != SQLITE_OK) {
		clog_error("cannot prepare database %s: %s", path, sqlite3_errmsg(st->db));
		spz_store_close(st);
		return -1;
	}
	return 0;
}

void spz_store_close(struct spz_store *st)
{
	if (st->in_tx)
		spz_store_rollback(st);
	sqlite3_finalize(st->insert);
	sqlite3_close(st->db);
	memset(st, 0, sizeof(*st));
}

int spz_store_begin(struct spz_store *st)
{
	if (exec(st, "BEGIN IMMEDIATE") < 0)
		return -1;
	st->in_tx = true;
	return 0;
}

int spz_store_commit(struct spz_store *st)
{
	st->in_tx = false;
	return exec(st, "COMMIT");
}

void spz_store_rollback(struct spz_store *st)
{
	st->in_tx = false;
	exec(st, "ROLLBACK");
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static void bind_opt_int(sqlite3_stmt *s, int i, int64_t v)
{
	if (v >= 0)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

static void now_rfc3339(char *out, size_t cap)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

int spz_store_insert(struct spz_store *st, const struct spz_record *rec, const struct spz_sender *from,
		     const struct spz_cost *cost)
{
	const char *text = rec->text;
	char received[40];
	now_rfc3339(received, sizeof(received));
	sqlite3_stmt *s = st->insert;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	bind_text(s, 1, rec->id);
	bind_text(s, 2, rec->started_at ? rec->started_at : received);
	bind_text(s, 3, received);
	bind_text(s, 4, rec->provider);
	bind_text(s, 5, rec->model);
	bind_text(s, 6, rec->response_model);
	bind_text(s, 7, rec->run_id);
	bind_text(s, 8, rec->agent_name);
	for (int t = 0; t <= SPZ_TOK_REASONING; t++)
		bind_opt_int(s, 9 + t, rec->tokens[t]);
	bind_text(s, 14, rec->usage_source);
	sqlite3_bind_int(s, 15, rec->status);
	bind_opt_int(s, 16, rec->latency_ms);
	bind_opt_int(s, 17, rec->stream);
	if (cost && cost->kind != SPZ_COST_UNKNOWN) {
		char usd[40];
		spz_money_format(cost->pusd, 0, usd, sizeof(usd));
		sqlite3_bind_text(s, 18, usd, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 22, cost->pusd);
		bind_text(s, 23, cost->priced_as[0] ? cost->priced_as : NULL);
	} else {
		sqlite3_bind_null(s, 18); /* unknown: never 0 */
		sqlite3_bind_null(s, 22);
		sqlite3_bind_null(s, 23);
	}
	bind_opt_int(s, 19, from ? from->uid : -1);
	bind_opt_int(s, 20, from ? from->pid : -1);
	sqlite3_bind_text(s, 21, text, -1, SQLITE_STATIC);
	/* Refused calls never go to the gateway (GATEWAY.md). */
	sqlite3_bind_int(s, 24, rec->refused ? SPZ_DELIVERY_LOCAL : SPZ_DELIVERY_PENDING);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		clog_error("database insert failed: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return sqlite3_changes(st->db) > 0 ? 1 : 0;
}

int spz_store_reprice_step(struct spz_store *st, const struct spz_pricing *pricing, int64_t *cursor, int limit)
{
	sqlite3_stmt *q = NULL, *u = NULL;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT seq, record FROM calls WHERE seq > ? AND cost_pusd IS NULL ORDER BY seq LIMIT ?", -1,
			       &q, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, "UPDATE calls SET cost_usd = ?, cost_pusd = ?, priced_as = ? WHERE seq = ?", -1,
			       &u, NULL) != SQLITE_OK) {
		sqlite3_finalize(q);
		return -1;
	}
	sqlite3_bind_int64(q, 1, *cursor);
	sqlite3_bind_int(q, 2, limit);
	int seen = 0, priced = 0;
	bool tx = spz_store_begin(st) == 0;
	while (sqlite3_step(q) == SQLITE_ROW) {
		seen++;
		*cursor = sqlite3_column_int64(q, 0);
		const char *text = (const char *)sqlite3_column_text(q, 1);
		struct spz_record rec;
		char why[160];
		if (!text || spz_record_decode(text, strlen(text), &rec, why, sizeof(why)) < 0)
			continue;
		struct spz_cost cost;
		spz_price_call(pricing, rec.provider, rec.model, rec.response_model, rec.status, rec.tokens, &cost);
		spz_record_clear(&rec);
		if (cost.kind == SPZ_COST_UNKNOWN)
			continue;
		char usd[40];
		spz_money_format(cost.pusd, 0, usd, sizeof(usd));
		sqlite3_bind_text(u, 1, usd, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(u, 2, cost.pusd);
		bind_text(u, 3, cost.priced_as[0] ? cost.priced_as : NULL);
		sqlite3_bind_int64(u, 4, *cursor);
		if (sqlite3_step(u) == SQLITE_DONE)
			priced++;
		sqlite3_reset(u);
	}
	sqlite3_finalize(q);
	sqlite3_finalize(u);
	if (tx && spz_store_commit(st) < 0)
		spz_store_rollback(st);
	if (priced)
		clog_info("priced %d earlier calls whose model had no price", priced);
	return seen;
}

int spz_store_meta_get(struct spz_store *st, const char *key, char *out, size_t cap)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;
	out[0] = '\0';
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

int spz_store_meta_set(struct spz_store *st, const char *key, const char *value)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	bind_text(s, 2, value);
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(s);
	return rc;
}
