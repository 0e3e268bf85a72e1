/* HTTP/1.1 framing (RFC 9112): start line, header fields, Content-Length,
 * chunked coding with extensions and trailers, bodies ended by close. It only
 * observes: it never changes, buffers beyond one line, or assumes slice sizes. */
#include "http1.h"

#include <string.h>
#include <strings.h>

#include "scan.h"

enum {
	H_START,       /* start line */
	H_HEADER,      /* header lines */
	H_BODY_LENGTH,
	H_BODY_CLOSE,
	H_CHUNK_SIZE,  /* chunk-size [; ext] CRLF */
	H_CHUNK_DATA,
	H_CHUNK_CRLF,  /* CRLF after chunk data */
	H_TRAILER,
	H_DEAD
};

void spz_h1_init(struct spz_h1 *p, enum spz_h1_kind kind, const struct spz_h1_callbacks *cb, void *ud)
{
	memset(p, 0, offsetof(struct spz_h1, line));
	p->cb = cb;
	p->ud = ud;
	p->kind = kind;
	p->state = H_START;
	p->filter = (struct spz_header_filter){ ~0ull, ~0u };
}

bool spz_h1_idle(const struct spz_h1 *p)
{
	return p->state == H_START && p->line_len == 0;
}

static int parse_request_line(struct spz_h1 *p, const char *l, size_t n)
{
	size_t i = spz_scan_tchar(l, n);
	if (i == 0 || i >= n || l[i] != ' ')
		return -1;
	struct spz_h1_start s = { .method = l, .method_len = i };
	size_t t = ++i;
	while (i < n && l[i] != ' ')
		i++;
	if (i == t || i >= n)
		return -1;
	s.target = l + t;
	s.target_len = i - t;
	i++;
	if (n - i != 8 || memcmp(l + i, "HTTP/1.", 7) != 0 || (l[i + 7] != '0' && l[i + 7] != '1'))
		return -1;
	s.minor_version = l[i + 7] - '0';
	if (s.method_len == 7 && memcmp(s.method, "CONNECT", 7) == 0)
		p->upgraded = true;
	return p->cb->start ? p->cb->start(p->ud, &s) : 0;
}

static int parse_status_line(struct spz_h1 *p, const char *l, size_t n)
{
	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
		return -1;
	int status = 0;
	for (int k = 9; k < 12; k++) {
		if (l[k] < '0' || l[k] > '9')
			return -1;
		status = status * 10 + (l[k] - '0');
	}
	if (status < 100 || (n > 12 && l[12] != ' '))
		return -1;
	p->status = status;
	struct spz_h1_start s = { .status = status, .minor_version = l[7] - '0' };
	return p->cb->start ? p->cb->start(p->ud, &s) : 0;
}

static bool token_list_ends_with_chunked(const char *v, size_t n)
{
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	size_t e = n;
	while (e && v[e - 1] != ',' && v[e - 1] != ' ' && v[e - 1] != '\t')
		e--;
	return n - e == 7 && strncasecmp(v + e, "chunked", 7) == 0;
}

static int parse_header_line(struct spz_h1 *p, const char *l, size_t n)
{
	size_t i = spz_scan_tchar(l, n);
	if (i == 0 || i >= n || l[i] != ':')
		return -1;
	size_t name_len = i++;
	bool te = name_len == 17 && (l[0] | 0x20) == 't' && strncasecmp(l, "transfer-encoding", 17) == 0;
	bool cl = !te && name_len == 14 && (l[0] | 0x20) == 'c' && strncasecmp(l, "content-length", 14) == 0;
	bool wanted = spz_header_filter_passes(&p->filter, l, name_len);
	if (!te && !cl && !wanted)
		return 0; /* a field no one reads: its value is not even looked for */
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	size_t end = n;
	while (end > i && (l[end - 1] == ' ' || l[end - 1] == '\t'))
		end--;
	const char *v = l + i;
	size_t vlen = end - i;
	if (te) {
		p->chunked = token_list_ends_with_chunked(v, vlen);
	} else if (cl) {
		uint64_t length = 0;
		if (vlen == 0 || vlen > 19)
			return -1;
		for (size_t k = 0; k < vlen; k++) {
			if (v[k] < '0' || v[k] > '9')
				return -1;
			length = length * 10 + (uint64_t)(v[k] - '0');
		}
		if (p->has_length && length != p->content_length)
			return -1; /* conflicting lengths: request smuggling territory */
		p->has_length = true;
		p->content_length = length;
	}
	return wanted && p->cb->header ? p->cb->header(p->ud, l, name_len, v, vlen) : 0;
}

static int message_done(struct spz_h1 *p)
{
	p->state = p->upgraded ? H_DEAD : H_START;
	return p->cb->message_done ? p->cb->message_done(p->ud) : 0;
}

