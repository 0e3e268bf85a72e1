/* `spaturzu report --html FILE`: one self-contained page, no script, no
 * network: cost per agent per day over the window (stacked bars), share of
 * cost per model, the most expensive runs and the per-agent table, drawn as
 * inline SVG and HTML tables, with print styles. */
#include "report_html.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/money.h"
#include "spend.h"

static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* Eight distinguishable colours, then grey for the rest. */
static const char *const palette[] = { "#2f6db5", "#e0782f", "#3a9b54", "#c2413b", "#7d5bb0",
				       "#8c6a4f", "#d06fae", "#5f9ea0" };
#define OTHER_COLOUR "#9aa0a6"
#define MAX_SERIES 8

static double usd(int64_t pusd)
{
	/* For drawing only: every printed figure is the exact decimal. */
	return (double)pusd / 1e12;
}

static void money(FILE *f, int64_t pusd)
{
	char buf[48];
	spend_format_usd(pusd, buf, sizeof(buf));
	fputs(buf, f);
}

struct day_cost {
	char day[11];
	int64_t per_series[MAX_SERIES + 1];
};

static void daily_chart(FILE *f, sqlite3 *db, const struct spend *agents, int64_t now, int days)
{
	int series = agents->count < MAX_SERIES ? (int)agents->count : MAX_SERIES;
	struct day_cost *d = calloc((size_t)days, sizeof(*d));
	if (!d)
		return;
	for (int i = 0; i < days; i++) {
		time_t t = (time_t)(now - (int64_t)(days - 1 - i) * 86400);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(d[i].day, sizeof(d[i].day), "%Y-%m-%d", &tm);
	}
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
			       "SELECT substr(started_at, 1, 10), coalesce(agent_name, '(none)'), sum(cost_pusd) FROM calls"
			       " WHERE started_at >= ? AND started_at < ? GROUP BY 1, 2",
			       -1, &q, NULL) == SQLITE_OK) {
		char since[40], until[40];
		spend_format_time(now - (int64_t)(days - 1) * 86400 - now % 86400, since, sizeof(since));
		spend_format_time(now, until, sizeof(until));
		sqlite3_bind_text(q, 1, since, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 2, until, -1, SQLITE_TRANSIENT);
		while (sqlite3_step(q) == SQLITE_ROW) {
			const char *day = (const char *)sqlite3_column_text(q, 0);
			const char *agent = (const char *)sqlite3_column_text(q, 1);
			int s = MAX_SERIES;
			for (int k = 0; k < series; k++)
				if (strcmp(agents->rows[k].key, agent) == 0)
					s = k;
			for (int i = 0; i < days; i++)
				if (strcmp(d[i].day, day) == 0)
					d[i].per_series[s] += sqlite3_column_int64(q, 2);
		}
		sqlite3_finalize(q);
	}
	double max = 0;
	for (int i = 0; i < days; i++) {
		double sum = 0;
		for (int s = 0; s <= MAX_SERIES; s++)
			sum += usd(d[i].per_series[s]);
		if (sum > max)
			max = sum;
	}
	const int W = 900, H = 260, left = 70, bottom = 40, top = 10;
	double plot_w = W - left - 10, plot_h = H - bottom - top, bar = plot_w / days;
	fprintf(f, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"Cost per agent per day\">\n", W, H);
	for (int g = 0; g <= 4; g++) {
		double y = top + plot_h - plot_h * g / 4;
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>", left, y, W - 10, y);
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"axis\" text-anchor=\"end\">$%.4g</text>\n", left - 6, y + 4,
			max * g / 4);
	}
	for (int i = 0; i < days; i++) {
		double y = top + plot_h;
		for (int s = 0; s <= MAX_SERIES; s++) {
			double v = usd(d[i].per_series[s]);
			if (v <= 0 || max <= 0)
				continue;
			double h = plot_h * v / max;
			y -= h;
			char amount[48];
			spend_format_usd(d[i].per_series[s], amount, sizeof(amount));
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s ", left + i * bar + 1,
				y, bar - 2, h, s < MAX_SERIES ? palette[s] : OTHER_COLOUR, d[i].day);
			esc(f, s < MAX_SERIES ? agents->rows[s].key : "other agents");
			fprintf(f, ": $%s</title></rect>\n", amount);
		}
		if (i % 5 == 0 || i == days - 1)
			fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"axis\" text-anchor=\"middle\">%s</text>\n",
				left + i * bar + bar / 2, H - bottom + 16, d[i].day + 5);
	}
	fputs("</svg>\n<p class=\"legend\">", f);
	for (int s = 0; s < series; s++) {
		fprintf(f, "<span><i style=\"background:%s\"></i>", palette[s]);
		esc(f, agents->rows[s].key);
		fputs("</span> ", f);
	}
	if ((int)agents->count > series)
		fprintf(f, "<span><i style=\"background:%s\"></i>other agents</span>", OTHER_COLOUR);
	fputs("</p>\n", f);
	free(d);
}

