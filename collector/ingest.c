/* Ingestion from the socket and the spool. A batch is committed in one
 * transaction; if the store cannot take it, the batch is kept (socket) or the
 * file is left in place (spool) and retried, so a failure never loses what
 * was already read. Rejected input is counted and logged, never fatal. */
#include "ingest.h"

#include "../common/record_ring.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <jansson.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/paths.h"
#include "clog.h"

#define BATCH_MAX 2048
#define SPOOL_TX_LINES 1000
#define GROUP_COMMIT_MIN 512
#define GROUP_COMMIT_MS 2
/* Records taken from the ring stay in their slots until stored, so they
 * can wait for company: one commit (one fsync) per SPZ_RING_COMMIT_MS or
 * GROUP_COMMIT_MIN records, not one per wake-up. At a few hundred calls a
 * second, commits were most of the collector's work, and the disk
 * interrupts they raise land on the callers' CPUs. */
#define RING_COMMIT_MS SPZ_RING_COMMIT_MS

static void note_rejected(struct spz_ingest *in, const char *source, const char *why)
{
	in->stats.rejected++;
	/* The first few, then one in a thousand: a flood must not fill the log. */
	if (in->stats.rejected <= 10 || in->stats.rejected % 1000 == 0)
		clog_warn("record rejected from %s: %s (%llu rejected so far)", source, why,
			  (unsigned long long)in->stats.rejected);
}

