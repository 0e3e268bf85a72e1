/* Attribution: tag parsing and limits, agent paths, and the merge of process,
 * thread frames and request headers into a call's attribution. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/attr.h"
#include "../../shim/uuid.h"
#include "helpers.h"

static struct spz_process_attr process(const char *agent, bool explicit_agent, const char *parent)
{
	struct spz_process_attr pa;
	memset(&pa, 0, sizeof(pa));
	strcpy(pa.run_id, "11111111-1111-4111-8111-111111111111");
	if (parent)
		spz_agent_path_push(&pa.path, parent);
	spz_agent_path_push(&pa.path, agent);
	pa.agent_explicit = explicit_agent;
	spz_tags_parse(&pa.tags, "team=core,env=prod");
	return pa;
}

/* The rendered members as a JSON object. */
static json_t *render(const struct spz_process_attr *pa, const char *id, const char *agent, const char *run,
		      const char *tags)
{
	char *m = spz_attr_render(pa, id, agent, run, tags);
	ck_assert_ptr_nonnull(m);
	char *doc = malloc(strlen(m) + 3);
	sprintf(doc, "{%s}", m);
	json_error_t err;
	json_t *j = json_loads(doc, 0, &err);
	ck_assert_msg(j != NULL, "not JSON: %s (%s)", doc, err.text);
	free(doc);
	free(m);
	return j;
}

static const char *path_str(json_t *j)
{
	static char buf[512];
	buf[0] = '\0';
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(j, "agentPath"), i, v) {
		if (i)
			strcat(buf, "/");
		strcat(buf, json_string_value(v));
	}
	return buf;
}

static const char *get(json_t *j, const char *k)
{
	return json_string_value(json_object_get(j, k));
}

static const char *tag(json_t *j, const char *k)
{
	return json_string_value(json_object_get(json_object_get(j, "tags"), k));
}

START_TEST(tags_escapes_and_limits)
{
	struct spz_tags t = { 0 };
	spz_tags_parse(&t, "a=1,b\\,c=x\\=y,empty=,=novalue,d=\\\\");
	ck_assert_uint_eq(t.count, 4);
	ck_assert_str_eq(t.tag[1].key, "b,c");
	ck_assert_str_eq(t.tag[1].value, "x=y");
	ck_assert_str_eq(t.tag[2].value, "");
	ck_assert_str_eq(t.tag[3].value, "\\");
	char longkey[100];
	memset(longkey, 'k', 65);
	strcpy(longkey + 65, "=v,ok=1");
	struct spz_tags u = { 0 };
	spz_tags_parse(&u, longkey);
	ck_assert_uint_eq(u.count, 1); /* the long key is dropped, not cut */
	ck_assert_str_eq(u.tag[0].key, "ok");
	struct spz_tags many = { 0 };
	char spec[1024] = "";
	for (int i = 0; i < 40; i++)
		sprintf(spec + strlen(spec), "k%d=v,", i);
	spz_tags_parse(&many, spec);
	ck_assert_uint_eq(many.count, 32);
	ck_assert_int_eq(spz_tags_set(&many, "k40", "v"), -ENOSPC);
	ck_assert_int_eq(spz_tags_set(&many, "k0", NULL), 0);
	ck_assert_uint_eq(many.count, 31);
}
END_TEST

START_TEST(agent_path_json)
{
	struct spz_agent_path p;
	ck_assert_int_eq(spz_agent_path_parse(&p, "[\"nightly-report\",\"fetch\"]"), 0);
	ck_assert_uint_eq(p.depth, 2);
	ck_assert_str_eq(p.agent[1], "fetch");
	ck_assert_int_eq(spz_agent_path_parse(&p, "[\"a\",[\"b\"]]"), -1);
	ck_assert_int_eq(spz_agent_path_parse(&p, "{\"a\":1}"), -1);
	ck_assert_int_eq(spz_agent_path_parse(&p, "[\"\"]"), -1);
	ck_assert_int_eq(spz_agent_path_parse(&p, "not json"), -1);
}
END_TEST

