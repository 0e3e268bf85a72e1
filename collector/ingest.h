/* Ingestion: records arrive as datagrams on the collector's socket or as
 * lines in spool files the shims wrote while no collector listened. Both go
 * through validation into the store in batches; counts say what came in,
 * what was stored, what was a duplicate and what was rejected. */
#ifndef SPZ_INGEST_H
#define SPZ_INGEST_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct spz_ingest_stats {
	uint64_t received;   /* datagrams and spool lines read */
	uint64_t stored;     /* new records committed */
	uint64_t duplicates; /* ids already stored */
	uint64_t rejected;   /* malformed, oversized, torn */
	uint64_t spool_files;
	uint64_t ring_skipped; /* ring slots whose writer died before filling them */
};

struct spz_ring;

struct spz_ingest {
	struct spz_store *store;
	const struct spz_pricing *pricing; /* NULL: every cost unknown */
	int sock;
	int lock_fd;
	char socket_path[108];
	char spool_dir[4096];
	struct spz_ingest_stats stats;
	unsigned file_seq;
	struct spz_ring *ring; /* user mode: records without a system call */
	char ring_path[4200];
	uint64_t ring_cursor; /* the next position to take; slots before it are freed once stored */
	int64_t ring_stuck_since_ms;
	bool ring_pending; /* a writer is inside a slot: look again soon */
	int64_t batch_since_ms; /* when the oldest record not yet committed was taken */
	long euid;
	/* A shim names an agent whose first call in its process starts. */
	void (*on_agent)(void *ud, const char *agent);
	void *on_agent_ud;
};

/* Binds the socket (private directory, owner-only socket, sender
 * credentials on) after taking the per-socket lock that keeps a second
 * collector out. Returns 0, -1 on error, -2 if another collector holds it. */
int spz_ingest_open(struct spz_ingest *in, const char *socket_path, const char *spool_dir, struct spz_store *store);
/* The same for a socket shared with the members of group gid (system
 * mode): the directory is 0750 and the socket 0660, both of that group. */
int spz_ingest_open_shared(struct spz_ingest *in, const char *socket_path, const char *spool_dir,
			   struct spz_store *store, long gid);
void spz_ingest_close(struct spz_ingest *in);
/* Whether a collector serves socket_path: it holds the lock beside it. */
bool spz_collector_listening(const char *socket_path);
/* Reads what the socket holds now (bounded batch); returns records read or -1. */
int spz_ingest_socket(struct spz_ingest *in);
/* Takes what the record ring holds (and beats its heartbeat); returns
 * records read or -1 when the store refuses them (they stay in the ring).
 * Taken records are committed in groups (see spz_ingest_commit_in_ms), and
 * their slots freed only then; flush commits them now. */
int spz_ingest_ring(struct spz_ingest *in, bool flush);
/* The longest records taken from the ring wait to be committed. */
#define SPZ_RING_COMMIT_MS 50
/* Milliseconds until records taken and not yet committed are due (the
 * longest the collector may sleep), or -1 when there are none. */
int spz_ingest_commit_in_ms(const struct spz_ingest *in);
/* The collector will look at the ring again within ms (0: it may sleep
 * long; writers ring the doorbell). */
void spz_ingest_ring_promise(struct spz_ingest *in, int ms);
/* After a promise of 0: whether a writer claimed a slot the collector has
 * not looked at (it must look before sleeping: that writer may have seen
 * the old promise and not rung). */
bool spz_ingest_ring_unread(struct spz_ingest *in);
/* Ingests every spool file present; returns lines read or -1. */
int spz_ingest_spool(struct spz_ingest *in);

#endif
