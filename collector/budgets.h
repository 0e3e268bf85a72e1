/* Budgets without a gateway: a local file of hard caps and alerts, per
 * project or per agent, daily or monthly (UTC), evaluated against the
 * local store's exact spend and published to the shims' budget map.
 *
 * File (~/.config/spaturzu/budgets.json, --budgets FILE, SPATURZU_BUDGETS):
 *   {"budgets": [{"id": "daily-triage", "scope": "agent", "agent": "support-triage",
 *                 "period": "daily", "limitUsd": "5.00", "enforcement": "hard_cap",
 *                 "alertThresholdPct": 80}]}
 * scope "project" budgets count every agent's calls. */
#ifndef SPZ_BUDGETS_H
#define SPZ_BUDGETS_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/budget_map.h"

struct spz_budget {
	char id[40];
	enum spz_budget_scope scope;
	char agent[SPZ_BUDGET_AGENT_MAX];
	enum spz_budget_period period;
	enum spz_budget_enforcement enforcement;
	int64_t limit_pusd;
	int alert_pct; /* 0: none */
	bool from_gateway; /* a gateway policy's limit, not the local file's */
	/* evaluated */
	int64_t current_pusd;
	int64_t calls;
	bool breached;
};

struct spz_budgets {
	struct spz_budget *items;
	size_t count;
	char source[4096]; /* the file they came from, "" when none */
};

/* Loads a budgets file. A missing file is no budgets unless required.
 * -1 with a message naming the file and the entry. */
int spz_budgets_load(struct spz_budgets *b, const char *path, bool required, char *err, size_t err_len);
int spz_budgets_parse(struct spz_budgets *b, const char *json, size_t len, char *err, size_t err_len);
void spz_budgets_free(struct spz_budgets *b);

/* The start of the budget's current period, RFC 3339 UTC. */
void spz_budget_period_start(enum spz_budget_period period, int64_t now_s, char *out, size_t cap);
/* Sums each budget's spend in its current period from the store. 0 or -1. */
int spz_budgets_evaluate(struct spz_budgets *b, sqlite3 *db, int64_t now_s);

/* The shared map the shims read: created beside the socket, rewritten in
 * place under the sequence lock. */
struct spz_budget_publisher {
	int fd;
	struct spz_budget_map *map;
	char path[4200];
};
int spz_budget_publisher_open(struct spz_budget_publisher *p, const char *socket_path, long gid);
void spz_budget_publish(struct spz_budget_publisher *p, const struct spz_budgets *b, int64_t now_ms);
void spz_budget_publisher_close(struct spz_budget_publisher *p);

/* Reads a published map (for `spaturzu budgets`): the entries that came from
 * `source` (1: the gateway) into items, at most cap. Returns how many, or -1
 * when there is no consistent map to read. */
int spz_budget_map_read(const char *map_path, int source, struct spz_budget *items, size_t cap, int64_t *updated_ms);

#endif
