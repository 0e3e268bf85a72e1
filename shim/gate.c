/* The budget gate for HTTP/1.1: at the first write of a request, before any
 * byte reaches the provider, a call covered by a breached hard cap is
 * refused. Its bytes (the body too, by Content-Length or chunk framing) are
 * taken from the client as if written and dropped, and bytes after it in the
 * same write go to the server; the client then reads a provider-style 429
 * from the shim; the connection stays in step with the server, which never
 * saw the request. A head split over writes is held back (reported
 * written, kept here) until it is whole and judged; then it is dropped, or
 * written with what followed it in the client's last write. */
#include "gate.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "attr.h"
#include "budget.h"
#include "call.h"
#include "config.h"
#include "exchange.h"
#include "log.h"
#include "provider.h"
#include "refusal.h"

int64_t spz_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *find_crlfcrlf(const char *buf, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
			return buf + i;
	return NULL;
}

/* The innermost agent the call's record would name. */
static void agent_of(const char *hdr_agent, char *out, size_t cap)
{
	out[0] = '\0';
	char *attr = spz_attr_render(&spz_config()->attr, NULL, hdr_agent, NULL, NULL);
	if (!attr)
		return;
	const char *k = strstr(attr, "\"agentName\":\"");
	if (k) {
		k += 13;
		size_t n = 0;
		while (k[n] && k[n] != '"' && k[n] != '\\' && n + 1 < cap)
			n++;
		if (k[n] == '"') { /* an escaped name is compared as not matching: the call goes through */
			memcpy(out, k, n);
			out[n] = '\0';
		}
	}
	free(attr);
}

static enum spz_error_shape shape_for(const char *provider)
{
	if (!provider)
		return SPZ_SHAPE_OPENAI;
	if (strcmp(provider, "anthropic") == 0)
		return SPZ_SHAPE_ANTHROPIC;
	if (strcmp(provider, "gemini") == 0 || strcmp(provider, "vertex") == 0)
		return SPZ_SHAPE_GOOGLE;
	if (strcmp(provider, "bedrock") == 0 || strcmp(provider, "cohere") == 0)
		return SPZ_SHAPE_MESSAGE;
	return SPZ_SHAPE_OPENAI;
}

static void say_once(bool *said, const char *what)
{
	if (!*said) {
		*said = true;
		spz_log("budget gate: %s; the call goes through", what);
	}
}

enum {
	CK_SIZE,	  /* hex digits of a chunk size */
	CK_EXT,		  /* chunk extensions, up to CR */
	CK_SIZE_LF,
	CK_DATA,
	CK_DATA_CR,
	CK_DATA_LF,
	CK_TRAILER_START, /* a trailer line or the final CRLF */
	CK_TRAILER_LINE,
	CK_TRAILER_LF,
	CK_END_LF,
};

static int hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Drops the refused request's body: returns how many of these bytes are
 * its, ending the swallow at its last byte. A chunked body ends at the
 * zero-size chunk and its trailers (RFC 9112 7.1). */
static size_t swallow(struct spz_gate *g, const char *buf, size_t len)
{
	static bool said_bad;
	if (!g->chunked) {
		size_t k = len < g->swallow_left ? len : (size_t)g->swallow_left;
		g->swallow_left -= k;
		g->swallowing = g->swallow_left > 0;
		return k;
	}
	size_t i = 0;
	while (i < len && g->swallowing) {
		char c = buf[i];
		switch (g->chunk_state) {
		case CK_SIZE:
			if (hex(c) >= 0 && g->chunk_digits < 15) {
				g->swallow_left = g->swallow_left * 16 + (uint64_t)hex(c);
				g->chunk_digits++;
			} else if (g->chunk_digits && (c == ';' || c == ' ' || c == '\t')) {
				g->chunk_state = CK_EXT;
			} else if (g->chunk_digits && c == '\r') {
				g->chunk_state = CK_SIZE_LF;
			} else {
				goto bad;
			}
			i++;
			break;
		case CK_EXT:
			if (c == '\r')
				g->chunk_state = CK_SIZE_LF;
			i++;
			break;
		case CK_SIZE_LF:
			if (c != '\n')
				goto bad;
			g->chunk_state = g->swallow_left ? CK_DATA : CK_TRAILER_START;
			i++;
			break;
		case CK_DATA: {
			size_t k = len - i < g->swallow_left ? len - i : (size_t)g->swallow_left;
			g->swallow_left -= k;
			i += k;
			if (!g->swallow_left)
				g->chunk_state = CK_DATA_CR;
			break;
		}
		case CK_DATA_CR:
		case CK_TRAILER_LF:
		case CK_END_LF:
			if (c != (g->chunk_state == CK_DATA_CR ? '\r' : '\n'))
				goto bad;
			if (g->chunk_state == CK_END_LF)
				g->swallowing = false;
			g->chunk_state = g->chunk_state == CK_DATA_CR ? CK_DATA_LF : CK_TRAILER_START;
			i++;
			break;
		case CK_DATA_LF:
			if (c != '\n')
				goto bad;
			g->chunk_state = CK_SIZE;
			g->chunk_digits = 0;
			i++;
			break;
		case CK_TRAILER_START:
			g->chunk_state = c == '\r' ? CK_END_LF : CK_TRAILER_LINE;
			i++;
			break;
		case CK_TRAILER_LINE:
			if (c == '\r')
				g->chunk_state = CK_TRAILER_LF;
			i++;
			break;
		}
	}
	return i;
bad:
	/* Not chunked framing: the server would have refused it too. What
	 * came is dropped; what follows goes to the server as it is. */
	if (!said_bad)
		spz_log("budget gate: a refused request's chunked body is malformed; dropped what came of it");
	said_bad = true;
	g->swallowing = false;
	return len;
}

