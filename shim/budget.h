/* The shim's side of budgets: reads the collector's budget map (mapped
 * read-only once, then read under its sequence lock: no system call, no
 * lock) and says whether a call of an agent is refused. On any doubt (no
 * map, a map that stays locked, a state from an earlier day or month) the
 * call goes through. */
#ifndef SPZ_BUDGET_H
#define SPZ_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/budget_map.h"

struct spz_budget_verdict {
	bool refuse; /* a breached hard cap covers the call */
	bool warn;   /* a breached alert budget covers it (the call proceeds) */
	struct spz_budget_entry entry; /* the budget that decided */
};

/* Maps dir/budgets.map on first use and again at most once a second while
 * it is absent. */
void spz_budget_set_dir(const char *dir);
/* The verdict for a call of agent at now_ms (wall clock). */
void spz_budget_check(const char *agent, int64_t now_ms, struct spz_budget_verdict *out);
/* Cheap: is any budget breached in its current period? (Then the gate
 * looks at the request.) */
bool spz_budget_armed(int64_t now_ms);
/* One diagnostic per alert budget and period. */
void spz_budget_warn_once(const struct spz_budget_entry *e, const char *agent);
/* For tests: a map already in memory, and forgetting the mapped one. */
void spz_budget_use_map(const struct spz_budget_map *map);

#endif
