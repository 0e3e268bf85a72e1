/* Threads making LLM calls with libcurl while the process forks: the child
 * (one thread, a copy of the parent's state, some of it taken mid-call)
 * makes its own calls on a new connection; the parent goes on. glibc's
 * malloc and OpenSSL are fork-safe, so only the shim is on trial here.
 * Usage: fork-threads URL CA RESOLVE THREADS CALLS
 * Prints {"parent": PID, "child": PID, "child_status": STATUS}. */
#include "chat_call.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *url, *ca, *resolve;
static int calls;
static atomic_int done;

static int call(CURL *h)
{
	return chat_call(h, url, ca, resolve, CHAT_BODY);
}

static void *worker(void *arg)
{
	(void)arg;
	CURL *h = curl_easy_init();
	int failed = 0;
	for (int i = 0; i < calls; i++) {
		failed |= call(h);
		atomic_fetch_add(&done, 1);
	}
	curl_easy_cleanup(h);
	return (void *)(long)failed;
}

int main(int argc, char **argv)
{
	if (argc != 6)
		return 2;
	url = argv[1], ca = argv[2], resolve = argv[3];
	int threads = atoi(argv[4]);
	calls = atoi(argv[5]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_t t[64];
	for (int i = 0; i < threads && i < 64; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	/* fork once traffic is flowing, mid-calls for the other threads */
	while (atomic_load(&done) < threads) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	pid_t pid = fork();
	if (pid == 0) {
		CURL *h = curl_easy_init();
		int failed = call(h) | call(h);
		curl_easy_cleanup(h);
		_exit(failed ? 1 : 0);
	}
	int failed = 0;
	for (int i = 0; i < threads && i < 64; i++) {
		void *r;
		pthread_join(t[i], &r);
		failed |= (int)(long)r;
	}
	int status = -1;
	waitpid(pid, &status, 0);
	printf("{\"parent\": %d, \"child\": %d, \"child_status\": %d}\n", (int)getpid(), (int)pid, status);
	curl_global_cleanup();
	return failed;
}
