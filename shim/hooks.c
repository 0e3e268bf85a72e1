/* The interposed OpenSSL entry points. Each calls the real function first and
 * returns exactly what it returned; tracking only observes the bytes that
 * really crossed. A connection is classified at its first write: not HTTP/1
 * means a marker in its ex_data and a pointer compare on every later call.
 * Never aborts, never blocks, never alters the caller's buffers or errors. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attr.h"
#include "budget.h"
#include "gate.h"
#include "config.h"
#include "conn.h"
#include "conn_h2.h"
#include "deepbind.h"
#include "emit.h"
#include "log.h"
#include "real.h"
#include "record.h"

#define SPZ_EXPORT __attribute__((visibility("default")))

typedef struct ssl_st SSL;
typedef struct crypto_ex_data_st CRYPTO_EX_DATA;

/* OpenSSL's stable ABI values (ssl.h, crypto.h) in 1.1.1 and 3.x. */
#define SSL_ERROR_SSL 1
#define SSL_ERROR_SYSCALL 5
#define SSL_ERROR_ZERO_RETURN 6
#define CRYPTO_EX_INDEX_SSL 0

/* A thread's record buffer holds at least this: a record's fields are
 * bounded, but for its attribution (spz_record_render_bound). */
#define RECORD_BUF_MIN (8 * 1024)

struct tracked {
	struct spz_conn *conn;
	struct spz_gate gate; /* a budget refusal being answered */
	unsigned generation; /* fork generation it was made in */
	atomic_flag busy;    /* a thread is inside conn */
	atomic_bool dropped; /* two threads met inside: stop tracking */
	bool h2_counted;     /* in refusals_pending for an HTTP/2 answer */
};