static void share_chart(FILE *f, const struct spend *models)
{
	int n = models->count < 10 ? (int)models->count : 10;
	const int W = 900, row = 26, label = 260;
	fprintf(f, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"Share of cost per model\">\n", W,
		row * n + 10);
	for (int i = 0; i < n; i++) {
		const struct spend_row *r = &models->rows[i];
		double frac = models->total.cost_pusd > 0 ? (double)r->cost_pusd / (double)models->total.cost_pusd : 0;
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"label\" text-anchor=\"end\">", label - 8, 5 + i * row + 17);
		esc(f, r->key);
		fprintf(f, "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>", label, 5 + i * row + 4,
			(W - label - 160) * frac, row - 8, palette[i % MAX_SERIES]);
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"label\">", label + (W - label - 160) * frac + 6,
			5 + i * row + 17);
		if (r->unpriced && r->unpriced == r->calls) {
			fputs("? (no price)", f);
		} else {
			fputc('$', f);
			money(f, r->cost_pusd);
		}
		fprintf(f, " (%.1f%%)</text>\n", frac * 100);
	}
	fputs("</svg>\n", f);
}

static void spend_table(FILE *f, const struct spend *s, const char *head)
{
	fprintf(f, "<table><thead><tr><th>%s</th><th>Calls</th><th>Input tokens</th><th>Output tokens</th>"
		   "<th>Cached tokens</th><th>Cost (USD)</th><th>Share</th></tr></thead><tbody>\n",
		head);
	for (size_t i = 0; i <= s->count; i++) {
		const struct spend_row *r = i < s->count ? &s->rows[i] : &s->total;
		fputs(i < s->count ? "<tr><td>" : "<tr class=\"total\"><td>", f);
		esc(f, i < s->count ? r->key : "Total");
		char calls[32], in[32], out[32], cached[32];
		spend_group_digits(r->calls, calls, sizeof(calls));
		spend_group_digits(r->input, in, sizeof(in));
		spend_group_digits(r->output, out, sizeof(out));
		spend_group_digits(r->cached, cached, sizeof(cached));
		fprintf(f, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>", calls, in, out, cached);
		if (r->unpriced && r->unpriced == r->calls)
			fputs("?", f);
		else
			money(f, r->cost_pusd);
		fprintf(f, "%s%s</td><td>%.1f%%</td></tr>\n", r->estimated ? " ~" : "", r->unpriced ? " *" : "",
			s->total.cost_pusd > 0 ? 100.0 * (double)r->cost_pusd / (double)s->total.cost_pusd : 0.0);
	}
	fputs("</tbody></table>\n", f);
	if (s->total.estimated || s->total.unpriced)
		fprintf(f, "<p class=\"note\">%s%s</p>\n",
			s->total.estimated ? "~ includes calls whose tokens were estimated locally. " : "",
			s->total.unpriced ? "* includes calls whose model has no price: their cost is unknown and not counted." :
					    "");
}

int report_html(FILE *f, sqlite3 *db, int64_t now)
{
	char since30[40], since7[40], until[40], generated[40];
	spend_format_time(now - 30 * 86400, since30, sizeof(since30));
	spend_format_time(now - 7 * 86400, since7, sizeof(since7));
	spend_format_time(now, until, sizeof(until));
	snprintf(generated, sizeof(generated), "%.10s %.5s UTC", until, until + 11);
	struct spend agents30, agents7, models, runs;
	if (spend_query(db, "agent", since30, until, NULL, &agents30) < 0)
		return -1;
	if (spend_query(db, "agent", since7, until, NULL, &agents7) < 0 ||
	    spend_query(db, "model", since30, until, NULL, &models) < 0 ||
	    spend_query(db, "run", since30, until, NULL, &runs) < 0) {
		spend_free(&agents30);
		return -1;
	}
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>spaturzu: LLM spend by agent</title>\n<style>\n"
	      "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#1f2328;"
	      "max-width:960px;margin:24px auto;padding:0 16px}\n"
	      "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;"
	      "padding-bottom:4px}\n"
	      ".sub{color:#57606a;margin:0 0 16px}.kpis{display:flex;gap:16px;flex-wrap:wrap}\n"
	      ".kpi{border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;min-width:160px}"
	      ".kpi b{display:block;font-size:20px}\n"
	      "table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}\n"
	      "th,td{padding:5px 8px;border-bottom:1px solid #eaeef2;text-align:right}"
	      "th:first-child,td:first-child{text-align:left;word-break:break-all}\n"
	      "th{background:#f6f8fa;font-weight:600}tr.total td{font-weight:600;border-top:2px solid #d0d7de}\n"
	      ".chart{width:100%;height:auto}.grid{stroke:#eaeef2}.axis,.label{font-size:11px;fill:#57606a}"
	      ".label{fill:#1f2328;font-size:12px}\n"
	      ".legend span{margin-right:14px;white-space:nowrap}.legend i{display:inline-block;width:10px;"
	      "height:10px;margin-right:5px;border-radius:2px}\n.note{color:#57606a;font-size:12px}\n"
	      "@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,svg{break-inside:avoid}}\n"
	      "</style></head><body>\n",
	      f);
	fprintf(f, "<h1>LLM spend by agent</h1>\n<p class=\"sub\">From the local spaturzu store, %s. "
		   "Exact costs in USD from the collector's prices.</p>\n",
		generated);
	fputs("<div class=\"kpis\">", f);
	fputs("<div class=\"kpi\">Last 7 days<b>$", f);
	money(f, agents7.total.cost_pusd);
	fprintf(f, "</b>%lld %s</div><div class=\"kpi\">Last 30 days<b>$", (long long)agents7.total.calls,
		spend_calls_word(agents7.total.calls));
	money(f, agents30.total.cost_pusd);
	fprintf(f, "</b>%lld %s</div><div class=\"kpi\">Agents (30 days)<b>%zu</b>%zu %s</div></div>\n",
		(long long)agents30.total.calls, spend_calls_word(agents30.total.calls), agents30.count, models.count,
		models.count == 1 ? "model" : "models");
	fputs("<h2>Cost per agent per day, last 30 days</h2>\n", f);
	daily_chart(f, db, &agents30, now, 30);
	fputs("<h2>Share of cost per model, last 30 days</h2>\n", f);
	if (models.count)
		share_chart(f, &models);
	else
		fputs("<p>No calls.</p>\n", f);
	fputs("<h2>Most expensive runs, last 30 days</h2>\n", f);
	struct spend top = runs;
	if (top.count > 10)
		top.count = 10;
	spend_table(f, &top, "Run");
	fputs("<h2>Per agent, last 7 days</h2>\n", f);
	spend_table(f, &agents7, "Agent");
	fputs("<h2>Per agent, last 30 days</h2>\n", f);
	spend_table(f, &agents30, "Agent");
	fputs("<p class=\"note\">Made by <code>spaturzu report --html</code>. No script, no network: "
	      "this page can be archived or printed as it is.</p>\n</body></html>\n",
	      f);
	spend_free(&agents30);
	spend_free(&agents7);
	spend_free(&models);
	spend_free(&runs);
	return ferror(f) ? -1 : 0;
}
