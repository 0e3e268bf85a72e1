#include "hpack_enc.h"

#include <string.h>

/* RFC 7541 Appendix A; index = position + 1. */
static const char *const static_table[][2] = {
	{ ":authority", "" },
	{ ":method", "GET" },
	{ ":method", "POST" },
	{ ":path", "/" },
	{ ":path", "/index.html" },
	{ ":scheme", "http" },
	{ ":scheme", "https" },
	{ ":status", "200" },
	{ ":status", "204" },
	{ ":status", "206" },
	{ ":status", "304" },
	{ ":status", "400" },
	{ ":status", "404" },
	{ ":status", "500" },
	{ "accept-charset", "" },
	{ "accept-encoding", "gzip, deflate" },
	{ "accept-language", "" },
	{ "accept-ranges", "" },
	{ "accept", "" },
	{ "access-control-allow-origin", "" },
	{ "age", "" },
	{ "allow", "" },
	{ "authorization", "" },
	{ "cache-control", "" },
	{ "content-disposition", "" },
	{ "content-encoding", "" },
	{ "content-language", "" },
	{ "content-length", "" },
	{ "content-location", "" },
	{ "content-range", "" },
	{ "content-type", "" },
	{ "cookie", "" },
	{ "date", "" },
	{ "etag", "" },
	{ "expect", "" },
	{ "expires", "" },
	{ "from", "" },
	{ "host", "" },
	{ "if-match", "" },
	{ "if-modified-since", "" },
	{ "if-none-match", "" },
	{ "if-range", "" },
	{ "if-unmodified-since", "" },
	{ "last-modified", "" },
	{ "link", "" },
	{ "location", "" },
	{ "max-forwards", "" },
	{ "proxy-authenticate", "" },
	{ "proxy-authorization", "" },
	{ "range", "" },
	{ "referer", "" },
	{ "refresh", "" },
	{ "retry-after", "" },
	{ "server", "" },
	{ "set-cookie", "" },
	{ "strict-transport-security", "" },
	{ "transfer-encoding", "" },
	{ "user-agent", "" },
	{ "vary", "" },
	{ "via", "" },
	{ "www-authenticate", "" },
};

_Static_assert(sizeof(static_table) / sizeof(static_table[0]) == 61, "RFC 7541 has 61 static entries");

size_t spz_hpack_put_int(uint8_t *out, size_t cap, uint8_t first, int prefix_bits, uint64_t value)
{
	uint64_t max_prefix = (1u << prefix_bits) - 1;
	if (cap == 0)
		return 0;
	if (value < max_prefix) {
		out[0] = (uint8_t)(first | value);
		return 1;
	}
	out[0] = (uint8_t)(first | max_prefix);
	size_t n = 1;
	value -= max_prefix;
	while (value >= 128) {
		if (n == cap)
			return 0;
		out[n++] = (uint8_t)(0x80 | (value & 0x7f));
		value >>= 7;
	}
	if (n == cap)
		return 0;
	out[n++] = (uint8_t)value;
	return n;
}

static size_t put_string(uint8_t *out, size_t cap, const char *s, size_t len)
{
	size_t n = spz_hpack_put_int(out, cap, 0x00, 7, len); /* H = 0: no Huffman */
	if (!n || cap - n < len)
		return 0;
	memcpy(out + n, s, len);
	return n + len;
}

size_t spz_hpack_put_field(uint8_t *out, size_t cap, const char *name, size_t nlen, const char *value, size_t vlen,
			   bool never_index)
{
	unsigned name_index = 0;
	for (unsigned i = 0; i < 61; i++) {
		const char *sn = static_table[i][0], *sv = static_table[i][1];
		if (strlen(sn) != nlen || memcmp(sn, name, nlen) != 0)
			continue;
		if (!never_index && strlen(sv) == vlen && vlen > 0 && memcmp(sv, value, vlen) == 0)
			return spz_hpack_put_int(out, cap, 0x80, 7, i + 1); /* indexed field */
		if (!name_index)
			name_index = i + 1;
	}
	/* Literal without indexing (0000) or never indexed (0001), 4-bit prefix. */
	uint8_t first = never_index ? 0x10 : 0x00;
	size_t n = spz_hpack_put_int(out, cap, first, 4, name_index);
	if (!n)
		return 0;
	if (!name_index) {
		size_t k = put_string(out + n, cap - n, name, nlen);
		if (!k)
			return 0;
		n += k;
	}
	size_t k = put_string(out + n, cap - n, value, vlen);
	return k ? n + k : 0;
}
