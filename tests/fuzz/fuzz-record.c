/* libFuzzer: the collector's record decoder, which every datagram and spool
 * line goes through. */
#include <stddef.h>
#include <stdint.h>

#include "../../collector/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spz_record rec;
	char why[160];
	if (spz_record_decode((const char *)data, size, &rec, why, sizeof(why)) == 0)
		spz_record_clear(&rec);
	return 0;
}
