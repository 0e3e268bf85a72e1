/* Forwarding to the hosted gateway, exactly as the SDKs do (GATEWAY.md):
 * one POST of one LogEntry per call to {base}/v1/logs, `x-spaturzu-key`,
 * at most 50 in flight, 10 s per attempt, retries after 1, 2, 4, 8, 16 s
 * times a random factor in [0.75, 1.25] on network errors, timeouts, 5xx and
 * 429; any other 4xx is final.
 *
 * Beyond the SDKs, a row stays pending in the store until the gateway
 * acknowledges it: after the schedule above, retries go on every
 * `retry_max_ms` (with the same jitter) for as long as it takes, across
 * restarts; the same `id` is resent, which the gateway deduplicates.
 *
 * libcurl's multi interface runs every transfer on the collector's one
 * thread; the collector's loop waits on the gateway's sockets and its own
 * ingest socket together (spz_forward_wait). */
#ifndef SPZ_FORWARD_H
#define SPZ_FORWARD_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct spz_forward_config {
	bool enabled;
	char base_url[512];    /* no trailing slash */
	char api_key[512];     /* empty: the header is omitted */
	char ca_file[4096];    /* empty: the system's CAs */
	int max_in_flight;     /* 50 */
	long attempt_timeout_ms; /* 10000 */
	long retry_base_ms;    /* 1000: the first retry; doubles up to 5 retries */
	long retry_max_ms;     /* 60000: the interval after the schedule */
};

/* Fills the defaults, then SPATURZU_BASE_URL / SPATURZU_API_KEY from the
 * environment. Forwarding is on when a key or a base URL is set. */
void spz_forward_config_defaults(struct spz_forward_config *cfg);

struct spz_forward_stats {
	uint64_t attempts;  /* POSTs finished, any outcome */
	uint64_t delivered; /* acknowledged with 2xx */
	uint64_t retried;   /* failures that will be retried */
	uint64_t rejected;  /* final 4xx */
	int in_flight;
	char last_error[256];
	int64_t last_delivery_ms; /* wall clock, 0 if never */
};

struct spz_forwarder;

/* NULL when forwarding is off or libcurl cannot start (logged). */
struct spz_forwarder *spz_forward_new(const struct spz_forward_config *cfg, struct spz_store *store);
void spz_forward_free(struct spz_forwarder *f);
/* Starts the attempts that are due, up to the in-flight limit. */
void spz_forward_pump(struct spz_forwarder *f);
/* Waits up to timeout_ms for the gateway's sockets or the extra ones to be
 * ready; returns 1 if the first extra one is readable, else 0. */
int spz_forward_wait(struct spz_forwarder *f, struct curl_waitfd *extra, size_t n_extra, int timeout_ms);
/* Drives the transfers and records their outcomes in the store. */
void spz_forward_progress(struct spz_forwarder *f);
/* New rows were stored: the next pump looks for them at once. */
void spz_forward_notify(struct spz_forwarder *f);
/* Ends every transfer in flight; their rows stay pending. */
void spz_forward_abort(struct spz_forwarder *f);
const struct spz_forward_stats *spz_forward_stats(const struct spz_forwarder *f);

/* The LogEntry body for a stored record (the gateway's fields only). Returns
 * a malloc'ed string or NULL. */
char *spz_forward_body(const char *record_json);

#endif