bool spz_gate_judge(const struct spz_req_head *h, int64_t now_ms, struct spz_budget_verdict *v, char *agent,
		    size_t cap, enum spz_error_shape *shape)
{
	const char *provider = spz_provider_for_host(h->host, strlen(h->host));
	if (!spz_api_for_request(provider, h->method, h->method_len, h->path, h->path_len))
		return false; /* not an LLM call */
	agent_of(h->hdr_agent, agent, cap);
	spz_budget_check(agent, now_ms, v);
	if (v->warn)
		spz_budget_warn_once(&v->entry, agent);
	*shape = shape_for(provider);
	return v->refuse;
}

void spz_gate_record_refusal(const struct spz_req_head *h, const struct spz_budget_verdict *v, const char *agent)
{
	/* The refusal is recorded locally (never sent to the gateway). */
	struct spz_call *call = spz_call_start(h, 0);
	if (call) {
		call->status = 429;
		call->refused = true;
		memcpy(call->refusal.budget_id, v->entry.budget_id, sizeof(call->refusal.budget_id));
		call->refusal.budget_id[sizeof(call->refusal.budget_id) - 1] = '\0';
		call->refusal.scope = v->entry.scope;
		call->refusal.period = v->entry.period;
		call->refusal.limit_pusd = v->entry.limit_pusd;
		call->refusal.current_pusd = v->entry.current_pusd;
		spz_call_finish(call);
	}
	spz_log("budget %s refused a call of agent \"%s\" to %s%s", v->entry.budget_id, agent, h->host, h->path);
}

/* A request head complete at the start of buf[0, len): returns how many
 * bytes are the refused request's (head and body), 0 if it goes through. */
static size_t judge_head(struct spz_gate *g, int64_t now, const char *buf, const char *end, size_t len)
{
	/* The request line and the headers the decision needs. */
	struct spz_req_head h;
	spz_req_head_reset(&h);
	const char *line_end = memchr(buf, '\r', (size_t)(end - buf) + 1);
	const char *sp1 = memchr(buf, ' ', (size_t)(line_end - buf));
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
	if (!sp1 || !sp2)
		return 0;
	spz_req_head_target(&h, buf, (size_t)(sp1 - buf), sp1 + 1, (size_t)(sp2 - sp1 - 1));
	uint64_t content_length = 0;
	bool chunked = false;
	for (const char *p = line_end + 2; p < end;) {
		const char *eol = memchr(p, '\r', (size_t)(end - p) + 1);
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (colon) {
			const char *v = colon + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			size_t nlen = (size_t)(colon - p), vlen = (size_t)(eol - v);
			spz_req_head_header(&h, p, nlen, v, vlen);
			if (nlen == 14 && strncasecmp(p, "content-length", 14) == 0)
				content_length = strtoull(v, NULL, 10);
			else if (nlen == 17 && strncasecmp(p, "transfer-encoding", 17) == 0 && vlen >= 7 &&
				 strncasecmp(v + vlen - 7, "chunked", 7) == 0)
				chunked = true;
		}
		p = eol + 2;
	}
	char agent[SPZ_BUDGET_AGENT_MAX];
	struct spz_budget_verdict v;
	enum spz_error_shape shape;
	if (!spz_gate_judge(&h, now, &v, agent, sizeof(agent), &shape))
		return 0;
	size_t head_len = (size_t)(end + 4 - buf);
	char *resp = malloc(2048);
	size_t rlen = resp ? spz_refusal_http1(shape, &v.entry, agent, false, resp, 2048) : 0;
	if (!rlen) {
		free(resp);
		return 0;
	}
	free(g->resp);
	g->resp = resp;
	g->resp_len = rlen;
	g->resp_pos = 0;
	g->chunked = chunked;
	g->chunk_state = CK_SIZE;
	g->chunk_digits = 0;
	g->swallow_left = chunked ? 0 : content_length;
	g->swallowing = chunked || content_length > 0;
	size_t taken = head_len + (g->swallowing ? swallow(g, buf + head_len, len - head_len) : 0);
	spz_gate_record_refusal(&h, &v, agent);
	return taken;
}

