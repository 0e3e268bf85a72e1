/* RFC 9562 UUIDs. Randomness from getrandom(2) without blocking; if the
 * kernel cannot give it, a per-process counter mixed with time and pid keeps
 * ids unique (they are ids, not secrets). */
#include "uuid.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static void random_bytes(uint8_t *b, size_t n)
{
	ssize_t got = getrandom(b, n, GRND_NONBLOCK);
	if (got == (ssize_t)n)
		return;
	static atomic_uint_fast64_t counter;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40) ^
		     atomic_fetch_add(&counter, 0x9E3779B97F4A7C15ull);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)x;
	}
}

static void format(char out[SPZ_UUID_STR], const uint8_t b[16])
{
	snprintf(out, SPZ_UUID_STR,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		 b[14], b[15]);
}

void spz_uuid_v7(char out[SPZ_UUID_STR], int64_t unix_ms)
{
	uint8_t b[16];
	uint64_t ms = (uint64_t)unix_ms;
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(ms >> (40 - 8 * i));
	random_bytes(b + 6, 10);
	b[6] = (uint8_t)(0x70 | (b[6] & 0x0F));
	b[8] = (uint8_t)(0x80 | (b[8] & 0x3F));
	format(out, b);
}

void spz_uuid_v4(char out[SPZ_UUID_STR])
{
	uint8_t b[16];
	random_bytes(b, 16);
	b[6] = (uint8_t)(0x40 | (b[6] & 0x0F));
	b[8] = (uint8_t)(0x80 | (b[8] & 0x3F));
	format(out, b);
}
