/* RFC 9562 UUIDs. Each thread draws from its own xorshift128+ generator,
 * seeded from getrandom(2) and seeded again in a forked child (its pid
 * differs), so parent and child never share a sequence; without getrandom,
 * time, pid, thread and a counter seed it. Ids, not secrets: no system call
 * per id. */
#include "uuid.h"

#include "config.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

static __thread uint64_t rng[2] __attribute__((tls_model("initial-exec")));
static __thread int rng_pid __attribute__((tls_model("initial-exec")));

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void seed(int pid)
{
	if (getrandom(rng, sizeof(rng), GRND_NONBLOCK) != (ssize_t)sizeof(rng)) {
		static atomic_uint_fast64_t counter;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)pid << 40) ^
			     (uint64_t)(uintptr_t)&rng ^ atomic_fetch_add(&counter, 1);
		rng[0] = splitmix(&x);
		rng[1] = splitmix(&x);
	}
	if (!rng[0] && !rng[1])
		rng[1] = 1;
	rng_pid = pid;
}

static void random_bytes(uint8_t *b, size_t n)
{
	int pid = spz_pid();
	if (rng_pid != pid)
		seed(pid);
	for (size_t i = 0; i < n; i += 8) {
		uint64_t s1 = rng[0];
		const uint64_t s0 = rng[1];
		uint64_t r = s0 + s1;
		rng[0] = s0;
		s1 ^= s1 << 23;
		rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
		memcpy(b + i, &r, n - i < 8 ? n - i : 8); /* random bytes: their order is no matter */
	}
}

/* Hex pairs at fixed places: the dashes after the 4th, 6th, 8th and 10th
 * bytes (8-4-4-4-12). */
static void format(char out[SPZ_UUID_STR], const uint8_t b[16])
{
#ifdef __SSE2__
	/* All 32 digits at once (an id for every call: the byte loop was a
	 * hundred instructions of it), then placed around the dashes. */
	const __m128i nibble = _mm_set1_epi8(0x0f), nine = _mm_set1_epi8(9);
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)b);
	__m128i lo = _mm_and_si128(v, nibble), hi = _mm_and_si128(_mm_srli_epi16(v, 4), nibble);
	__m128i d[2] = { _mm_unpacklo_epi8(hi, lo), _mm_unpackhi_epi8(hi, lo) };
	char digits[32];
	for (int k = 0; k < 2; k++) {
		/* '0' + x, and 'a' - '0' - 10 more above 9 */
		__m128i a = _mm_add_epi8(d[k], _mm_set1_epi8('0'));
		a = _mm_add_epi8(a, _mm_and_si128(_mm_cmpgt_epi8(d[k], nine), _mm_set1_epi8('a' - '0' - 10)));
		_mm_storeu_si128((__m128i *)(void *)(digits + 16 * k), a);
	}
	memcpy(out, digits, 8);
	memcpy(out + 9, digits + 8, 4);
	memcpy(out + 14, digits + 12, 4);
	memcpy(out + 19, digits + 16, 4);
	memcpy(out + 24, digits + 20, 12);
	out[8] = out[13] = out[18] = out[23] = '-';
	out[36] = '\0';
#else
	static const char hex[] = "0123456789abcdef";
	static const uint8_t at[16] = { 0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34 };
	for (int i = 0; i < 16; i++) {
		out[at[i]] = hex[b[i] >> 4];
		out[at[i] + 1] = hex[b[i] & 15];
	}
	out[8] = out[13] = out[18] = out[23] = '-';
	out[36] = '\0';
#endif
}

/* rand_a as a counter within a millisecond (RFC 9562 6.2, method 1), so one
 * thread's ids sort in the order they were made. */
static __thread int64_t last_ms __attribute__((tls_model("initial-exec")));
static __thread uint16_t seq __attribute__((tls_model("initial-exec")));

void spz_uuid_v7(char out[SPZ_UUID_STR], int64_t unix_ms)
{
	uint8_t b[16];
	random_bytes(b + 6, 10);
	if (unix_ms == last_ms && seq < 0xFFF) {
		seq++;
	} else {
		seq = (uint16_t)((b[6] << 8 | b[7]) & 0x7FF); /* random start, room to count */
		last_ms = unix_ms;
	}
	uint64_t ms = (uint64_t)unix_ms;
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(ms >> (40 - 8 * i));
	b[6] = (uint8_t)(0x70 | (seq >> 8));
	b[7] = (uint8_t)seq;
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
