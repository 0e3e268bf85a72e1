/* `spaturzu trace RUN_ID`: one run's calls as a tree of agent paths
 * ("research / synthesize"), each agent with its subtree's totals and each
 * call with its model, tokens, cost and latency, in time order. */
#include <getopt.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/paths.h"
#include "cli.h"
#include "../common/money.h"
#include "spend.h"
#include "store.h"

static const char usage[] =
	"Usage: spaturzu trace [OPTIONS] RUN_ID\n"
	"\n"
	"Show one run's calls as a tree of agent paths: each agent with the calls,\n"
	"tokens and cost of its subtree, each call with its time, provider, model,\n"
	"tokens, cost and latency. RUN_ID may be a unique prefix of the run id;\n"
	"`spaturzu report --by run` lists runs.\n"
	"\n"
	"Options:\n"
	"      --json          the run as JSON: {runId, calls, tree}\n"
	"  -d, --db PATH       database (default: $SPATURZU_DB, else\n"
	"                      $XDG_DATA_HOME/spaturzu/spaturzu.db)\n"
	"  -h, --help          show this help\n";

struct node {
	char name[260];
	struct node **kids;
	size_t nkids;
	size_t *calls; /* indices into the call list */
	size_t ncalls;
	int64_t sub_calls, sub_input, sub_output, sub_cost, sub_unpriced;
};

static struct node *child(struct node *n, const char *name)
{
	for (size_t i = 0; i < n->nkids; i++)
		if (strcmp(n->kids[i]->name, name) == 0)
			return n->kids[i];
	struct node **k = realloc(n->kids, (n->nkids + 1) * sizeof(*k));
	if (!k)
		return NULL;
	n->kids = k;
	struct node *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	snprintf(c->name, sizeof(c->name), "%s", name);
	n->kids[n->nkids++] = c;
	return c;
}

static void free_tree(struct node *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		free_tree(n->kids[i]);
	free(n->kids);
	free(n->calls);
	free(n);
}

static int64_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static void totals(struct node *n, json_t *calls)
{
	for (size_t i = 0; i < n->ncalls; i++) {
		json_t *c = json_array_get(calls, n->calls[i]);
		n->sub_calls++;
		n->sub_input += jint(c, "promptTokens") > 0 ? jint(c, "promptTokens") : 0;
		n->sub_output += jint(c, "completionTokens") > 0 ? jint(c, "completionTokens") : 0;
		json_t *pusd = json_object_get(c, "_pusd");
		if (json_is_integer(pusd))
			n->sub_cost += json_integer_value(pusd);
		else if (jint(c, "promptTokens") >= 0 || jint(c, "completionTokens") >= 0)
			n->sub_unpriced++;
	}
	for (size_t i = 0; i < n->nkids; i++) {
		totals(n->kids[i], calls);
		n->sub_calls += n->kids[i]->sub_calls;
		n->sub_input += n->kids[i]->sub_input;
		n->sub_output += n->kids[i]->sub_output;
		n->sub_cost += n->kids[i]->sub_cost;
		n->sub_unpriced += n->kids[i]->sub_unpriced;
	}
}

static void print_node(const struct node *n, json_t *calls, const char *prefix, bool last, bool root)
{
	char cost[48], in[32], out[32];
	spend_format_usd(n->sub_cost, cost, sizeof(cost));
	spend_group_digits(n->sub_input, in, sizeof(in));
	spend_group_digits(n->sub_output, out, sizeof(out));
	if (!root)
		printf("%s%s%s  (%lld %s, %s in, %s out, %s USD%s)\n", prefix, last ? "└─ " : "├─ ", n->name,
		       (long long)n->sub_calls, spend_calls_word(n->sub_calls), in, out, cost,
		       n->sub_unpriced ? " + unpriced" : "");
	char deeper[512];
	snprintf(deeper, sizeof(deeper), "%s%s", prefix, root ? "" : last ? "   " : "│  ");
	size_t items = n->ncalls + n->nkids;
	for (size_t i = 0; i < n->ncalls; i++) {
		json_t *c = json_array_get(calls, n->calls[i]);
		const char *when = json_string_value(json_object_get(c, "startedAt"));
		const char *model = json_string_value(json_object_get(c, "responseModel"));
		if (!model)
			model = json_string_value(json_object_get(c, "model"));
		char cin[32] = "-", cout[32] = "-", ccost[48] = "?", lat[32] = "-";
		if (jint(c, "promptTokens") >= 0)
			spend_group_digits(jint(c, "promptTokens"), cin, sizeof(cin));
		if (jint(c, "completionTokens") >= 0)
			spend_group_digits(jint(c, "completionTokens"), cout, sizeof(cout));
		json_t *pusd = json_object_get(c, "_pusd");
		if (json_is_integer(pusd))
			spend_format_usd(json_integer_value(pusd), ccost, sizeof(ccost));
		if (jint(c, "latencyMs") >= 0)
			snprintf(lat, sizeof(lat), "%lld ms", (long long)jint(c, "latencyMs"));
		bool est = json_is_string(json_object_get(c, "usageSource")) &&
			   strcmp(json_string_value(json_object_get(c, "usageSource")), "tiktoken") == 0;
		printf("%s%s%s  %s %s  %s in, %s out%s  %s USD  %s  HTTP %lld\n", deeper,
		       i + 1 == items ? "└─ " : "├─ ", when && strlen(when) >= 23 ? when + 11 : (when ? when : "?"),
		       json_string_value(json_object_get(c, "provider")), model ? model : "?", cin, cout,
		       est ? " (estimated)" : "", ccost, lat, (long long)jint(c, "status"));
	}
	for (size_t i = 0; i < n->nkids; i++)
		print_node(n->kids[i], calls, deeper, n->ncalls + i + 1 == items, false);
}