static char ignored_marker;
#define IGNORED ((void *)&ignored_marker)

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* Set while this thread is inside our tracking code: anything it calls that
 * came back into a hook (a host's callback, a future code path) passes
 * straight through instead of re-entering the tracker. */
static __thread bool in_tracker __attribute__((tls_model("initial-exec")));
static int ex_index = -1;
static atomic_uint fork_generation;
static bool disabled;

/* A call makes about a dozen lookups of its connection's state, each
 * through OpenSSL's ex_data stack: each thread keeps its last answer. Any
 * change of any connection's state (set, or freed with its SSL) moves the
 * epoch and so voids every thread's answer: a freed SSL's address given to
 * a new one is never taken for the old. */
static atomic_uint_fast64_t state_epoch;
static __thread struct {
	const SSL *ssl;
	void *state;
	uint_fast64_t epoch;
} state_seen __attribute__((tls_model("initial-exec")));

static void state_changed(void)
{
	atomic_fetch_add_explicit(&state_epoch, 1, memory_order_acq_rel);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Each thread keeps its buffer for JSON records between calls (a record
 * the ring does not take packed: an older collector's ring, the socket,
 * the spool): allocating one a call took the allocator's slow path every
 * time. The key's destructor frees it when the thread exits. */
struct record_buf {
	size_t cap;
	char data[];
};
static pthread_key_t record_buf_key;
static bool record_buf_keyed;

static void record_buf_free(void *b)
{
	free(b);
}

static void emit_call(const struct spz_call *call)
{
	const struct spz_config *cfg = spz_config();
	struct spz_record_fields f;
	char fallback[SPZ_RECORD_FALLBACK_ATTR];
	spz_record_fields_of(call, cfg, &f, fallback);
	if (spz_emit_packed(cfg, &f))
		return;
	/* JSON, with room for the newline a spool line adds. */
	size_t cap = spz_record_render_bound(&f) + 1;
	struct record_buf *b = record_buf_keyed ? pthread_getspecific(record_buf_key) : NULL;
	bool kept = b && b->cap >= cap;
	if (!kept) {
		/* Room for most records to come, so that it is rarely replaced. */
		size_t want = cap > RECORD_BUF_MIN ? cap : RECORD_BUF_MIN;
		struct record_buf *bigger = malloc(sizeof(*bigger) + want);
		if (!bigger) {
			spz_log("record lost: out of memory");
			return;
		}
		bigger->cap = want;
		kept = record_buf_keyed && pthread_setspecific(record_buf_key, bigger) == 0;
		if (kept)
			free(b); /* the smaller one it replaces */
		b = bigger;
	}
	size_t n = spz_record_render(&f, b->data, b->cap - 1);
	if (n)
		spz_emit(cfg, b->data, n);
	else
		spz_log("record lost: larger than %zu bytes", b->cap - 1);
	if (!kept)
		free(b);
}

static atomic_int refusals_pending; /* connections with a refusal to read */
static atomic_int gates_busy;       /* connections whose next write the gate must see */

static void tracked_free(struct tracked *t)
{
	if (spz_gate_pending(&t->gate))
		atomic_fetch_sub(&refusals_pending, 1);
	if (spz_gate_busy(&t->gate))
		atomic_fetch_sub(&gates_busy, 1);
	if (t->h2_counted)
		atomic_fetch_sub(&refusals_pending, 1);
	spz_gate_clear(&t->gate);
	/* After fork the child holds a copy of the parent's state: it is not
	 * the child's call, so it is freed without emitting. */
	if (t->generation == atomic_load(&fork_generation))
		spz_conn_free(t->conn, now_ns());
	else
		free(t->conn);
	free(t);
}

/* Agents this process has named to the collector (FNV-1a of the name). */
#define ANNOUNCED_MAX 64
static _Atomic uint64_t announced[ANNOUNCED_MAX];

/* The first call of each agent in this process tells the collector the
 * agent's name as the call starts: a collector following the gateway's
 * budgets fetches that agent's policy then, not after the call's record
 * (a streamed call may last minutes, and others may start meanwhile). */
static void announce_agent(const char *attribution)
{
	const char *k = attribution ? strstr(attribution, "\"agentName\":\"") : NULL;
	if (!k)
		return;
	k += 13;
	size_t n = 0;
	while (k[n] && k[n] != '"' && n < 256) {
		if (k[n] == '\\' && k[n + 1])
			n++; /* an escaped character, kept as it is */
		n++;
	}
	if (k[n] != '"')
		return;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)k[i]) * 1099511628211ull;
	h |= 1; /* never 0, the empty slot */
	unsigned slot = (unsigned)(h >> 32) % ANNOUNCED_MAX;
	/* Open addressing: a hash sits at its home slot or after it, with no
	 * empty slot between (slots are never emptied), so the look stops at
	 * the first empty one: one load for the usual, known agent. */
	for (unsigned i = 0; i < ANNOUNCED_MAX; i++) {
		uint64_t seen = atomic_load_explicit(&announced[(slot + i) % ANNOUNCED_MAX], memory_order_relaxed);
		if (seen == h)
			return;
		if (seen == 0)
			break;
	}
	for (unsigned i = 0; i < ANNOUNCED_MAX; i++) {
		uint64_t empty = 0;
		if (atomic_compare_exchange_strong(&announced[(slot + i) % ANNOUNCED_MAX], &empty, h)) {
			slot = ANNOUNCED_MAX;
			break;
		}
	}
	if (slot != ANNOUNCED_MAX)
		atomic_store(&announced[slot], h); /* full: the oldest hash there goes */
	char msg[320];
	int len = snprintf(msg, sizeof(msg), "{\"spaturzuAgent\":\"%.*s\"}", (int)n, k);
	if (len > 0 && (size_t)len < sizeof(msg))
		spz_emit_notice(spz_config(), msg, (size_t)len);
}

/* Whether the process's own attribution has been announced: most calls
 * carry it, and need not look for their agent's name again. */
static _Atomic bool process_agent_announced;

static char *attribute_call(const char *call_id, const char *hdr_agent, const char *hdr_run, const char *hdr_tags,
			    bool *shared)
{
	char *attr = spz_attr_render_call(&spz_config()->attr, call_id, hdr_agent, hdr_run, hdr_tags, shared);
	if (!attr || !*shared) {
		announce_agent(attr);
	} else if (!atomic_load_explicit(&process_agent_announced, memory_order_relaxed)) {
		announce_agent(attr);
		atomic_store_explicit(&process_agent_announced, true, memory_order_relaxed);
	}
	return attr;
}

static int ex_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d, int idx, long argl, void *argp)
{
	(void)to, (void)from, (void)idx, (void)argl, (void)argp;
	*from_d = NULL; /* SSL_dup: the copy starts untracked */
	return 1;
}

