#include "policy.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "../common/money.h"
#include "../shim/sse.h"
#include "clog.h"

#define EVENT_DATA_MAX 2048
#define BODY_MAX (256 * 1024)

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool set_enum(const char *s, const char *a, const char *b, int *out)
{
	if (s && strcmp(s, a) == 0)
		*out = 0;
	else if (s && strcmp(s, b) == 0)
		*out = 1;
	else
		return false;
	return true;
}

static int parse_cost(json_t *v, int64_t *out)
{
	return json_is_string(v) ? spz_money_parse(json_string_value(v), json_string_length(v), out) : -1;
}

int spz_policy_parse(const char *json, size_t len, struct spz_policy_answer *out, char *err, size_t err_len)
{
	memset(out, 0, sizeof(*out));
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	if (!root) {
		snprintf(err, err_len, "the answer is not JSON (%s)", jerr.text);
		return -1;
	}
	int rc = -1;
	json_t *limits = json_object_get(root, "limits");
	const char *agent = json_string_value(json_object_get(root, "agent"));
	if (!json_is_object(root) || !json_is_array(limits)) {
		snprintf(err, err_len, "the answer has no \"limits\" array");
		goto out;
	}
	snprintf(out->agent, sizeof(out->agent), "%s", agent ? agent : "");
	if (json_array_size(limits) > SPZ_POLICY_LIMITS_MAX) {
		snprintf(err, err_len, "more than %d limits", SPZ_POLICY_LIMITS_MAX);
		goto out;
	}
	size_t i;
	json_t *o;
	json_array_foreach(limits, i, o) {
		struct spz_policy_limit *l = &out->limits[out->count];
		memset(l, 0, sizeof(*l));
		const char *id = json_string_value(json_object_get(o, "budgetId"));
		int scope, period, enforcement;
		json_t *breached = json_object_get(o, "breached");
		json_t *pct = json_object_get(o, "alertThresholdPct");
		if (!id || !*id || strlen(id) >= sizeof(l->budget_id)) {
			snprintf(err, err_len, "limits[%zu]: \"budgetId\" must be 1 to %zu characters", i,
				 sizeof(l->budget_id) - 1);
			goto out;
		}
		if (!set_enum(json_string_value(json_object_get(o, "scope")), "project", "agent", &scope) ||
		    !set_enum(json_string_value(json_object_get(o, "period")), "daily", "monthly", &period) ||
		    !set_enum(json_string_value(json_object_get(o, "enforcement")), "alert", "hard_cap", &enforcement) ||
		    !json_is_boolean(breached) || parse_cost(json_object_get(o, "limitCost"), &l->limit_pusd) < 0 ||
		    parse_cost(json_object_get(o, "currentCost"), &l->current_pusd) < 0 || (pct && !json_is_number(pct))) {
			snprintf(err, err_len,
				 "limits[%zu] (%s): scope, period, enforcement, breached, limitCost or currentCost "
				 "is missing or not as the contract says",
				 i, id);
			goto out;
		}
		snprintf(l->budget_id, sizeof(l->budget_id), "%s", id);
		l->scope = (enum spz_budget_scope)scope;
		l->period = (enum spz_budget_period)period;
		l->enforcement = (enum spz_budget_enforcement)enforcement;
		l->breached = json_is_true(breached);
		double p = pct ? json_number_value(pct) : 0;
		l->alert_pct = isfinite(p) && p > 0 && p <= 100 ? (int)p : 0;
		out->count++;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int spz_policy_parse_breach(const char *json, size_t len, char *agent, size_t cap)
{
	json_t *root = json_loadb(json, len, 0, NULL);
	if (!root)
		return -1;
	int rc = -1;
	const char *scope = json_string_value(json_object_get(root, "scope"));
	const char *name = json_string_value(json_object_get(root, "agentName"));
	if (scope && strcmp(scope, "project") == 0) {
		agent[0] = '\0';
		rc = 0;
	} else if (scope && strcmp(scope, "agent") == 0 && name && *name && strlen(name) < cap) {
		snprintf(agent, cap, "%s", name);
		rc = 0;
	}
	json_decref(root);
	return rc;
}

struct tracked {
	char name[SPZ_BUDGET_AGENT_MAX];
	bool known; /* the last fetch succeeded: limits hold */
	size_t count;
	struct spz_policy_limit limits[SPZ_POLICY_LIMITS_MAX];
	int64_t fetched_ms;
	int64_t due_ms; /* 0: not scheduled */
	int failures;
	CURL *easy; /* a fetch in flight */
	bool again; /* asked for while in flight */
	char *body;
	size_t body_len;
	bool body_over;
};

struct spz_policy {
	struct spz_policy_config cfg;
	CURLM *multi;
	struct curl_slist *headers, *event_headers;
	struct tracked agents[SPZ_POLICY_AGENTS_MAX];
	int n;
	bool full_warned;
	CURL *events;
	int64_t events_due_ms;
	bool events_had_data;
	bool events_warned;
	struct spz_sse sse;
	char event_data[EVENT_DATA_MAX];
	size_t event_len;
	bool event_over;
	int64_t next_poll_ms;
	bool changed;
	bool warned_failing;
	struct spz_policy_stats stats;
};

static void schedule(struct tracked *t, int64_t when)
{
	if (t->easy)
		t->again = true;
	else if (!t->due_ms || when < t->due_ms)
		t->due_ms = when;
}

static struct tracked *find(struct spz_policy *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->agents[i].name, name) == 0)
			return &p->agents[i];
	return NULL;
}