/* The start of a request line: a method token and a space, or a token that
 * may still become one. */
static bool request_start(const char *buf, size_t len)
{
	size_t i = 0;
	while (i < len && i < 16 && buf[i] >= 'A' && buf[i] <= 'Z')
		i++;
	return i > 0 && (i == len || (i < 16 && buf[i] == ' '));
}

/* The plan stands for all the client wrote this time (len bytes). */
static size_t use_plan(struct spz_gate *g, size_t from, size_t len, const char **out, size_t *out_len)
{
	g->plan_len = g->held_len - from;
	memmove(g->held, g->held + from, g->plan_len);
	g->held_len = 0;
	if (g->plan_len == 0)
		return len; /* all of it was the refused request's */
	g->plan_live = true;
	g->plan_client = len;
	*out = g->held;
	*out_len = g->plan_len;
	return 0;
}

size_t spz_gate_write(struct spz_gate *g, bool at_boundary, bool may_hold, const char *buf, size_t len,
		      const char **out, size_t *out_len)
{
	static bool said_split;
	*out = NULL;
	if (g->plan_live) {
		g->plan_live = false;
		if (len >= g->plan_client) {
			/* the retry of a failed write: the same bytes in its place */
			g->plan_live = true;
			*out = g->held;
			*out_len = g->plan_len;
			return 0;
		}
	}
	if (g->retry_taken) {
		/* The same bytes again after a failed write: their start is ours. */
		size_t k = g->retry_taken <= len ? g->retry_taken : 0;
		g->retry_taken = 0;
		return k;
	}
	if (g->swallowing)
		return swallow(g, buf, len);
	int64_t now = spz_wall_ms();
	if (g->held_len) {
		/* A head held back: it goes on here. */
		size_t from = g->held_len > 3 ? g->held_len - 3 : 0;
		if (g->held_cap - g->held_len < len) {
			size_t cap = (g->held_len + len) * 2;
			char *p = realloc(g->held, cap);
			if (!p) {
				/* no memory: the held bytes are lost to the server, which
				 * will answer 400 or wait; nothing better is possible */
				g->held_len = 0;
				return 0;
			}
			g->held = p;
			g->held_cap = cap;
		}
		memcpy(g->held + g->held_len, buf, len);
		g->held_len += len;
		const char *end = find_crlfcrlf(g->held + from, g->held_len - from);
		if (end)
			return use_plan(g, judge_head(g, now, g->held, end, g->held_len), len, out, out_len);
		if (g->held_len > SPZ_GATE_HOLD_MAX) {
			/* not a head we can judge: all of it goes, as it came */
			say_once(&said_split, "a request head longer than the gate holds cannot be checked");
			return use_plan(g, 0, len, out, out_len);
		}
		return len; /* still incomplete: held, reported written */
	}
	if (!at_boundary || !spz_budget_armed(now))
		return 0;
	const char *end = find_crlfcrlf(buf, len);
	if (!end) {
		if (!may_hold || !request_start(buf, len) || len > SPZ_GATE_HOLD_MAX) {
			say_once(&said_split, "a request head split over writes cannot be checked");
			return 0;
		}
		/* The head comes in pieces: none of it leaves before it is whole
		 * and judged. The client must write the rest: a server waits for
		 * it too. */
		char *p = malloc(len < 512 ? 1024 : len * 2);
		if (!p)
			return 0;
		free(g->held);
		g->held = p;
		g->held_cap = len < 512 ? 1024 : len * 2;
		memcpy(g->held, buf, len);
		g->held_len = len;
		return len;
	}
	return judge_head(g, now, buf, end, len);
}

size_t spz_gate_read(struct spz_gate *g, char *buf, size_t cap)
{
	size_t n = g->resp_len - g->resp_pos;
	if (n > cap)
		n = cap;
	memcpy(buf, g->resp + g->resp_pos, n);
	g->resp_pos += n;
	if (g->resp_pos == g->resp_len) {
		free(g->resp);
		g->resp = NULL;
		g->resp_len = g->resp_pos = 0;
	}
	return n;
}

size_t spz_gate_peek(const struct spz_gate *g, char *buf, size_t cap)
{
	size_t n = spz_gate_pending(g);
	if (n > cap)
		n = cap;
	if (n)
		memcpy(buf, g->resp + g->resp_pos, n);
	return n;
}

void spz_gate_clear(struct spz_gate *g)
{
	free(g->held);
	free(g->resp);
	memset(g, 0, sizeof(*g));
}
