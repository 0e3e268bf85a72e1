#include "forward.h"

#include <curl/curl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "clog.h"

#define SCHEDULE_RETRIES 5 /* the SDKs' 1, 2, 4, 8, 16 s */

struct slot {
	CURL *easy;
	bool busy;
	int64_t seq;
	int attempts; /* before this one */
	char id[40];
	char reply[160]; /* the start of the gateway's answer, for diagnostics */
	size_t reply_len;
};

struct outcome {
	int64_t seq;
	enum { OUT_DONE, OUT_RETRY, OUT_REJECTED } kind;
	int64_t next_ms;
	char error[200];
};

struct spz_forwarder {
	struct spz_forward_config cfg;
	struct spz_store *store;
	CURLM *multi;
	struct slot *slots;
	struct curl_slist *headers;
	char url[600];
	sqlite3_stmt *select_due, *mark_done, *mark_retry, *mark_rejected;
	bool dirty;
	int64_t next_pump_ms;
	bool warned_failing;
	uint64_t rng;
	struct spz_forward_stats stats;
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void copy_env(char *dst, size_t cap, const char *name)
{
	const char *v = getenv(name);
	if (v && *v)
		snprintf(dst, cap, "%s", v);
}

void spz_forward_config_defaults(struct spz_forward_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->base_url, sizeof(cfg->base_url), "https://spaturzu-api.superchiu.org");
	cfg->max_in_flight = 50;
	cfg->attempt_timeout_ms = 10000;
	cfg->retry_base_ms = 1000;
	cfg->retry_max_ms = 60000;
	copy_env(cfg->api_key, sizeof(cfg->api_key), "SPATURZU_API_KEY");
	copy_env(cfg->base_url, sizeof(cfg->base_url), "SPATURZU_BASE_URL");
	/* Off unless asked for: records leave the machine only when the user
	 * gave a key or named a gateway. */
	cfg->enabled = cfg->api_key[0] || getenv("SPATURZU_BASE_URL");
}

/* Strips trailing slashes, as the SDKs do. */
static void trim_slashes(char *url)
{
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
}

static const char *const logentry_fields[] = {
	"id", "provider", "model", "runId", "parentRequestId", "agentName", "agentPath",
	"promptTokens", "completionTokens", "cachedInputTokens", "usageSource", "status", "latencyMs", "tags",
};

char *spz_forward_body(const char *record_json)
{
	json_t *rec = json_loads(record_json, 0, NULL);
	if (!json_is_object(rec)) {
		json_decref(rec);
		return NULL;
	}
	json_t *out = json_object();
	json_int_t status = json_integer_value(json_object_get(rec, "status"));
	for (size_t i = 0; i < sizeof(logentry_fields) / sizeof(logentry_fields[0]); i++) {
		const char *k = logentry_fields[i];
		json_t *v = json_object_get(rec, k);
		if (strcmp(k, "model") == 0 && (!json_is_string(v) || json_string_length(v) == 0)) {
			json_object_set_new(out, k, json_string("unknown"));
			continue;
		}
		if (strcmp(k, "usageSource") == 0 && status >= 400)
			continue; /* omitted on error rows */
		if (v && !json_is_null(v))
			json_object_set(out, k, v);
	}
	char *body = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(out);
	json_decref(rec);
	return body;
}

static size_t keep_reply(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct slot *s = ctx;
	size_t n = size * nmemb, room = sizeof(s->reply) - 1 - s->reply_len;
	size_t take = n < room ? n : room;
	memcpy(s->reply + s->reply_len, data, take);
	s->reply_len += take;
	s->reply[s->reply_len] = '\0';
	return n;
}

static int prepare(struct spz_forwarder *f, sqlite3_stmt **st, const char *sql)
{
	if (sqlite3_prepare_v2(f->store->db, sql, -1, st, NULL) != SQLITE_OK) {
		clog_error("forwarding: cannot prepare a query: %s", sqlite3_errmsg(f->store->db));
		return -1;
	}
	return 0;
}