static int check_private_dir(const char *dir, bool shared)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return -1;
	if (st.st_uid != geteuid() || (st.st_mode & (shared ? 0027 : 0022))) {
		clog_error("%s is not a %s directory of this user (owner %u, mode %o); "
			   "choose another --socket",
			   dir, shared ? "group-only" : "private", (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

static int open_socket(struct spz_ingest *in, const char *socket_path, const char *spool_dir, struct spz_store *store,
		       long gid);

int spz_ingest_open(struct spz_ingest *in, const char *socket_path, const char *spool_dir, struct spz_store *store)
{
	return open_socket(in, socket_path, spool_dir, store, -1);
}

int spz_ingest_open_shared(struct spz_ingest *in, const char *socket_path, const char *spool_dir,
			   struct spz_store *store, long gid)
{
	return open_socket(in, socket_path, spool_dir, store, gid);
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Seconds a temporary ring file must have gone unwritten before it counts
 * as left behind: its maker writes every page of it and renames it within
 * a second, and a pid that is gone here may be alive in another PID
 * namespace (a collector in a container sharing /dev/shm). */
#define ORPHAN_IDLE_S 60

/* Whether name is another ring's temporary file ("spaturzu-UID-HASH.ring.new-PID"
 * in /dev/shm) of this user whose maker is gone: a collector on another
 * socket killed while it made its ring, which no collector on that socket
 * may ever come back to remove (8 MiB of memory each). mine is this
 * user's prefix of ring names, "spaturzu-UID-". */
static bool orphan_fresh(int dirfd, const char *name, const char *mine)
{
	const char *tag = strstr(name, ".ring.new-");
	if (strncmp(name, mine, strlen(mine)) != 0 || !tag)
		return false;
	char *end;
	long pid = strtol(tag + 10, &end, 10);
	struct stat st;
	if (pid <= 0 || *end != '\0' || (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
		return false; /* its maker may be at work still */
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	       st.st_mtime + ORPHAN_IDLE_S <= time(NULL);
}

/* A new ring is made under a temporary name and renamed over the ring's
 * path. Such a file of another process is the leftover of a collector
 * killed while it made one (8 MiB of tmpfs each): its maker held the lock
 * that this collector holds now, so it is gone. Other rings' leftovers in
 * /dev/shm go too once their makers are gone (orphan_fresh). */
static void remove_stale_fresh(const char *path)
{
	char dir[4200], prefix[4300];
	snprintf(dir, sizeof(dir), "%s", path);
	const char *base = strrchr(path, '/');
	if (!base)
		return;
	dir[base - path] = '\0';
	int n = snprintf(prefix, sizeof(prefix), "%s.new-", base + 1);
	DIR *d = opendir(dir[0] ? dir : "/");
	if (!d || n <= 0 || (size_t)n >= sizeof(prefix)) {
		if (d)
			closedir(d);
		return;
	}
	struct dirent *e;
	bool shm = strcmp(dir, "/dev/shm") == 0;
	char mine[64];
	snprintf(mine, sizeof(mine), "spaturzu-%ld-", (long)geteuid());
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, (size_t)n) != 0 && !(shm && orphan_fresh(dirfd(d), e->d_name, mine)))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			clog_info("removed %s/%s, left by a collector killed while it made its ring", dir, e->d_name);
	}
	closedir(d);
}

/* The record ring (user mode). One the last collector left is kept, and
 * drained: its records are not lost. Anything else at the path is replaced
 * by a new file renamed over it, never truncated in place: a shim may still
 * have the old one mapped. Without a ring the shims use the socket. */
static void open_ring(struct spz_ingest *in)
{
	char path[4200], fresh[4300];
	if (spz_ring_path(in->socket_path, path, sizeof(path)) < 0)
		return;
	snprintf(in->ring_path, sizeof(in->ring_path), "%s", path);
	remove_stale_fresh(path);
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    st.st_size == (off_t)sizeof(struct spz_ring)) {
		void *p = mmap(NULL, sizeof(struct spz_ring), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED && spz_ring_valid(p)) {
			close(fd);
			in->ring = p;
			in->ring_cursor = atomic_load(&in->ring->tail);
			/* A ring an older collector made gets packed records
			 * from now on; the JSON ones in it are read as ever. */
			spz_ring_beat(in->ring, wall_ms());
			return;
		}
		if (p != MAP_FAILED)
			munmap(p, sizeof(struct spz_ring));
	}
	if (fd >= 0)
		close(fd);
	snprintf(fresh, sizeof(fresh), "%s.new-%ld", path, (long)getpid());
	unlink(fresh);
	fd = open(fresh, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	void *p = MAP_FAILED;
	/* Every page allocated now: a shim writing to a page of a full tmpfs
	 * would get SIGBUS. Without the space there is no ring. */
	int err = fd < 0 ? errno : posix_fallocate(fd, 0, (off_t)sizeof(struct spz_ring));
	if (err == 0)
		p = mmap(NULL, sizeof(struct spz_ring), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (err == 0 && p == MAP_FAILED)
		err = errno;
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED) {
		clog_warn("record ring %s not usable (%s); records come by the socket", path, strerror(err));
		unlink(fresh);
		return;
	}
	spz_ring_init(p);
	/* Fallocated tmpfs pages are cleared at their first fault: written to
	 * now, each is cleared here, once, rather than in the first host to
	 * touch it (about 8 us a record over a fresh ring's first lap there,
	 * measured). No shim sees the file before the rename. */
	for (size_t off = 0; off < sizeof(struct spz_ring); off += 4096) {
		volatile char *b = (volatile char *)p + off;
		*b = *b;
	}
	spz_ring_beat(p, wall_ms());
	if (rename(fresh, path) < 0) {
		clog_warn("record ring %s not usable (%s); records come by the socket", path, strerror(errno));
		munmap(p, sizeof(struct spz_ring));
		unlink(fresh);
		return;
	}
	in->ring = p;
	in->ring_cursor = 0;
}

static int open_socket(struct spz_ingest *in, const char *socket_path, const char *spool_dir, struct spz_store *store,
		       long gid)
{
	memset(in, 0, sizeof(*in));
	in->sock = -1;
	in->euid = (long)geteuid();
	in->lock_fd = -1;
	in->store = store;
	snprintf(in->spool_dir, sizeof(in->spool_dir), "%s", spool_dir);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t path_len = strlen(socket_path);
	if (path_len >= sizeof(addr.sun_path)) {
		clog_error("socket path too long (max %zu bytes): %s", sizeof(addr.sun_path) - 1, socket_path);
		return -1;
	}
	memcpy(in->socket_path, socket_path, path_len + 1);
	memcpy(addr.sun_path, socket_path, path_len + 1);

	char dir[sizeof(addr.sun_path)];
	memcpy(dir, socket_path, path_len + 1);
	dirname(dir);
	if (spz_mkdirs(dir, 0700) < 0) {
		clog_error("cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (gid >= 0 && (chown(dir, (uid_t)-1, (gid_t)gid) < 0 || chmod(dir, 0750) < 0)) {
		clog_error("cannot give %s to group %ld: %s", dir, gid, strerror(errno));
		return -1;
	}
	if (check_private_dir(dir, gid >= 0) < 0)
		return -1;

	char lock_path[sizeof(addr.sun_path) + 8];
	snprintf(lock_path, sizeof(lock_path), "%s.lock", socket_path);
	in->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (in->lock_fd < 0) {
		clog_error("cannot open %s: %s", lock_path, strerror(errno));
		return -1;
	}
	if (flock(in->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		close(in->lock_fd);
		in->lock_fd = -1;
		return -2;
	}
	/* The ring before the socket: whoever finds the socket finds the ring
	 * (making it takes a moment: its 8 MiB are allocated up front). */
	if (gid < 0)
		open_ring(in);
	unlink(socket_path); /* a stale socket of a collector that died */
	in->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (in->sock < 0 || bind(in->sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		clog_error("cannot bind %s: %s", socket_path, strerror(errno));
		spz_ingest_close(in);
		return -1;
	}
	if (gid >= 0) {
		/* Members of the group may send; credentials say who did. */
		if (chown(socket_path, (uid_t)-1, (gid_t)gid) < 0 || chmod(socket_path, 0660) < 0) {
			clog_error("cannot share %s with group %ld: %s", socket_path, gid, strerror(errno));
			spz_ingest_close(in);
			return -1;
		}
	} else {
		chmod(socket_path, 0600);
	}
	int one = 1;
	setsockopt(in->sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	int rcvbuf = 8 * 1024 * 1024;
	if (setsockopt(in->sock, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(in->sock, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	return 0;
}

bool spz_collector_listening(const char *socket_path)
{
	char lock_path[4200];
	snprintf(lock_path, sizeof(lock_path), "%s.lock", socket_path);
	int fd = open(lock_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	bool held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

void spz_ingest_close(struct spz_ingest *in)
{
	if (in->ring) {
		/* Writers fall back to the socket (then the spool) at once. An
		 * empty ring goes: a shim still mapping it sees the heartbeat
		 * stop and looks for the next collector's ring. One that holds
		 * records stays for the next collector. */
		spz_ring_beat(in->ring, 0);
		if (atomic_load(&in->ring->head) == atomic_load(&in->ring->tail))
			unlink(in->ring_path);
		munmap(in->ring, sizeof(struct spz_ring));
		in->ring = NULL;
	}
	if (in->sock >= 0) {
		close(in->sock);
		unlink(in->socket_path);
	}
	if (in->lock_fd >= 0)
		close(in->lock_fd);
	in->sock = -1;
	in->lock_fd = -1;
}

struct pending_record {
	struct spz_record rec;
	struct spz_sender from;
};

static struct pending_record batch[BATCH_MAX];
static size_t batch_len; /* records read but not yet committed */

static int store_priced(struct spz_ingest *in, const struct spz_record *rec, const struct spz_sender *from)
{
	struct spz_cost cost = { .kind = SPZ_COST_UNKNOWN };
	if (in->pricing)
		spz_price_call(in->pricing, rec->provider, rec->model, rec->response_model, rec->status, rec->tokens,
			       &cost);
	return spz_store_insert(in->store, rec, from, &cost);
}

/* Ring slots taken before this point hold records now stored (or
 * rejected, or skipped): writers may have them back. */
static void release_ring(struct spz_ingest *in)
{
	if (in->ring)
		spz_ring_release(in->ring, in->ring_cursor);
}

static int commit_batch(struct spz_ingest *in)
{
	if (batch_len == 0) {
		release_ring(in);
		return 0;
	}
	if (spz_store_begin(in->store) < 0)
		return -1;
	uint64_t stored = 0, dup = 0;
	for (size_t i = 0; i < batch_len; i++) {
		int rc = store_priced(in, &batch[i].rec, &batch[i].from);
		if (rc < 0) {
			spz_store_rollback(in->store);
			return -1;
		}
		rc ? stored++ : dup++;
	}
	if (spz_store_commit(in->store) < 0) {
		spz_store_rollback(in->store);
		return -1;
	}
	in->stats.stored += stored;
	in->stats.duplicates += dup;
	for (size_t i = 0; i < batch_len; i++)
		spz_record_clear(&batch[i].rec);
	batch_len = 0;
	release_ring(in);
	return 0;
}

/* `spaturzu run` sends {"spaturzuMarker":"TOKEN"} once its command has
 * exited, and waits for TOKEN in meta "ingest.marker": then every record
 * its command sent before is stored. Not a record, not counted as one. */
#define MARKER "{\"spaturzuMarker\":\""

static void note_marker(struct spz_ingest *in, const char *tok, size_t n)
{
	char token[65];
	size_t len = 0;
	while (len < n && len < sizeof(token) - 1 &&
	       ((tok[len] >= '0' && tok[len] <= '9') || (tok[len] >= 'a' && tok[len] <= 'z') || tok[len] == '-'))
		len++;
	if (len == 0 || len >= n || tok[len] != '"')
		return;
	memcpy(token, tok, len);
	token[len] = '\0';
	spz_store_meta_set(in->store, "ingest.marker", token);
}

/* {"spaturzuAgent":"NAME"}: the shim's notice of an agent's first call in
 * a process. Not a record, not counted as one. */
#define AGENT_NOTICE "{\"spaturzuAgent\":"

static void note_agent(struct spz_ingest *in, const char *buf, size_t n)
{
	if (!in->on_agent)
		return;
	json_t *doc = json_loadb(buf, n, JSON_REJECT_DUPLICATES, NULL);
	const char *agent = json_string_value(json_object_get(doc, "spaturzuAgent"));
	if (agent && json_object_size(doc) == 1)
		in->on_agent(in->on_agent_ud, agent);
	json_decref(doc);
}

int spz_ingest_socket(struct spz_ingest *in)
{
	/* A batch the store refused last time goes first; until it is in, the
	 * socket is left alone and shims spool instead. */
	if (commit_batch(in) < 0)
		return -1;
	/* recvmmsg takes up to RECV_VEC datagrams per system call. */
	enum { RECV_VEC = 32 };
	static char bufs[RECV_VEC][SPZ_RECORD_MAX + 1];
	static union {
		char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} ctl[RECV_VEC];
	struct iovec iov[RECV_VEC];
	struct mmsghdr msgs[RECV_VEC];
	int count = 0;
	bool waited = false;
	while (batch_len < BATCH_MAX) {
		unsigned want = BATCH_MAX - batch_len < RECV_VEC ? (unsigned)(BATCH_MAX - batch_len) : RECV_VEC;
		for (unsigned k = 0; k < want; k++) {
			iov[k] = (struct iovec){ .iov_base = bufs[k], .iov_len = sizeof(bufs[k]) };
			msgs[k] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[k], .msg_iovlen = 1,
								.msg_control = ctl[k].b,
								.msg_controllen = sizeof(ctl[k].b) } };
		}
		int got = recvmmsg(in->sock, msgs, want, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			/* Drained. Under load, more is a moment away: a short wait
			 * turns many small commits (an fsync each) into fewer large
			 * ones. A lone record waits at most GROUP_COMMIT_MS. */
			if (batch_len > 0 && batch_len < GROUP_COMMIT_MIN && !waited) {
				struct pollfd pfd = { .fd = in->sock, .events = POLLIN };
				waited = true;
				if (poll(&pfd, 1, GROUP_COMMIT_MS) > 0)
					continue;
			}
			break;
		}
		for (int k = 0; k < got; k++) {
			struct msghdr *msg = &msgs[k].msg_hdr;
			size_t n = msgs[k].msg_len;
			count++;
			if (n == sizeof(SPZ_RING_DOORBELL) - 1 && memcmp(bufs[k], SPZ_RING_DOORBELL, n) == 0)
				continue; /* the caller drains the ring next */
			if (n > sizeof(AGENT_NOTICE) - 1 && memcmp(bufs[k], AGENT_NOTICE, sizeof(AGENT_NOTICE) - 1) == 0) {
				note_agent(in, bufs[k], n);
				continue;
			}
			if (n > sizeof(MARKER) - 1 && memcmp(bufs[k], MARKER, sizeof(MARKER) - 1) == 0) {
				/* Datagrams on one socket are read in order: every record
				 * sent before the marker is in this batch or stored. */
				/* Records in the ring were published before the marker
				 * was sent: they go in first. */
				if (commit_batch(in) == 0 && spz_ingest_ring(in, true) >= 0)
					note_marker(in, bufs[k] + sizeof(MARKER) - 1, n - (sizeof(MARKER) - 1));
				continue;
			}
			in->stats.received++;
			struct spz_sender from = { .uid = -1, .pid = -1 };
			for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
					struct ucred cred;
					memcpy(&cred, CMSG_DATA(c), sizeof(cred));
					from.uid = cred.uid;
					from.pid = cred.pid;
				} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
					/* Nobody should pass descriptors here; do not leak them. */
					size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
					for (size_t j = 0; j < nfd; j++) {
						int fd;
						memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof(fd));
						close(fd);
					}
				}
			}
			if (msg->msg_flags & MSG_TRUNC) {
				note_rejected(in, "socket", "datagram larger than 64 KiB");
				continue;
			}
			char why[160];
			struct pending_record *p = &batch[batch_len];
			if (spz_record_decode(bufs[k], n, &p->rec, why, sizeof(why)) < 0) {
				note_rejected(in, "socket", why);
				continue;
			}
			p->from = from;
			batch_len++;
		}
	}
	if (commit_batch(in) < 0)
		return -1;
	return count;
}

static void ring_record(void *ud, const char *data, size_t len)
{
	struct spz_ingest *in = ud;
	in->stats.received++;
	char why[160];
	struct pending_record *p = &batch[batch_len];
	/* The ring is the user's own (0600): the sender is this uid. */
	if (spz_record_decode(data, len, &p->rec, why, sizeof(why)) < 0) {
		note_rejected(in, "ring", why);
		return;
	}
	p->from = (struct spz_sender){ .uid = (long)in->euid, .pid = -1 };
	if (batch_len++ == 0)
		in->batch_since_ms = wall_ms();
}

void spz_ingest_ring_promise(struct spz_ingest *in, int ms)
{
	if (in->ring)
		atomic_store(&in->ring->look_by_ms, ms > 0 ? wall_ms() + ms : 0);
}

bool spz_ingest_ring_unread(struct spz_ingest *in)
{
	return in->ring && spz_ring_unread(in->ring, in->ring_cursor);
}

int spz_ingest_commit_in_ms(const struct spz_ingest *in)
{
	if (batch_len == 0)
		return -1;
	int64_t left = in->batch_since_ms + RING_COMMIT_MS - wall_ms();
	return left < 0 ? 0 : left > RING_COMMIT_MS ? RING_COMMIT_MS : (int)left;
}

/* Patience for a slot a writer claimed and has not filled: a copy of a few
 * KiB takes microseconds; one this late belongs to a process that died. */
#define RING_PATIENCE_MS 5000

int spz_ingest_ring(struct spz_ingest *in, bool flush)
{
	if (!in->ring)
		return 0;
	int64_t now = wall_ms();
	spz_ring_beat(in->ring, now);
	int total = 0;
	for (;;) {
		uint64_t skipped = 0;
		size_t got = spz_ring_take(in->ring, &in->ring_cursor, BATCH_MAX - batch_len, ring_record, in, now,
					   RING_PATIENCE_MS, &in->ring_stuck_since_ms, &skipped, &in->ring_pending);
		if (skipped) {
			in->stats.ring_skipped += skipped;
			clog_warn("record ring: %llu slot(s) claimed by a writer that never filled them (a process that "
				  "died mid-record)", (unsigned long long)skipped);
		}
		total += (int)got;
		/* Due: enough records, the oldest has waited long enough, or the
		 * caller needs them stored now. An empty batch still frees the
		 * slots of rejected and skipped records. */
		bool due = flush || batch_len == 0 || batch_len >= GROUP_COMMIT_MIN ||
			   now - in->batch_since_ms >= RING_COMMIT_MS;
		if (due && commit_batch(in) < 0)
			return -1; /* the store refuses: records stay in the ring */
		if (got == 0 || in->ring_pending)
			return total;
	}
}

/* Reads one claimed spool file into the store; 0 when it may be removed. */
static int ingest_file(struct spz_ingest *in, int fd, const char *name)
{
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	size_t in_tx = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		in->stats.received++;
		if (line[n - 1] != '\n') {
			note_rejected(in, name, "torn last line (writer died or disk full)");
			break;
		}
		line[--n] = '\0';
		char why[160];
		struct spz_record rec;
		if (spz_record_decode(line, (size_t)n, &rec, why, sizeof(why)) < 0) {
			note_rejected(in, name, why);
			continue;
		}
		if (in_tx == 0 && spz_store_begin(in->store) < 0) {
			spz_record_clear(&rec);
			rc = -1;
			break;
		}
		struct spz_sender from = { .uid = -1, .pid = rec.pid };
		int ins = store_priced(in, &rec, &from);
		spz_record_clear(&rec);
		if (ins < 0) {
			rc = -1;
			break;
		}
		ins ? in->stats.stored++ : in->stats.duplicates++;
		if (++in_tx == SPOOL_TX_LINES) {
			if (spz_store_commit(in->store) < 0) {
				rc = -1;
				break;
			}
			in_tx = 0;
		}
	}
	if (rc == 0 && in_tx && spz_store_commit(in->store) < 0)
		rc = -1;
	if (rc < 0 && in->store->in_tx)
		spz_store_rollback(in->store);
	free(line);
	fclose(f);
	return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

int spz_ingest_spool(struct spz_ingest *in)
{
	int dfd = open(in->spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -1;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -1;
	}
	int lines_before = (int)in->stats.received;
	struct dirent *e;
	while ((e = readdir(d))) {
		char claimed[512];
		int fd;
		if (ends_with(e->d_name, ".jsonl")) {
			fd = openat(dfd, e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0)
				continue;
			/* A writer holds the lock only for one append; try later. */
			if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
				close(fd);
				continue;
			}
			snprintf(claimed, sizeof(claimed), "%.400s.%d-%u.ingesting", e->d_name, (int)getpid(),
				 in->file_seq++);
			if (renameat(dfd, e->d_name, dfd, claimed) < 0) {
				close(fd);
				continue;
			}
		} else if (ends_with(e->d_name, ".ingesting")) {
			/* Claimed by a collector that stopped before finishing. */
			snprintf(claimed, sizeof(claimed), "%s", e->d_name);
			fd = openat(dfd, claimed, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0)
				continue;
		} else {
			continue;
		}
		in->stats.spool_files++;
		if (ingest_file(in, fd, claimed) == 0)
			unlinkat(dfd, claimed, 0);
	}
	closedir(d);
	return (int)in->stats.received - lines_before;
}
