/* libFuzzer: the budgets file (a user's file, untrusted input to the
 * collector), the gateway's policy answers and budget_breach events (a
 * network peer's), and the shim's reading of a budget map of arbitrary bytes
 * (a map torn or written by something else must never make it misread
 * memory or crash the host). The first byte picks which. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../collector/budgets.h"
#include "../../collector/policy.h"
#include "../../shim/budget.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if ((data[0] & 3) == 2) {
		struct spz_policy_answer a;
		char err[300], agent[SPZ_BUDGET_AGENT_MAX];
		spz_policy_parse((const char *)data + 1, size - 1, &a, err, sizeof(err));
		spz_policy_parse_breach((const char *)data + 1, size - 1, agent, sizeof(agent));
		return 0;
	}
	if ((data[0] & 1) == 0) {
		struct spz_budgets b;
		char err[512];
		if (spz_budgets_parse(&b, (const char *)data + 1, size - 1, err, sizeof(err)) == 0)
			spz_budgets_free(&b);
		return 0;
	}
	static struct spz_budget_map map;
	memset(&map, 0, sizeof(map));
	size_t n = size - 1 < sizeof(map) ? size - 1 : sizeof(map);
	memcpy(&map, data + 1, n);
	map.magic = SPZ_BUDGET_MAP_MAGIC;
	map.seq &= ~1ull;
	spz_budget_use_map(&map);
	struct spz_budget_verdict v;
	spz_budget_check("writer", map.updated_ms, &v);
	spz_budget_check(NULL, 1795435200000, &v);
	spz_budget_use_map(NULL);
	return 0;
}