struct spz_forwarder *spz_forward_new(const struct spz_forward_config *cfg, struct spz_store *store)
{
	if (!cfg->enabled)
		return NULL;
	struct spz_forwarder *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->cfg = *cfg;
	if (f->cfg.max_in_flight < 1)
		f->cfg.max_in_flight = 1;
	f->store = store;
	trim_slashes(f->cfg.base_url);
	snprintf(f->url, sizeof(f->url), "%s/v1/logs", f->cfg.base_url);
	if (getrandom(&f->rng, sizeof(f->rng), 0) != sizeof(f->rng) || f->rng == 0)
		f->rng = (uint64_t)wall_ms() | 1;
	f->slots = calloc((size_t)f->cfg.max_in_flight, sizeof(*f->slots));
	f->multi = curl_multi_init();
	if (!f->slots || !f->multi)
		goto fail;
	curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)f->cfg.max_in_flight);
	f->headers = curl_slist_append(NULL, "content-type: application/json");
	f->headers = curl_slist_append(f->headers, "expect:"); /* no 100-continue round trip */
	if (f->cfg.api_key[0]) {
		char h[600];
		snprintf(h, sizeof(h), "x-spaturzu-key: %s", f->cfg.api_key);
		f->headers = curl_slist_append(f->headers, h);
		memset(h, 0, sizeof(h));
	}
	if (!f->headers)
		goto fail;
	if (prepare(f, &f->select_due,
		    "SELECT seq, id, record, attempts FROM calls WHERE delivery = 0 AND next_attempt_ms <= ?"
		    " ORDER BY next_attempt_ms, seq LIMIT ?") < 0 ||
	    prepare(f, &f->mark_done,
		    "UPDATE calls SET delivery = 1, attempts = attempts + 1, last_error = NULL, delivered_at = ?"
		    " WHERE seq = ?") < 0 ||
	    prepare(f, &f->mark_retry,
		    "UPDATE calls SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ? WHERE seq = ?") < 0 ||
	    prepare(f, &f->mark_rejected,
		    "UPDATE calls SET delivery = 2, attempts = attempts + 1, last_error = ? WHERE seq = ?") < 0)
		goto fail;
	f->dirty = true;
	clog_info("forwarding to %s (%s, at most %d in flight)", f->url,
		  f->cfg.api_key[0] ? "with the API key" : "no API key", f->cfg.max_in_flight);
	return f;
fail:
	clog_error("forwarding cannot start; records stay in the store until it can");
	spz_forward_free(f);
	return NULL;
}

void spz_forward_abort(struct spz_forwarder *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->cfg.max_in_flight; i++) {
		if (f->slots[i].busy) {
			curl_multi_remove_handle(f->multi, f->slots[i].easy);
			f->slots[i].busy = false;
		}
	}
	f->stats.in_flight = 0;
}

void spz_forward_free(struct spz_forwarder *f)
{
	if (!f)
		return;
	if (f->slots) {
		spz_forward_abort(f);
		for (int i = 0; i < f->cfg.max_in_flight; i++)
			if (f->slots[i].easy)
				curl_easy_cleanup(f->slots[i].easy);
	}
	if (f->multi)
		curl_multi_cleanup(f->multi);
	curl_slist_free_all(f->headers);
	sqlite3_finalize(f->select_due);
	sqlite3_finalize(f->mark_done);
	sqlite3_finalize(f->mark_retry);
	sqlite3_finalize(f->mark_rejected);
	free(f->slots);
	memset(f->cfg.api_key, 0, sizeof(f->cfg.api_key));
	free(f);
}

static bool in_flight(const struct spz_forwarder *f, int64_t seq)
{
	for (int i = 0; i < f->cfg.max_in_flight; i++)
		if (f->slots[i].busy && f->slots[i].seq == seq)
			return true;
	return false;
}

static struct slot *free_slot(struct spz_forwarder *f)
{
	for (int i = 0; i < f->cfg.max_in_flight; i++)
		if (!f->slots[i].busy)
			return &f->slots[i];
	return NULL;
}

static bool start(struct spz_forwarder *f, struct slot *s, int64_t seq, const char *id, const char *record, int attempts)
{
	char *body = spz_forward_body(record);
	if (!body)
		return false;
	if (!s->easy && !(s->easy = curl_easy_init())) {
		free(body);
		return false;
	}
	CURL *e = s->easy;
	curl_easy_setopt(e, CURLOPT_URL, f->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "spaturzu-collector/" SPZ_VERSION);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, f->cfg.attempt_timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_reply);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_PRIVATE, s);
	if (f->cfg.ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, f->cfg.ca_file);
	free(body);
	s->seq = seq;
	s->attempts = attempts;
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->reply_len = 0;
	s->reply[0] = '\0';
	if (curl_multi_add_handle(f->multi, e) != CURLM_OK)
		return false;
	s->busy = true;
	f->stats.in_flight++;
	return true;
}

void spz_forward_notify(struct spz_forwarder *f)
{
	if (f)
		f->dirty = true;
}

void spz_forward_pump(struct spz_forwarder *f)
{
	if (!f)
		return;
	int64_t now = wall_ms();
	int room = f->cfg.max_in_flight - f->stats.in_flight;
	if (room <= 0 || (!f->dirty && now < f->next_pump_ms))
		return;
	f->dirty = false;
	f->next_pump_ms = now + 1000;
	sqlite3_stmt *q = f->select_due;
	sqlite3_reset(q);
	sqlite3_bind_int64(q, 1, now);
	sqlite3_bind_int(q, 2, room + f->stats.in_flight);
	int started = 0;
	while (started < room && sqlite3_step(q) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(q, 0);
		if (in_flight(f, seq))
			continue;
		struct slot *s = free_slot(f);
		if (!s)
			break;
		if (start(f, s, seq, (const char *)sqlite3_column_text(q, 1), (const char *)sqlite3_column_text(q, 2),
			  sqlite3_column_int(q, 3)))
			started++;
	}
	sqlite3_reset(q);
	if (started == room)
		f->dirty = true; /* more may be due: look again when a slot frees */
}

