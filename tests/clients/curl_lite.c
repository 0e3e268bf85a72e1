/* curl-lite: the curl command-line options the integration tests use, on
 * libcurl. In the sanitizer build it stands in for /usr/bin/curl, which
 * deadlocks in libp11-kit's constructor when an ASan runtime is preloaded
 * (glibc's setlocale lock), before any of our code runs. Same library, same
 * OpenSSL calls: -sS --cacert --resolve --http1.1 --http2 -H --data-binary
 * -d -o -w %{num_connects} -i --next URL. Transfers share one handle so
 * keep-alive reuse behaves as in curl. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct out {
	FILE *f;
};

static size_t write_cb(char *p, size_t s, size_t n, void *ud)
{
	return fwrite(p, s, n, ((struct out *)ud)->f);
}

int main(int argc, char **argv)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *h = curl_easy_init();
	int rc = 0;
	int i = 1;
	while (i < argc) {
		struct curl_slist *headers = NULL, *resolve = NULL;
		const char *url = NULL, *out_path = NULL, *wfmt = NULL, *data = NULL;
		int include = 0;
		long http = CURL_HTTP_VERSION_NONE;
		const char *cacert = NULL;
		for (; i < argc; i++) {
			const char *a = argv[i];
			if (!strcmp(a, "--next")) {
				i++;
				break;
			} else if (!strcmp(a, "-sS") || !strcmp(a, "-s") || !strcmp(a, "-S")) {
			} else if (!strcmp(a, "--cacert")) {
				cacert = argv[++i];
			} else if (!strcmp(a, "--resolve")) {
				resolve = curl_slist_append(resolve, argv[++i]);
			} else if (!strcmp(a, "--http1.1")) {
				http = CURL_HTTP_VERSION_1_1;
			} else if (!strcmp(a, "--http2")) {
				http = CURL_HTTP_VERSION_2TLS;
			} else if (!strcmp(a, "-H")) {
				headers = curl_slist_append(headers, argv[++i]);
			} else if (!strcmp(a, "--data-binary") || !strcmp(a, "-d")) {
				data = argv[++i];
			} else if (!strcmp(a, "-o")) {
				out_path = argv[++i];
			} else if (!strcmp(a, "-w")) {
				wfmt = argv[++i];
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
		curl_easy_reset(h);
		struct out o = { stdout };
		if (out_path && !(o.f = fopen(out_path, "wb"))) {
			perror(out_path);
			return 23;
		}
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &o);
		if (include) {
			curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, write_cb);
			curl_easy_setopt(h, CURLOPT_HEADERDATA, &o);
		}
		if (cacert)
			curl_easy_setopt(h, CURLOPT_CAINFO, cacert);
		if (resolve)
			curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
		if (headers)
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
		if (http != CURL_HTTP_VERSION_NONE)
			curl_easy_setopt(h, CURLOPT_HTTP_VERSION, http);
		char *file_data = NULL;
		long data_len = data ? (long)strlen(data) : 0;
		if (data && data[0] == '@') {
			/* --data-binary @FILE, as curl reads it */
			FILE *f = fopen(data + 1, "rb");
			if (!f) {
				perror(data + 1);
				return 26;
			}
			fseek(f, 0, SEEK_END);
			data_len = ftell(f);
			fseek(f, 0, SEEK_SET);
			file_data = malloc((size_t)data_len + 1);
			if (fread(file_data, 1, (size_t)data_len, f) != (size_t)data_len) {
				fclose(f);
				return 26;
			}
			fclose(f);
			data = file_data;
		}
		if (data) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, data_len);
		}
		CURLcode res = curl_easy_perform(h);
		if (res != CURLE_OK) {
			fprintf(stderr, "curl-lite: (%d) %s\n", (int)res, curl_easy_strerror(res));
			rc = (int)res;
		}
		if (wfmt) {
			long connects = 0;
			curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
			if (strstr(wfmt, "%{num_connects}"))
				printf("%ld\n", connects);
		}
		if (out_path)
			fclose(o.f);
		curl_slist_free_all(headers);
		curl_slist_free_all(resolve);
		free(file_data);
		fflush(stdout);
	}
	curl_easy_cleanup(h);
	curl_global_cleanup();
	return rc;
}
