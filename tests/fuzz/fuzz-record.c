/* libFuzzer: the collector's record decoder, which every datagram, spool
 * line and ring slot goes through. Differential: the fast path (the shim's
 * JSON scanner) must never accept what the full decoder (jansson) rejects,
 * and where both accept they must read the same values. A packed record
 * (the ring's form) that unpacks is canonical (packed again, it is the
 * input) and renders within its bound. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../collector/record.h"
#include "../../common/record_pack.h"

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spz_record fast, full;
	char why[160];
	struct spz_record_fields f;
	if (spz_record_unpack((const char *)data, size, &f) == 0) {
		char *again = malloc(size + 1);
		if (!again || spz_record_pack(&f, again, size + 1) != size || memcmp(again, data, size) != 0)
			abort(); /* two encodings of one record */
		free(again);
		size_t bound = spz_record_render_bound(&f);
		char *json = malloc(bound);
		if (!json || spz_record_render(&f, json, bound) == 0)
			abort(); /* the bound is too small */
		free(json);
	}
	int a = spz_record_decode((const char *)data, size, &fast, why, sizeof(why));
	int b = spz_record_decode_full((const char *)data, size, &full, why, sizeof(why));
	if (a != b)
		abort(); /* the two decoders disagree on accepting this input */
	if (a == 0) {
		if (!same(fast.id, full.id) || !same(fast.provider, full.provider) || !same(fast.model, full.model) ||
		    !same(fast.response_model, full.response_model) || !same(fast.run_id, full.run_id) ||
		    !same(fast.agent_name, full.agent_name) || !same(fast.started_at, full.started_at) ||
		    !same(fast.usage_source, full.usage_source) || fast.status != full.status ||
		    fast.latency_ms != full.latency_ms || fast.stream != full.stream || fast.pid != full.pid ||
		    memcmp(fast.tokens, full.tokens, sizeof(fast.tokens)) != 0)
			abort();
		spz_record_clear(&fast);
		spz_record_clear(&full);
	}
	return 0;
}
