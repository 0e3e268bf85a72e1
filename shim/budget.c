#include "budget.h"

#include "log.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char map_path[512];
static const struct spz_budget_map *_Atomic mapped;
static _Atomic int64_t next_try_ms;

void spz_budget_set_dir(const char *dir)
{
	snprintf(map_path, sizeof(map_path), "%s/%s", dir, SPZ_BUDGET_MAP_NAME);
}

void spz_budget_use_map(const struct spz_budget_map *map)
{
	atomic_store(&mapped, map);
}

static const struct spz_budget_map *get_map(int64_t now_ms)
{
	const struct spz_budget_map *m = atomic_load_explicit(&mapped, memory_order_acquire);
	if (m || !map_path[0] || now_ms < atomic_load_explicit(&next_try_ms, memory_order_relaxed))
		return m;
	atomic_store_explicit(&next_try_ms, now_ms + 1000, memory_order_relaxed);
	int fd = open(map_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	struct stat st;
	void *p = MAP_FAILED;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (off_t)sizeof(struct spz_budget_map))
		p = mmap(NULL, sizeof(struct spz_budget_map), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	const struct spz_budget_map *expected = NULL;
	if (!atomic_compare_exchange_strong(&mapped, &expected, (const struct spz_budget_map *)p)) {
		munmap(p, sizeof(struct spz_budget_map)); /* another thread mapped it first */
		return expected;
	}
	return (const struct spz_budget_map *)p;
}

/* The start of the day or month of a wall-clock time, in days since 1970
 * (daily) or months since 1970 (monthly), UTC. */
static int64_t period_of(uint8_t period, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	return period == SPZ_BUDGET_MONTHLY ? (int64_t)(tm.tm_year * 12 + tm.tm_mon) : (int64_t)(t / 86400);
}

void spz_budget_check(const char *agent, int64_t now_ms, struct spz_budget_verdict *out)
{
	memset(out, 0, sizeof(*out));
	const struct spz_budget_map *m = get_map(now_ms);
	if (!m)
		return;
	for (int attempt = 0; attempt < 8; attempt++) {
		uint64_t seq = __atomic_load_n(&m->seq, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue; /* the collector is writing */
		if (__atomic_load_n(&m->magic, __ATOMIC_RELAXED) != SPZ_BUDGET_MAP_MAGIC)
			return;
		int64_t updated = __atomic_load_n(&m->updated_ms, __ATOMIC_RELAXED);
		uint32_t count = __atomic_load_n(&m->count, __ATOMIC_RELAXED);
		if (count > SPZ_BUDGET_MAP_MAX)
			count = SPZ_BUDGET_MAP_MAX;
		struct spz_budget_verdict v;
		memset(&v, 0, sizeof(v));
		for (uint32_t i = 0; i < count && !v.refuse; i++) {
			struct spz_budget_entry e;
			memcpy(&e, &m->entries[i], sizeof(e)); /* may be torn: seq says */
			e.agent[sizeof(e.agent) - 1] = '\0';
			e.budget_id[sizeof(e.budget_id) - 1] = '\0';
			if (!e.breached)
				continue;
			if (e.scope == SPZ_BUDGET_AGENT && (!agent || strcmp(e.agent, agent) != 0))
				continue;
			/* Spend counted for an earlier day or month says nothing of
			 * this one (a collector that stopped long ago). */
			if (period_of(e.period, updated) != period_of(e.period, now_ms))
				continue;
			if (e.enforcement == SPZ_BUDGET_HARD_CAP) {
				v.refuse = true;
				v.warn = false;
				v.entry = e;
			} else if (!v.warn) {
				v.warn = true;
				v.entry = e;
			}
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&m->seq, __ATOMIC_RELAXED) == seq) {
			*out = v;
			return;
		}
	}
	/* The map stayed busy: let the call through rather than wait. */
}

bool spz_budget_armed(int64_t now_ms)
{
	const struct spz_budget_map *m = get_map(now_ms);
	if (!m)
		return false;
	uint32_t count = __atomic_load_n(&m->count, __ATOMIC_RELAXED);
	if (count > SPZ_BUDGET_MAP_MAX)
		count = SPZ_BUDGET_MAP_MAX;
	/* Unlocked on purpose: a torn read only makes the gate look closer,
	 * and spz_budget_check then decides under the lock. */
	for (uint32_t i = 0; i < count; i++)
		if (__atomic_load_n(&m->entries[i].breached, __ATOMIC_RELAXED))
			return true;
	return false;
}

void spz_budget_warn_once(const struct spz_budget_entry *e, const char *agent)
{
	static char warned[16][40 + 24];
	static unsigned next;
	char key[sizeof(warned[0])];
	snprintf(key, sizeof(key), "%.39s/%lld", e->budget_id,
		 (long long)period_of(e->period, (int64_t)time(NULL) * 1000));
	for (unsigned i = 0; i < 16; i++)
		if (strcmp(warned[i], key) == 0)
			return;
	snprintf(warned[next++ % 16], sizeof(warned[0]), "%s", key);
	spz_log("budget %s (alert) exceeded by agent \"%s\"; the call proceeds", e->budget_id, agent ? agent : "");
}
