/* One chat completion over libcurl, as the C test clients make it: POST a
 * body to URL, trusting CA, with RESOLVE ("host:port:address") pointing the
 * provider's name at the test provider. 0 when the answer is a 200. */
#ifndef SPZ_TEST_CHAT_CALL_H
#define SPZ_TEST_CHAT_CALL_H

#include <curl/curl.h>

#define CHAT_BODY \
	"{\"messages\":[{\"content\":\"Hello! How are you doing?\",\"role\":\"user\"}],\"model\":\"gpt-4o\",\"stream\":false}"

static size_t chat_call_discard(char *p, size_t s, size_t n, void *ud)
{
	(void)p, (void)ud;
	return s * n;
}

static inline int chat_call(CURL *h, const char *url, const char *ca, const char *resolve, const char *body)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "content-type: application/json");
	struct curl_slist *res = curl_slist_append(NULL, resolve);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_RESOLVE, res);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, chat_call_discard);
	long code = 0;
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdr);
	curl_slist_free_all(res);
	return rc == CURLE_OK && code == 200 ? 0 : -1;
}

#endif
