/* Budgets from the hosted gateway, as the SDKs take them (GATEWAY.md):
 *   - GET {base}/v1/agents/{agent}/policy for each agent this collector has
 *     seen ("(untagged)" for the project's budgets alone);
 *   - GET {base}/v1/projects/_me/events, a server-sent event stream whose
 *     `budget_breach` events name the agent to fetch again (or, for a
 *     project breach, every one); reconnect 5 s after it drops;
 *   - every cached policy fetched again each 60 s, the backstop.
 * A fetch that fails drops that agent's gateway limits (fail-open: its calls
 * pass) and says so in the log and in `spaturzu budgets`; it is tried again
 * after 5 s, then less often, up to the polling interval.
 *
 * The limits become budget-map entries beside the local budgets'. The
 * gateway decides `breached`; a limit fetched in an earlier day or month
 * than now is not published (the gateway's period has rolled over).
 *
 * Transfers run on a libcurl multi handle of their own; the collector's loop
 * waits on its sockets with spz_policy_waitfds. */
#ifndef SPZ_POLICY_H
#define SPZ_POLICY_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budgets.h"

#define SPZ_POLICY_AGENTS_MAX 128
#define SPZ_POLICY_LIMITS_MAX 16
#define SPZ_POLICY_UNTAGGED "(untagged)"

struct spz_policy_config {
	char base_url[512]; /* no trailing slash */
	char api_key[512];
	char ca_file[4096];
	long poll_ms;      /* 60000 */
	long reconnect_ms; /* 5000 */
	long timeout_ms;   /* 10000, per policy fetch */
};

struct spz_policy_limit {
	char budget_id[40];
	enum spz_budget_scope scope;
	enum spz_budget_period period;
	enum spz_budget_enforcement enforcement;
	bool breached;
	int alert_pct;
	int64_t limit_pusd, current_pusd;
};

/* One agent's answer. */
struct spz_policy_answer {
	char agent[SPZ_BUDGET_AGENT_MAX];
	size_t count;
	struct spz_policy_limit limits[SPZ_POLICY_LIMITS_MAX];
};

/* Parses a policy answer. Limits the contract does not describe (an unknown
 * scope, a cost that is not a decimal string, ...) make the whole answer
 * invalid: a half-read policy would enforce less than the gateway says
 * without anyone knowing. 0 or -1 with a reason. */
int spz_policy_parse(const char *json, size_t len, struct spz_policy_answer *out, char *err, size_t err_len);

/* A `budget_breach` event's data: the agent to fetch again, or "" for every
 * cached policy (a project breach). 0, or -1 when it is not one. */
int spz_policy_parse_breach(const char *json, size_t len, char *agent, size_t cap);

struct spz_policy_stats {
	uint64_t fetches, fetch_failures, events, event_connects;
	bool events_connected;
	int agents;       /* tracked */
	int agents_known; /* whose last fetch succeeded */
	char last_error[256];
	int64_t last_fetch_ms; /* wall clock of the last good fetch, 0 if none */
};

struct spz_policy;

struct spz_policy *spz_policy_new(const struct spz_policy_config *cfg);
void spz_policy_free(struct spz_policy *p);
/* An agent calls go out for: its policy is fetched now if it is new. */
void spz_policy_track(struct spz_policy *p, const char *agent);
/* Starts what is due (fetches, the event stream), drives the transfers and
 * handles their outcomes. */
void spz_policy_run(struct spz_policy *p);
/* Adds the multi handle's sockets to fds (at most cap) and lowers *timeout_ms
 * to when something is due. Returns how many were added. */
size_t spz_policy_waitfds(struct spz_policy *p, struct curl_waitfd *fds, size_t cap, int *timeout_ms);
/* True once since the limits last changed: the map must be published. */
bool spz_policy_take_changed(struct spz_policy *p);
/* Appends the gateway's limits as budgets (project limits once, whichever
 * agent's policy named them) to items; returns how many. */
size_t spz_policy_budgets(const struct spz_policy *p, struct spz_budget *items, size_t cap, int64_t now_ms);
const struct spz_policy_stats *spz_policy_stats(const struct spz_policy *p);

#endif
