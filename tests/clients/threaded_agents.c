/* A threaded C program that attributes its own calls: each thread opens a
 * run frame for its own agent and makes LLM calls with libcurl on its own
 * connection, concurrently with the others; one thread also opens a nested
 * frame. Linked against the no-op libspaturzu, so it runs the same without
 * the shim. Usage: threaded-agents URL CA RESOLVE THREADS CALLS */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_call.h"
#include "spaturzu.h"

static const char *url, *ca, *resolve;
static int calls;
static pthread_barrier_t start;

static int call(CURL *h, const char *body)
{
	return chat_call(h, url, ca, resolve, body);
}

static void *worker(void *arg)
{
	int id = (int)(long)arg;
	char agent[32], tags[32];
	snprintf(agent, sizeof(agent), "worker-%d", id);
	snprintf(tags, sizeof(tags), "thread=%d", id);
	const char *body = CHAT_BODY;
	CURL *h = curl_easy_init();
	int failed = 0;
	pthread_barrier_wait(&start);
	spaturzu_begin_run(agent, tags); /* -ENOSYS without the shim: fine */
	for (int i = 0; i < calls; i++)
		failed |= call(h, body);
	if (id == 0) {
		spaturzu_begin_run("sub", "nested=yes");
		failed |= call(h, body);
		spaturzu_end_run();
	}
	spaturzu_end_run();
	curl_easy_cleanup(h);
	return (void *)(long)failed;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: threaded-agents URL CA RESOLVE THREADS CALLS\n");
		return 2;
	}
	url = argv[1], ca = argv[2], resolve = argv[3];
	int threads = atoi(argv[4]);
	calls = atoi(argv[5]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_barrier_init(&start, NULL, (unsigned)threads);
	pthread_t t[64];
	for (int i = 0; i < threads && i < 64; i++)
		pthread_create(&t[i], NULL, worker, (void *)(long)i);
	int failed = 0;
	for (int i = 0; i < threads && i < 64; i++) {
		void *r;
		pthread_join(t[i], &r);
		failed |= (int)(long)r;
	}
	curl_global_cleanup();
	printf("shim active: %d\n", spaturzu_active());
	return failed;
}