START_TEST(process_only)
{
	struct spz_process_attr pa = process("support-triage", true, NULL);
	json_t *j = render(&pa, "id-1", NULL, NULL, NULL);
	ck_assert_str_eq(get(j, "runId"), pa.run_id);
	ck_assert_str_eq(get(j, "agentName"), "support-triage");
	ck_assert_str_eq(path_str(j), "support-triage");
	ck_assert_str_eq(tag(j, "team"), "core");
	ck_assert_ptr_null(json_object_get(j, "parentRequestId"));
	json_decref(j);
}
END_TEST

/* Most calls carry the process's attribution alone: they share its one
 * rendering (never freed) instead of a copy each; any of a call's own
 * (a header, a thread's frame) gets a string of its own, and the copying
 * form still copies. */
START_TEST(process_rendering_is_shared)
{
	struct spz_process_attr pa = process("support-triage", true, NULL);
	bool shared1 = false, shared2 = false, own = true;
	char *a = spz_attr_render_call(&pa, "id-1", NULL, NULL, NULL, &shared1);
	char *b = spz_attr_render_call(&pa, "id-2", "", NULL, "", &shared2);
	ck_assert(shared1 && shared2);
	ck_assert_ptr_eq(a, b);
	ck_assert_ptr_nonnull(strstr(a, "\"agentName\":\"support-triage\""));
	char *h = spz_attr_render_call(&pa, "id-3", "parser", NULL, NULL, &own);
	ck_assert(!own);
	ck_assert_ptr_ne(h, a);
	ck_assert_ptr_nonnull(strstr(h, "\"agentName\":\"parser\""));
	free(h);
	ck_assert_int_eq(spz_frame_begin("worker", NULL), 0);
	own = true;
	char *f = spz_attr_render_call(&pa, "id-4", NULL, NULL, NULL, &own);
	ck_assert(!own);
	ck_assert_ptr_nonnull(strstr(f, "\"agentName\":\"worker\""));
	free(f);
	ck_assert_int_eq(spz_frame_end(), 0);
	char *copy = spz_attr_render(&pa, "id-5", NULL, NULL, NULL);
	ck_assert_ptr_ne(copy, a);
	ck_assert_str_eq(copy, a);
	free(copy);
}
END_TEST

START_TEST(frames_nest_and_link)
{
	struct spz_process_attr pa = process("planner", true, NULL);
	char *m = spz_attr_render(&pa, "call-before", NULL, NULL, NULL); /* thread level, no frame */
	free(m);
	ck_assert_int_eq(spz_frame_begin("research", "step=1"), 0);
	json_t *j = render(&pa, "call-a", NULL, NULL, NULL);
	ck_assert_str_eq(path_str(j), "planner/research");
	ck_assert_str_ne(get(j, "runId"), pa.run_id); /* a frame opens a run */
	char run[64];
	strcpy(run, get(j, "runId"));
	ck_assert_str_eq(tag(j, "step"), "1");
	ck_assert_str_eq(tag(j, "team"), "core");
	json_decref(j);

	ck_assert_int_eq(spz_frame_begin("synthesize", "step=2"), 0);
	j = render(&pa, "call-b", NULL, NULL, NULL);
	ck_assert_str_eq(path_str(j), "planner/research/synthesize");
	ck_assert_str_eq(get(j, "runId"), run); /* inner frames join the run */
	ck_assert_str_eq(get(j, "parentRequestId"), "call-a");
	ck_assert_str_eq(tag(j, "step"), "2"); /* inner wins */
	json_decref(j);

	ck_assert_int_eq(spz_frame_set_agent("writer"), 0);
	ck_assert_int_eq(spz_frame_set_tag("env", "staging"), 0);
	j = render(&pa, "call-c", NULL, NULL, NULL);
	ck_assert_str_eq(path_str(j), "planner/research/writer");
	ck_assert_str_eq(tag(j, "env"), "staging");
	json_decref(j);

	ck_assert_int_eq(spz_frame_end(), 0);
	j = render(&pa, "call-d", NULL, NULL, NULL);
	ck_assert_str_eq(path_str(j), "planner/research");
	ck_assert_str_eq(tag(j, "env"), "prod");
	json_decref(j);
	ck_assert_int_eq(spz_frame_end(), 0);
	ck_assert_int_eq(spz_frame_end(), -ENOENT);
	j = render(&pa, "call-e", NULL, NULL, NULL);
	ck_assert_str_eq(get(j, "runId"), pa.run_id);
	json_decref(j);
	spz_frames_clear();
}
END_TEST

