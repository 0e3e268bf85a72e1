#include "budgets.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clog.h"
#include "../common/money.h"

static const char *const known_keys[] = { "id", "scope", "agent", "period", "limitUsd", "enforcement",
					  "alertThresholdPct", "note", NULL };

static int parse_one(struct spz_budget *b, json_t *o, size_t index, char *err, size_t err_len)
{
	char where[64];
	snprintf(where, sizeof(where), "budgets[%zu]", index);
	if (!json_is_object(o)) {
		snprintf(err, err_len, "%s: not an object", where);
		return -1;
	}
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		bool known = false;
		for (int i = 0; known_keys[i]; i++)
			known |= strcmp(k, known_keys[i]) == 0;
		if (!known) {
			snprintf(err, err_len, "%s: unknown field \"%s\"", where, k);
			return -1;
		}
	}
	memset(b, 0, sizeof(*b));
	const char *id = json_string_value(json_object_get(o, "id"));
	snprintf(b->id, sizeof(b->id), "%s", id ? id : "");
	if (!id || !*id || strlen(id) >= sizeof(b->id)) {
		snprintf(err, err_len, "%s: \"id\" is required, 1 to %zu characters", where, sizeof(b->id) - 1);
		return -1;
	}
	snprintf(where, sizeof(where), "budget \"%s\"", b->id);
	const char *scope = json_string_value(json_object_get(o, "scope"));
	if (scope && strcmp(scope, "project") == 0) {
		b->scope = SPZ_BUDGET_PROJECT;
	} else if (scope && strcmp(scope, "agent") == 0) {
		b->scope = SPZ_BUDGET_AGENT;
		const char *agent = json_string_value(json_object_get(o, "agent"));
		if (!agent || !*agent || strlen(agent) >= sizeof(b->agent)) {
			snprintf(err, err_len, "%s: an agent budget names its \"agent\" (1 to %zu characters)", where,
				 sizeof(b->agent) - 1);
			return -1;
		}
		snprintf(b->agent, sizeof(b->agent), "%s", agent);
	} else {
		snprintf(err, err_len, "%s: \"scope\" must be \"project\" or \"agent\"", where);
		return -1;
	}
	const char *period = json_string_value(json_object_get(o, "period"));
	if (period && strcmp(period, "daily") == 0) {
		b->period = SPZ_BUDGET_DAILY;
	} else if (period && strcmp(period, "monthly") == 0) {
		b->period = SPZ_BUDGET_MONTHLY;
	} else {
		snprintf(err, err_len, "%s: \"period\" must be \"daily\" or \"monthly\" (UTC)", where);
		return -1;
	}
	json_t *limit = json_object_get(o, "limitUsd");
	if (!json_is_string(limit) || spz_money_parse(json_string_value(limit), json_string_length(limit), &b->limit_pusd) < 0 ||
	    b->limit_pusd <= 0) {
		snprintf(err, err_len, "%s: \"limitUsd\" must be a positive decimal string such as \"5.00\"", where);
		return -1;
	}
	const char *enf = json_string_value(json_object_get(o, "enforcement"));
	if (enf && strcmp(enf, "hard_cap") == 0) {
		b->enforcement = SPZ_BUDGET_HARD_CAP;
	} else if (!enf || strcmp(enf, "alert") == 0) {
		b->enforcement = SPZ_BUDGET_ALERT;
	} else {
		snprintf(err, err_len, "%s: \"enforcement\" must be \"hard_cap\" or \"alert\"", where);
		return -1;
	}
	json_t *pct = json_object_get(o, "alertThresholdPct");
	if (pct && (!json_is_integer(pct) || json_integer_value(pct) < 1 || json_integer_value(pct) > 100)) {
		snprintf(err, err_len, "%s: \"alertThresholdPct\" must be a whole number from 1 to 100", where);
		return -1;
	}
	b->alert_pct = pct ? (int)json_integer_value(pct) : 0;
	return 0;
}

