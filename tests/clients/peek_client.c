/* A client that looks before it reads, as PHP streams and event loops do:
 * after writing a request it asks SSL_pending / SSL_has_pending whether a
 * response is buffered and peeks at it (SSL_peek, SSL_peek_ex) before it
 * reads. Only when nothing is buffered does it wait on the socket. Prints one
 * JSON line: what each call saw and the response's first line.
 * Usage: peek-client PORT CA_FILE HOST PATH BODY_FILE AGENT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 7)
		return 2;
	FILE *f = fopen(argv[5], "rb");
	if (!f)
		return 2;
	static char body[1 << 16];
	size_t blen = fread(body, 1, sizeof(body), f);
	fclose(f);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return 3;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_locations(ctx, argv[2], NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL *s = SSL_new(ctx);
	SSL_set_fd(s, fd);
	SSL_set_tlsext_host_name(s, "localhost");
	if (SSL_connect(s) != 1)
		return 4;
	static char req[1 << 17];
	int n = snprintf(req, sizeof(req),
			 "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			 "x-spaturzu-agent: %s\r\n\r\n",
			 argv[4], argv[3], blen, argv[6]);
	memcpy(req + n, body, blen);
	if (SSL_write(s, req, n + (int)blen) != n + (int)blen)
		return 5;
	int pending = SSL_pending(s), has_pending = SSL_has_pending(s);
	char peek[64] = "", peek_ex[64] = "";
	int waited = 0;
	if (!pending && !has_pending) {
		/* Nothing buffered: wait for the socket, as such clients do. */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		waited = poll(&p, 1, 5000) > 0 ? 1 : -1;
	} else {
		int k = SSL_peek(s, peek, 12);
		size_t got = 0;
		if (k > 0 && SSL_peek_ex(s, peek_ex, 12, &got) == 1)
			peek_ex[got] = '\0';
	}
	static char resp[1 << 16];
	size_t total = 0;
	for (;;) {
		int k = SSL_read(s, resp + total, (int)(sizeof(resp) - 1 - total));
		if (k <= 0)
			break;
		total += (size_t)k;
		resp[total] = '\0';
		char *end = strstr(resp, "\r\n\r\n");
		char *cl = strcasestr(resp, "content-length:");
		if (end && cl && total >= (size_t)(end + 4 - resp) + strtoul(cl + 15, NULL, 10))
			break;
	}
	char *eol = strstr(resp, "\r\n");
	if (eol)
		*eol = '\0';
	printf("{\"pending\":%d,\"hasPending\":%d,\"waited\":%d,\"peek\":\"%s\",\"peekEx\":\"%s\",\"status\":\"%s\","
	       "\"pendingAfter\":%d}\n",
	       pending, has_pending, waited, peek, peek_ex, resp, SSL_pending(s));
	SSL_shutdown(s);
	SSL_free(s);
	SSL_CTX_free(ctx);
	close(fd);
	return 0;
}
