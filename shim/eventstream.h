/* Incremental parser for AWS's binary event stream framing
 * (application/vnd.amazon.eventstream), as Bedrock's ConverseStream and
 * InvokeModelWithResponseStream send it: per message a 12-byte prelude
 * (total length, headers length, prelude CRC32), headers, payload, and a
 * CRC32 of the whole message. Payload bytes are streamed out as they come. */
#ifndef SPZ_EVENTSTREAM_H
#define SPZ_EVENTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPZ_ES_HEADERS_MAX 1024     /* header block bytes followed */
#define SPZ_ES_MESSAGE_MAX (16u << 20) /* the format's own limit: 16 MiB */
#define SPZ_ES_VALUE_MAX 64

struct spz_es_callbacks {
	/* Headers parsed; the message's :event-type and :message-type. */
	void (*message_begin)(void *ud, const char *event_type, const char *message_type);
	void (*payload)(void *ud, const char *buf, size_t len);
	/* The message ended; crc_ok says whether its CRC matched. */
	void (*message_end)(void *ud, bool crc_ok);
};

struct spz_eventstream {
	const struct spz_es_callbacks *cb;
	void *ud;
	uint8_t state;
	bool error;
	uint32_t total_len, headers_len, payload_left;
	uint32_t crc;  /* running CRC32 of the message so far */
	size_t have;   /* bytes collected in buf for the current state */
	uint8_t buf[SPZ_ES_HEADERS_MAX];
	char event_type[SPZ_ES_VALUE_MAX + 1];
	char message_type[SPZ_ES_VALUE_MAX + 1];
};

void spz_es_init(struct spz_eventstream *p, const struct spz_es_callbacks *cb, void *ud);
/* Returns 0, or -1 once the framing is broken (then ignores the rest). */
int spz_es_feed(struct spz_eventstream *p, const char *buf, size_t len);

#endif
