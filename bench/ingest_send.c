/* The sending side of the ingest benchmark, in C as the shim is: N records
 * of a typical call, as fast as the collector takes them. By the socket
 * (default): compact JSON, as the shim writes it, one datagram each. With
 * "ring": packed into the collector's record ring, as the shim writes them
 * there (common/record_pack.h), waiting while the ring is full, ringing
 * the doorbell when the shim would. Usage: bench-ingest-send SOCKET N
 * [ring]. Prints nothing; exits 0 when all were sent. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/record_pack.h"
#include "../common/record_ring.h"

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_ring(const char *sock, int fd, const struct sockaddr_un *addr, long n)
{
	char path[4200];
	if (spz_ring_path(sock, path, sizeof(path)) < 0)
		return 1;
	int rfd = open(path, O_RDWR | O_CLOEXEC);
	if (rfd < 0)
		return 1;
	struct spz_ring *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	close(rfd);
	if (r == MAP_FAILED || !spz_ring_valid(r))
		return 1;
	/* The same record as the JSON one below, but for its id. */
	char id[48];
	struct spz_record_fields f = {
		.status = 200,
		.flags = SPZ_REC_STREAM,
		.usage_present = 1u << SPZ_REC_PROMPT | 1u << SPZ_REC_COMPLETION | 1u << SPZ_REC_CACHED_INPUT,
		.usage = { [SPZ_REC_PROMPT] = 1400, [SPZ_REC_COMPLETION] = 300 },
		.latency_ms = 812,
		.started_ms = 1795424400000,
		.pid = 4242,
	};
	f.str[SPZ_REC_ID] = (struct spz_rec_text){ id, 36 };
	f.str[SPZ_REC_PROVIDER] = SPZ_REC_TEXT("openai");
	f.str[SPZ_REC_MODEL] = SPZ_REC_TEXT("gpt-4o");
	f.str[SPZ_REC_RESPONSE_MODEL] = SPZ_REC_TEXT("gpt-4o-2024-08-06");
	f.str[SPZ_REC_ATTRIBUTION] = SPZ_REC_TEXT("\"runId\":\"4a0b8c0e-6c55-4b5e-9a3e-2b1d1c0f9e11\",\"agentName\":\"bench\","
					  "\"agentPath\":[\"bench\"],\"tags\":{\"team\":\"core\"}");
	f.str[SPZ_REC_HOST] = SPZ_REC_TEXT("api.openai.com");
	f.str[SPZ_REC_ENDPOINT] = SPZ_REC_TEXT("/v1/chat/completions");
	f.str[SPZ_REC_REQUEST_ID] = SPZ_REC_TEXT("");
	f.str[SPZ_REC_EXE] = SPZ_REC_TEXT("/usr/bin/python3");
	f.str[SPZ_REC_BUDGET_ID] = SPZ_REC_TEXT("");
	for (long i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "01a20000-0000-7000-8000-%012lx", (unsigned long)i & 0xffffffffffffUL);
		size_t len = spz_record_packed_size(&f);
		for (;;) {
			bool doorbell;
			uint64_t pos;
			char *slot = spz_ring_claim(r, len, wall_ms(), &doorbell, &pos);
			if (slot) {
				spz_ring_publish(r, pos, spz_record_pack(&f, slot, len));
				if (doorbell)
					sendto(fd, SPZ_RING_DOORBELL, sizeof(SPZ_RING_DOORBELL) - 1, 0,
					       (const struct sockaddr *)addr, sizeof(*addr));
				break;
			}
			if (!spz_ring_reads_packed(r, wall_ms()))
				return 1; /* no collector that reads them */
			usleep(200); /* full: the collector frees slots as it commits */
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3 && !(argc == 4 && strcmp(argv[3], "ring") == 0))
		return 2;
	long n = atol(argv[2]);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[1]);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0)
		return 1;
	if (argc == 4)
		return send_ring(argv[1], fd, &addr, n);
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
