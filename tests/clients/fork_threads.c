/* Threads making LLM calls with libcurl while the process forks: the child
 * (one thread, a copy of the parent's state, some of it taken mid-call)
 * makes its own calls on a new connection; the parent goes on. glibc's
 * malloc and OpenSSL are fork-safe, so only the shim is on trial here.
 * Usage: fork-threads URL CA RESOLVE THREADS CALLS
 * Prints {"parent": PID, "child": PID, "child_status": STATUS}. */
#include <curl/curl.h>
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

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
	(void)p, (void)ud;
	return s * n;
}

static int call(CURL *h)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "content-type: application/json");
	struct curl_slist *res = curl_slist_append(NULL, resolve);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_RESOLVE, res);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{\"messages\":[{\"content\":\"Hello! How are you doing?\","
						"\"role\":\"user\"}],\"model\":\"gpt-4o\",\"stream\":false}");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	long code = 0;
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdr);
	curl_slist_free_all(res);
	return rc == CURLE_OK && code == 200 ? 0 : -1;
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