static void ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	state_changed(); /* before the free: no thread keeps this SSL's state */
	if (ptr && ptr != IGNORED)
		tracked_free(ptr);
}

static void on_fork_child(void)
{
	atomic_fetch_add(&fork_generation, 1);
}

static void init(void)
{
	const struct spz_config *cfg = spz_config();
	disabled = cfg->disabled;
	if (disabled)
		return;
	typedef int (*new_index_fn)(int, long, void *, void *, void *, void *);
	new_index_fn new_index = (new_index_fn)spz_real(SPZ_FN_CRYPTO_get_ex_new_index);
	if (!new_index || !spz_real(SPZ_FN_SSL_get_ex_data) || !spz_real(SPZ_FN_SSL_set_ex_data)) {
		spz_log("OpenSSL ex_data functions not found: passing everything through");
		disabled = true;
		return;
	}
	ex_index = new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL, (void *)ex_dup, (void *)ex_free);
	if (ex_index < 0) {
		spz_log("no OpenSSL ex_data index: passing everything through");
		disabled = true;
		return;
	}
	record_buf_keyed = pthread_key_create(&record_buf_key, record_buf_free) == 0;
	spz_conn_set_sink(emit_call);
	spz_conn_set_attributor(attribute_call);
	/* The collector publishes budgets beside its socket. */
	char dir[sizeof(cfg->socket_path)];
	snprintf(dir, sizeof(dir), "%s", cfg->socket_path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		spz_budget_set_dir(dir);
	}
	pthread_atfork(NULL, NULL, on_fork_child);
}

static bool ready(void)
{
	pthread_once(&init_once, init);
	return !disabled;
}

static void *get_state(SSL *s)
{
	uint_fast64_t epoch = atomic_load_explicit(&state_epoch, memory_order_acquire);
	if (state_seen.ssl == s && state_seen.epoch == epoch)
		return state_seen.state;
	typedef void *(*fn)(const SSL *, int);
	fn get = (fn)spz_real(SPZ_FN_SSL_get_ex_data);
	void *v = get ? get(s, ex_index) : IGNORED;
	state_seen.ssl = s;
	state_seen.state = v;
	state_seen.epoch = epoch; /* read before the lookup: a change since voids it */
	return v;
}

static void set_state(SSL *s, void *v)
{
	typedef int (*fn)(SSL *, int, void *);
	fn set = (fn)spz_real(SPZ_FN_SSL_set_ex_data);
	if (set)
		set(s, ex_index, v);
	state_changed();
}

/* The tracked state to feed, with its busy flag taken; NULL to pass through. */
static struct tracked *enter(SSL *s, const void *first_bytes, size_t len)
{
	if (in_tracker || !ready())
		return NULL;
	void *st = get_state(s);
	if (st == IGNORED)
		return NULL;
	if (!st) {
		if (!first_bytes)
			return NULL; /* reads before any write: nothing to pair yet */
		if (!spz_conn_looks_http(first_bytes, len)) {
			set_state(s, IGNORED);
			return NULL;
		}
		struct tracked *t = calloc(1, sizeof(*t));
		struct spz_conn *c = t ? spz_conn_new() : NULL;
		if (!c) {
			free(t);
			set_state(s, IGNORED);
			return NULL;
		}
		t->conn = c;
		t->generation = atomic_load(&fork_generation);
		atomic_flag_clear(&t->busy);
		set_state(s, t);
		st = t;
	}
	struct tracked *t = st;
	if (t->generation != atomic_load(&fork_generation) || atomic_load(&t->dropped))
		return NULL;
	if (atomic_flag_test_and_set_explicit(&t->busy, memory_order_acquire)) {
		atomic_store(&t->dropped, true);
		return NULL;
	}
	if (spz_conn_ignored(t->conn)) {
		atomic_flag_clear_explicit(&t->busy, memory_order_release);
		return NULL;
	}
	in_tracker = true;
	return t;
}

static void leave(struct tracked *t)
{
	in_tracker = false;
	atomic_flag_clear_explicit(&t->busy, memory_order_release);
}