static int headers_done(struct spz_h1 *p)
{
	enum spz_h1_framing f;
	if (p->kind == SPZ_H1_RESPONSE && (p->status < 200 || p->status == 204 || p->status == 304))
		f = SPZ_H1_BODY_NONE;
	else if (p->chunked)
		f = SPZ_H1_BODY_CHUNKED;
	else if (p->has_length)
		f = SPZ_H1_BODY_LENGTH;
	else if (p->kind == SPZ_H1_RESPONSE)
		f = SPZ_H1_BODY_CLOSE;
	else
		f = SPZ_H1_BODY_NONE;
	if (p->kind == SPZ_H1_RESPONSE && p->status == 101)
		p->upgraded = true;
	if (p->cb->headers_done && p->cb->headers_done(p->ud, &f, p->content_length))
		return -1;
	p->framing = f;
	switch (f) {
	case SPZ_H1_BODY_NONE:
		return message_done(p);
	case SPZ_H1_BODY_LENGTH:
		p->remaining = p->content_length;
		if (p->remaining == 0)
			return message_done(p);
		p->state = H_BODY_LENGTH;
		return 0;
	case SPZ_H1_BODY_CHUNKED:
		p->state = H_CHUNK_SIZE;
		return 0;
	case SPZ_H1_BODY_CLOSE:
		p->state = H_BODY_CLOSE;
		return 0;
	}
	return -1;
}

static int parse_chunk_size(struct spz_h1 *p, const char *l, size_t n)
{
	uint64_t size = 0;
	size_t i = 0;
	for (; i < n; i++) {
		char c = l[i];
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		if (size >> 60)
			return -1;
		size = (size << 4) | (uint64_t)d;
	}
	if (i == 0)
		return -1;
	/* The rest may be whitespace and chunk extensions (";name=value"). */
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i < n && l[i] != ';')
		return -1;
	if (size == 0) {
		p->state = H_TRAILER;
		return 0;
	}
	p->remaining = size;
	p->state = H_CHUNK_DATA;
	return 0;
}

/* A whole line, without its line end: in the slice or in the line buffer. */
static int line_complete(struct spz_h1 *p, const char *l, size_t n)
{
	switch (p->state) {
	case H_START:
		if (n == 0)
			return 0; /* RFC 9112 2.2: ignore empty lines before a request line */
		p->chunked = false;
		p->has_length = false;
		p->content_length = 0;
		p->status = 0;
		p->state = H_HEADER;
		return p->kind == SPZ_H1_REQUEST ? parse_request_line(p, l, n) : parse_status_line(p, l, n);
	case H_HEADER:
		if (n == 0)
			return headers_done(p);
		if (l[0] == ' ' || l[0] == '\t')
			return 0; /* obsolete line folding: the continuation is not needed */
		return parse_header_line(p, l, n);
	case H_CHUNK_SIZE:
		return parse_chunk_size(p, l, n);
	case H_CHUNK_CRLF:
		if (n != 0)
			return -1;
		p->state = H_CHUNK_SIZE;
		return 0;
	case H_TRAILER:
		if (n == 0)
			return message_done(p);
		return 0; /* trailer fields carry nothing we read */
	}
	return -1;
}

int spz_h1_feed(struct spz_h1 *p, const char *buf, size_t len)
{
	size_t i = 0;
	if (p->error)
		return -1;
	while (i < len) {
		switch (p->state) {
		case H_DEAD:
			return 0;
		case H_BODY_LENGTH:
		case H_CHUNK_DATA: {
			size_t n = len - i;
			if (n > p->remaining)
				n = (size_t)p->remaining;
			if (p->cb->body && p->cb->body(p->ud, buf + i, n))
				goto fail;
			i += n;
			p->remaining -= n;
			if (p->remaining == 0) {
				if (p->state == H_CHUNK_DATA)
					p->state = H_CHUNK_CRLF;
				else if (message_done(p))
					goto fail;
			}
			continue;
		}
		case H_BODY_CLOSE:
			if (p->cb->body && p->cb->body(p->ud, buf + i, len - i))
				goto fail;
			return 0;
		default: {
			/* Line-oriented states: collect up to LF; a CR before it is dropped. */
			const char *nl = memchr(buf + i, '\n', len - i);
			size_t n = nl ? (size_t)(nl - (buf + i)) : len - i;
			if (nl && p->line_len == 0) {
				/* The whole line is in the slice: read where it is. */
				const char *l = buf + i;
				if (n > SPZ_H1_LINE_MAX)
					goto fail;
				i += n + 1;
				if (n && l[n - 1] == '\r')
					n--;
				if (line_complete(p, l, n))
					goto fail;
				continue;
			}
			if (p->line_len + n > SPZ_H1_LINE_MAX)
				goto fail;
			memcpy(p->line + p->line_len, buf + i, n);
			p->line_len += n;
			i += n;
			if (!nl)
				return 0;
			i++; /* the LF */
			if (p->line_len && p->line[p->line_len - 1] == '\r')
				p->line_len--;
			n = p->line_len;
			p->line_len = 0;
			if (line_complete(p, p->line, n))
				goto fail;
			continue;
		}
		}
	}
	return 0;
fail:
	p->error = true;
	p->state = H_DEAD;
	return -1;
}

int spz_h1_finish(struct spz_h1 *p)
{
	if (p->error)
		return 0;
	if (p->state == H_BODY_CLOSE) {
		p->state = H_START;
		if (p->cb->message_done)
			p->cb->message_done(p->ud);
		return 0;
	}
	if (p->state == H_START && p->line_len == 0)
		return 0;
	if (p->state == H_DEAD)
		return 0;
	return 1;
}
