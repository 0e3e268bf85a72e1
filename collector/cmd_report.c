/* `spaturzu report`: who spent what. By default per agent over the last 7
 * and the last 30 days; --by another grouping, --since/--until one window.
 * Table, JSON or CSV. Reads the database only. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/paths.h"
#include "cli.h"
#include "report_html.h"
#include "spend.h"
#include "store.h"

static const char usage[] =
	"Usage: spaturzu report [OPTIONS]\n"
	"\n"
	"Show what the LLM calls cost, most expensive first: calls, input, output\n"
	"and cached tokens, exact cost in USD and share of the total. Without\n"
	"--since or --until, two windows: the last 7 days and the last 30 days.\n"
	"\n"
	"Options:\n"
	"  -b, --by KEY        group by agent (default), path (the agent path, as\n"
	"                      \"planner / writer\"), model, provider, run, or\n"
	"                      tag:NAME (the value of the tag NAME)\n"
	"      --since TIME    from TIME: 2026-11-01, 2026-11-01T09:30Z, or an age\n"
	"                      such as 7d, 24h, 90m (UTC)\n"
	"      --until TIME    up to TIME (excluded); same forms (default: now)\n"
	"      --run ID        only the calls of one run\n"
	"      --json          JSON: {\"windows\": [{window, since, until, by, rows, total}]}\n"
	"      --csv           CSV with a header line, one row per group and a TOTAL row\n"
	"      --html FILE     a self-contained page (no script, no network) with cost\n"
	"                      per agent per day, share per model, the top runs and\n"
	"                      the per-agent tables; `-` for stdout\n"
	"      --now TIME      take TIME as now (reproducible reports)\n"
	"  -d, --db PATH       database (default: $SPATURZU_DB, else\n"
	"                      $XDG_DATA_HOME/spaturzu/spaturzu.db)\n"
	"  -h, --help          show this help\n"
	"\n"
	"Costs are exact decimals from the collector's prices. A call whose model\n"
	"has no price is counted (\"unpriced\") but adds nothing to the cost: the\n"
	"table marks such groups with *, and `spaturzu status` names the models.\n"
	"Groups with estimated tokens (streams that reported no usage) carry ~.\n";

int cmd_report(int argc, char **argv)
{
	enum { O_SINCE = 256, O_UNTIL, O_RUN, O_JSON, O_CSV, O_NOW, O_HTML };
	static const struct option opts[] = {
		{ "by", required_argument, NULL, 'b' },	 { "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL }, { "run", required_argument, NULL, O_RUN },
		{ "json", no_argument, NULL, O_JSON },	 { "csv", no_argument, NULL, O_CSV },
		{ "now", required_argument, NULL, O_NOW },	 { "html", required_argument, NULL, O_HTML },	 { "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },		 { NULL, 0, NULL, 0 },
	};
	const char *html = NULL;
	const char *by = "agent", *since_arg = NULL, *until_arg = NULL, *run = NULL, *now_arg = NULL;
	bool as_json = false, as_csv = false;
	char db_path[4096] = "";
	int c;
	while ((c = getopt_long(argc, argv, "b:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': by = optarg; break;
		case O_SINCE: since_arg = optarg; break;
		case O_UNTIL: until_arg = optarg; break;
		case O_RUN: run = optarg; break;
		case O_JSON: as_json = true; break;
		case O_CSV: as_csv = true; break;
		case O_NOW: now_arg = optarg; break;
		case O_HTML: html = optarg; break;
		case 'd': snprintf(db_path, sizeof(db_path), "%s", optarg); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "spaturzu report: unexpected argument '%s'\n\n%s", argv[optind], usage);
		return EXIT_USAGE;
	}
	if (as_json && as_csv) {
		fprintf(stderr, "spaturzu report: choose --json or --csv, not both\n");
		return EXIT_USAGE;
	}
	int64_t now = (int64_t)time(NULL);
	if (now_arg && spend_parse_epoch(now_arg, now, &now) < 0) {
		fprintf(stderr, "spaturzu report: --now '%s' is not a time such as 2026-11-23T12:00Z\n", now_arg);
		return EXIT_USAGE;
	}
	/* Windows end at now, excluded, and calls carry milliseconds: the
	 * clock's now is the end of this second, or a call made earlier in it
	 * would be left out. */
	if (!now_arg)
		now++;
	char since[40] = "", until[40] = "";
	if (since_arg && spend_parse_time(since_arg, now, since, sizeof(since)) < 0) {
		fprintf(stderr, "spaturzu report: --since '%s' is not a date (2026-11-01), a UTC time "
				"(2026-11-01T09:30Z) or an age (7d, 24h, 90m)\n",
			since_arg);
		return EXIT_USAGE;
	}
	if (until_arg && spend_parse_time(until_arg, now, until, sizeof(until)) < 0) {
		fprintf(stderr, "spaturzu report: --until '%s' is not a date, a UTC time or an age\n", until_arg);
		return EXIT_USAGE;
	}
	if (!db_path[0] && spz_path_db(db_path, sizeof(db_path)) < 0) {
		fprintf(stderr, "spaturzu report: database path too long; pass --db\n");
		return 1;
	}
	struct stat st;
	if (stat(db_path, &st) < 0) {
		fprintf(stderr,
			"spaturzu report: no database at %s\n"
			"  Nothing has been collected yet: run a program with `spaturzu run -- PROGRAM`, or pass --db PATH.\n",
			db_path);
		return 1;
	}
	struct spz_store store;
	if (spz_store_open(&store, db_path, true) < 0)
		return 1;

	if (html) {
		FILE *f = strcmp(html, "-") == 0 ? stdout : fopen(html, "we");
		if (!f) {
			fprintf(stderr, "spaturzu report: cannot write %s: %s\n", html, strerror(errno));
			spz_store_close(&store);
			return 1;
		}
		int rc = report_html(f, store.db, now);
		if ((f != stdout && fclose(f) != 0) || rc < 0) {
			fprintf(stderr, "spaturzu report: writing %s failed\n", html);
			rc = -1;
		}
		spz_store_close(&store);
		if (rc == 0 && f != stdout)
			fprintf(stderr, "spaturzu report: wrote %s\n", html);
		return rc < 0 ? 1 : 0;
	}

	struct window {
		const char *label;
		char since[40], until[40];
	} windows[2];
	int nwin = 0;
	if (since_arg || until_arg) {
		windows[0].label = "custom";
		snprintf(windows[0].since, sizeof(windows[0].since), "%s", since);
		snprintf(windows[0].until, sizeof(windows[0].until), "%s", until);
		nwin = 1;
	} else {
		windows[0].label = "7d";
		windows[1].label = "30d";
		spend_format_time(now - 7 * 86400, windows[0].since, sizeof(windows[0].since));
		spend_format_time(now - 30 * 86400, windows[1].since, sizeof(windows[1].since));
		spend_format_time(now, windows[0].until, sizeof(windows[0].until));
		snprintf(windows[1].until, sizeof(windows[1].until), "%s", windows[0].until);
		nwin = 2;
	}
	int rc = 0;
	json_t *all = json_array();
	for (int w = 0; w < nwin && rc == 0; w++) {
		struct spend s;
		if (spend_query(store.db, by, windows[w].since[0] ? windows[w].since : NULL,
				windows[w].until[0] ? windows[w].until : NULL, run, &s) < 0) {
			rc = 1;
			break;
		}
		if (as_json) {
			json_array_append_new(all, spend_json(&s, windows[w].label));
		} else if (as_csv) {
			spend_print_csv(stdout, &s, windows[w].label, w == 0);
		} else {
			char title[200];
			const char *what = strcmp(windows[w].label, "7d") == 0	  ? "Last 7 days" :
					   strcmp(windows[w].label, "30d") == 0 ? "Last 30 days" :
										  "Calls";
			snprintf(title, sizeof(title), "%s%s (%s to %s)", w ? "\n" : "", what,
				 windows[w].since[0] ? windows[w].since : "the first call",
				 windows[w].until[0] ? windows[w].until : "now");
			spend_print_table(stdout, &s, title);
		}
		spend_free(&s);
	}
	if (as_json && rc == 0) {
		json_t *o = json_pack("{s:o}", "windows", all);
		char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(text);
		free(text);
		json_decref(o);
	} else {
		json_decref(all);
	}
	spz_store_close(&store);
	return rc;
}
