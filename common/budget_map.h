/* The budget state the collector publishes for the shims: a small file in
 * the socket's directory, mapped read-only by every shim. The collector
 * rewrites it in place under a sequence lock (seq is odd while it writes);
 * a reader copies what it needs and retries if seq moved, so it never
 * takes a lock a writer could hold and makes no system call once mapped.
 * Layout is fixed-size and versioned by the magic. */
#ifndef SPZ_BUDGET_MAP_H
#define SPZ_BUDGET_MAP_H

#include <stdint.h>

#define SPZ_BUDGET_MAP_MAGIC 0x3147445542415053ull /* "SPABUDG1", little-endian */
#define SPZ_BUDGET_MAP_NAME "budgets.map"
#define SPZ_BUDGET_MAP_MAX 256
#define SPZ_BUDGET_AGENT_MAX 64 /* bytes of an agent name kept, NUL included */

enum spz_budget_scope { SPZ_BUDGET_PROJECT = 0, SPZ_BUDGET_AGENT = 1 };
enum spz_budget_period { SPZ_BUDGET_DAILY = 0, SPZ_BUDGET_MONTHLY = 1 };
enum spz_budget_enforcement { SPZ_BUDGET_ALERT = 0, SPZ_BUDGET_HARD_CAP = 1 };

struct spz_budget_entry {
	char agent[SPZ_BUDGET_AGENT_MAX]; /* "" for a project budget */
	char budget_id[40];
	uint8_t scope, period, enforcement, breached;
	uint8_t source; /* 0: the local budgets file, 1: the gateway's policy */
	uint8_t reserved[3];
	int64_t limit_pusd, current_pusd; /* picodollars */
};

struct spz_budget_map {
	uint64_t magic;
	uint64_t seq;        /* odd while being written */
	int64_t updated_ms;  /* wall clock of the last evaluation */
	uint32_t count;
	uint32_t reserved;
	struct spz_budget_entry entries[SPZ_BUDGET_MAP_MAX];
};

#endif
