/* Incremental HTTP/1.1 message parser for one direction of a connection
 * (requests or responses), fed arbitrary slices. Reports the start line, each
 * header, de-chunked body bytes and message ends through callbacks; keeps
 * keep-alive sequences of messages. Memory: one bounded line buffer. */
#ifndef SPZ_HTTP1_H
#define SPZ_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPZ_H1_LINE_MAX 8192 /* longest start or header line followed */

enum spz_h1_kind { SPZ_H1_REQUEST, SPZ_H1_RESPONSE };

enum spz_h1_framing {
	SPZ_H1_BODY_NONE,    /* no body (HEAD, 1xx, 204, 304, request without length) */
	SPZ_H1_BODY_LENGTH,  /* Content-Length bytes */
	SPZ_H1_BODY_CHUNKED, /* chunked transfer coding */
	SPZ_H1_BODY_CLOSE,   /* response body ends when the connection does */
};

struct spz_h1_start {
	/* requests */
	const char *method;
	size_t method_len;
	const char *target;
	size_t target_len;
	/* responses */
	int status;
	int minor_version;
};

/* Which header fields a parser hands to its header callback: a superset of
 * the names its consumer reads, tested on a name's length (bit 63 for any
 * of 63 bytes or more) and its first byte folded to lower case (& 31)
 * before the line's value is even looked for. Most of a provider's
 * response fields (rate limits, cookies, the CDN's) pass neither. */
struct spz_header_filter {
	uint64_t lens;
	uint32_t firsts;
};

/* Lets fields named name (lower case, len bytes) through. */
static inline void spz_header_filter_add(struct spz_header_filter *f, const char *name, size_t len)
{
	f->lens |= 1ull << (len < 63 ? len : 63);
	f->firsts |= 1u << ((unsigned char)(name[0] | 0x20) & 31);
}

static inline bool spz_header_filter_passes(const struct spz_header_filter *f, const char *name, size_t len)
{
	return ((f->lens >> (len < 63 ? len : 63)) & 1) && ((f->firsts >> ((unsigned char)(name[0] | 0x20) & 31)) & 1);
}

struct spz_h1_callbacks {
	/* Each returns 0 to go on, non-zero to stop parsing (the parser then
	 * reports an error for the rest of the connection). */
	int (*start)(void *ud, const struct spz_h1_start *start);
	/* A header field the filter lets through (all, unless set). */
	int (*header)(void *ud, const char *name, size_t name_len, const char *value, size_t value_len);
	/* The parser has chosen a framing; the callee may set *framing to
	 * SPZ_H1_BODY_NONE (the response to a HEAD request). */
	int (*headers_done)(void *ud, enum spz_h1_framing *framing, uint64_t content_length);
	int (*body)(void *ud, const char *buf, size_t len);
	/* The message is complete; for a 1xx response another one follows. */
	int (*message_done)(void *ud);
};

struct spz_h1 {
	const struct spz_h1_callbacks *cb;
	void *ud;
	enum spz_h1_kind kind;
	uint8_t state;
	bool error;
	bool chunked;
	bool has_length;
	bool upgraded; /* 101 Switching Protocols or CONNECT: no more HTTP here */
	int status;
	struct spz_header_filter filter;
	enum spz_h1_framing framing;
	uint64_t content_length;
	uint64_t remaining; /* bytes left of the body or the current chunk */
	size_t line_len;
	char line[SPZ_H1_LINE_MAX];
};

void spz_h1_init(struct spz_h1 *p, enum spz_h1_kind kind, const struct spz_h1_callbacks *cb, void *ud);
/* Sets which header fields reach the header callback from now on (the
 * framing fields are read whatever it says). */
static inline void spz_h1_filter_headers(struct spz_h1 *p, struct spz_header_filter f)
{
	p->filter = f;
}
/* Returns 0, or -1 after an error (malformed input or a callback's stop); the
 * parser then ignores everything until re-initialised. */
int spz_h1_feed(struct spz_h1 *p, const char *buf, size_t len);
/* The connection has ended. A body framed by close is complete (0); a message
 * cut in the middle returns 1; no message in progress returns 0. */
int spz_h1_finish(struct spz_h1 *p);
/* True between messages (nothing of the next one seen yet). */
bool spz_h1_idle(const struct spz_h1 *p);

#endif
