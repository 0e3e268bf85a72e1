/* curl-lite: the curl command-line options the integration tests use, on
 * libcurl. In the sanitizer build it stands in for /usr/bin/curl, which
 * deadlocks in libp11-kit's constructor when an ASan runtime is preloaded
 * (glibc's setlocale lock), before any of our code runs. Same library, same
 * OpenSSL calls: -sS --cacert --resolve --http1.1 --http2 -H --data-binary
 * (also @FILE) -d -o -w (%{num_connects} %{http_code} %{http_version} \n)
 * -i --next --parallel URL. All
 * transfers run in one multi handle, so connections are reused (and, with
 * --parallel, HTTP/2 streams multiplexed) as in curl. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRANSFERS_MAX 64

struct transfer {
	CURL *h;
	FILE *out;
	char *body;
	const char *wfmt;
	struct curl_slist *headers, *resolve;
	CURLcode result;
};

static size_t write_cb(char *p, size_t s, size_t n, void *ud)
{
	return fwrite(p, s, n, (FILE *)ud);
}

static char *read_all(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *d = malloc((size_t)*len + 1);
	if (fread(d, 1, (size_t)*len, f) != (size_t)*len) {
		free(d);
		d = NULL;
	}
	fclose(f);
	return d;
}

/* Parses one transfer's options from argv[*i] up to --next; 0 or exit code. */
static int parse(struct transfer *t, int argc, char **argv, int *i, int *parallel)
{
	const char *url = NULL, *data = NULL, *cacert = NULL, *out_path = NULL;
	long http = CURL_HTTP_VERSION_NONE, data_len = 0;
	int include = 0;
	for (; *i < argc; (*i)++) {
		const char *a = argv[*i];
		if (!strcmp(a, "--next")) {
			(*i)++;
			break;
		} else if (!strcmp(a, "-sS") || !strcmp(a, "-s") || !strcmp(a, "-S")) {
		} else if (!strcmp(a, "--parallel")) {
			*parallel = 1;
		} else if (!strcmp(a, "--cacert")) {
			cacert = argv[++*i];
		} else if (!strcmp(a, "--resolve")) {
			t->resolve = curl_slist_append(t->resolve, argv[++*i]);
		} else if (!strcmp(a, "--http1.1")) {
			http = CURL_HTTP_VERSION_1_1;
		} else if (!strcmp(a, "--http2")) {
			http = CURL_HTTP_VERSION_2TLS;
		} else if (!strcmp(a, "-H")) {
			t->headers = curl_slist_append(t->headers, argv[++*i]);
		} else if (!strcmp(a, "--data-binary") || !strcmp(a, "-d")) {
			data = argv[++*i];
		} else if (!strcmp(a, "-o")) {
			out_path = argv[++*i];
		} else if (!strcmp(a, "-w")) {
			t->wfmt = argv[++*i];
		} else if (!strcmp(a, "-i")) {
			include = 1;
		} else if (a[0] == '-') {
			fprintf(stderr, "curl-lite: unsupported option %s\n", a);
			return 2;
		} else {
			url = a;
		}
	}
	if (!url) {
		fprintf(stderr, "curl-lite: no URL\n");
		return 2;
	}
	t->h = curl_easy_init();
	t->out = stdout;
	if (out_path && !(t->out = fopen(out_path, "wb"))) {
		perror(out_path);
		return 23;
	}
	curl_easy_setopt(t->h, CURLOPT_URL, url);
	curl_easy_setopt(t->h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(t->h, CURLOPT_WRITEDATA, t->out);
	if (include) {
		curl_easy_setopt(t->h, CURLOPT_HEADERFUNCTION, write_cb);
		curl_easy_setopt(t->h, CURLOPT_HEADERDATA, t->out);
	}
	if (cacert)
		curl_easy_setopt(t->h, CURLOPT_CAINFO, cacert);
	if (t->resolve)
		curl_easy_setopt(t->h, CURLOPT_RESOLVE, t->resolve);
	if (t->headers)
		curl_easy_setopt(t->h, CURLOPT_HTTPHEADER, t->headers);
	if (http != CURL_HTTP_VERSION_NONE)
		curl_easy_setopt(t->h, CURLOPT_HTTP_VERSION, http);
	if (data && data[0] == '@') {
		if (!(t->body = read_all(data + 1, &data_len))) {
			perror(data + 1);
			return 26;
		}
		data = t->body;
	} else if (data) {
		data_len = (long)strlen(data);
	}
	if (data) {
		curl_easy_setopt(t->h, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(t->h, CURLOPT_POSTFIELDSIZE, data_len);
	}
	curl_easy_setopt(t->h, CURLOPT_PRIVATE, t);
	return 0;
}

/* -w: the variables the tests use, and \n. */
static void write_out(const char *fmt, CURL *h)
{
	for (const char *p = fmt; *p; p++) {
		if (p[0] == '\\' && p[1] == 'n') {
			putchar('\n');
			p++;
		} else if (p[0] == '%' && p[1] == '{') {
			const char *end = strchr(p, '}');
			if (!end)
				break;
			size_t n = (size_t)(end - p - 2);
			long v = 0;
			if (n == 12 && !strncmp(p + 2, "num_connects", n)) {
				curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &v);
				printf("%ld", v);
			} else if (n == 9 && !strncmp(p + 2, "http_code", n)) {
				curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &v);
				printf("%03ld", v);
			} else if (n == 12 && !strncmp(p + 2, "http_version", n)) {
				curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &v);
				printf("%s", v == CURL_HTTP_VERSION_2_0 ? "2" : v == CURL_HTTP_VERSION_1_0 ? "1.0" : "1.1");
			}
			p = end;
		} else {
			putchar(*p);
		}
	}
}

static void run(CURLM *m)
{
	int running = 1;
	while (running) {
		curl_multi_perform(m, &running);
		if (running)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left))) {
			struct transfer *t;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			t->result = msg->data.result;
		}
	}
}

int main(int argc, char **argv)
{
	static struct transfer ts[TRANSFERS_MAX];
	int n = 0, parallel = 0, i = 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	while (i < argc && n < TRANSFERS_MAX) {
		int rc = parse(&ts[n], argc, argv, &i, &parallel);
		if (rc)
			return rc;
		n++;
	}
	CURLM *m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	for (int k = 0; k < n; k++) {
		if (parallel) /* wait to multiplex on a connection being set up, as curl does */
			curl_easy_setopt(ts[k].h, CURLOPT_PIPEWAIT, 1L);
		curl_multi_add_handle(m, ts[k].h);
		if (!parallel)
			run(m); /* one at a time; the connection stays in the cache */
	}
	if (parallel)
		run(m);
	int rc = 0;
	for (int k = 0; k < n; k++) {
		struct transfer *t = &ts[k];
		if (t->result != CURLE_OK) {
			fprintf(stderr, "curl-lite: (%d) %s\n", (int)t->result, curl_easy_strerror(t->result));
			rc = (int)t->result;
		}
		if (t->wfmt)
			write_out(t->wfmt, t->h);
		curl_multi_remove_handle(m, t->h);
		curl_easy_cleanup(t->h);
		if (t->out != stdout)
			fclose(t->out);
		curl_slist_free_all(t->headers);
		curl_slist_free_all(t->resolve);
		free(t->body);
	}
	curl_multi_cleanup(m);
	curl_global_cleanup();
	fflush(stdout);
	return rc;
}