static void observe_write(SSL *s, const void *buf, size_t n)
{
	int saved = errno;
	struct tracked *t = enter(s, buf, n);
	if (t) {
		spz_conn_on_write(t->conn, buf, n, now_ns());
		leave(t);
	}
	errno = saved;
}

static void h2_pending_changed(struct tracked *t, const struct spz_h2conn *h2);

/* Returns false when the bytes were the HTTP/2 gate's own (the answer to
 * its PING): the client does not get them and the read is made again. */
static bool observe_read(SSL *s, const void *buf, size_t n)
{
	int saved = errno;
	bool keep = true;
	struct tracked *t = enter(s, NULL, 0);
	if (t) {
		keep = spz_conn_on_read(t->conn, buf, n, now_ns()) > 0;
		struct spz_h2conn *h2 = t->h2_counted ? spz_conn_h2(t->conn, NULL, 0) : NULL;
		if (h2)
			h2_pending_changed(t, h2);
		leave(t);
	}
	errno = saved;
	return keep;
}

/* A read that gave no data: end of stream or a fatal error ends the calls in
 * flight; would-block does nothing. SSL_get_error only peeks at the error
 * queue, so the application's own call still sees the same answer. */
static void observe_read_failure(SSL *s, int ret)
{
	int saved = errno;
	struct tracked *t = enter(s, NULL, 0);
	if (t) {
		typedef int (*fn)(const SSL *, int);
		fn get_error = (fn)spz_real(SPZ_FN_SSL_get_error);
		int e = get_error ? get_error(s, ret) : 0;
		if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL)
			spz_conn_on_eof(t->conn, now_ns());
		leave(t);
	}
	errno = saved;
}

/* The coarse clock (a few ms of resolution, a plain memory read in the
 * vDSO): enough to pace map lookups and to tell one day from the next. */
static int64_t wall_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void gate_busy_changed(bool was, bool is)
{
	if (was != is)
		atomic_fetch_add(&gates_busy, is ? 1 : -1);
}

/* Before the real write: how many of the bytes belong to a call a budget
 * refuses (they are reported written and go nowhere). Costs a coarse clock
 * read and nothing else while no budget is breached and no refused body is
 * still coming. */
static bool partial_writes(SSL *s);

static size_t gate_write(SSL *s, const void *buf, size_t len, const char **plan, size_t *plan_len)
{
	*plan = NULL;
	if (!ready() ||
	    (atomic_load_explicit(&gates_busy, memory_order_relaxed) == 0 && !spz_budget_armed(wall_now_ms())))
		return 0;
	int saved = errno;
	size_t taken = 0;
	struct tracked *t = enter(s, buf, len);
	if (t) {
		bool had = spz_gate_pending(&t->gate) > 0, was_busy = spz_gate_busy(&t->gate);
		taken = spz_gate_write(&t->gate, spz_conn_h1_request_boundary(t->conn), !partial_writes(s), buf, len,
				       plan, plan_len);
		if (!had && spz_gate_pending(&t->gate))
			atomic_fetch_add(&refusals_pending, 1);
		gate_busy_changed(was_busy, spz_gate_busy(&t->gate));
		leave(t);
	}
	errno = saved;
	return taken;
}

/* The gate's plan (a head it held, with what followed) was written. */
static void gate_plan_written(SSL *s)
{
	int saved = errno;
	struct tracked *t = enter(s, NULL, 0);
	if (t) {
		bool was_busy = spz_gate_busy(&t->gate);
		spz_gate_plan_written(&t->gate);
		gate_busy_changed(was_busy, spz_gate_busy(&t->gate));
		leave(t);
	}
	errno = saved;
}

/* The write of what followed a refused request failed: the client's retry
 * brings the same bytes, whose start the gate has dealt with already. */
static void gate_write_failed(SSL *s, size_t taken)
{
	int saved = errno;
	struct tracked *t = enter(s, NULL, 0);
	if (t) {
		bool was_busy = spz_gate_busy(&t->gate);
		spz_gate_write_failed(&t->gate, taken);
		gate_busy_changed(was_busy, spz_gate_busy(&t->gate));
		leave(t);
	}
	errno = saved;
}

static void h2_pending_changed(struct tracked *t, const struct spz_h2conn *h2)
{
	bool is = spz_h2conn_reads_gated(h2);
	if (is != t->h2_counted) {
		atomic_fetch_add(&refusals_pending, is ? 1 : -1);
		t->h2_counted = is;
	}
}

