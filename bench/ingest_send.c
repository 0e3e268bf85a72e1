/* The sending side of the ingest benchmark, in C as the shim is: N records
 * of a typical call (compact JSON, as the shim writes them), one datagram
 * each, as fast as the collector's socket takes them. Usage:
 * bench-ingest-send SOCKET N. Prints nothing; exits 0 when all were sent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	long n = atol(argv[2]);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[1]);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0)
		return 1;
	char buf[1024];
	for (long i = 0; i < n; i++) {
		int len = snprintf(buf, sizeof(buf),
				   "{\"id\":\"01a20000-0000-7000-8000-%012lx\",\"provider\":\"openai\",\"model\":\"gpt-4o\","
				   "\"responseModel\":\"gpt-4o-2024-08-06\",\"runId\":\"4a0b8c0e-6c55-4b5e-9a3e-2b1d1c0f9e11\","
				   "\"agentName\":\"bench\",\"agentPath\":[\"bench\"],\"promptTokens\":1400,"
				   "\"completionTokens\":300,\"cachedInputTokens\":0,\"usageSource\":\"provider\","
				   "\"status\":200,\"latencyMs\":812,\"stream\":true,\"startedAt\":\"2026-11-23T09:00:00.000Z\","
				   "\"host\":\"api.openai.com\",\"endpoint\":\"/v1/chat/completions\",\"pid\":4242,"
				   "\"exe\":\"/usr/bin/python3\",\"tags\":{\"team\":\"core\"}}",
				   (unsigned long)i);
		/* A blocking socket waits while the collector's queue is full. */
		while (sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
			if (errno != EINTR && errno != EAGAIN && errno != ENOBUFS)
				return 1;
		}
	}
	return 0;
}
