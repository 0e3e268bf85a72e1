#include "spend.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/money.h"

static const char *key_expr(const char *by, char *tag_path, size_t cap)
{
	if (strcmp(by, "agent") == 0)
		return "coalesce(agent_name, '(none)')";
	if (strcmp(by, "model") == 0)
		return "model";
	if (strcmp(by, "provider") == 0)
		return "provider";
	if (strcmp(by, "run") == 0)
		return "coalesce(run_id, '(none)')";
	if (strcmp(by, "path") == 0)
		return "coalesce((SELECT group_concat(value, ' / ') FROM json_each(record, '$.agentPath')),"
		       " agent_name, '(none)')";
	if (strncmp(by, "tag:", 4) == 0 && by[4]) {
		for (const char *p = by + 4; *p; p++)
			if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
				return NULL;
		snprintf(tag_path, cap, "$.tags.\"%s\"", by + 4);
		return "coalesce(json_extract(record, ?4), '(untagged)')";
	}
	return NULL;
}

void spend_key_title(const char *by, char *out, size_t cap)
{
	if (strncmp(by, "tag:", 4) == 0) {
		snprintf(out, cap, "TAG %s", by + 4);
		return;
	}
	size_t i = 0;
	for (; by[i] && i + 1 < cap; i++)
		out[i] = (char)toupper((unsigned char)by[i]);
	out[i] = '\0';
	if (strcmp(by, "path") == 0)
		snprintf(out, cap, "AGENT PATH");
}

int spend_query(sqlite3 *db, const char *by, const char *since, const char *until, const char *run_id,
		struct spend *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->by, sizeof(s->by), "%s", by);
	snprintf(s->since, sizeof(s->since), "%s", since ? since : "");
	snprintf(s->until, sizeof(s->until), "%s", until ? until : "");
	char tag_path[128] = "";
	const char *key = key_expr(by, tag_path, sizeof(tag_path));
	if (!key) {
		fprintf(stderr, "spaturzu: cannot group by '%s': use agent, path, model, provider, run or tag:KEY\n", by);
		return -1;
	}
	char sql[1400];
	snprintf(sql, sizeof(sql),
		 "SELECT %s AS k, count(*), sum(prompt_tokens), sum(completion_tokens), sum(cached_input_tokens),"
		 " sum(cost_pusd), sum(cost_pusd IS NULL AND delivery != 3), sum(usage_source = 'tiktoken'),"
		 " sum(delivery = 3)"
		 " FROM calls WHERE (?1 IS NULL OR started_at >= ?1) AND (?2 IS NULL OR started_at < ?2)"
		 " AND (?3 IS NULL OR run_id = ?3)"
		 " GROUP BY k ORDER BY coalesce(sum(cost_pusd), 0) DESC, count(*) DESC, k",
		 key);
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
		fprintf(stderr, "spaturzu: the database cannot answer: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	if (since && *since)
		sqlite3_bind_text(q, 1, since, -1, SQLITE_STATIC);
	if (until && *until)
		sqlite3_bind_text(q, 2, until, -1, SQLITE_STATIC);
	if (run_id)
		sqlite3_bind_text(q, 3, run_id, -1, SQLITE_STATIC);
	if (tag_path[0])
		sqlite3_bind_text(q, 4, tag_path, -1, SQLITE_STATIC);
	size_t cap = 0;
	int rc;
	snprintf(s->total.key, sizeof(s->total.key), "TOTAL");
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (s->count == cap) {
			cap = cap ? cap * 2 : 16;
			struct spend_row *n = realloc(s->rows, cap * sizeof(*n));
			if (!n) {
				sqlite3_finalize(q);
				return -1;
			}
			s->rows = n;
		}
		struct spend_row *r = &s->rows[s->count++];
		memset(r, 0, sizeof(*r));
		const char *k = (const char *)sqlite3_column_text(q, 0);
		snprintf(r->key, sizeof(r->key), "%s", k ? k : "(none)");
		int64_t *cols[] = { &r->calls, &r->input, &r->output, &r->cached, &r->cost_pusd, &r->unpriced, &r->estimated,
				    &r->refused };
		int64_t *tot[] = { &s->total.calls, &s->total.input, &s->total.output, &s->total.cached,
				   &s->total.cost_pusd, &s->total.unpriced, &s->total.estimated, &s->total.refused };
		for (int c = 0; c < 8; c++) {
			*cols[c] = sqlite3_column_int64(q, c + 1);
			*tot[c] += *cols[c];
		}
	}
	if (rc != SQLITE_DONE) {
		/* SQLite refuses an integer sum past 9.2 million dollars: say so
		 * rather than print a rounded figure. */
		fprintf(stderr, "spaturzu: the database cannot answer: %s\n", sqlite3_errmsg(db));
		sqlite3_finalize(q);
		return -1;
	}
	sqlite3_finalize(q);
	return 0;
}

