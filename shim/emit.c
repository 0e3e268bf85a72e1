/* Record delivery. First choice: the collector's record ring (a shared
 * file, common/record_ring.h), which costs no system call; a doorbell
 * datagram only when the ring was empty. The record goes there packed
 * when the collector says it reads that form, which costs the host a few
 * copies instead of the JSON's escaping and formatting; everywhere else
 * as JSON. Else the socket, which holds no
 * descriptor between records: a host may close or reuse any descriptor,
 * and a socket kept across fork would be shared. Each such record costs
 * socket+sendto+close; only LLM calls pay it.
 *
 * Spool hand-off with the collector: a writer opens <pid>.jsonl, takes a
 * non-blocking exclusive flock, checks the path still names the inode it
 * holds (the collector renames files it ingests), appends one whole line, and
 * undoes a short write so no torn line is left. */
#include "emit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#include "../common/paths.h"
#include "../common/record_ring.h"
#include "log.h"
#include "uuid.h"

static int send_datagram(const char *path, const char *buf, size_t len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t plen = strlen(path);
	if (plen == 0 || plen >= sizeof(addr.sun_path))
		return -1;
	memcpy(addr.sun_path, path, plen + 1);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	ssize_t n = sendto(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&addr, sizeof(addr));
	int saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)len ? 0 : -1;
}

static int append_locked(int fd, const char *line, size_t len)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	/* Writing past the host's RLIMIT_FSIZE would kill it with SIGXFSZ: a
	 * record is worth less than the host. */
	struct rlimit fsize;
	if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)st.st_size + len > (uint64_t)fsize.rlim_cur) {
		errno = EFBIG;
		return -1;
	}
	ssize_t n = write(fd, line, len);
	if (n == (ssize_t)len)
		return 0;
	int saved = errno;
	/* Disk full or similar: leave no partial line behind. */
	if (ftruncate(fd, st.st_size) < 0) {
		/* nothing more to do: the collector counts a torn line as bad */
	}
	errno = n < 0 ? saved : ENOSPC;
	return -1;
}

int spz_spool_append(const char *dir, const char *line, size_t len)
{
	char path[700];
	if (!dir || !*dir || spz_mkdirs(dir, 0700) < 0)
		return -1;
	for (int attempt = 0; attempt < 4; attempt++) {
		int n;
		if (attempt == 0) {
			n = snprintf(path, sizeof(path), "%s/%d.jsonl", dir, (int)getpid());
		} else {
			/* The usual file is being ingested right now: use a fresh one. */
			char u[SPZ_UUID_STR];
			spz_uuid_v4(u);
			n = snprintf(path, sizeof(path), "%s/%d-%.8s.jsonl", dir, (int)getpid(), u);
		}
		if (n < 0 || (size_t)n >= sizeof(path))
			return -1;
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
		if (fd < 0)
			return -1;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			continue;
		}
		struct stat held, named;
		if (fstat(fd, &held) < 0 || stat(path, &named) < 0 || held.st_ino != named.st_ino ||
		    held.st_dev != named.st_dev) {
			close(fd);
			continue; /* renamed away by the collector between open and lock */
		}
		int rc = append_locked(fd, line, len);
		close(fd);
		return rc;
	}
	return -1;
}

void spz_emit_notice(const struct spz_config *cfg, const char *msg, size_t len)
{
	int saved = errno;
	if (send_datagram(cfg->socket_path, msg, len) < 0 && cfg->socket_defaulted &&
	    (errno == ENOENT || errno == ECONNREFUSED))
		send_datagram(SPZ_SYSTEM_SOCKET, msg, len);
	errno = saved;
}

static struct spz_ring *_Atomic ring;
static _Atomic int64_t ring_next_try_ms;
static _Atomic uint64_t ring_ino; /* the mapped file's inode */

