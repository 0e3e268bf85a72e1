/* TLS over memory BIOs in one process, so that only SSL_write/SSL_read and
 * what hooks them are measured (no sockets, no scheduler). Two workloads:
 *   opaque  the client sends 16 KiB records of non-HTTP bytes (what the shim
 *           marks as not its business on the first write)
 *   llm     the client sends an OpenAI chat request; the server answers with
 *           a long SSE stream (chunked), read 4 KiB at a time, and the last
 *           event carries usage: the shim parses every byte of it
 *   calls   ARG calls on one keep-alive connection, each a request and a
 *           ~4 KB streamed answer with usage: the cost of a typical call
 *   json    ARG calls as Python's http.client makes them: the head and the
 *           body in two writes, a ~1 KB JSON answer (not streamed) read
 *           8 KiB at a time: the fixed cost of a call
 * Prints seconds of CPU and MB/s. scripts/bench.sh runs it with and without
 * the shim and prints the ratios. Usage: bench-ssl opaque|llm CERT KEY MB, or calls|json CERT KEY COUNT */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static SSL *client, *server;

/* Moves what each side wrote to the other's read BIO. */
static void pump(BIO *c_out, BIO *s_in, BIO *s_out, BIO *c_in)
{
	char buf[65536];
	int n;
	while ((n = BIO_read(c_out, buf, sizeof(buf))) > 0)
		BIO_write(s_in, buf, n);
	while ((n = BIO_read(s_out, buf, sizeof(buf))) > 0)
		BIO_write(c_in, buf, n);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: bench-ssl opaque|llm CERT KEY MB, or bench-ssl calls|json CERT KEY COUNT\n");
		return 2;
	}
	int llm = strcmp(argv[1], "llm") == 0, calls = strcmp(argv[1], "calls") == 0;
	int json = strcmp(argv[1], "json") == 0;
	size_t total = (size_t)atol(argv[4]) << 20; /* MB, or the call count */
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method()), *cctx = SSL_CTX_new(TLS_client_method());
	if (SSL_CTX_use_certificate_chain_file(sctx, argv[2]) != 1 || SSL_CTX_use_PrivateKey_file(sctx, argv[3], SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
	BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
	client = SSL_new(cctx);
	server = SSL_new(sctx);
	SSL_set_bio(client, c_in, c_out);
	SSL_set_bio(server, s_in, s_out);
	SSL_set_connect_state(client);
	SSL_set_accept_state(server);
	for (int i = 0; i < 50 && (!SSL_is_init_finished(client) || !SSL_is_init_finished(server)); i++) {
		SSL_do_handshake(client);
		pump(c_out, s_in, s_out, c_in);
		SSL_do_handshake(server);
		pump(c_out, s_in, s_out, c_in);
	}
	static char buf[16384], rbuf[65536];
	size_t moved = 0;
	double t0 = cpu_seconds();
	if (json) {
		const char *rbody = "{\"messages\": [{\"content\": \"Hello! How are you doing?\", \"role\": \"user\"}], "
				    "\"model\": \"gpt-4o\", \"stream\": false}";
		char req[512];
		int rl = snprintf(req, sizeof(req), "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
				  "Accept-Encoding: identity\r\nContent-Length: %zu\r\nContent-Type: application/json\r\n\r\n",
				  strlen(rbody));
		const char *answer =
			"{\n  \"id\": \"chatcmpl-C9VBMiEq0GYAxsZn9U6FURAbS9Lau\",\n  \"object\": \"chat.completion\",\n"
			"  \"created\": 1756380852,\n  \"model\": \"gpt-4o-2024-08-06\",\n  \"choices\": [\n    {\n"
			"      \"index\": 0,\n      \"message\": {\n        \"role\": \"assistant\",\n"
			"        \"content\": \"Hello! I'm just a computer program, so I don't have feelings, but I'm here and "
			"ready to help you. How can I assist you today?\",\n        \"refusal\": null,\n"
			"        \"annotations\": []\n      },\n      \"logprobs\": null,\n      \"finish_reason\": \"stop\"\n"
			"    }\n  ],\n  \"usage\": {\n    \"prompt_tokens\": 14,\n    \"completion_tokens\": 30,\n"
			"    \"total_tokens\": 44,\n    \"prompt_tokens_details\": {\n      \"cached_tokens\": 0,\n"
			"      \"audio_tokens\": 0\n    },\n    \"completion_tokens_details\": {\n      \"audio_tokens\": 0,\n"
			"      \"reasoning_tokens\": 0,\n      \"accepted_prediction_tokens\": 0,\n"
			"      \"rejected_prediction_tokens\": 0\n    }\n  },\n  \"service_tier\": \"default\",\n"
			"  \"system_fingerprint\": \"fp_07871e2ad8\"\n}\n";
		char head[2048];
		int hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
				  "openai-processing-ms: 825\r\nx-request-id: req_0123456789abcdef\r\n"
				  "content-length: %zu\r\n\r\n%s", strlen(answer), answer);
		long count = atol(argv[4]);
		for (long c = 0; c < count; c++) {
			SSL_write(client, req, rl);
			SSL_write(client, rbody, (int)strlen(rbody));
			pump(c_out, s_in, s_out, c_in);
			while (SSL_read(server, rbuf, sizeof(rbuf)) > 0)
				;
			SSL_write(server, head, hl);
			pump(c_out, s_in, s_out, c_in);
			while (SSL_read(client, rbuf, 8192) > 0)
				;
		}
		double t = cpu_seconds() - t0;
		printf("json %.4f s %.2f us/call\n", t, t * 1e6 / (double)count);
		return 0;
	}
	if (calls) {
		const char *rbody = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
				    "\"messages\":[{\"role\":\"user\",\"content\":\"Say hello.\"}]}";
		char req[512];
		snprintf(req, sizeof(req), "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(rbody), rbody);
		const char *ev = "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\","
				 "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" token\"},\"finish_reason\":null}],\"usage\":null}\n\n";
		const char *last = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":25}}\n\ndata: [DONE]\n\n";
		size_t n = 0;
		for (int k = 0; k < 25; k++)
			n += (size_t)sprintf(buf + n, "%s", ev);
		n += (size_t)sprintf(buf + n, "%s", last);
		char head[256];
		int hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %zu\r\n\r\n", n);
		long count = atol(argv[4]);
		for (long c = 0; c < count; c++) {
			SSL_write(client, req, (int)strlen(req));
			pump(c_out, s_in, s_out, c_in);
			while (SSL_read(server, rbuf, sizeof(rbuf)) > 0)
				;
			SSL_write(server, head, hl);
			SSL_write(server, buf, (int)n);
			pump(c_out, s_in, s_out, c_in);
			int r;
			while ((r = SSL_read(client, rbuf, 4096)) > 0)
				moved += (size_t)r;
		}
		double t = cpu_seconds() - t0;
		printf("calls %.4f s %.2f us/call\n", t, t * 1e6 / (double)count);
		return 0;
	}
	if (!llm) {
		memset(buf, 0xAB, sizeof(buf));
		while (moved < total) {
			if (SSL_write(client, buf, sizeof(buf)) <= 0)
				return 1;
			pump(c_out, s_in, s_out, c_in);
			int n;
			while ((n = SSL_read(server, rbuf, sizeof(rbuf))) > 0)
				moved += (size_t)n;
		}
	} else {
		const char *body = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
		char req[512];
		int rl = snprintf(req, sizeof(req), "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
				  "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
		SSL_write(client, req, rl);
		pump(c_out, s_in, s_out, c_in);
		while (SSL_read(server, rbuf, sizeof(rbuf)) > 0)
			;
		const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
		SSL_write(server, head, (int)strlen(head));
		const char *ev = "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\","
				 "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" token\"},\"finish_reason\":null}],\"usage\":null}\n\n";
		size_t evl = strlen(ev);
		while (moved < total) {
			/* one chunk of events per server write */
			size_t n = 0;
			while (n + evl < sizeof(buf) - 16)
				memcpy(buf + n, ev, evl), n += evl;
			char size[16];
			int sl = snprintf(size, sizeof(size), "%zx\r\n", n);
			SSL_write(server, size, sl);
			SSL_write(server, buf, (int)n);
			SSL_write(server, "\r\n", 2);
			pump(c_out, s_in, s_out, c_in);
			int r;
			while ((r = SSL_read(client, rbuf, 4096)) > 0)
				moved += (size_t)r;
		}
		const char *last = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":99}}\n\ndata: [DONE]\n\n";
		char size[16];
		int sl = snprintf(size, sizeof(size), "%zx\r\n", strlen(last));
		SSL_write(server, size, sl);
		SSL_write(server, last, (int)strlen(last));
		SSL_write(server, "\r\n0\r\n\r\n", 7);
		pump(c_out, s_in, s_out, c_in);
		while (SSL_read(client, rbuf, 4096) > 0)
			;
	}
	double t = cpu_seconds() - t0;
	printf("%s %.4f s %.1f MB/s\n", argv[1], t, (double)moved / 1e6 / t);
	SSL_free(client);
	SSL_free(server);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	return 0;
}
