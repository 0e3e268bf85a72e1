/* `spaturzu budgets`: the local budgets, what each has spent in its current
 * period and its state. Reads the budgets file and the database; the
 * collector enforces the same figures through the budget map. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/paths.h"
#include "budgets.h"
#include "cli.h"
#include "../common/money.h"
#include "spend.h"
#include "store.h"

static const char usage[] =
	"Usage: spaturzu budgets [OPTIONS]\n"
	"\n"
	"List the budgets, what each has spent in its current period (UTC day or\n"
	"month) and its state: ok, alert (past its alert threshold), breached. A\n"
	"breached hard cap makes the shims refuse the calls it covers before any\n"
	"byte reaches the provider; an alert budget only warns.\n"
	"\n"
	"Budgets come from a JSON file:\n"
	"  {\"budgets\": [{\"id\": \"triage-daily\", \"scope\": \"agent\", \"agent\": \"support-triage\",\n"
	"                \"period\": \"daily\", \"limitUsd\": \"5.00\", \"enforcement\": \"hard_cap\",\n"
	"                \"alertThresholdPct\": 80}]}\n"
	"scope is \"project\" (every agent's calls) or \"agent\"; enforcement \"hard_cap\"\n"
	"or \"alert\". After editing it, send the collector SIGHUP.\n"
	"\n"
	"Options:\n"
	"      --json          one JSON object: {\"budgets\": [...]}\n"
	"      --budgets FILE  the budgets file (default: $SPATURZU_BUDGETS, else\n"
	"                      ~/.config/spaturzu/budgets.json)\n"
	"      --now TIME      take TIME as now (reproducible output)\n"
	"  -d, --db PATH       database (default: $SPATURZU_DB, else\n"
	"                      $XDG_DATA_HOME/spaturzu/spaturzu.db)\n"
	"  -h, --help          show this help\n";

static const char *state_of(const struct spz_budget *b)
{
	if (b->breached)
		return b->enforcement == SPZ_BUDGET_HARD_CAP ? "BREACHED: calls refused" : "breached (alert only)";
	if (b->alert_pct && (__int128)b->current_pusd * 100 >= (__int128)b->limit_pusd * b->alert_pct)
		return "alert";
	return "ok";
}

int cmd_budgets(int argc, char **argv)
{
	enum { O_JSON = 256, O_FILE, O_NOW };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },	     { "budgets", required_argument, NULL, O_FILE },
		{ "now", required_argument, NULL, O_NOW },     { "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },	     { NULL, 0, NULL, 0 },
	};
	bool as_json = false;
	char path[4096] = "", db_path[4096] = "";
	bool required = false;
	const char *now_arg = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case O_JSON: as_json = true; break;
		case O_FILE:
			snprintf(path, sizeof(path), "%s", optarg);
			required = true;
			break;
		case O_NOW: now_arg = optarg; break;
		case 'd': snprintf(db_path, sizeof(db_path), "%s", optarg); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "spaturzu budgets: unexpected argument '%s'\n\n%s", argv[optind], usage);
		return EXIT_USAGE;
	}
	if (!path[0]) {
		const char *env = getenv("SPATURZU_BUDGETS");
		if (env && *env) {
			snprintf(path, sizeof(path), "%s", env);
			required = true;
		} else {
			spz_path_config(path, sizeof(path), "budgets.json");
		}
	}
	int64_t now = (int64_t)time(NULL);
	if (now_arg && spend_parse_epoch(now_arg, now, &now) < 0) {
		fprintf(stderr, "spaturzu budgets: --now '%s' is not a time such as 2026-11-23T12:00Z\n", now_arg);
		return EXIT_USAGE;
	}
	struct spz_budgets b;
	char err[600];
	if (spz_budgets_load(&b, path, required, err, sizeof(err)) < 0) {
		fprintf(stderr, "spaturzu budgets: %s\n", err);
		return 1;
	}
	if (b.count == 0) {
		if (as_json)
			puts("{\"budgets\":[]}");
		else
			printf("No budgets: write them in %s (see `spaturzu budgets --help`).\n", path);
		return 0;
	}
	if (!db_path[0])
		spz_path_db(db_path, sizeof(db_path));
	struct stat st;
	struct spz_store store;
	bool have_db = stat(db_path, &st) == 0 && spz_store_open(&store, db_path, true) == 0;
	if (have_db) {
		spz_budgets_evaluate(&b, store.db, now);
		spz_store_close(&store);
	}
	json_t *arr = json_array();
	if (!as_json)
		printf("%-20s %-8s %-20s %-8s %12s %14s %6s  %-9s %s\n", "BUDGET", "SCOPE", "AGENT", "PERIOD", "LIMIT USD",
		       "SPENT USD", "USED", "ENFORCE", "STATE");
	for (size_t i = 0; i < b.count; i++) {
		struct spz_budget *bu = &b.items[i];
		char limit[48], spent[48], since[40];
		spend_format_usd(bu->limit_pusd, limit, sizeof(limit));
		spend_format_usd(bu->current_pusd, spent, sizeof(spent));
		spz_budget_period_start(bu->period, now, since, sizeof(since));
		double used = 100.0 * (double)bu->current_pusd / (double)bu->limit_pusd;
		const char *scope = bu->scope == SPZ_BUDGET_AGENT ? "agent" : "project";
		const char *period = bu->period == SPZ_BUDGET_DAILY ? "daily" : "monthly";
		const char *enf = bu->enforcement == SPZ_BUDGET_HARD_CAP ? "hard_cap" : "alert";
		if (as_json) {
			char lim[48], cur[48];
			spz_money_format(bu->limit_pusd, 0, lim, sizeof(lim));
			spz_money_format(bu->current_pusd, 0, cur, sizeof(cur));
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s?,s:s,s:s,s:s,s:s,s:I,s:s,s:s}", "id", bu->id,
							     "scope", scope, "agent", bu->agent[0] ? bu->agent : NULL,
							     "period", period, "periodStart", since, "limitUsd", lim,
							     "currentUsd", cur, "calls", (json_int_t)bu->calls,
							     "enforcement", enf, "state", state_of(bu)));
		} else {
			printf("%-20.20s %-8s %-20.20s %-8s %12s %14s %5.1f%%  %-9s %s\n", bu->id, scope,
			       bu->agent[0] ? bu->agent : "-", period, limit, spent, used, enf, state_of(bu));
		}
	}
	if (as_json) {
		json_t *o = json_pack("{s:o,s:s}", "budgets", arr, "file", path);
		char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(text);
		free(text);
		json_decref(o);
	} else {
		json_decref(arr);
		if (!have_db)
			printf("(no database at %s yet: nothing spent)\n", db_path);
	}
	spz_budgets_free(&b);
	return 0;
}
