/* libFuzzer: the HTTP/2 budget gate with a breached cap for agent
 * "blocked", fed a conversation of records [flags][length, 2 bytes][bytes]:
 * flags bit 0 a read (else a write), bit 1 the write fails once and is
 * retried, bits 4-7 the read size. Writes go through write_begin/write_end
 * as the hooks make them, reads through take/on_read; the gate's promises
 * are checked as it goes: a write reports at most what the client wrote, a
 * retried write gets the same bytes, a read never exceeds the client's
 * buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../shim/budget.h"
#include "../../shim/conn.h"
#include "../../shim/conn_h2.h"

static struct spz_budget_map map;

static void sink(const struct spz_call *c)
{
	(void)c;
}

static void setup(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	map.magic = SPZ_BUDGET_MAP_MAGIC;
	map.seq = 2;
	map.updated_ms = (int64_t)ts.tv_sec * 1000;
	map.count = 1;
	struct spz_budget_entry *e = &map.entries[0];
	strcpy(e->budget_id, "blocked-daily");
	strcpy(e->agent, "blocked");
	e->scope = SPZ_BUDGET_AGENT;
	e->period = SPZ_BUDGET_DAILY;
	e->enforcement = SPZ_BUDGET_HARD_CAP;
	e->breached = true;
	e->limit_pusd = 1;
	e->current_pusd = 2;
	spz_budget_use_map(&map);
	spz_conn_set_sink(sink);
}

static void write_once(struct spz_conn *c, struct spz_h2conn **h2, const uint8_t *data, size_t n, int fail)
{
	char *copy = malloc(n ? n : 1);
	memcpy(copy, data, n);
	if (!*h2 && !(*h2 = spz_conn_h2(c, copy, n))) {
		spz_conn_on_write(c, copy, n, 1);
		*h2 = spz_conn_h2(c, NULL, 0);
		free(copy);
		return;
	}
	const char *out;
	size_t out_len;
	spz_h2conn_write_begin(*h2, copy, n, 1, 1, &out, &out_len);
	if (fail) {
		char *first = malloc(out_len ? out_len : 1);
		memcpy(first, out, out_len);
		size_t first_len = out_len;
		if (spz_h2conn_write_end(*h2, 0, 0) != 0)
			abort();
		spz_h2conn_write_begin(*h2, copy, n, 1, 1, &out, &out_len);
		if (out_len != first_len || memcmp(out, first, out_len) != 0)
			abort(); /* a retry must send what the failed write would have */
		free(first);
	}
	size_t reported = spz_h2conn_write_end(*h2, 1, out_len);
	if (reported > n || (out == copy && reported != out_len))
		abort();
	free(copy);
}

static void read_all(struct spz_conn *c, struct spz_h2conn *h2, const uint8_t *data, size_t n, size_t cap)
{
	char *buf = malloc(cap);
	size_t pos = 0;
	for (int guard = 0; guard < 100000; guard++) {
		size_t limit = SIZE_MAX;
		size_t got = h2 ? spz_h2conn_take(h2, buf, cap, 1, &limit) : 0;
		if (got > cap)
			abort();
		if (got)
			continue;
		size_t k = n - pos < cap ? n - pos : cap;
		if (k > limit)
			k = limit;
		if (!k)
			break;
		memcpy(buf, data + pos, k);
		pos += k;
		spz_conn_on_read(c, buf, k, 1);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once) {
		setup();
		once = 1;
	}
	struct spz_conn *c = spz_conn_new();
	struct spz_h2conn *h2 = NULL;
	size_t i = 0;
	while (i + 3 <= size) {
		uint8_t flags = data[i];
		size_t n = (size_t)data[i + 1] << 8 | data[i + 2];
		i += 3;
		if (n > size - i)
			n = size - i;
		if (flags & 1) {
			static const size_t caps[16] = { 16384, 1, 2, 5, 9, 10, 16, 17, 100, 4096, 3, 8, 18, 65535, 7, 1000 };
			read_all(c, h2 ? h2 : spz_conn_h2(c, NULL, 0), data + i, n, caps[flags >> 4]);
		} else if (n) {
			write_once(c, &h2, data + i, n, flags & 2);
		}
		i += n;
	}
	spz_conn_free(c, 2);
	return 0;
}