void spz_policy_track(struct spz_policy *p, const char *agent)
{
	if (!p || !agent || !*agent || strlen(agent) >= SPZ_BUDGET_AGENT_MAX || find(p, agent))
		return;
	if (p->n == SPZ_POLICY_AGENTS_MAX) {
		if (!p->full_warned)
			clog_warn("budgets: more than %d agents; the gateway's agent budgets of the others are not "
				  "enforced (project budgets still are)",
				  SPZ_POLICY_AGENTS_MAX);
		p->full_warned = true;
		return;
	}
	struct tracked *t = &p->agents[p->n++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", agent);
	t->due_ms = 1; /* now */
	p->stats.agents = p->n;
}

struct spz_policy *spz_policy_new(const struct spz_policy_config *cfg)
{
	struct spz_policy *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->cfg = *cfg;
	size_t n = strlen(p->cfg.base_url);
	while (n > 0 && p->cfg.base_url[n - 1] == '/')
		p->cfg.base_url[--n] = '\0';
	p->multi = curl_multi_init();
	char h[600];
	if (p->cfg.api_key[0]) {
		snprintf(h, sizeof(h), "x-spaturzu-key: %s", p->cfg.api_key);
		p->headers = curl_slist_append(NULL, h);
		p->event_headers = curl_slist_append(NULL, h);
		memset(h, 0, sizeof(h));
	}
	memset(p->cfg.api_key, 0, sizeof(p->cfg.api_key));
	p->headers = curl_slist_append(p->headers, "accept: application/json");
	p->event_headers = curl_slist_append(p->event_headers, "accept: text/event-stream");
	if (!p->multi || !p->headers || !p->event_headers) {
		spz_policy_free(p);
		return NULL;
	}
	p->events_due_ms = 1;
	p->next_poll_ms = wall_ms() + p->cfg.poll_ms;
	spz_policy_track(p, SPZ_POLICY_UNTAGGED);
	clog_info("budgets: following the gateway's policies (%s/v1/agents/{agent}/policy, event stream, every %ld s)",
		  p->cfg.base_url, p->cfg.poll_ms / 1000);
	return p;
}

static void end_transfer(struct spz_policy *p, CURL **easy)
{
	if (*easy) {
		curl_multi_remove_handle(p->multi, *easy);
		curl_easy_cleanup(*easy);
		*easy = NULL;
	}
}

void spz_policy_free(struct spz_policy *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n; i++) {
		end_transfer(p, &p->agents[i].easy);
		free(p->agents[i].body);
	}
	end_transfer(p, &p->events);
	curl_slist_free_all(p->headers);
	curl_slist_free_all(p->event_headers);
	if (p->multi)
		curl_multi_cleanup(p->multi);
	free(p);
}