void spend_free(struct spend *s)
{
	free(s->rows);
	s->rows = NULL;
	s->count = 0;
}

void spend_group_digits(int64_t v, char *out, size_t cap)
{
	char raw[32];
	snprintf(raw, sizeof(raw), "%lld", (long long)(v < 0 ? -v : v));
	size_t n = strlen(raw), o = 0;
	if (v < 0 && o + 1 < cap)
		out[o++] = '-';
	for (size_t i = 0; i < n && o + 2 < cap; i++) {
		out[o++] = raw[i];
		if ((n - i - 1) % 3 == 0 && i + 1 < n)
			out[o++] = ',';
	}
	out[o] = '\0';
}

void spend_format_usd(int64_t pusd, char *out, size_t cap)
{
	spz_money_format(pusd, 2, out, cap);
}

/* Share of the total cost, to a tenth of a percent, from integers. */
static void share(int64_t part, int64_t total, char *out, size_t cap)
{
	if (total <= 0) {
		snprintf(out, cap, "-");
		return;
	}
	__int128 tenths = ((__int128)part * 1000 + total / 2) / total;
	snprintf(out, cap, "%d.%d", (int)(tenths / 10), (int)(tenths % 10));
}

static void print_row(FILE *out, const struct spend_row *r, int64_t total_cost, int key_width)
{
	char calls[32], in[32], outp[32], cached[32], cost[48], pct[16];
	spend_group_digits(r->calls, calls, sizeof(calls));
	spend_group_digits(r->input, in, sizeof(in));
	spend_group_digits(r->output, outp, sizeof(outp));
	spend_group_digits(r->cached, cached, sizeof(cached));
	spend_format_usd(r->cost_pusd, cost, sizeof(cost));
	char marks[4] = "";
	if (r->estimated)
		strcat(marks, "~");
	if (r->unpriced)
		strcat(marks, "*");
	char costm[64];
	/* Nothing priced in the group: the cost is unknown, not 0. */
	snprintf(costm, sizeof(costm), "%s%s", r->unpriced && r->unpriced == r->calls - r->refused ? "?" : cost, marks);
	share(r->cost_pusd, total_cost, pct, sizeof(pct));
	fprintf(out, "%-*.*s %8s %13s %12s %12s %14s %6s%%\n", key_width, key_width, r->key, calls, in, outp, cached,
		costm, pct);
}

void spend_print_table(FILE *out, const struct spend *s, const char *title)
{
	char head[96];
	spend_key_title(s->by, head, sizeof(head));
	int w = 24;
	for (size_t i = 0; i < s->count; i++)
		if ((int)strlen(s->rows[i].key) > w)
			w = (int)strlen(s->rows[i].key) > 60 ? 60 : (int)strlen(s->rows[i].key);
	if (title)
		fprintf(out, "%s\n", title);
	if (s->count == 0) {
		fprintf(out, "  no calls\n");
		return;
	}
	fprintf(out, "%-*s %8s %13s %12s %12s %14s %7s\n", w, head, "CALLS", "INPUT TOK", "OUTPUT TOK", "CACHED TOK",
		"COST USD", "SHARE");
	for (size_t i = 0; i < s->count; i++)
		print_row(out, &s->rows[i], s->total.cost_pusd, w);
	print_row(out, &s->total, s->total.cost_pusd, w);
	if (s->total.estimated)
		fprintf(out, "~ includes %lld %s whose tokens were estimated locally (streams without usage)\n",
			(long long)s->total.estimated, spend_calls_word(s->total.estimated));
	if (s->total.unpriced)
		fprintf(out, "* %lld %s no price: %s cost is unknown, not counted (see `spaturzu status`)\n",
			(long long)s->total.unpriced, s->total.unpriced == 1 ? "call has" : "calls have",
			s->total.unpriced == 1 ? "its" : "their");
	if (s->total.refused)
		fprintf(out, "  %lld %s refused by a budget before reaching the provider\n",
			(long long)s->total.refused, s->total.refused == 1 ? "call was" : "calls were");
}

