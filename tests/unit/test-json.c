/* The incremental JSON scanner: paths, values, escapes, and identical events
 * whatever the slicing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/json.h"
#include "../../shim/json_top.h"
#include "helpers.h"

struct trace {
	char text[16384];
	size_t len;
};

static const char *type_name(enum spz_json_type t)
{
	static const char *n[] = { "str", "num", "true", "false", "null", "obj", "arr", "end", "doc" };
	return n[t];
}

static void record_event(void *ud, const struct spz_json_event *ev)
{
	struct trace *t = ud;
	t->len += (size_t)snprintf(t->text + t->len, sizeof(t->text) - t->len, "%s %s%s%s%s\n", type_name(ev->type),
				   ev->path, ev->value ? "=" : "", ev->value ? ev->value : "",
				   ev->truncated ? " (cut)" : "");
}

static void feed_json(void *ctx, const char *buf, size_t len)
{
	spz_json_feed(ctx, buf, len);
}

/* Scans doc in every slicing; checks all agree, returns the trace. */
static void scan_all(const char *doc, struct trace *out, int *rc)
{
	for (int mode = 0; mode < SLICE_MODES; mode++) {
		struct trace t = { 0 };
		struct spz_json js;
		spz_json_init(&js, record_event, &t);
		feed_sliced(feed_json, &js, doc, strlen(doc), (enum slicing)mode, 7u + (unsigned)mode);
		int r = spz_json_finish(&js);
		if (mode == 0) {
			*out = t;
			*rc = r;
		} else {
			ck_assert_str_eq(t.text, out->text);
			ck_assert_int_eq(r, *rc);
		}
	}
}