int spz_forward_wait(struct spz_forwarder *f, struct curl_waitfd *extra, size_t n_extra, int timeout_ms)
{
	int n = 0;
	if (curl_multi_poll(f->multi, extra, (unsigned)n_extra, timeout_ms, &n) != CURLM_OK)
		return 0;
	return n_extra && (extra[0].revents & CURL_WAIT_POLLIN) ? 1 : 0;
}

/* 1, 2, 4, 8, 16 times the base, then the maximum interval; times a random
 * factor in [0.75, 1.25]. failures counts this one. */
static int64_t backoff_ms(struct spz_forwarder *f, int failures)
{
	int64_t d = failures <= SCHEDULE_RETRIES ? f->cfg.retry_base_ms << (failures - 1) : f->cfg.retry_max_ms;
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	int64_t permille = 750 + (int64_t)(f->rng % 501); /* 750..1250 */
	return d * permille / 1000;
}

static void apply(struct spz_forwarder *f, struct outcome *o, size_t n)
{
	if (n == 0)
		return;
	bool tx = spz_store_begin(f->store) == 0;
	char when[40];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st;
		switch (o[i].kind) {
		case OUT_DONE:
			st = f->mark_done;
			sqlite3_bind_text(st, 1, when, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 2, o[i].seq);
			break;
		case OUT_RETRY:
			st = f->mark_retry;
			sqlite3_bind_int64(st, 1, o[i].next_ms);
			sqlite3_bind_text(st, 2, o[i].error, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 3, o[i].seq);
			break;
		default:
			st = f->mark_rejected;
			sqlite3_bind_text(st, 1, o[i].error, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 2, o[i].seq);
			break;
		}
		if (sqlite3_step(st) != SQLITE_DONE)
			clog_error("forwarding: cannot record a delivery outcome: %s (the row is sent again later)",
				   sqlite3_errmsg(f->store->db));
		sqlite3_reset(st);
	}
	if (tx && spz_store_commit(f->store) < 0)
		spz_store_rollback(f->store);
}

static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			*s = ' ';
}

void spz_forward_progress(struct spz_forwarder *f)
{
	if (!f)
		return;
	int running = 0;
	curl_multi_perform(f->multi, &running);
	struct outcome done[64];
	size_t n = 0;
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(f->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct slot *s = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		CURLcode rc = msg->data.result;
		long status = 0;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		curl_multi_remove_handle(f->multi, msg->easy_handle);
		if (!s)
			continue;
		s->busy = false;
		f->stats.in_flight--;
		f->stats.attempts++;
		f->dirty = true;
		struct outcome *o = &done[n];
		o->seq = s->seq;
		o->error[0] = '\0';
		printable(s->reply);
		if (rc == CURLE_OK && status >= 200 && status < 300) {
			o->kind = OUT_DONE;
			f->stats.delivered++;
			f->stats.last_delivery_ms = wall_ms();
			if (f->warned_failing) {
				clog_info("forwarding: the gateway takes records again");
				f->warned_failing = false;
			}
		} else if (rc == CURLE_OK && status >= 400 && status < 500 && status != 429) {
			o->kind = OUT_REJECTED;
			snprintf(o->error, sizeof(o->error), "HTTP %ld: %.150s", status, s->reply);
			f->stats.rejected++;
			clog_warn("forwarding: the gateway refused record %s for good: %s (kept locally)", s->id, o->error);
		} else {
			o->kind = OUT_RETRY;
			if (rc != CURLE_OK)
				snprintf(o->error, sizeof(o->error), "%s", curl_easy_strerror(rc));
			else
				snprintf(o->error, sizeof(o->error), "HTTP %ld: %.150s", status, s->reply);
			o->next_ms = wall_ms() + backoff_ms(f, s->attempts + 1);
			if (o->next_ms < f->next_pump_ms)
				f->next_pump_ms = o->next_ms;
			f->stats.retried++;
			/* The SDKs report a failure after their last retry; so do we,
			 * once per outage, and keep the row. */
			if (s->attempts + 1 > SCHEDULE_RETRIES && !f->warned_failing) {
				clog_warn("forwarding: record %s still undelivered after %d attempts (%s); records stay in "
					  "the store and are retried every %ld s",
					  s->id, s->attempts + 1, o->error, f->cfg.retry_max_ms / 1000);
				f->warned_failing = true;
			}
		}
		if (o->error[0])
			snprintf(f->stats.last_error, sizeof(f->stats.last_error), "%s", o->error);
		if (++n == sizeof(done) / sizeof(done[0])) {
			apply(f, done, n);
			n = 0;
		}
	}
	apply(f, done, n);
}

const struct spz_forward_stats *spz_forward_stats(const struct spz_forwarder *f)
{
	return &f->stats;
}