/* Before the real read: the refusal's bytes, while there are some. Over
 * HTTP/2 they wait for a boundary between the server's frames, and *cap
 * may shrink so that the real read stops at the next one. */
static size_t gate_read(SSL *s, void *buf, size_t *cap)
{
	if (atomic_load_explicit(&refusals_pending, memory_order_relaxed) == 0 || *cap == 0)
		return 0;
	int saved = errno;
	size_t n = 0;
	struct tracked *t = enter(s, NULL, 0);
	if (t) {
		struct spz_h2conn *h2;
		if (spz_gate_pending(&t->gate)) {
			n = spz_gate_read(&t->gate, buf, *cap);
			if (!spz_gate_pending(&t->gate))
				atomic_fetch_sub(&refusals_pending, 1);
		} else if (t->h2_counted && (h2 = spz_conn_h2(t->conn, NULL, 0))) {
			size_t limit;
			n = spz_h2conn_take(h2, buf, *cap, true, &limit);
			if (!n && limit < *cap)
				*cap = limit;
			h2_pending_changed(t, h2);
		}
		leave(t);
	}
	errno = saved;
	return n;
}

/* The refusal's bytes left to read (SSL_pending), or copied without taking
 * them (SSL_peek, when buf is set). Clients that ask whether bytes are
 * buffered before they wait on the socket (PHP streams, event loops) must
 * see the refusal: the socket itself will never become readable for it. */
static size_t gate_look(const SSL *s, void *buf, size_t cap)
{
	if (atomic_load_explicit(&refusals_pending, memory_order_relaxed) == 0)
		return 0;
	int saved = errno;
	size_t n = 0;
	struct tracked *t = enter((SSL *)s, NULL, 0);
	if (t) {
		struct spz_h2conn *h2;
		n = buf ? spz_gate_peek(&t->gate, buf, cap) : spz_gate_pending(&t->gate);
		if (!n && t->h2_counted && (h2 = spz_conn_h2(t->conn, NULL, 0))) {
			size_t limit;
			n = buf ? spz_h2conn_take(h2, buf, cap, false, &limit) : spz_h2conn_pending(h2);
		}
		leave(t);
	}
	errno = saved;
	return n;
}

#define REAL(name, type) ((type)spz_real(SPZ_FN_##name))

/* SSL_MODE_ENABLE_PARTIAL_WRITE (SSL_ctrl SSL_CTRL_MODE): a write may take
 * part of the buffer. The HTTP/2 gate's plans are written whole, so such
 * connections are not gated. */
static bool partial_writes(SSL *s)
{
	typedef long (*fn)(SSL *, int, long, void *);
	fn ctrl = REAL(SSL_ctrl, fn);
	return !ctrl || (ctrl(s, 33, 0, NULL) & 0x1);
}

/* The HTTP/2 path of a write: the gate and the tracker see the bytes before
 * they leave, and the gate says what leaves in their place. Returns false,
 * having done nothing, on any other connection. *ret and *written are what
 * the hook returns. */
static bool h2_write(SSL *s, const void *buf, size_t num, bool ex, int *ret, size_t *written)
{
	if (num == 0)
		return false;
	int saved = errno;
	struct tracked *t = enter(s, buf, num);
	if (!t)
		return false;
	struct spz_h2conn *h2 = spz_conn_h2(t->conn, buf, num);
	if (!h2) {
		leave(t);
		errno = saved;
		return false;
	}
	bool on = spz_budget_armed(wall_now_ms()) && !partial_writes(s);
	const char *out;
	size_t out_len;
	spz_h2conn_write_begin(h2, buf, num, on, now_ns(), &out, &out_len);
	leave(t);
	errno = saved;
	bool ok = true;
	size_t done = 0;
	int r = 1;
	if (out_len && ex) {
		typedef int (*fn)(SSL *, const void *, size_t, size_t *);
		fn real = REAL(SSL_write_ex, fn);
		r = real ? real(s, out, out_len, &done) : 0;
		ok = r == 1;
	} else if (out_len) {
		typedef int (*fn)(SSL *, const void *, int);
		fn real = REAL(SSL_write, fn);
		r = real ? real(s, out, out_len > INT_MAX ? INT_MAX : (int)out_len) : -1;
		ok = r > 0;
		done = ok ? (size_t)r : 0;
	}
	saved = errno;
	/* A plan stands for all of the client's bytes. */
	size_t report = !ok ? 0 : out == buf ? done : num;
	if ((t = enter(s, NULL, 0))) {
		report = spz_h2conn_write_end(h2, ok, done);
		h2_pending_changed(t, h2);
		leave(t);
	}
	errno = saved;
	if (report > num)
		report = num;
	if (ex) {
		if (written)
			*written = ok ? report : 0;
		*ret = ok ? 1 : r;
	} else {
		*ret = ok ? (int)report : r;
	}
	return true;
}

