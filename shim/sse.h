/* Incremental parser for server-sent events (text/event-stream), as the HTML
 * standard defines them: CRLF, LF or CR line ends, "field: value" lines,
 * comments, blank-line dispatch. Data is streamed out, never buffered, so an
 * event of any size costs no memory. */
#ifndef SPZ_SSE_H
#define SPZ_SSE_H

#include <stdbool.h>
#include <stddef.h>

#define SPZ_SSE_NAME_MAX 16   /* field names kept (data, event, id, retry) */
#define SPZ_SSE_EVENT_MAX 64  /* event type kept */

struct spz_sse_callbacks {
	/* Bytes of the current event's data buffer, in order; lines of a
	 * multi-line data field are joined by "\n" as the standard says. */
	void (*data)(void *ud, const char *buf, size_t len);
	/* The event is complete (blank line) and had at least one data line. */
	void (*dispatch)(void *ud, const char *event_type);
};

struct spz_sse {
	const struct spz_sse_callbacks *cb;
	void *ud;
	unsigned char state;
	bool after_cr;    /* the previous line ended in CR: a following LF belongs to it */
	bool bom_checked;
	unsigned char bom_pos;
	bool has_data;    /* this event has had a data line */
	bool field_is_data;
	bool field_is_event;
	char name[SPZ_SSE_NAME_MAX + 1];
	size_t name_len;
	char event[SPZ_SSE_EVENT_MAX + 1];
	size_t event_len;
};

void spz_sse_init(struct spz_sse *p, const struct spz_sse_callbacks *cb, void *ud);
void spz_sse_feed(struct spz_sse *p, const char *buf, size_t len);
/* End of stream: an event without its final blank line is dropped, as the
 * standard says. */
void spz_sse_finish(struct spz_sse *p);

#endif