int spz_budgets_parse(struct spz_budgets *b, const char *json, size_t len, char *err, size_t err_len)
{
	memset(b, 0, sizeof(*b));
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, err_len, "line %d: %s", jerr.line, jerr.text);
		return -1;
	}
	json_t *list = json_object_get(root, "budgets");
	if (!json_is_object(root) || !json_is_array(list)) {
		snprintf(err, err_len, "the top level must be an object with a \"budgets\" array");
		json_decref(root);
		return -1;
	}
	if (json_array_size(list) > SPZ_BUDGET_MAP_MAX) {
		snprintf(err, err_len, "at most %d budgets", SPZ_BUDGET_MAP_MAX);
		json_decref(root);
		return -1;
	}
	b->items = calloc(json_array_size(list) + 1, sizeof(*b->items));
	if (!b->items) {
		json_decref(root);
		return -1;
	}
	size_t i;
	json_t *o;
	json_array_foreach(list, i, o) {
		if (parse_one(&b->items[i], o, i, err, err_len) < 0) {
			json_decref(root);
			spz_budgets_free(b);
			return -1;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(b->items[k].id, b->items[i].id) == 0) {
				snprintf(err, err_len, "budget \"%s\" is defined twice", b->items[i].id);
				json_decref(root);
				spz_budgets_free(b);
				return -1;
			}
		b->count++;
	}
	json_decref(root);
	return 0;
}

int spz_budgets_load(struct spz_budgets *b, const char *path, bool required, char *err, size_t err_len)
{
	memset(b, 0, sizeof(*b));
	if (!path || !*path)
		return 0;
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !required)
			return 0;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *text = NULL;
	size_t cap = 0, len = 0;
	for (;;) {
		if (len + 4096 > cap) {
			char *n = realloc(text, cap = cap ? cap * 2 : 8192);
			if (!n || cap > (1 << 20)) {
				free(n ? n : text);
				fclose(f);
				snprintf(err, err_len, "%s: too large", path);
				return -1;
			}
			text = n;
		}
		size_t got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	fclose(f);
	char inner[400];
	int rc = spz_budgets_parse(b, text ? text : "", len, inner, sizeof(inner));
	free(text);
	if (rc < 0) {
		snprintf(err, err_len, "%s: %s", path, inner);
		return -1;
	}
	snprintf(b->source, sizeof(b->source), "%s", path);
	return 0;
}

void spz_budgets_free(struct spz_budgets *b)
{
	free(b->items);
	b->items = NULL;
	b->count = 0;
}

void spz_budget_period_start(enum spz_budget_period period, int64_t now_s, char *out, size_t cap)
{
	time_t t = (time_t)now_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	if (period == SPZ_BUDGET_MONTHLY)
		tm.tm_mday = 1;
	strftime(out, cap, "%Y-%m-%dT00:00:00.000Z", &tm);
}