static size_t keep_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct tracked *t = ctx;
	size_t n = size * nmemb;
	if (t->body_over || t->body_len + n > BODY_MAX) {
		t->body_over = true;
		return n;
	}
	char *nb = realloc(t->body, t->body_len + n + 1);
	if (!nb) {
		t->body_over = true;
		return n;
	}
	t->body = nb;
	memcpy(t->body + t->body_len, data, n);
	t->body_len += n;
	t->body[t->body_len] = '\0';
	return n;
}

static CURL *new_easy(struct spz_policy *p, const char *url, struct curl_slist *headers)
{
	CURL *e = curl_easy_init();
	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "spaturzu-collector/" SPZ_VERSION);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, p->cfg.timeout_ms);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (p->cfg.ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, p->cfg.ca_file);
	return e;
}

static void start_fetch(struct spz_policy *p, struct tracked *t)
{
	char *esc = curl_easy_escape(NULL, t->name, 0);
	char url[1200];
	snprintf(url, sizeof(url), "%s/v1/agents/%s/policy", p->cfg.base_url, esc ? esc : "");
	curl_free(esc);
	CURL *e = new_easy(p, url, p->headers);
	if (!e)
		return;
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, p->cfg.timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	t->body_len = 0;
	t->body_over = false;
	if (curl_multi_add_handle(p->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		return;
	}
	t->easy = e;
	t->due_ms = 0;
	t->again = false;
}

static void on_event_data(void *ud, const char *buf, size_t len)
{
	struct spz_policy *p = ud;
	if (p->event_len + len >= sizeof(p->event_data)) {
		p->event_over = true;
		return;
	}
	memcpy(p->event_data + p->event_len, buf, len);
	p->event_len += len;
}

static void refetch_all(struct spz_policy *p, int64_t when)
{
	for (int i = 0; i < p->n; i++)
		schedule(&p->agents[i], when);
}

static void on_event(void *ud, const char *type)
{
	struct spz_policy *p = ud;
	size_t len = p->event_len;
	bool over = p->event_over;
	p->event_len = 0;
	p->event_over = false;
	if (strcmp(type, "budget_breach") != 0)
		return; /* only this one matters (GATEWAY.md) */
	p->stats.events++;
	char agent[SPZ_BUDGET_AGENT_MAX];
	if (over || spz_policy_parse_breach(p->event_data, len, agent, sizeof(agent)) < 0) {
		/* Unreadable: a breach of something. Fetching every policy is
		 * the safe reading. */
		clog_warn("budgets: a budget_breach event the contract does not describe; fetching every policy");
		refetch_all(p, 1);
		return;
	}
	if (!agent[0]) {
		refetch_all(p, 1);
		return;
	}
	spz_policy_track(p, agent);
	struct tracked *t = find(p, agent);
	if (t)
		schedule(t, 1);
}

static const struct spz_sse_callbacks event_callbacks = { .data = on_event_data, .dispatch = on_event };

static size_t feed_events(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct spz_policy *p = ctx;
	long status = 0;
	curl_easy_getinfo(p->events, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return 0; /* not a stream: end it, reconnect later */
	if (!p->events_had_data) {
		p->events_had_data = true;
		p->stats.events_connected = true;
		p->stats.event_connects++;
		if (p->events_warned)
			clog_info("budgets: the gateway's event stream is back");
		p->events_warned = false;
	}
	spz_sse_feed(&p->sse, data, size * nmemb);
	return size * nmemb;
}

static void start_events(struct spz_policy *p)
{
	char url[700];
	snprintf(url, sizeof(url), "%s/v1/projects/_me/events", p->cfg.base_url);
	CURL *e = new_easy(p, url, p->event_headers);
	if (!e)
		return;
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, feed_events);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
	/* A stream that stays open; the OS notices a dead peer through TCP
	 * keepalive, and polling covers the time until it does. */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	spz_sse_init(&p->sse, &event_callbacks, p);
	p->event_len = 0;
	p->event_over = false;
	p->events_had_data = false;
	if (curl_multi_add_handle(p->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		p->events_due_ms = wall_ms() + p->cfg.reconnect_ms;
		return;
	}
	p->events = e;
	p->events_due_ms = 0;
}

static bool same_limits(const struct tracked *t, const struct spz_policy_answer *a)
{
	return t->known && t->count == a->count && memcmp(t->limits, a->limits, a->count * sizeof(a->limits[0])) == 0;
}

static void fetch_done(struct spz_policy *p, struct tracked *t, CURLcode rc, long status)
{
	int64_t now = wall_ms();
	p->stats.fetches++;
	char err[300] = "";
	struct spz_policy_answer a;
	if (rc != CURLE_OK)
		snprintf(err, sizeof(err), "%s", curl_easy_strerror(rc));
	else if (status != 200)
		snprintf(err, sizeof(err), "HTTP %ld", status);
	else if (t->body_over)
		snprintf(err, sizeof(err), "the answer is larger than %d bytes", BODY_MAX);
	else
		spz_policy_parse(t->body ? t->body : "", t->body_len, &a, err, sizeof(err)); /* err says why */
	if (err[0]) {
		p->stats.fetch_failures++;
		snprintf(p->stats.last_error, sizeof(p->stats.last_error), "agent \"%s\": %s", t->name, err);
		if (t->known || t->failures == 0)
			clog_warn("budgets: cannot fetch the gateway's policy for agent \"%s\" (%s); its calls pass "
				  "until the gateway answers (fail-open)",
				  t->name, err);
		if (t->known)
			p->changed = true;
		t->known = false;
		t->count = 0;
		t->failures++;
		long wait = p->cfg.reconnect_ms << (t->failures < 5 ? t->failures - 1 : 4);
		if (wait > p->cfg.poll_ms)
			wait = p->cfg.poll_ms;
		if (!t->again)
			schedule(t, now + wait);
	} else {
		if (t->failures)
			clog_info("budgets: the gateway's policy for agent \"%s\" is back", t->name);
		if (!same_limits(t, &a))
			p->changed = true;
		for (size_t i = 0; i < a.count; i++) {
			if (a.limits[i].breached && a.limits[i].enforcement == SPZ_BUDGET_HARD_CAP &&
			    !(t->known && i < t->count && t->limits[i].breached)) {
				char cur[32], lim[32];
				spz_money_format(a.limits[i].current_pusd, 2, cur, sizeof(cur));
				spz_money_format(a.limits[i].limit_pusd, 2, lim, sizeof(lim));
				clog_warn("budget %s (gateway, %s) breached: %s >= %s USD; its calls are refused",
					  a.limits[i].budget_id,
					  a.limits[i].scope == SPZ_BUDGET_PROJECT ? "project" : t->name, cur, lim);
			}
		}
		t->known = true;
		t->count = a.count;
		memcpy(t->limits, a.limits, sizeof(a.limits));
		t->fetched_ms = now;
		t->failures = 0;
		p->stats.last_fetch_ms = now;
	}
	int known = 0;
	for (int i = 0; i < p->n; i++)
		known += p->agents[i].known;
	p->stats.agents_known = known;
	if (t->again)
		schedule(t, 1);
	t->again = false;
}

void spz_policy_run(struct spz_policy *p)
{
	if (!p)
		return;
	int64_t now = wall_ms();
	if (now >= p->next_poll_ms) {
		refetch_all(p, now);
		p->next_poll_ms = now + p->cfg.poll_ms;
	}
	for (int i = 0; i < p->n; i++) {
		struct tracked *t = &p->agents[i];
		if (!t->easy && t->due_ms && t->due_ms <= now)
			start_fetch(p, t);
	}
	if (!p->events && p->events_due_ms && p->events_due_ms <= now)
		start_events(p);
	int running;
	curl_multi_perform(p->multi, &running);
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(p->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *e = msg->easy_handle;
		CURLcode rc = msg->data.result;
		long status = 0;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		if (e == p->events) {
			end_transfer(p, &p->events);
			bool was_up = p->events_had_data;
			p->stats.events_connected = false;
			p->events_due_ms = wall_ms() + p->cfg.reconnect_ms;
			if (!p->events_warned) {
				char why[200];
				if (rc == CURLE_WRITE_ERROR && status != 200)
					snprintf(why, sizeof(why), "HTTP %ld", status);
				else
					snprintf(why, sizeof(why), "%s", rc == CURLE_OK ? "closed by the gateway" :
											 curl_easy_strerror(rc));
				clog_warn("budgets: the gateway's event stream %s (%s); reconnecting every %ld s, "
					  "policies are fetched again every %ld s meanwhile",
					  was_up ? "dropped" : "is unavailable", why, p->cfg.reconnect_ms / 1000,
					  p->cfg.poll_ms / 1000);
				p->events_warned = true;
			}
			/* Breaches announced while it was down were missed. */
			if (was_up)
				refetch_all(p, p->events_due_ms);
			continue;
		}
		struct tracked *t = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t);
		if (!t)
			continue;
		end_transfer(p, &t->easy);
		fetch_done(p, t, rc, status);
	}
	/* Anything that became due through the outcomes starts on the next
	 * turn of the loop, which waits no longer than spz_policy_waitfds says. */
}

size_t spz_policy_waitfds(struct spz_policy *p, struct curl_waitfd *fds, size_t cap, int *timeout_ms)
{
	if (!p)
		return 0;
	int64_t now = wall_ms();
	int64_t next = p->next_poll_ms;
	for (int i = 0; i < p->n; i++)
		if (!p->agents[i].easy && p->agents[i].due_ms && p->agents[i].due_ms < next)
			next = p->agents[i].due_ms;
	if (!p->events && p->events_due_ms && p->events_due_ms < next)
		next = p->events_due_ms;
	long curl_t = -1;
	curl_multi_timeout(p->multi, &curl_t);
	int64_t wait = next - now;
	if (curl_t >= 0 && curl_t < wait)
		wait = curl_t;
	if (wait < 0)
		wait = 0;
	if (wait < *timeout_ms)
		*timeout_ms = (int)wait;
	fd_set r, w, x;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&x);
	int maxfd = -1;
	curl_multi_fdset(p->multi, &r, &w, &x, &maxfd);
	size_t n = 0;
	for (int fd = 0; fd <= maxfd && n < cap; fd++) {
		short ev = (short)((FD_ISSET(fd, &r) ? CURL_WAIT_POLLIN : 0) | (FD_ISSET(fd, &w) ? CURL_WAIT_POLLOUT : 0) |
				   (FD_ISSET(fd, &x) ? CURL_WAIT_POLLPRI : 0));
		if (ev) {
			fds[n].fd = fd;
			fds[n].events = ev;
			fds[n].revents = 0;
			n++;
		}
	}
	if (maxfd < 0 && *timeout_ms > 100 && (p->events || curl_t >= 0))
		*timeout_ms = 100; /* transfers without a socket yet (resolving) */
	return n;
}

