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
	"With forwarding on, the collector also takes the gateway's budgets (see\n"
	"`spaturzu collector --help`); they are listed with SOURCE gateway, as the\n"
	"collector last published them, and the line under the table says how\n"
	"following the gateway goes (a failing fetch lets calls through).\n"
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
	if (!db_path[0])
		spz_path_db(db_path, sizeof(db_path));
	struct stat st;
	struct spz_store store;
	bool have_db = stat(db_path, &st) == 0 && spz_store_open(&store, db_path, true) == 0;
	/* The gateway's budgets are what the collector last published in the
	 * map; its meta table says how following the gateway goes. */
	struct spz_budget gateway[SPZ_BUDGET_MAP_MAX];
	int n_gateway = 0;
	char policy_status[512] = "", socket_path[4096] = "";
	if (have_db) {
		spz_budgets_evaluate(&b, store.db, now);
		spz_store_meta_get(&store, "policy.status", policy_status, sizeof(policy_status));
		spz_store_meta_get(&store, "collector.socket", socket_path, sizeof(socket_path));
		spz_store_close(&store);
	}
	if (policy_status[0] && socket_path[0]) {
		char map_path[4200];
		snprintf(map_path, sizeof(map_path), "%s", socket_path);
		char *slash = strrchr(map_path, '/');
		if (slash) {
			snprintf(slash + 1, sizeof(map_path) - (size_t)(slash + 1 - map_path), "%s", SPZ_BUDGET_MAP_NAME);
			int64_t updated = 0;
			n_gateway = spz_budget_map_read(map_path, 1, gateway, SPZ_BUDGET_MAP_MAX, &updated);
			if (n_gateway < 0)
				n_gateway = 0;
		}
	}
	if (b.count == 0 && n_gateway == 0 && !policy_status[0]) {
		if (as_json)
			puts("{\"budgets\":[]}");
		else
			printf("No budgets: write them in %s (see `spaturzu budgets --help`).\n", path);
		spz_budgets_free(&b);
		return 0;
	}
	json_t *arr = json_array();
	if (!as_json)
		printf("%-20s %-8s %-20s %-8s %12s %14s %6s  %-9s %-8s %s\n", "BUDGET", "SCOPE", "AGENT", "PERIOD",
		       "LIMIT USD", "SPENT USD", "USED", "ENFORCE", "SOURCE", "STATE");
	for (size_t i = 0; i < b.count + (size_t)n_gateway; i++) {
		struct spz_budget *bu = i < b.count ? &b.items[i] : &gateway[i - b.count];
		char limit[48], spent[48], since[40];
		spend_format_usd(bu->limit_pusd, limit, sizeof(limit));
		spend_format_usd(bu->current_pusd, spent, sizeof(spent));
		spz_budget_period_start(bu->period, now, since, sizeof(since));
		double used = bu->limit_pusd > 0 ? 100.0 * (double)bu->current_pusd / (double)bu->limit_pusd : 0;
		const char *scope = bu->scope == SPZ_BUDGET_AGENT ? "agent" : "project";
		const char *period = bu->period == SPZ_BUDGET_DAILY ? "daily" : "monthly";
		const char *enf = bu->enforcement == SPZ_BUDGET_HARD_CAP ? "hard_cap" : "alert";
		const char *source = bu->from_gateway ? "gateway" : "file";
		if (as_json) {
			char lim[48], cur[48];
			spz_money_format(bu->limit_pusd, 0, lim, sizeof(lim));
			spz_money_format(bu->current_pusd, 0, cur, sizeof(cur));
			json_t *o = json_pack("{s:s,s:s,s:s?,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", bu->id, "scope", scope,
					      "agent", bu->agent[0] ? bu->agent : NULL, "period", period, "periodStart",
					      since, "limitUsd", lim, "currentUsd", cur, "enforcement", enf, "source",
					      source, "state", state_of(bu));
			/* The gateway counts its own calls; ours are the local ones. */
			if (!bu->from_gateway)
				json_object_set_new(o, "calls", json_integer((json_int_t)bu->calls));
			json_array_append_new(arr, o);
		} else {
			printf("%-20.20s %-8s %-20.20s %-8s %12s %14s %5.1f%%  %-9s %-8s %s\n", bu->id, scope,
			       bu->agent[0] ? bu->agent : "-", period, limit, spent, used, enf, source, state_of(bu));
		}
	}
	json_t *status = policy_status[0] ? json_loads(policy_status, 0, NULL) : NULL;
	if (as_json) {
		json_t *o = json_pack("{s:o,s:s}", "budgets", arr, "file", path);
		if (status)
			json_object_set(o, "gateway", status);
		char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(text);
		free(text);
		json_decref(o);
	} else {
		json_decref(arr);
		if (!have_db)
			printf("(no database at %s yet: nothing spent)\n", db_path);
		const char *state = json_string_value(json_object_get(status, "state"));
		if (state)
			printf("gateway budgets: %s\n", state);
		const char *err = json_string_value(json_object_get(status, "lastError"));
		if (err && *err)
			printf("  last failure: %s\n", err);
	}
	json_decref(status);
	spz_budgets_free(&b);
	return 0;
}
