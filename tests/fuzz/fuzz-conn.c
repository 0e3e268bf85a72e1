/* libFuzzer: the whole connection tracker (HTTP/1.1 and HTTP/2 framing,
 * HPACK, decoding, SSE, event streams, JSON, every extractor) fed a
 * conversation: records of [direction byte][length, 2 bytes][bytes]. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/conn.h"

static size_t calls;

static void sink(const struct spz_call *c)
{
	calls += strlen(c->model) + strlen(c->response_model) + strlen(c->provider) + (size_t)c->status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once) {
		spz_conn_set_sink(sink);
		once = 1;
	}
	struct spz_conn *c = spz_conn_new();
	size_t i = 0;
	int64_t now = 1;
	while (i + 3 <= size) {
		int dir = data[i] & 1;
		int eof = (data[i] & 0x0e) == 0x0e;
		size_t n = (size_t)data[i + 1] << 8 | data[i + 2];
		i += 3;
		if (n > size - i)
			n = size - i;
		char *copy = malloc(n ? n : 1);
		memcpy(copy, data + i, n);
		if (dir)
			spz_conn_on_read(c, copy, n, now++);
		else
			spz_conn_on_write(c, copy, n, now++);
		free(copy);
		i += n;
		if (eof)
			spz_conn_on_eof(c, now++);
	}
	spz_conn_free(c, now);
	return 0;
}