SPZ_EXPORT int SSL_write(SSL *s, const void *buf, int num)
{
	typedef int (*fn)(SSL *, const void *, int);
	fn real = REAL(SSL_write, fn);
	if (!real)
		return -1;
	int h2ret;
	if (num > 0 && h2_write(s, buf, (size_t)num, false, &h2ret, NULL))
		return h2ret;
	const char *plan;
	size_t plan_len;
	size_t taken = num > 0 ? gate_write(s, buf, (size_t)num, &plan, &plan_len) : 0;
	if (plan) {
		/* A plan fits an int: it is a head held back plus one client write. */
		int ret = real(s, plan, (int)plan_len);
		if (ret <= 0)
			return ret; /* the retry replays the plan */
		observe_write(s, plan, (size_t)ret);
		gate_plan_written(s);
		return num;
	}
	if (taken == (size_t)num && num > 0)
		return num;
	const char *rest = (const char *)buf + taken;
	int ret = real(s, rest, num - (int)taken);
	if (ret > 0) {
		observe_write(s, rest, (size_t)ret);
		return ret + (int)taken;
	}
	if (taken)
		gate_write_failed(s, taken);
	return ret;
}

SPZ_EXPORT int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written)
{
	typedef int (*fn)(SSL *, const void *, size_t, size_t *);
	fn real = REAL(SSL_write_ex, fn);
	if (!real)
		return 0;
	int h2ret;
	if (h2_write(s, buf, num, true, &h2ret, written))
		return h2ret;
	const char *plan;
	size_t plan_len;
	size_t taken = num > 0 ? gate_write(s, buf, num, &plan, &plan_len) : 0;
	if (plan) {
		size_t done = 0;
		int ret = real(s, plan, plan_len, &done);
		if (ret != 1) {
			if (written)
				*written = 0;
			return ret; /* the retry replays the plan */
		}
		observe_write(s, plan, done);
		gate_plan_written(s);
		if (written)
			*written = num;
		return 1;
	}
	if (taken == num && num > 0) {
		if (written)
			*written = num;
		return 1;
	}
	const char *rest = (const char *)buf + taken;
	size_t done = 0;
	int ret = real(s, rest, num - taken, &done);
	if (written)
		*written = ret == 1 ? done + taken : done;
	if (ret == 1 && done > 0)
		observe_write(s, rest, done);
	else if (ret != 1 && taken)
		gate_write_failed(s, taken);
	return ret;
}

SPZ_EXPORT int SSL_read(SSL *s, void *buf, int num)
{
	typedef int (*fn)(SSL *, void *, int);
	fn real = REAL(SSL_read, fn);
	if (!real)
		return -1;
	for (;;) {
		size_t cap = num > 0 ? (size_t)num : 0;
		size_t gated = gate_read(s, buf, &cap);
		if (gated)
			return (int)gated;
		int ret = real(s, buf, num > 0 ? (int)cap : num);
		if (ret > 0 && !observe_read(s, buf, (size_t)ret))
			continue;
		if (ret <= 0)
			observe_read_failure(s, ret);
		return ret;
	}
}

SPZ_EXPORT int SSL_read_ex(SSL *s, void *buf, size_t num, size_t *readbytes)
{
	typedef int (*fn)(SSL *, void *, size_t, size_t *);
	fn real = REAL(SSL_read_ex, fn);
	if (!real)
		return 0;
	for (;;) {
		size_t cap = num;
		size_t gated = gate_read(s, buf, &cap);
		if (gated) {
			if (readbytes)
				*readbytes = gated;
			return 1;
		}
		size_t got = 0;
		int ret = real(s, buf, cap, &got);
		if (readbytes)
			*readbytes = got;
		if (ret == 1 && got > 0 && !observe_read(s, buf, got))
			continue;
		if (ret != 1)
			observe_read_failure(s, ret);
		return ret;
	}
}