static int64_t coarse_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Our collector's ring, mapped at the first record. While there is none,
 * or the mapped one has no live collector (it stopped; the next one may
 * have made a new file), the path is looked at again at most once a
 * second. Only a regular file of our own user is used. A replaced ring
 * stays mapped (another thread may be writing to it): one per collector
 * restart at most. */
static struct spz_ring *get_ring(const struct spz_config *cfg, int64_t now_ms)
{
	struct spz_ring *r = atomic_load_explicit(&ring, memory_order_acquire);
	if (r && now_ms - atomic_load_explicit(&r->alive_ms, memory_order_relaxed) <= SPZ_RING_ALIVE_MS)
		return r;
	if (now_ms < atomic_load_explicit(&ring_next_try_ms, memory_order_relaxed))
		return r;
	atomic_store_explicit(&ring_next_try_ms, now_ms + 1000, memory_order_relaxed);
	char path[sizeof(cfg->socket_path) + 64];
	if (spz_ring_path(cfg->socket_path, path, sizeof(path)) < 0)
		return r;
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return r;
	struct stat st;
	void *p = MAP_FAILED;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    st.st_size == (off_t)sizeof(struct spz_ring) &&
	    (!r || (uint64_t)st.st_ino != atomic_load_explicit(&ring_ino, memory_order_relaxed)))
		p = mmap(NULL, sizeof(struct spz_ring), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return r;
	if (!atomic_compare_exchange_strong(&ring, &r, (struct spz_ring *)p)) {
		munmap(p, sizeof(struct spz_ring)); /* another thread mapped it first */
		return r;
	}
	atomic_store_explicit(&ring_ino, (uint64_t)st.st_ino, memory_order_relaxed);
	return p;
}

static void ring_doorbell(const struct spz_config *cfg, bool doorbell)
{
	if (doorbell) /* the collector may be asleep */
		spz_emit_notice(cfg, SPZ_RING_DOORBELL, sizeof(SPZ_RING_DOORBELL) - 1);
}

int spz_emit_packed(const struct spz_config *cfg, const struct spz_record_fields *f)
{
	int64_t now = coarse_ms();
	struct spz_ring *r = get_ring(cfg, now);
	if (!r || !spz_ring_reads_packed(r, now))
		return 0;
	/* Packed straight into the slot: no copy, no buffer of the thread's
	 * to bring back into the cache. Packing cannot fail once claimed:
	 * the slot has room for the size it was claimed for. */
	size_t n = spz_record_packed_size(f);
	bool doorbell;
	uint64_t pos;
	char *slot = spz_ring_claim(r, n, now, &doorbell, &pos);
	if (!slot)
		return 0;
	size_t packed = spz_record_pack_sized(f, slot, n);
	spz_ring_publish(r, pos, packed);
	ring_doorbell(cfg, doorbell);
	return 1;
}

int spz_emit(const struct spz_config *cfg, char *record, size_t len)
{
	int64_t now = coarse_ms();
	struct spz_ring *r = get_ring(cfg, now);
	bool doorbell;
	if (r && spz_ring_put(r, record, len, now, &doorbell)) {
		ring_doorbell(cfg, doorbell);
		return 0;
	}
	if (send_datagram(cfg->socket_path, record, len) == 0)
		return 0;
	int send_errno = errno;
	/* No collector of this user: a system-wide one, if the host runs it. */
	if (cfg->socket_defaulted && (send_errno == ENOENT || send_errno == ECONNREFUSED) &&
	    send_datagram(SPZ_SYSTEM_SOCKET, record, len) == 0)
		return 0;
	record[len] = '\n';
	int rc = spz_spool_append(cfg->spool_dir, record, len + 1);
	record[len] = '\0';
	if (rc == 0) {
		spz_log("collector not reachable at %s (%s): record spooled in %s", cfg->socket_path,
			strerror(send_errno), cfg->spool_dir);
		return 1;
	}
	spz_log("record lost: collector not reachable (%s) and spool %s not writable (%s)", strerror(send_errno),
		cfg->spool_dir, strerror(errno));
	return -1;
}
