/* Spend summaries from the store, shared by `report` and `run`: calls,
 * tokens and exact cost grouped by agent, model, provider, run, agent path
 * or a tag, between two instants, most expensive first. Calls without a
 * price are counted apart (their cost is unknown, not 0), as are calls
 * whose tokens were estimated. */
#ifndef SPZ_SPEND_H
#define SPZ_SPEND_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct spend_row {
	char key[300];
	int64_t calls, input, output, cached, cost_pusd, unpriced, estimated, refused;
};

struct spend {
	char by[80];	   /* "agent", "model", "provider", "run", "path", "tag:KEY" */
	char since[32], until[32]; /* RFC 3339, "" for unbounded */
	struct spend_row *rows;
	size_t count;
	struct spend_row total;
};

/* Fills s for one grouping and window; run_id restricts to one run (NULL:
 * all). Returns 0, or -1 with a message on stderr naming the problem. */
int spend_query(sqlite3 *db, const char *by, const char *since, const char *until, const char *run_id,
		struct spend *s);
void spend_free(struct spend *s);

/* The column title of a grouping ("AGENT", "TAG team"). */
void spend_key_title(const char *by, char *out, size_t cap);
/* An aligned table, with a TOTAL line and footnotes for unpriced and
 * estimated calls. */
void spend_print_table(FILE *out, const struct spend *s, const char *title);
json_t *spend_json(const struct spend *s, const char *label);
void spend_print_csv(FILE *out, const struct spend *s, const char *label, bool header);

/* "2026-11-23", "2026-11-23T10:00:00Z", "7d", "24h", "90m" (before now_s)
 * -> "2026-11-23T10:00:00.000Z". Returns 0 or -1. */
int spend_parse_time(const char *arg, int64_t now_s, char *out, size_t cap);
void spend_format_time(int64_t epoch_s, char *out, size_t cap);
/* The same forms as spend_parse_time, to epoch seconds (--now). 0 or -1. */
int spend_parse_epoch(const char *arg, int64_t now_s, int64_t *out);
/* 1234567 -> "1,234,567" */
void spend_group_digits(int64_t v, char *out, size_t cap);
/* Exact USD with at least 2 decimals: "0.0825", "12.50". */
void spend_format_usd(int64_t pusd, char *out, size_t cap);

/* "call" or "calls", as n says. */
static inline const char *spend_calls_word(long long n)
{
	return n == 1 ? "call" : "calls";
}

#endif