START_TEST(default_agent_is_replaced_not_nested)
{
	/* No SPATURZU_AGENT: the program's name is a default that code-named
	 * agents and header agents replace. */
	struct spz_process_attr pa = process("python3", false, NULL);
	json_t *j = render(&pa, "x", NULL, NULL, NULL);
	ck_assert_str_eq(path_str(j), "python3");
	json_decref(j);
	ck_assert_int_eq(spz_frame_set_agent("triage"), 0);
	j = render(&pa, "y", NULL, NULL, NULL);
	ck_assert_str_eq(path_str(j), "triage");
	json_decref(j);
	spz_frames_clear();
	j = render(&pa, "z", "from-header", NULL, NULL);
	ck_assert_str_eq(path_str(j), "from-header");
	json_decref(j);
}
END_TEST

START_TEST(headers_win)
{
	struct spz_process_attr pa = process("fetch", true, "nightly-report");
	json_t *j = render(&pa, "h", "parser", "22222222-2222-4222-8222-222222222222", "team=data,x=1");
	ck_assert_str_eq(path_str(j), "nightly-report/fetch/parser");
	ck_assert_str_eq(get(j, "agentName"), "parser");
	ck_assert_str_eq(get(j, "runId"), "22222222-2222-4222-8222-222222222222");
	ck_assert_str_eq(tag(j, "team"), "data");
	ck_assert_str_eq(tag(j, "env"), "prod");
	json_decref(j);
}
END_TEST

START_TEST(bad_arguments)
{
	char big[300];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(spz_frame_begin(big, NULL), -EINVAL);
	ck_assert_int_eq(spz_frame_set_tag("", "v"), -EINVAL);
	ck_assert_int_eq(spz_frame_set_tag("k", big), -EINVAL);
	ck_assert_int_eq(spz_frame_end(), -ENOENT);
	spz_frames_clear();
}
END_TEST

START_TEST(uuid_v7_sorts_within_a_thread)
{
	char prev[SPZ_UUID_STR] = "", id[SPZ_UUID_STR];
	for (int i = 0; i < 5000; i++) {
		spz_uuid_v7(id, 1763884800000 + i / 1000); /* 1000 ids a millisecond */
		ck_assert_uint_eq(strlen(id), 36);
		ck_assert_int_eq(id[14], '7');                        /* version 7 */
		ck_assert(strchr("89ab", id[19]) != NULL);            /* RFC 9562 variant */
		ck_assert_msg(strcmp(prev, id) < 0, "%s then %s", prev, id);
		strcpy(prev, id);
	}
}
END_TEST

/* RFC 9562 5.7: the first 48 bits are the Unix time in milliseconds, then
 * the version; 8-4-4-4-12 lowercase hex digits. */
START_TEST(uuid_v7_spells_its_time_and_layout)
{
	char id[SPZ_UUID_STR];
	spz_uuid_v7(id, 0x0123456789abLL);
	ck_assert_msg(strncmp(id, "01234567-89ab-7", 15) == 0, "%s", id);
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ck_assert_int_eq(id[i], '-');
		else
			ck_assert_msg(strchr("0123456789abcdef", id[i]) && id[i], "%s at %d", id, i);
	}
	ck_assert_int_eq(id[36], '\0');
	char v4[SPZ_UUID_STR];
	spz_uuid_v4(v4);
	ck_assert_uint_eq(strlen(v4), 36);
	ck_assert_int_eq(v4[14], '4');
	ck_assert(strchr("89ab", v4[19]) != NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("attr");
	TCase *tc = tcase_create("attribution");
	tcase_add_test(tc, tags_escapes_and_limits);
	tcase_add_test(tc, agent_path_json);
	tcase_add_test(tc, process_only);
	tcase_add_test(tc, process_rendering_is_shared);
	tcase_add_test(tc, frames_nest_and_link);
	tcase_add_test(tc, default_agent_is_replaced_not_nested);
	tcase_add_test(tc, headers_win);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, uuid_v7_sorts_within_a_thread);
	tcase_add_test(tc, uuid_v7_spells_its_time_and_layout);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
