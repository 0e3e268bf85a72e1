/* Server-sent events parser. Streams data bytes to its callback and keeps only
 * a field name and the event type; it never allocates or copies data. */
#include "sse.h"

#include <string.h>

#include "scan.h"

enum { L_START, L_NAME, L_SPACE, L_VALUE, L_COMMENT };

void spz_sse_init(struct spz_sse *p, const struct spz_sse_callbacks *cb, void *ud)
{
	memset(p, 0, sizeof(*p));
	p->cb = cb;
	p->ud = ud;
	p->state = L_START;
}

static void field_begin(struct spz_sse *p)
{
	p->name[p->name_len] = '\0';
	p->field_is_data = strcmp(p->name, "data") == 0;
	p->field_is_event = strcmp(p->name, "event") == 0;
	if (p->field_is_data) {
		if (p->has_data && p->cb->data)
			p->cb->data(p->ud, "\n", 1);
		p->has_data = true;
	} else if (p->field_is_event) {
		p->event_len = 0;
	}
}

static void field_value(struct spz_sse *p, const char *buf, size_t len)
{
	if (p->field_is_data) {
		if (p->cb->data && len)
			p->cb->data(p->ud, buf, len);
	} else if (p->field_is_event) {
		size_t room = SPZ_SSE_EVENT_MAX - p->event_len;
		if (len > room)
			len = room;
		memcpy(p->event + p->event_len, buf, len);
		p->event_len += len;
	}
}

static void blank_line(struct spz_sse *p)
{
	if (p->has_data && p->cb->dispatch) {
		p->event[p->event_len] = '\0';
		p->cb->dispatch(p->ud, p->event);
	}
	p->has_data = false;
	p->event_len = 0;
}

static void line_end(struct spz_sse *p)
{
	switch (p->state) {
	case L_START:
		blank_line(p);
		break;
	case L_NAME: /* a line with a name and no colon: the value is empty */
		field_begin(p);
		break;
	default:
		break;
	}
	p->state = L_START;
	p->name_len = 0;
}

void spz_sse_feed(struct spz_sse *p, const char *buf, size_t len)
{
	size_t i = 0;
	if (!p->bom_checked) {
		static const char bom[3] = { (char)0xEF, (char)0xBB, (char)0xBF };
		while (i < len && p->bom_pos < 3 && buf[i] == bom[p->bom_pos]) {
			p->bom_pos++;
			i++;
		}
		if (p->bom_pos == 3 || i < len) {
			/* A partial BOM that stopped matching was real content. */
			if (p->bom_pos > 0 && p->bom_pos < 3) {
				p->bom_checked = true;
				spz_sse_feed(p, bom, p->bom_pos);
			}
			p->bom_checked = true;
		}
		if (!p->bom_checked)
			return;
	}
	while (i < len) {
		char c = buf[i];
		if (p->after_cr) {
			p->after_cr = false;
			if (c == '\n') {
				i++;
				continue;
			}
		}
		if (c == '\r' || c == '\n') {
			line_end(p);
			p->after_cr = c == '\r';
			i++;
			continue;
		}
		switch (p->state) {
		case L_START:
			if (c == ':') {
				p->state = L_COMMENT;
				i++;
				continue;
			}
			p->state = L_NAME;
			p->name_len = 0;
			/* fall through */
		case L_NAME:
			if (c == ':') {
				field_begin(p);
				p->state = L_SPACE;
			} else if (p->name_len < SPZ_SSE_NAME_MAX) {
				p->name[p->name_len++] = c;
			} else {
				p->name[0] = '\x01'; /* too long: matches no field */
			}
			i++;
			continue;
		case L_SPACE:
			p->state = L_VALUE;
			if (c == ' ') {
				i++;
				continue;
			}
			/* fall through */
		case L_VALUE: {
			size_t j = i + spz_scan_line(buf + i, len - i);
			field_value(p, buf + i, j - i);
			i = j;
			continue;
		}
		case L_COMMENT:
			i += spz_scan_line(buf + i, len - i);
			continue;
		}
	}
}

void spz_sse_finish(struct spz_sse *p)
{
	p->has_data = false;
	p->event_len = 0;
	p->state = L_START;
	p->name_len = 0;
}
