/* Corpus cases as HTTP/1.1 exchanges, for tests that drive the connection
 * tracker with recorded provider responses. */
#ifndef SPZ_TEST_CORPUS_H
#define SPZ_TEST_CORPUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../../shim/call.h"

enum framing { FRAME_LENGTH, FRAME_CHUNKED, FRAME_GZIP, FRAME_CLOSE, FRAME_COUNT };

struct corpus_case {
	char name[256]; /* provider/case */
	json_t *meta;
	char *body;
	size_t body_len;
};

/* Loads every case of a provider directory; returns the count. */
size_t corpus_load(const char *provider, struct corpus_case *out, size_t cap);
void corpus_free(struct corpus_case *c);

/* The request as a client writes it, and the response as the provider
 * sends it with the given framing. Heap strings; *len set. */
char *corpus_request(const struct corpus_case *c, size_t *len);
char *corpus_request_body(const struct corpus_case *c, size_t *len);
const char *corpus_request_host(const struct corpus_case *c);
char *corpus_response(const struct corpus_case *c, enum framing f, unsigned seed, size_t *len);

/* Compares a captured call with the case's expected usage and model. */
void corpus_check_call(const struct corpus_case *c, const struct spz_call *call);

#endif
