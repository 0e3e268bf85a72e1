/* BPE token counting over mapped rank tables. The merge is tiktoken's: all
 * adjacent pairs ranked, the lowest-ranked pair merged, its neighbours
 * re-ranked, until no pair is a token. Pieces are bounded by the caller, so
 * the work arrays live on the stack. */
#include "bpe.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define PIECE_MAX 4096 /* bytes: longer pieces are counted in parts */
#define PIECE_STACK 256

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 0x811C9DC5u;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x01000193u;
	}
	return h;
}

int spz_bpe_open(struct spz_bpe *b, const char *path)
{
	memset(b, 0, sizeof(*b));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	void *m = MAP_FAILED;
	if (fstat(fd, &st) == 0 && st.st_size > 20)
		m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	const uint8_t *p = m;
	uint32_t hdr[3];
	memcpy(hdr, p + 8, sizeof(hdr));
	size_t need = 20 + (size_t)hdr[1] * 8 + hdr[2];
	if (memcmp(p, "SPZBPE1", 8) != 0 || hdr[1] == 0 || (hdr[1] & (hdr[1] - 1)) || need != (size_t)st.st_size) {
		munmap(m, (size_t)st.st_size);
		return -1;
	}
	b->map = p;
	b->map_size = (size_t)st.st_size;
	b->slots = hdr[1];
	b->table = (const uint32_t *)(p + 20);
	b->blob = p + 20 + (size_t)hdr[1] * 8;
	b->blob_size = hdr[2];
	return 0;
}

int64_t spz_bpe_rank(const struct spz_bpe *b, const uint8_t *tok, size_t len)
{
	uint32_t mask = b->slots - 1;
	for (uint32_t i = fnv1a(tok, len) & mask, probes = 0; probes < b->slots; i = (i + 1) & mask, probes++) {
		uint32_t off = b->table[2 * i];
		if (!off)
			return -1;
		off--;
		if (off + 2 > b->blob_size)
			return -1;
		size_t tl = (size_t)b->blob[off] | (size_t)b->blob[off + 1] << 8;
		if (tl == len && off + 2 + tl <= b->blob_size && memcmp(b->blob + off + 2, tok, len) == 0)
			return b->table[2 * i + 1];
	}
	return -1;
}

size_t spz_bpe_count(const struct spz_bpe *b, const uint8_t *piece, size_t len)
{
	if (len == 0)
		return 0;
	if (len > PIECE_MAX) {
		size_t n = 0;
		for (size_t i = 0; i < len; i += PIECE_MAX)
			n += spz_bpe_count(b, piece + i, len - i < PIECE_MAX ? len - i : PIECE_MAX);
		return n;
	}
	if (len == 1 || spz_bpe_rank(b, piece, len) >= 0)
		return 1;
	/* start[k]: where part k begins; rank[k]: rank of parts k and k+1 merged */
	size_t start_stack[PIECE_STACK + 1];
	int64_t rank_stack[PIECE_STACK + 1];
	size_t *start = start_stack;
	int64_t *rank = rank_stack;
	if (len > PIECE_STACK) {
		start = malloc((len + 1) * sizeof(*start));
		rank = malloc((len + 1) * sizeof(*rank));
		if (!start || !rank) {
			free(start);
			free(rank);
			return len / 4 + 1; /* no memory: a rough figure beats none */
		}
	}
	size_t parts = len;
	for (size_t k = 0; k <= len; k++)
		start[k] = k;
	for (size_t k = 0; k + 1 < parts; k++)
		rank[k] = spz_bpe_rank(b, piece + start[k], start[k + 2] - start[k]);
	for (;;) {
		size_t best = SIZE_MAX;
		for (size_t k = 0; k + 1 < parts; k++)
			if (rank[k] >= 0 && (best == SIZE_MAX || rank[k] < rank[best]))
				best = k;
		if (best == SIZE_MAX)
			break;
		/* merge parts best and best+1 */
		memmove(start + best + 1, start + best + 2, (parts - best - 1) * sizeof(start[0]));
		if (parts >= best + 3)
			memmove(rank + best + 1, rank + best + 2, (parts - best - 3) * sizeof(rank[0]));
		parts--;
		if (best + 1 < parts)
			rank[best] = spz_bpe_rank(b, piece + start[best], start[best + 2] - start[best]);
		else
			rank[best] = -1;
		if (best > 0)
			rank[best - 1] = spz_bpe_rank(b, piece + start[best - 1], start[best + 1] - start[best - 1]);
	}
	if (start != start_stack) {
		free(start);
		free(rank);
	}
	return parts;
}

/* ---- finding the tables ------------------------------------------------- */

static struct spz_bpe tables[SPZ_ENC_COUNT];
static bool loaded[SPZ_ENC_COUNT];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static bool try_dir(struct spz_bpe *b, const char *dir, const char *name)
{
	char path[1024];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return false;
	return spz_bpe_open(b, path) == 0;
}

static void load_all(void)
{
	static const char *const names[SPZ_ENC_COUNT] = { "o200k_base.bpe", "cl100k_base.bpe" };
	char here[1024] = "", share[1100] = "";
	Dl_info info;
	if (dladdr((void *)load_all, &info) && info.dli_fname) {
		snprintf(here, sizeof(here), "%s", info.dli_fname);
		char *slash = strrchr(here, '/');
		if (slash)
			*slash = '\0';
		snprintf(share, sizeof(share), "%s/../share/spaturzu", here);
	}
	const char *env = getenv("SPATURZU_DATA_DIR");
	for (int e = 0; e < SPZ_ENC_COUNT; e++) {
		loaded[e] = (env && *env && try_dir(&tables[e], env, names[e])) || (here[0] && try_dir(&tables[e], here, names[e])) ||
			    (share[0] && try_dir(&tables[e], share, names[e]));
		if (!loaded[e])
			spz_log("%s not found: streams without usage get no estimate", names[e]);
	}
}

const struct spz_bpe *spz_bpe_get(enum spz_encoding enc)
{
	pthread_once(&once, load_all);
	return loaded[enc] ? &tables[enc] : NULL;
}