int spz_budgets_evaluate(struct spz_budgets *b, sqlite3 *db, int64_t now_s)
{
	sqlite3_stmt *q;
	/* Refused calls (delivery 3) never reached a provider: they cost nothing. */
	if (sqlite3_prepare_v2(db,
			       "SELECT coalesce(sum(cost_pusd), 0), count(*) FROM calls WHERE started_at >= ?1"
			       " AND delivery != 3 AND (?2 IS NULL OR agent_name = ?2)",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < b->count; i++) {
		struct spz_budget *bu = &b->items[i];
		char start[40];
		spz_budget_period_start(bu->period, now_s, start, sizeof(start));
		sqlite3_reset(q);
		sqlite3_bind_text(q, 1, start, -1, SQLITE_TRANSIENT);
		if (bu->scope == SPZ_BUDGET_AGENT)
			sqlite3_bind_text(q, 2, bu->agent, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 2);
		if (sqlite3_step(q) == SQLITE_ROW) {
			bu->current_pusd = sqlite3_column_int64(q, 0);
			bu->calls = sqlite3_column_int64(q, 1);
			bu->breached = bu->current_pusd >= bu->limit_pusd;
		} else {
			rc = -1;
		}
	}
	sqlite3_finalize(q);
	return rc;
}

int spz_budget_publisher_open(struct spz_budget_publisher *p, const char *socket_path, long gid)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s", socket_path);
	snprintf(p->path, sizeof(p->path), "%s/%s", dirname(dir), SPZ_BUDGET_MAP_NAME);
	p->fd = open(p->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, gid >= 0 ? 0640 : 0600);
	if (p->fd < 0 || ftruncate(p->fd, sizeof(struct spz_budget_map)) < 0) {
		clog_error("cannot create the budget map %s: %s; budgets are not enforced", p->path, strerror(errno));
		spz_budget_publisher_close(p);
		return -1;
	}
	if (gid >= 0 && (fchown(p->fd, (uid_t)-1, (gid_t)gid) < 0 || fchmod(p->fd, 0640) < 0))
		clog_warn("cannot share the budget map with group %ld: %s", gid, strerror(errno));
	p->map = mmap(NULL, sizeof(struct spz_budget_map), PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	if (p->map == MAP_FAILED) {
		p->map = NULL;
		clog_error("cannot map %s: %s; budgets are not enforced", p->path, strerror(errno));
		spz_budget_publisher_close(p);
		return -1;
	}
	/* A map left by an earlier collector keeps its seq: readers never see
	 * it go back. An odd seq (that collector died while writing) is closed. */
	if (p->map->magic != SPZ_BUDGET_MAP_MAGIC)
		memset(p->map, 0, sizeof(*p->map));
	if (p->map->seq & 1)
		p->map->seq++;
	return 0;
}

void spz_budget_publish(struct spz_budget_publisher *p, const struct spz_budgets *b, int64_t now_ms)
{
	if (!p->map)
		return;
	struct spz_budget_map *m = p->map;
	uint64_t seq = __atomic_load_n(&m->seq, __ATOMIC_RELAXED);
	__atomic_store_n(&m->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	m->magic = SPZ_BUDGET_MAP_MAGIC;
	m->updated_ms = now_ms;
	m->count = (uint32_t)(b->count < SPZ_BUDGET_MAP_MAX ? b->count : SPZ_BUDGET_MAP_MAX);
	for (uint32_t i = 0; i < m->count; i++) {
		const struct spz_budget *bu = &b->items[i];
		struct spz_budget_entry *e = &m->entries[i];
		memset(e, 0, sizeof(*e));
		memcpy(e->agent, bu->agent, sizeof(e->agent));
		memcpy(e->budget_id, bu->id, sizeof(e->budget_id));
		e->scope = (uint8_t)bu->scope;
		e->period = (uint8_t)bu->period;
		e->enforcement = (uint8_t)bu->enforcement;
		e->breached = bu->breached;
		e->source = bu->from_gateway ? 1 : 0;
		e->limit_pusd = bu->limit_pusd;
		e->current_pusd = bu->current_pusd;
	}
	__atomic_store_n(&m->seq, seq + 2, __ATOMIC_RELEASE);
}

void spz_budget_publisher_close(struct spz_budget_publisher *p)
{
	if (p->map)
		munmap(p->map, sizeof(struct spz_budget_map));
	if (p->fd >= 0)
		close(p->fd);
	p->map = NULL;
	p->fd = -1;
}

int spz_budget_map_read(const char *map_path, int source, struct spz_budget *items, size_t cap, int64_t *updated_ms)
{
	int fd = open(map_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	static struct spz_budget_map m;
	int n = -1;
	/* A plain read can tear while the collector writes: the sequence says. */
	for (int attempt = 0; attempt < 20 && n < 0; attempt++) {
		uint64_t seq_after = 0;
		if (pread(fd, &m, sizeof(m), 0) != (ssize_t)sizeof(m) || m.magic != SPZ_BUDGET_MAP_MAGIC)
			break;
		if ((m.seq & 1) || pread(fd, &seq_after, sizeof(seq_after), offsetof(struct spz_budget_map, seq)) !=
						   (ssize_t)sizeof(seq_after) ||
		    seq_after != m.seq) {
			struct timespec ts = { 0, 5000000 };
			nanosleep(&ts, NULL);
			continue;
		}
		n = 0;
		for (uint32_t i = 0; i < m.count && i < SPZ_BUDGET_MAP_MAX && (size_t)n < cap; i++) {
			const struct spz_budget_entry *e = &m.entries[i];
			if (e->source != source)
				continue;
			struct spz_budget *b = &items[n++];
			memset(b, 0, sizeof(*b));
			memcpy(b->id, e->budget_id, sizeof(b->id) - 1);
			memcpy(b->agent, e->agent, sizeof(b->agent) - 1);
			b->scope = e->scope ? SPZ_BUDGET_AGENT : SPZ_BUDGET_PROJECT;
			b->period = e->period ? SPZ_BUDGET_MONTHLY : SPZ_BUDGET_DAILY;
			b->enforcement = e->enforcement ? SPZ_BUDGET_HARD_CAP : SPZ_BUDGET_ALERT;
			b->breached = e->breached;
			b->limit_pusd = e->limit_pusd;
			b->current_pusd = e->current_pusd;
			b->calls = -1;
			b->from_gateway = source == 1;
		}
		*updated_ms = m.updated_ms;
	}
	close(fd);
	return n;
}