/* Peeked bytes are read again by the next SSL_read: never observed here. */
SPZ_EXPORT int SSL_peek(SSL *s, void *buf, int num)
{
	typedef int (*fn)(SSL *, void *, int);
	fn real = REAL(SSL_peek, fn);
	if (!real)
		return -1;
	size_t gated = num > 0 ? gate_look(s, buf, (size_t)num) : 0;
	return gated ? (int)gated : real(s, buf, num);
}

SPZ_EXPORT int SSL_peek_ex(SSL *s, void *buf, size_t num, size_t *readbytes)
{
	typedef int (*fn)(SSL *, void *, size_t, size_t *);
	fn real = REAL(SSL_peek_ex, fn);
	if (!real)
		return 0;
	size_t gated = num > 0 ? gate_look(s, buf, num) : 0;
	if (gated) {
		if (readbytes)
			*readbytes = gated;
		return 1;
	}
	return real(s, buf, num, readbytes);
}

SPZ_EXPORT int SSL_pending(const SSL *s)
{
	typedef int (*fn)(const SSL *);
	fn real = REAL(SSL_pending, fn);
	int n = real ? real(s) : 0;
	size_t gated = gate_look(s, NULL, 0);
	if (gated && n >= 0)
		n = gated > (size_t)(INT_MAX - n) ? INT_MAX : n + (int)gated;
	return n;
}

SPZ_EXPORT int SSL_has_pending(const SSL *s)
{
	typedef int (*fn)(const SSL *);
	fn real = REAL(SSL_has_pending, fn);
	if (gate_look(s, NULL, 0))
		return 1;
	return real ? real(s) : 0;
}

/* The state goes with the SSL object through the ex_data free callback,
 * which also covers frees that do not pass through this symbol. */
SPZ_EXPORT void SSL_free(SSL *s)
{
	typedef void (*fn)(SSL *);
	fn real = REAL(SSL_free, fn);
	if (real)
		real(s);
}

SPZ_EXPORT int SSL_shutdown(SSL *s)
{
	typedef int (*fn)(SSL *);
	fn real = REAL(SSL_shutdown, fn);
	if (s) {
		int saved = errno;
		struct tracked *t = enter(s, NULL, 0);
		if (t) {
			spz_conn_on_eof(t->conn, now_ns());
			leave(t);
		}
		errno = saved;
	}
	return real ? real(s) : -1;
}

/* SSL_clear readies the object for a new connection: the old one is over. */
SPZ_EXPORT int SSL_clear(SSL *s)
{
	typedef int (*fn)(SSL *);
	fn real = REAL(SSL_clear, fn);
	if (s && ready()) {
		void *st = get_state(s);
		if (st) {
			set_state(s, NULL);
			if (st != IGNORED)
				tracked_free(st);
		}
	}
	return real ? real(s) : 0;
}

/* At load, before main and before the host has threads: hand the run id and
 * this process's agent path to the processes it will start, through the
 * environment they inherit (and through exec). */
__attribute__((constructor)) static void shim_loaded(void)
{
	const struct spz_config *cfg = spz_config();
	spz_deepbind_enable(!cfg->disabled);
	if (!cfg->disabled)
		spz_attr_export(&cfg->attr);
}

/* ---- the public API (spaturzu.h) ----------------------------------------- */

SPZ_EXPORT int spaturzu_begin_run(const char *agent, const char *tags)
{
	return spz_frame_begin(agent, tags);
}

SPZ_EXPORT int spaturzu_end_run(void)
{
	return spz_frame_end();
}

SPZ_EXPORT int spaturzu_set_agent(const char *agent)
{
	return spz_frame_set_agent(agent);
}

SPZ_EXPORT int spaturzu_set_tag(const char *key, const char *value)
{
	return spz_frame_set_tag(key, value);
}

SPZ_EXPORT int spaturzu_active(void)
{
	return !spz_config()->disabled;
}