static json_t *row_json(const struct spend_row *r, const char *key_name, int64_t total_cost)
{
	char cost[48], pct[16];
	spz_money_format(r->cost_pusd, 0, cost, sizeof(cost));
	share(r->cost_pusd, total_cost, pct, sizeof(pct));
	json_t *o = json_object();
	if (key_name)
		json_object_set_new(o, key_name, json_string(r->key));
	json_object_set_new(o, "calls", json_integer(r->calls));
	json_object_set_new(o, "inputTokens", json_integer(r->input));
	json_object_set_new(o, "outputTokens", json_integer(r->output));
	json_object_set_new(o, "cachedInputTokens", json_integer(r->cached));
	bool unknown = r->unpriced && r->unpriced == r->calls - r->refused;
	json_object_set_new(o, "costUsd", unknown ? json_null() : json_string(cost));
	json_object_set_new(o, "unpricedCalls", json_integer(r->unpriced));
	json_object_set_new(o, "estimatedCalls", json_integer(r->estimated));
	json_object_set_new(o, "refusedCalls", json_integer(r->refused));
	json_object_set_new(o, "sharePct", json_string(pct));
	return o;
}

json_t *spend_json(const struct spend *s, const char *label)
{
	json_t *o = json_object();
	if (label)
		json_object_set_new(o, "window", json_string(label));
	json_object_set_new(o, "since", s->since[0] ? json_string(s->since) : json_null());
	json_object_set_new(o, "until", s->until[0] ? json_string(s->until) : json_null());
	json_object_set_new(o, "by", json_string(s->by));
	json_t *rows = json_array();
	for (size_t i = 0; i < s->count; i++)
		json_array_append_new(rows, row_json(&s->rows[i], "key", s->total.cost_pusd));
	json_object_set_new(o, "rows", rows);
	json_object_set_new(o, "total", row_json(&s->total, NULL, s->total.cost_pusd));
	return o;
}

static void csv_field(FILE *out, const char *v)
{
	if (strpbrk(v, ",\"\r\n")) {
		fputc('"', out);
		for (; *v; v++) {
			if (*v == '"')
				fputc('"', out);
			fputc(*v, out);
		}
		fputc('"', out);
	} else {
		fputs(v, out);
	}
}

void spend_print_csv(FILE *out, const struct spend *s, const char *label, bool header)
{
	if (header)
		fprintf(out, "window,since,until,by,key,calls,input_tokens,output_tokens,cached_input_tokens,cost_usd,"
			     "unpriced_calls,estimated_calls,refused_calls,share_pct\r\n");
	for (size_t i = 0; i <= s->count; i++) {
		const struct spend_row *r = i < s->count ? &s->rows[i] : &s->total;
		char cost[48], pct[16];
		spz_money_format(r->cost_pusd, 0, cost, sizeof(cost));
		share(r->cost_pusd, s->total.cost_pusd, pct, sizeof(pct));
		csv_field(out, label ? label : "");
		fputc(',', out);
		fprintf(out, "%s,%s,", s->since, s->until);
		csv_field(out, s->by);
		fputc(',', out);
		csv_field(out, i < s->count ? r->key : "TOTAL");
		bool unknown = r->unpriced && r->unpriced == r->calls - r->refused;
		fprintf(out, ",%lld,%lld,%lld,%lld,%s,%lld,%lld,%lld,%s\r\n", (long long)r->calls, (long long)r->input,
			(long long)r->output, (long long)r->cached, unknown ? "" : cost, (long long)r->unpriced, (long long)r->estimated,
			(long long)r->refused, pct);
	}
}

void spend_format_time(int64_t epoch_s, char *out, size_t cap)
{
	time_t t = (time_t)epoch_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

int spend_parse_time(const char *arg, int64_t now_s, char *out, size_t cap)
{
	char *end;
	long long n = strtoll(arg, &end, 10);
	if (end != arg && n >= 0 && end[0] && !end[1] && strchr("dhm", end[0]) && strlen(arg) < 12) {
		int64_t unit = end[0] == 'd' ? 86400 : end[0] == 'h' ? 3600 : 60;
		spend_format_time(now_s - (int64_t)n * unit, out, cap);
		return 0;
	}
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *rest = strptime(arg, "%Y-%m-%d", &tm);
	if (!rest)
		return -1;
	if (*rest == 'T' || *rest == ' ') {
		rest = strptime(rest + 1, "%H:%M", &tm);
		if (!rest)
			return -1;
		if (*rest == ':') {
			rest = strptime(rest + 1, "%S", &tm);
			if (!rest)
				return -1;
		}
		if (*rest == 'Z')
			rest++;
	}
	if (*rest)
		return -1; /* times are UTC: an offset is refused rather than misread */
	spend_format_time((int64_t)timegm(&tm), out, cap);
	return 0;
}

int spend_parse_epoch(const char *arg, int64_t now_s, int64_t *out)
{
	char buf[40];
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (spend_parse_time(arg, now_s, buf, sizeof(buf)) < 0 || !strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm))
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}
