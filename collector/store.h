/* The durable store: one SQLite database in WAL mode holding every record,
 * its sender's credentials, and its delivery state. Records are keyed by
 * their id, so the same record arriving twice (spool and socket, a re-read
 * spool file) is stored once. */
#ifndef SPZ_STORE_H
#define SPZ_STORE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "pricing.h"
#include "record.h"

struct spz_store {
	sqlite3 *db;
	sqlite3_stmt *insert;
	bool in_tx;
};

struct spz_sender {
	int64_t uid; /* -1 when unknown (spool) */
	int64_t pid;
};

/* Opens (creating the file, its directory and the schema). Read-only opens
 * never create anything. Returns 0 or -1 with the reason logged. */
int spz_store_open(struct spz_store *st, const char *path, bool readonly);
void spz_store_close(struct spz_store *st);
int spz_store_begin(struct spz_store *st);
int spz_store_commit(struct spz_store *st);
void spz_store_rollback(struct spz_store *st);
/* Delivery state of a row (column calls.delivery). */
enum spz_delivery {
	SPZ_DELIVERY_PENDING = 0,  /* waiting for the gateway's acknowledgement */
	SPZ_DELIVERY_DONE = 1,     /* the gateway answered 2xx */
	SPZ_DELIVERY_REJECTED = 2, /* the gateway answered a final 4xx; kept locally */
	SPZ_DELIVERY_LOCAL = 3,    /* never sent: a budget refusal */
};

/* 1: stored; 0: a duplicate of a stored id; -1: error. cost may be NULL
 * (unknown). */
int spz_store_insert(struct spz_store *st, const struct spz_record *rec, const struct spz_sender *from,
		     const struct spz_cost *cost);

/* Prices up to `limit` rows after *cursor that have no cost yet (a model
 * that had no price, or rows of an older schema); advances the cursor.
 * Returns rows looked at (0: done) or -1. */
int spz_store_reprice_step(struct spz_store *st, const struct spz_pricing *pricing, int64_t *cursor, int limit);
/* The collector's own state for `spaturzu status` (table meta). */
int spz_store_meta_set(struct spz_store *st, const char *key, const char *value);
/* 0 with the value, -1 when absent (out is then ""). */
int spz_store_meta_get(struct spz_store *st, const char *key, char *out, size_t cap);

#endif