bool spz_policy_take_changed(struct spz_policy *p)
{
	if (!p || !p->changed)
		return false;
	p->changed = false;
	return true;
}

static int64_t period_index(enum spz_budget_period period, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	return period == SPZ_BUDGET_MONTHLY ? (int64_t)(tm.tm_year * 12 + tm.tm_mon) : (int64_t)(t / 86400);
}

size_t spz_policy_budgets(const struct spz_policy *p, struct spz_budget *items, size_t cap, int64_t now_ms)
{
	size_t n = 0;
	if (!p)
		return 0;
	for (int i = 0; i < p->n; i++) {
		const struct tracked *t = &p->agents[i];
		if (!t->known)
			continue;
		for (size_t k = 0; k < t->count && n < cap; k++) {
			const struct spz_policy_limit *l = &t->limits[k];
			if (period_index(l->period, t->fetched_ms) != period_index(l->period, now_ms))
				continue;
			bool dup = false;
			for (size_t j = 0; j < n && !dup; j++)
				dup = l->scope == SPZ_BUDGET_PROJECT && items[j].scope == SPZ_BUDGET_PROJECT &&
				      strcmp(items[j].id, l->budget_id) == 0;
			if (dup)
				continue;
			struct spz_budget *b = &items[n++];
			memset(b, 0, sizeof(*b));
			snprintf(b->id, sizeof(b->id), "%s", l->budget_id);
			b->scope = l->scope;
			if (l->scope == SPZ_BUDGET_AGENT)
				snprintf(b->agent, sizeof(b->agent), "%s", t->name);
			b->period = l->period;
			b->enforcement = l->enforcement;
			b->limit_pusd = l->limit_pusd;
			b->current_pusd = l->current_pusd;
			b->alert_pct = l->alert_pct;
			b->breached = l->breached;
			b->from_gateway = true;
		}
	}
	return n;
}

const struct spz_policy_stats *spz_policy_stats(const struct spz_policy *p)
{
	return &p->stats;
}