START_TEST(paths_and_values)
{
	struct trace t;
	int rc;
	scan_all("{\"id\":\"x\",\"usage\":{\"prompt_tokens\":14,\"d\":{\"c\":0}},\"choices\":[{\"a\":true},null],\"z\":-1.5e3}",
		 &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(t.text, "obj \n"
				 "str id=x\n"
				 "obj usage\n"
				 "num usage.prompt_tokens=14\n"
				 "obj usage.d\n"
				 "num usage.d.c=0\n"
				 "end usage.d\n"
				 "end usage\n"
				 "arr choices\n"
				 "obj choices[]\n"
				 "true choices[].a\n"
				 "end choices[]\n"
				 "null choices[]\n"
				 "end choices\n"
				 "num z=-1.5e3\n"
				 "end \n"
				 "doc \n");
}
END_TEST

START_TEST(escapes_and_unicode)
{
	struct trace t;
	int rc;
	scan_all("{\"k\\u0065y\":\"a\\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00\\ud800x\"}", &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(t.text, "obj \nstr key=a\"b\\c/d\n\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx\nend \ndoc \n");
}
END_TEST

START_TEST(top_level_array_and_sequence)
{
	struct trace t;
	int rc;
	scan_all("[{\"usageMetadata\":{\"promptTokenCount\":5}}]\n 42 ", &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(t.text, "arr \nobj []\nobj [].usageMetadata\nnum [].usageMetadata.promptTokenCount=5\n"
				 "end [].usageMetadata\nend []\nend \ndoc \nnum =42\ndoc \n");
}
END_TEST

/* Tokens whole in a slice take fast paths (key straight into the path,
 * colon and space with it; whole strings and numbers); cut or escaped ones
 * go byte by byte. scan_all compares both: a whole feed against one byte at
 * a time. The document puts every token shape at both. */
START_TEST(whole_tokens_match_byte_at_a_time)
{
	char key64[SPZ_JSON_KEY_MAX + 1], key65[SPZ_JSON_KEY_MAX + 2];
	memset(key64, 'k', SPZ_JSON_KEY_MAX);
	key64[SPZ_JSON_KEY_MAX] = '\0';
	memset(key65, 'q', SPZ_JSON_KEY_MAX + 1);
	key65[SPZ_JSON_KEY_MAX + 1] = '\0';
	char doc[1024];
	snprintf(doc, sizeof(doc),
		 "{\n  \"id\": \"chatcmpl-1\",\n  \"usage\" : {\n    \"prompt_tokens\": 14,\n"
		 "    \"t\\u00e9\": \"a\\\"b\",\n    \"%s\": 7,\n    \"%s\": 8,\n    \"\":\"\",\n"
		 "    \"neg\":-0.5E+2, \"arr\": [1,\"s\" , -2]\n  }\n}",
		 key64, key65);
	struct trace t;
	int rc;
	scan_all(doc, &t, &rc);
	ck_assert_int_eq(rc, 0);
	char want[2048];
	snprintf(want, sizeof(want),
		 "obj \nstr id=chatcmpl-1\nobj usage\nnum usage.prompt_tokens=14\nstr usage.t\xc3\xa9=a\"b\n"
		 "num usage.%s=7\nnum usage.%s\x01=8\nstr usage.=\nnum usage.neg=-0.5E+2\narr usage.arr\n"
		 "num usage.arr[]=1\nstr usage.arr[]=s\nnum usage.arr[]=-2\nend usage.arr\nend usage\nend \ndoc \n",
		 key64, key65);
	/* the cut key: its first SPZ_JSON_KEY_MAX bytes, then \x01 */
	char *cut = strstr(want, key65);
	ck_assert_ptr_nonnull(cut);
	memmove(cut + SPZ_JSON_KEY_MAX, cut + SPZ_JSON_KEY_MAX + 1, strlen(cut + SPZ_JSON_KEY_MAX + 1) + 1);
	ck_assert_str_eq(t.text, want);
}
END_TEST

/* Members whole in the slice take the fast path (members_fast) for keys of
 * up to 31 bytes and the general one beyond: every key length from 0 to 40,
 * at the top level and nested, with each kind of scalar, gives the same
 * events under every slicing, and the paths hold the whole key. */
START_TEST(plain_members_of_every_key_length)
{
	static char doc[16384], want[16384];
	size_t d = 0, w = 0;
	d += (size_t)snprintf(doc + d, sizeof(doc) - d, "{\n");
	w += (size_t)snprintf(want + w, sizeof(want) - w, "obj \n");
	for (int nested = 0; nested < 2; nested++) {
		const char *in = nested ? "in." : "";
		if (nested) {
			d += (size_t)snprintf(doc + d, sizeof(doc) - d, "  \"in\": {\n");
			w += (size_t)snprintf(want + w, sizeof(want) - w, "obj in\n");
		}
		for (int n = 0; n <= 40; n++) {
			char key[41];
			for (int k = 0; k < n; k++)
				key[k] = (char)('a' + (k + n) % 26);
			key[n] = '\0';
			const char *sep = n == 40 ? "" : ",";
			switch (n % 5) {
			case 0:
				d += (size_t)snprintf(doc + d, sizeof(doc) - d, "    \"%s\": \"v%d\"%s\n", key, n, sep);
				w += (size_t)snprintf(want + w, sizeof(want) - w, "str %s%s=v%d\n", in, key, n);
				break;
			case 1:
				d += (size_t)snprintf(doc + d, sizeof(doc) - d, "    \"%s\": %d%s\n", key, n * 1000, sep);
				w += (size_t)snprintf(want + w, sizeof(want) - w, "num %s%s=%d\n", in, key, n * 1000);
				break;
			case 2:
				d += (size_t)snprintf(doc + d, sizeof(doc) - d, "    \"%s\":true%s\n", key, sep);
				w += (size_t)snprintf(want + w, sizeof(want) - w, "true %s%s\n", in, key);
				break;
			case 3:
				d += (size_t)snprintf(doc + d, sizeof(doc) - d, "    \"%s\": false%s ", key, sep);
				w += (size_t)snprintf(want + w, sizeof(want) - w, "false %s%s\n", in, key);
				break;
			default:
				d += (size_t)snprintf(doc + d, sizeof(doc) - d, "\"%s\": null%s", key, sep);
				w += (size_t)snprintf(want + w, sizeof(want) - w, "null %s%s\n", in, key);
			}
		}
		d += (size_t)snprintf(doc + d, sizeof(doc) - d, nested ? "  }\n" : "  ,\n");
		if (nested)
			w += (size_t)snprintf(want + w, sizeof(want) - w, "end in\n");
	}
	snprintf(doc + d, sizeof(doc) - d, "}");
	snprintf(want + w, sizeof(want) - w, "end \ndoc \n");
	struct trace t;
	int rc;
	scan_all(doc, &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(t.text, want);
}
END_TEST

/* A consumer may leave ends unreported: the rest is as before, under every
 * slicing. */
START_TEST(ends_can_go_unreported)
{
	const char *doc = "{\"a\":[1,{\"b\":null}],\"c\":{\"d\":\"x\"},\"e\":{\"f\":[true]},\"g\":false} 7 ";
	for (int mode = 0; mode < SLICE_MODES; mode++) {
		struct trace t = { 0 };
		struct spz_json js;
		spz_json_init(&js, record_event, &t);
		spz_json_report_only(&js, ~((1u << SPZ_JSON_END) | (1u << SPZ_JSON_DOC_END)));
		feed_sliced(feed_json, &js, doc, strlen(doc), (enum slicing)mode, 5u + (unsigned)mode);
		ck_assert_int_eq(spz_json_finish(&js), 0);
		ck_assert_str_eq(t.text, "obj \narr a\nnum a[]=1\nobj a[]\nnull a[].b\nobj c\nstr c.d=x\nobj e\n"
					 "arr e.f\ntrue e.f[]\nfalse g\nnum =7\n");
	}
}
END_TEST

START_TEST(long_values_are_cut_not_overflowed)
{
	char doc[5000];
	memset(doc, 0, sizeof(doc));
	strcpy(doc, "{\"model\":\"");
	memset(doc + 10, 'm', 1000);
	strcat(doc, "\",\"");
	size_t at = strlen(doc);
	memset(doc + at, 'k', 200); /* a key longer than SPZ_JSON_KEY_MAX */
	strcat(doc, "\":1,\"n\":2}");
	struct trace t;
	int rc;
	scan_all(doc, &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(strstr(t.text, " (cut)"));
	ck_assert_ptr_nonnull(strstr(t.text, "num n=2\n"));
	/* the cut key never shows as a plain key */
	ck_assert_ptr_null(strstr(t.text, "kkkk=1"));
}
END_TEST

START_TEST(deep_nesting_is_followed_without_paths)
{
	static char doc[2 * 600 + 64];
	size_t n = 0;
	n += (size_t)sprintf(doc + n, "{\"a\":");
	for (int i = 0; i < 600; i++)
		doc[n++] = '[';
	for (int i = 0; i < 600; i++)
		doc[n++] = ']';
	n += (size_t)sprintf(doc + n, ",\"b\":3}");
	doc[n] = '\0';
	struct trace t;
	int rc;
	scan_all(doc, &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(strstr(t.text, "num b=3\n"));
}
END_TEST

START_TEST(too_deep_is_an_error)
{
	static char doc[SPZ_JSON_DEPTH_MAX + 10];
	memset(doc, '[', sizeof(doc) - 1);
	doc[sizeof(doc) - 1] = '\0';
	struct trace t;
	int rc;
	scan_all(doc, &t, &rc);
	ck_assert_int_eq(rc, -1);
}
END_TEST

START_TEST(malformed_inputs_fail_cleanly)
{
	const char *bad[] = { "{\"a\" 1}", "{\"a\":tru}", "[1,]x", "{\"a\":\"\x01\"}", "{\"a\":\"\\q\"}", "}", "[\"\\u12G4\"]" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct trace t;
		int rc;
		scan_all(bad[i], &t, &rc);
		ck_assert_msg(rc == -1, "accepted: %s", bad[i]);
	}
}
END_TEST

struct chunks {
	char text[512];
	size_t len;
};

/* "|path=" starts each string; its later chunks follow as they come, so
 * the text is the same whatever the slicing. */
static void on_chunk(void *ud, const char *path, size_t path_len, const char *buf, size_t len, bool first)
{
	struct chunks *c = ud;
	ck_assert_uint_eq(path_len, strlen(path));
	if (first)
		c->len += (size_t)snprintf(c->text + c->len, sizeof(c->text) - c->len, "|%s=", path);
	c->len += (size_t)snprintf(c->text + c->len, sizeof(c->text) - c->len, "%.*s", (int)len, buf);
}

static void no_event(void *ud, const struct spz_json_event *ev)
{
	(void)ud, (void)ev;
}

START_TEST(chunks_are_strings_only)
{
	/* Numbers and literals are not strings: they never reach the string
	 * callback, and never extend the string before them. */
	const char *doc = "{\"a\":\"xy\",\"a\":12345,\"b\":[\"p\\u00e9\",true,-1.5],\"c\":\"\"}";
	for (int mode = 0; mode < SLICE_MODES; mode++) {
		struct chunks c = { 0 };
		struct spz_json js;
		spz_json_init(&js, no_event, &c);
		spz_json_set_chunk_cb(&js, on_chunk);
		feed_sliced(feed_json, &js, doc, strlen(doc), (enum slicing)mode, 3);
		ck_assert_str_eq(c.text, "|a=xy|b[]=p\xc3\xa9");
	}
}
END_TEST

/* A skipping consumer: containers at these paths are passed over. */
struct skipper {
	struct trace t;
	struct spz_json *js;
	const char *skip[4];
	size_t chunks; /* string bytes delivered to the chunk callback */
};

static void skip_event(void *ud, const struct spz_json_event *ev)
{
	struct skipper *k = ud;
	record_event(&k->t, ev);
	if (ev->type != SPZ_JSON_OBJECT && ev->type != SPZ_JSON_ARRAY)
		return;
	for (int i = 0; k->skip[i]; i++)
		if (strcmp(ev->path, k->skip[i]) == 0)
			spz_json_skip(k->js);
}

static void skip_chunk(void *ud, const char *path, size_t path_len, const char *buf, size_t len, bool first)
{
	(void)path, (void)path_len, (void)buf, (void)first;
	((struct skipper *)ud)->chunks += len;
}

/* Scans doc in every slicing with skips; all must agree. */
static void scan_skipping(const char *doc, const char *skip1, const char *skip2, struct skipper *out, int *rc)
{
	for (int mode = 0; mode < SLICE_MODES; mode++) {
		struct skipper k = { .skip = { skip1, skip2, NULL } };
		struct spz_json js;
		k.js = &js;
		spz_json_init(&js, skip_event, &k);
		spz_json_set_chunk_cb(&js, skip_chunk);
		feed_sliced(feed_json, &js, doc, strlen(doc), (enum slicing)mode, 11u + (unsigned)mode);
		int r = spz_json_finish(&js);
		if (mode == 0) {
			*out = k;
			*rc = r;
		} else {
			ck_assert_str_eq(k.t.text, out->t.text);
			ck_assert_int_eq(r, *rc);
			ck_assert_uint_eq(k.chunks, out->chunks);
		}
	}
}

/* A container the consumer does not want is passed over without events,
 * whatever its strings hold (brackets, escaped quotes and backslashes, long
 * runs the vector scan takes sixteen at a time); its end is reported and
 * what follows it is read as usual. */
START_TEST(skipped_containers_are_passed_over)
{
	struct skipper k;
	int rc;
	scan_skipping("{\"id\":\"a\",\"choices\":[{\"message\":{\"content\":\"x ] } [ { \\\" \\\\\\\" \\\\\",\"n\":[1,[2,{\"q\":3}]]}},"
		      "\"0123456789abcdef0123456789abcdef ]]]] }}}} \\\\\"], \"usage\":{\"prompt_tokens\":14,\"d\":{\"e\":[\"]\"]}},"
		      "\"model\":\"m\"}",
		      "choices", "usage.d", &k, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(k.t.text, "obj \n"
				   "str id=a\n"
				   "arr choices\n"
				   "end choices\n"
				   "obj usage\n"
				   "num usage.prompt_tokens=14\n"
				   "obj usage.d\n"
				   "end usage.d\n"
				   "end usage\n"
				   "str model=m\n"
				   "end \n"
				   "doc \n");
	ck_assert_uint_eq(k.chunks, 2); /* "a" and "m": nothing from the skipped parts */
	/* A skipped top-level value, then the next document. */
	scan_skipping("[1,{\"a\":\"}\"}] 7", "", NULL, &k, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(k.t.text, "arr \nend \ndoc \nnum =7\ndoc \n");
	/* Cut inside a skipped container: not a complete document. */
	scan_skipping("{\"choices\":[{\"a\":\"]", "choices", NULL, &k, &rc);
	ck_assert_int_eq(rc, -1);
	/* A backslash outside a string is not JSON, skipped or not. */
	scan_skipping("{\"choices\":[\\]}", "choices", NULL, &k, &rc);
	ck_assert_int_eq(rc, -1);
}
END_TEST

/* Skipped bodies without backslashes are passed over sixteen bytes at a
 * time, brackets inside strings told from the others by the quotes' parity:
 * strings that open in one block and close in another, brackets on either
 * side of a block's edge, and the container's end in the middle of one. */
START_TEST(skipped_blocks_follow_strings)
{
	struct skipper k;
	int rc;
	scan_skipping("{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"a [long] answer, {with} brackets"
		      " ]]]] }}}} and [[[[ {{{{ that span blocks\",\"annotations\":[[],[[]],{\"a\":[\"]\"]}]},\"logprobs\":null,"
		      "\"finish_reason\":\"stop\"},{\"index\":1,\"x\":\"0123456789abcde\"}],\"usage\":{\"total_tokens\":44},\"model\":\"m\"}",
		      "choices", NULL, &k, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(k.t.text, "obj \n"
				   "arr choices\n"
				   "end choices\n"
				   "obj usage\n"
				   "num usage.total_tokens=44\n"
				   "end usage\n"
				   "str model=m\n"
				   "end \n"
				   "doc \n");
	/* Plain blocks (quotes, no bracket or backslash) whose quotes are
	 * counted in bulk, up to a slice's end in the middle of them: the
	 * count still says whether the next slice begins inside a string. */
	scan_skipping("{\"choices\":[{\"k1\":\"v1\",\"key2\":\"value2\",\"k3\":\"v\",\"k4\":\"value four\",\"k5\":\"5\","
		      "\"k6\":\"six\",\"k7\":\"seven\",\"k8\":\"eight, with more words in it\",\"k9\":\"nine\","
		      "\"k10\":\"ten\",\"k11\":\"x\",\"k12\":\"the last of them, with a ] and a } in it\"}],\"model\":\"m\"}",
		      "choices", NULL, &k, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(k.t.text, "obj \narr choices\nend choices\nstr model=m\nend \ndoc \n");
	/* Every slice size from 16 to 96, so that slices end after every
	 * kind of block step. */
	const char *plain = "{\"choices\":[{\"k1\":\"v1\",\"key2\":\"value2\",\"k3\":\"v\",\"k4\":\"value four\","
			    "\"k5\":\"5\",\"k6\":\"six\",\"k7\":\"seven\",\"k8\":\"eight, with more words in it\","
			    "\"k9\":\"nine\",\"k10\":\"ten\",\"k11\":\"x\",\"k12\":\"a ] and a } in it\"}],\"model\":\"m\"}";
	size_t n = strlen(plain);
	for (size_t step = 16; step <= 96; step++) {
		struct skipper p = { .skip = { "choices", NULL, NULL } };
		struct spz_json js;
		p.js = &js;
		spz_json_init(&js, skip_event, &p);
		for (size_t i = 0; i < n; i += step) {
			size_t m = n - i < step ? n - i : step;
			char *slice = malloc(m);
			memcpy(slice, plain + i, m);
			ck_assert_int_eq(spz_json_feed(&js, slice, m), 0);
			free(slice);
		}
		ck_assert_int_eq(spz_json_finish(&js), 0);
		ck_assert_str_eq(p.t.text, "obj \narr choices\nend choices\nstr model=m\nend \ndoc \n");
	}
}
END_TEST

/* A skip asked for during a string's event is no request: the next
 * container is read as usual. */
static void stray_skip_event(void *ud, const struct spz_json_event *ev)
{
	struct skipper *k = ud;
	record_event(&k->t, ev);
	if (ev->type != SPZ_JSON_OBJECT && ev->type != SPZ_JSON_ARRAY)
		spz_json_skip(k->js);
}

START_TEST(a_stray_skip_is_ignored)
{
	struct skipper k = { 0 };
	struct spz_json js;
	k.js = &js;
	spz_json_init(&js, stray_skip_event, &k);
	const char *doc = "{\"a\":\"x\",\"b\":{\"c\":1}}";
	ck_assert_int_eq(spz_json_feed(&js, doc, strlen(doc)), 0);
	ck_assert_int_eq(spz_json_finish(&js), 0);
	ck_assert_str_eq(k.t.text, "obj \nstr a=x\nobj b\nnum b.c=1\nend b\nend \ndoc \n");
	/* The same after each kind of scalar, in a pretty-printed body long
	 * enough that its members are taken whole (members_fast), whole in
	 * one slice and byte by byte. */
	const char *pretty = "{\n  \"s\": \"text\",\n  \"o1\": {\"x\": 1},\n  \"n\": 12,\n  \"o2\": {\"x\": 2},\n"
			     "  \"t\": true,\n  \"o3\": [3],\n  \"f\": false,\n  \"o4\": [4],\n"
			     "  \"z\": null,\n  \"o5\": {\"x\": 5},\n  \"last\": 0\n}";
	const char *want = "obj \nstr s=text\nobj o1\nnum o1.x=1\nend o1\nnum n=12\nobj o2\nnum o2.x=2\nend o2\n"
			   "true t\narr o3\nnum o3[]=3\nend o3\nfalse f\narr o4\nnum o4[]=4\nend o4\n"
			   "null z\nobj o5\nnum o5.x=5\nend o5\nnum last=0\nend \ndoc \n";
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct skipper p = { 0 };
		p.js = &js;
		spz_json_init(&js, stray_skip_event, &p);
		size_t n = strlen(pretty);
		for (size_t i = 0; i < n; i += bytewise ? 1 : n)
			ck_assert_int_eq(spz_json_feed(&js, pretty + i, bytewise ? 1 : n), 0);
		ck_assert_int_eq(spz_json_finish(&js), 0);
		ck_assert_str_eq(p.t.text, want);
	}
}
END_TEST

/* Nesting inside a skipped container counts towards the depth limit, up to
 * its last level and past it, however many levels a block of the skip opens. */
START_TEST(skipping_keeps_the_depth_limit)
{
	const size_t counts[] = { SPZ_JSON_DEPTH_MAX - 3, SPZ_JSON_DEPTH_MAX - 2, SPZ_JSON_DEPTH_MAX - 1,
				  SPZ_JSON_DEPTH_MAX, SPZ_JSON_DEPTH_MAX + 10 };
	char *doc = malloc(2 * (SPZ_JSON_DEPTH_MAX + 10) + 16);
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		size_t n = counts[c], at = 5;
		memcpy(doc, "{\"s\":", 5);
		for (size_t i = 0; i < n; i++)
			doc[at++] = '[';
		for (size_t i = 0; i < n; i++)
			doc[at++] = ']';
		doc[at++] = '}';
		doc[at] = '\0';
		struct skipper k;
		int rc;
		scan_skipping(doc, "s", NULL, &k, &rc);
		/* the top-level object and the skipped array's levels */
		ck_assert_int_eq(rc, 1 + n >= SPZ_JSON_DEPTH_MAX ? -1 : 0);
	}
	free(doc);
}
END_TEST

START_TEST(parse_count)
{
	int64_t v;
	ck_assert_int_eq(spz_json_parse_count("123", 3, &v), 0);
	ck_assert_int_eq(v, 123);
	ck_assert_int_eq(spz_json_parse_count("0", 1, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(spz_json_parse_count("-1", 2, &v), -1);
	ck_assert_int_eq(spz_json_parse_count("1.5", 3, &v), -1);
	ck_assert_int_eq(spz_json_parse_count("1e3", 3, &v), -1);
	ck_assert_int_eq(spz_json_parse_count("01", 2, &v), -1);
	ck_assert_int_eq(spz_json_parse_count("9999999999999999999", 19, &v), -1);
}
END_TEST

/* ---- the top-level scalar reading (json_top.c) ------------------------- */

/* A reader that passes over every top-level container and records the
 * top-level scalars: what the top-level reading must match. */
struct top_reader {
	struct spz_json *js;
	struct trace t;
};

static void read_top(void *ud, const struct spz_json_event *ev)
{
	struct top_reader *r = ud;
	if ((ev->type == SPZ_JSON_OBJECT || ev->type == SPZ_JSON_ARRAY) && ev->depth == 1)
		spz_json_skip(r->js);
	else if (ev->depth == 1)
		record_event(&r->t, ev);
}

static void record_top(void *ud, const struct spz_json_event *ev)
{
	ck_assert_uint_eq(ev->depth, 1);
	ck_assert(ev->type != SPZ_JSON_OBJECT && ev->type != SPZ_JSON_ARRAY);
	ck_assert(ev->path[ev->path_len] == '\0');
	record_event(ud, ev);
}

/* Reads doc both ways; when the top-level reading takes it, the scanner
 * must find it good and report the same. Returns whether it was taken. */
static bool top_alike(const char *doc, struct trace *out)
{
	struct trace top = { 0 };
	bool taken = spz_json_top_scalars(doc, strlen(doc), record_top, &top);
	if (!taken) {
		ck_assert_uint_eq(top.len, 0); /* declined before any event */
		return false;
	}
	struct spz_json js;
	struct top_reader r = { .js = &js };
	spz_json_init(&js, read_top, &r);
	spz_json_report_only(&js, (1u << SPZ_JSON_STRING) | (1u << SPZ_JSON_NUMBER) | (1u << SPZ_JSON_TRUE) |
					  (1u << SPZ_JSON_FALSE) | (1u << SPZ_JSON_NULL) | (1u << SPZ_JSON_OBJECT) |
					  (1u << SPZ_JSON_ARRAY));
	ck_assert_int_eq(spz_json_feed(&js, doc, strlen(doc)), 0);
	ck_assert_int_eq(spz_json_finish(&js), 0);
	ck_assert_str_eq(top.text, r.t.text);
	if (out)
		*out = top;
	return true;
}

START_TEST(top_scalars_of_a_held_body)
{
	struct trace t;
	ck_assert(top_alike("{\"messages\": [{\"content\": \"Hi \\\"there\\\" ]}\", \"role\": \"user\"}], \"model\": "
			    "\"gpt-4o\", \"stream\": false, \"n\":1,\"t\" :0.5e-1 ,\"x\":null,\"y\":true, \"o\":{\"model\":"
			    "\"inner\",\"a\":[[{}]]}}\n",
			    &t));
	ck_assert_str_eq(t.text, "str model=gpt-4o\nfalse stream\nnum n=1\nnum t=0.5e-1\nnull x\ntrue y\n");
	/* Empty keys and values, a key at the scanner's bound, a value past
	 * its own (cut as the scanner cuts it), an empty object. */
	char doc[1024], key[SPZ_JSON_KEY_MAX + 1], value[301];
	memset(key, 'k', SPZ_JSON_KEY_MAX);
	key[SPZ_JSON_KEY_MAX] = '\0';
	memset(value, 'v', 300);
	value[300] = '\0';
	snprintf(doc, sizeof(doc), " {\"\":\"\", \"%s\": 7, \"long\": \"%s\"} ", key, value);
	ck_assert(top_alike(doc, &t));
	ck_assert(strstr(t.text, "(cut)") != NULL);
	ck_assert(top_alike("{}", &t));
	ck_assert_uint_eq(t.len, 0);
	/* As many scalars as it holds, containers between them not counted. */
	size_t n = (size_t)snprintf(doc, sizeof(doc), "{");
	for (int k = 0; k < SPZ_JSON_TOP_MAX; k++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "\"k%d\":%d,\"c%d\":[%d],", k, k, k, k);
	doc[n - 1] = '}';
	ck_assert(top_alike(doc, &t));
}
END_TEST

/* Whatever it might read otherwise than the scanner, or that the scanner
 * would refuse, it declines, and reports nothing. */
START_TEST(top_scalars_decline_what_they_might_misread)
{
	static const char *const declined[] = {
		"[1,2]", "\"s\"", "7", "", "   ", "{", "{\"a\":1", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":}", "{a:1}",
		"{\"a\":1}{}", "{\"a\":1} x", "{\"a\":\"x\\ny\"}", "{\"a\\u0062\":1}", "{\"a\":\"tab\there\"}",
		"{\"a\":[\\]}", "{\"a\":[\"x]}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":+1}", "{\"a\":1 2}",
		"{\"a\":1;\"b\":2}",
	};
	for (size_t k = 0; k < sizeof(declined) / sizeof(declined[0]); k++)
		ck_assert_msg(!top_alike(declined[k], NULL), "taken: %s", declined[k]);
	char doc[2048], key[SPZ_JSON_KEY_MAX + 2];
	memset(key, 'k', SPZ_JSON_KEY_MAX + 1);
	key[SPZ_JSON_KEY_MAX + 1] = '\0';
	snprintf(doc, sizeof(doc), "{\"%s\":1}", key); /* a key the scanner would cut */
	ck_assert(!top_alike(doc, NULL));
	size_t n = (size_t)snprintf(doc, sizeof(doc), "{");
	for (int k = 0; k <= SPZ_JSON_TOP_MAX; k++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "\"k%d\":%d,", k, k);
	doc[n - 1] = '}';
	ck_assert(!top_alike(doc, NULL)); /* one scalar too many */
	n = (size_t)snprintf(doc, sizeof(doc), "{\"deep\":");
	for (int k = 0; k < 300; k++)
		doc[n++] = '[';
	for (int k = 0; k < 300; k++)
		doc[n++] = ']';
	snprintf(doc + n, sizeof(doc) - n, "}");
	ck_assert(!top_alike(doc, NULL)); /* deeper than it follows */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("scanner");
	tcase_add_test(tc, paths_and_values);
	tcase_add_test(tc, whole_tokens_match_byte_at_a_time);
	tcase_add_test(tc, plain_members_of_every_key_length);
	tcase_add_test(tc, ends_can_go_unreported);
	tcase_add_test(tc, escapes_and_unicode);
	tcase_add_test(tc, top_level_array_and_sequence);
	tcase_add_test(tc, long_values_are_cut_not_overflowed);
	tcase_add_test(tc, deep_nesting_is_followed_without_paths);
	tcase_add_test(tc, too_deep_is_an_error);
	tcase_add_test(tc, malformed_inputs_fail_cleanly);
	tcase_add_test(tc, chunks_are_strings_only);
	tcase_add_test(tc, skipped_containers_are_passed_over);
	tcase_add_test(tc, skipping_keeps_the_depth_limit);
	tcase_add_test(tc, skipped_blocks_follow_strings);
	tcase_add_test(tc, a_stray_skip_is_ignored);
	tcase_add_test(tc, parse_count);
	tcase_add_test(tc, top_scalars_of_a_held_body);
	tcase_add_test(tc, top_scalars_decline_what_they_might_misread);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