static json_t *node_json(const struct node *n, json_t *calls)
{
	char cost[48];
	spz_money_format(n->sub_cost, 0, cost, sizeof(cost));
	json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:s,s:I}", "agent", n->name, "calls", (json_int_t)n->sub_calls,
			      "inputTokens", (json_int_t)n->sub_input, "outputTokens", (json_int_t)n->sub_output, "costUsd",
			      cost, "unpricedCalls", (json_int_t)n->sub_unpriced);
	json_t *ids = json_array();
	for (size_t i = 0; i < n->ncalls; i++)
		json_array_append(ids, json_object_get(json_array_get(calls, n->calls[i]), "id"));
	json_object_set_new(o, "callIds", ids);
	json_t *kids = json_array();
	for (size_t i = 0; i < n->nkids; i++)
		json_array_append_new(kids, node_json(n->kids[i], calls));
	json_object_set_new(o, "children", kids);
	return o;
}

int cmd_trace(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool as_json = false;
	char db_path[4096] = "";
	int c;
	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': as_json = true; break;
		case 'd': snprintf(db_path, sizeof(db_path), "%s", optarg); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "spaturzu trace: give one RUN_ID\n\n%s", usage);
		return EXIT_USAGE;
	}
	const char *want = argv[optind];
	if (!db_path[0] && spz_path_db(db_path, sizeof(db_path)) < 0)
		return 1;
	struct stat st;
	if (stat(db_path, &st) < 0) {
		fprintf(stderr, "spaturzu trace: no database at %s; pass --db PATH\n", db_path);
		return 1;
	}
	struct spz_store store;
	if (spz_store_open(&store, db_path, true) < 0)
		return 1;
	/* A unique prefix is enough, as with git. */
	sqlite3_stmt *q;
	char like[80];
	snprintf(like, sizeof(like), "%.64s%%", want);
	sqlite3_prepare_v2(store.db, "SELECT DISTINCT run_id FROM calls WHERE run_id LIKE ? LIMIT 2", -1, &q, NULL);
	sqlite3_bind_text(q, 1, like, -1, SQLITE_STATIC);
	char run_id[80] = "";
	int matches = 0;
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (!matches)
			snprintf(run_id, sizeof(run_id), "%s", (const char *)sqlite3_column_text(q, 0));
		matches++;
	}
	sqlite3_finalize(q);
	if (matches != 1 || strchr(want, '%') || strchr(want, '_')) {
		fprintf(stderr, matches ? "spaturzu trace: '%s' names several runs; give more of the id\n" :
					  "spaturzu trace: no run '%s' in %s (`spaturzu report --by run` lists runs)\n",
			want, db_path);
		spz_store_close(&store);
		return 1;
	}
	sqlite3_prepare_v2(store.db, "SELECT record, cost_pusd, cost_usd FROM calls WHERE run_id = ? ORDER BY started_at, seq",
			   -1, &q, NULL);
	sqlite3_bind_text(q, 1, run_id, -1, SQLITE_STATIC);
	json_t *calls = json_array();
	struct node *root = calloc(1, sizeof(*root));
	while (root && sqlite3_step(q) == SQLITE_ROW) {
		json_t *rec = json_loads((const char *)sqlite3_column_text(q, 0), 0, NULL);
		if (!rec)
			continue;
		if (sqlite3_column_type(q, 1) != SQLITE_NULL)
			json_object_set_new(rec, "_pusd", json_integer(sqlite3_column_int64(q, 1)));
		const char *usd = (const char *)sqlite3_column_text(q, 2);
		json_object_set_new(rec, "costUsd", usd ? json_string(usd) : json_null());
		size_t idx = json_array_size(calls);
		json_array_append_new(calls, rec);
		struct node *n = root;
		json_t *path = json_object_get(rec, "agentPath");
		if (json_array_size(path) == 0) {
			const char *a = json_string_value(json_object_get(rec, "agentName"));
			n = child(n, a ? a : "(no agent)");
		}
		size_t i;
		json_t *seg;
		json_array_foreach(path, i, seg) {
			if (n && json_is_string(seg))
				n = child(n, json_string_value(seg));
		}
		if (!n)
			break;
		size_t *cs = realloc(n->calls, (n->ncalls + 1) * sizeof(*cs));
		if (!cs)
			break;
		n->calls = cs;
		n->calls[n->ncalls++] = idx;
	}
	sqlite3_finalize(q);
	spz_store_close(&store);
	if (!root) {
		json_decref(calls);
		return 1;
	}
	totals(root, calls);
	if (as_json) {
		json_t *tree = json_array();
		for (size_t i = 0; i < root->nkids; i++)
			json_array_append_new(tree, node_json(root->kids[i], calls));
		size_t i;
		json_t *cl;
		json_array_foreach(calls, i, cl)
			json_object_del(cl, "_pusd");
		json_t *o = json_pack("{s:s,s:O,s:o}", "runId", run_id, "calls", calls, "tree", tree);
		char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(text);
		free(text);
		json_decref(o);
	} else {
		char cost[48];
		spend_format_usd(root->sub_cost, cost, sizeof(cost));
		json_t *first = json_array_get(calls, 0), *last = json_array_get(calls, json_array_size(calls) - 1);
		printf("run %s: %lld %s, %s USD%s, %s to %s\n", run_id, (long long)root->sub_calls,
		       spend_calls_word(root->sub_calls), cost,
		       root->sub_unpriced ? " + unpriced calls" : "",
		       json_string_value(json_object_get(first, "startedAt")) ?: "?",
		       json_string_value(json_object_get(last, "startedAt")) ?: "?");
		print_node(root, calls, "", true, true);
	}
	json_decref(calls);
	free_tree(root);
	return 0;
}
