/* SPDX-License-Identifier: MIT */
/*
 * Tests for the JSON reader of configurations: every key in its nested and
 * dotted forms, value types and limits, duplicates (also across the two
 * forms), text + length handling, \u0000, and a message naming the key on
 * every error path. Error paths run in loops so LeakSanitizer sees any
 * leak on them.
 */
#include <resdeliv/resdeliv.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_SIZE 512

static void assert_msg(const char *err, const char *want)
{
    ck_assert_msg(strstr(err, want) != NULL, "message '%s' lacks '%s'", err,
                  want);
}

static struct resdeliv_config *json_ok(const char *j)
{
    struct resdeliv_config *c = NULL;
    char err[ERR_SIZE] = "";
    int rc = resdeliv_config_from_json(j, strlen(j), &c, err, sizeof err);
    ck_assert_msg(rc == 0, "'%s' failed: %d %s", j, rc, err);
    ck_assert_ptr_nonnull(c);
    return c;
}

static void assert_all_set(const struct resdeliv_config *c)
{
    ck_assert_str_eq(c->connection, "redis://127.0.0.1:6379/2");
    ck_assert_str_eq(c->key_prefix, "app1");
    ck_assert_uint_eq(c->default_max_messages, 5000);
    ck_assert_uint_eq(c->per_channel_count, 2);
    ck_assert_str_eq(c->per_channel[0].pattern, "private-*");
    ck_assert_uint_eq(c->per_channel[0].max_messages, 10);
    ck_assert_str_eq(c->per_channel[1].pattern, "*");
    ck_assert_uint_eq(c->per_channel[1].max_messages, 20);
    ck_assert_uint_eq(c->max_age_seconds, 3600);
    ck_assert_str_eq(c->replay_id_field, "rid");
    ck_assert_str_eq(c->replay_epoch_field, "repoch");
    ck_assert_uint_eq(c->on_log_failure, RESDELIV_ON_FAILURE_FAIL);
    ck_assert_uint_eq(c->gap_notice, 0);
    ck_assert_uint_eq(c->replay_batch_size, 25);
    ck_assert_uint_eq(c->replay_max_messages, 300);
}

#define COMMON_KEYS                                                            \
    "\"connection\":\"redis://127.0.0.1:6379/2\",\"key_prefix\":\"app1\","     \
    "\"replay_id_field\":\"rid\",\"replay_epoch_field\":\"repoch\","           \
    "\"on_log_failure\":\"fail\",\"gap_notice\":false,"                        \
    "\"replay_batch_size\":25,\"replay_max_messages\":300"

START_TEST(test_json_every_key_both_forms)
{
    const char *docs[] = {
        "{" COMMON_KEYS ",\"retention\":{\"default_max_messages\":5000,"
        "\"per_channel\":{\"private-*\":10,\"*\":20},"
        "\"max_age_seconds\":3600}}",
        "{" COMMON_KEYS ",\"retention.default_max_messages\":5000,"
        "\"retention.per_channel\":[{\"pattern\":\"private-*\","
        "\"max_messages\":10},{\"max_messages\":20,\"pattern\":\"*\"}],"
        "\"retention.max_age_seconds\":3600}",
        "{\"retention\":{\"max_age_seconds\":3600},"
        "\"retention.default_max_messages\":5000," COMMON_KEYS
        ",\"retention.per_channel\":{\"private-*\":10,\"*\":20}}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        struct resdeliv_config *c = json_ok(docs[i]);
        assert_all_set(c);
        resdeliv_config_free(c);
    }
}
END_TEST

START_TEST(test_json_values)
{
    struct resdeliv_config *c =
        json_ok("{\"gap_notice\":true,\"on_log_failure\":"
                "\"deliver_untagged\",\"replay_batch_size\":1e2,"
                "\"retention\":{\"per_channel\":[]}}");
    ck_assert_uint_eq(c->gap_notice, 1);
    ck_assert_uint_eq(c->on_log_failure, 0);
    ck_assert_uint_eq(c->replay_batch_size, 100);
    ck_assert_uint_eq(c->per_channel_count, 0);
    resdeliv_config_free(c);
    c = json_ok("{\"retention.per_channel\":{}}");
    ck_assert_uint_eq(c->per_channel_count, 0);
    resdeliv_config_free(c);
}
END_TEST

static const struct {
    const char *json;
    int rc;
    const char *want1;
    const char *want2;
} bad_json[] = {
    {"not json", RESDELIV_EBADJSON, "not valid JSON near byte", ""},
    {"{\"a\":1,}", RESDELIV_EBADJSON, "near byte 7", ""},
    {"", RESDELIV_EBADJSON, "near byte 0", ""},
    {"{} x", RESDELIV_EBADJSON, "near byte 3", ""},
    {"[1]", RESDELIV_EBADCONFIG, "top level", "array"},
    {"\"memory\"", RESDELIV_EBADCONFIG, "top level", "string"},
    {"{\"retention\":{\"foo\":1}}", RESDELIV_EBADCONFIG,
     "unknown key 'retention.foo'", ""},
    {"{\"retention.foo\":1}", RESDELIV_EBADCONFIG,
     "unknown key 'retention.foo'", ""},
    {"{\"bogus\":1}", RESDELIV_EBADCONFIG, "unknown key 'bogus'", ""},
    {"{\"GAP_NOTICE\":true}", RESDELIV_EBADCONFIG, "unknown key", ""},
    {"{\"retention\":{\"retention.max_age_seconds\":1}}", RESDELIV_EBADCONFIG,
     "unknown key", ""},
    {"{\"replay_batch_size\":\"10\"}", RESDELIV_EBADCONFIG,
     "replay_batch_size: expected a non-negative integer, got string", ""},
    {"{\"replay_batch_size\":1.5}", RESDELIV_EBADCONFIG, "replay_batch_size",
     "got 1.5"},
    {"{\"replay_max_messages\":-1}", RESDELIV_EBADCONFIG, "replay_max_messages",
     "got -1"},
    {"{\"retention\":{\"max_age_seconds\":1e30}}", RESDELIV_EBADCONFIG,
     "retention.max_age_seconds", "non-negative integer"},
    {"{\"retention.default_max_messages\":9007199254740993}",
     RESDELIV_EBADCONFIG, "retention.default_max_messages",
     "non-negative integer"},
    {"{\"replay_batch_size\":-0}", RESDELIV_EBADCONFIG, "replay_batch_size",
     "non-negative"},
    {"{\"replay_batch_size\":null}", RESDELIV_EBADCONFIG, "replay_batch_size",
     "got null"},
    {"{\"gap_notice\":1}", RESDELIV_EBADCONFIG,
     "gap_notice: expected a boolean, got number", ""},
    {"{\"gap_notice\":\"on\"}", RESDELIV_EBADCONFIG, "gap_notice", "string"},
    {"{\"on_log_failure\":\"never\"}", RESDELIV_EBADCONFIG, "on_log_failure",
     "'never'"},
    {"{\"on_log_failure\":1}", RESDELIV_EBADCONFIG, "on_log_failure",
     "got number"},
    {"{\"connection\":5}", RESDELIV_EBADCONFIG,
     "connection: expected a string, got number", ""},
    {"{\"key_prefix\":[]}", RESDELIV_EBADCONFIG, "key_prefix", "got array"},
    {"{\"replay_id_field\":{}}", RESDELIV_EBADCONFIG, "replay_id_field",
     "got object"},
    {"{\"retention\":5}", RESDELIV_EBADCONFIG,
     "retention: expected an object, got number", ""},
    {"{\"retention.per_channel\":\"x\"}", RESDELIV_EBADCONFIG,
     "retention.per_channel: expected an object or an array, got string", ""},
    {"{\"retention\":{\"per_channel\":null}}", RESDELIV_EBADCONFIG,
     "retention.per_channel", "null"},
    {"{\"retention.per_channel\":{\"a\":\"x\"}}", RESDELIV_EBADCONFIG,
     "retention.per_channel['a']", "got string"},
    {"{\"retention.per_channel\":{\"a\":2.5}}", RESDELIV_EBADCONFIG,
     "retention.per_channel['a']", "got 2.5"},
    {"{\"retention.per_channel\":[5]}", RESDELIV_EBADCONFIG,
     "retention.per_channel[0]: expected an object", ""},
    {"{\"retention.per_channel\":[{\"pattern\":\"a\"}]}", RESDELIV_EBADCONFIG,
     "retention.per_channel[0]", "missing 'max_messages'"},
    {"{\"retention.per_channel\":[{\"max_messages\":1}]}", RESDELIV_EBADCONFIG,
     "retention.per_channel[0]", "missing 'pattern'"},
    {"{\"retention.per_channel\":[{\"pattern\":\"a\",\"max_messages\":1,"
     "\"x\":1}]}",
     RESDELIV_EBADCONFIG, "unknown key 'retention.per_channel[0].x'", ""},
    {"{\"retention.per_channel\":[{\"pattern\":\"a\",\"max_messages\":1},"
     "{\"pattern\":1,\"max_messages\":1}]}",
     RESDELIV_EBADCONFIG, "retention.per_channel[1].pattern",
     "expected a string"},
    {"{\"retention.per_channel\":[{\"pattern\":\"a\",\"max_messages\":-3}]}",
     RESDELIV_EBADCONFIG, "retention.per_channel[0].max_messages", "got -3"},
    {"{\"retention.per_channel\":[{\"pattern\":\"a\",\"pattern\":\"b\","
     "\"max_messages\":1}]}",
     RESDELIV_EBADCONFIG, "duplicate key", "pattern"},
    {"{\"retention.per_channel\":{\"a\":1,\"b\":2,\"a\":3}}",
     RESDELIV_EBADCONFIG, "retention.per_channel", "duplicate key 'a'"},
    {"{\"gap_notice\":true,\"gap_notice\":false}", RESDELIV_EBADCONFIG,
     "duplicate key 'gap_notice'", ""},
    {"{\"retention\":{\"default_max_messages\":5},"
     "\"retention.default_max_messages\":6}",
     RESDELIV_EBADCONFIG, "duplicate key 'retention.default_max_messages'", ""},
    {"{\"retention\":{\"max_age_seconds\":5},\"retention\":{}}",
     RESDELIV_EBADCONFIG, "duplicate key 'retention'", ""},
    {"{\"retention\":{\"per_channel\":{},\"per_channel\":[]}}",
     RESDELIV_EBADCONFIG, "duplicate key 'retention.per_channel'", ""},
    {"{\"retention\":{\"default_max_messages\":0}}", RESDELIV_EBADCONFIG,
     "retention.default_max_messages: must be between 1 and 100000000, "
     "got 0",
     ""},
    {"{\"retention.per_channel\":{\"private-*\":0}}", RESDELIV_EBADCONFIG,
     "retention.per_channel[0] ('private-*')", "got 0"},
    {"{\"retention.per_channel\":{\"\":5}}", RESDELIV_EBADCONFIG,
     "retention.per_channel[0].pattern", "got 0"},
    {"{\"retention.max_age_seconds\":315360001}", RESDELIV_EBADCONFIG,
     "retention.max_age_seconds", "315360001"},
    {"{\"replay_batch_size\":0}", RESDELIV_EBADCONFIG, "replay_batch_size",
     "got 0"},
    {"{\"replay_max_messages\":100000001}", RESDELIV_EBADCONFIG,
     "replay_max_messages", "100000001"},
    {"{\"replay_epoch_field\":\"_replay_id\"}", RESDELIV_EBADCONFIG,
     "replay_epoch_field", "must differ"},
    {"{\"replay_id_field\":\"a\\\"b\"}", RESDELIV_EBADCONFIG, "replay_id_field",
     "byte 1"},
    {"{\"replay_id_field\":\"\"}", RESDELIV_EBADCONFIG, "replay_id_field",
     "got 0"},
    {"{\"key_prefix\":\"a{b\"}", RESDELIV_EBADCONFIG, "key_prefix", "'{'"},
    {"{\"key_prefix\":\"a\\tb\"}", RESDELIV_EBADCONFIG, "key_prefix",
     "whitespace"},
    {"{\"connection\":\"rediss://h:6380\"}", RESDELIV_EBADCONFIG, "connection",
     "not supported"},
    {"{\"connection\":\"\"}", RESDELIV_EBADCONFIG, "connection", "empty"},
    {"{\"replay_id_field\":\"ab\\u0000cd\"}", RESDELIV_EBADCONFIG, "\\u0000",
     "byte 22"},
    {"{\"gap_notice\\u0000x\":true}", RESDELIV_EBADCONFIG, "\\u0000",
     "byte 12"},
    {"{\"connection\":\"tcp://h\"}", RESDELIV_EBADCONFIG, "connection",
     "tcp://h"},
};

#define BAD_JSON_CASES ((int)(sizeof bad_json / sizeof bad_json[0]))

START_TEST(test_json_bad)
{
    char err[ERR_SIZE];
    const char *j = bad_json[_i].json;
    for (int k = 0; k < 20; k++) {
        struct resdeliv_config *c = (struct resdeliv_config *)err;
        err[0] = '\0';
        int rc = resdeliv_config_from_json(j, strlen(j), &c, err, sizeof err);
        ck_assert_msg(rc == bad_json[_i].rc, "'%s': rc %d (%s)", j, rc, err);
        ck_assert_ptr_null(c);
        assert_msg(err, bad_json[_i].want1);
        assert_msg(err, bad_json[_i].want2);
        rc = resdeliv_config_from_json(j, strlen(j), &c, NULL, 0);
        ck_assert_int_eq(rc, bad_json[_i].rc);
    }
}
END_TEST

START_TEST(test_json_edges)
{
    struct resdeliv_config *c = NULL;
    char err[ERR_SIZE] = "";
    char key[501];
    char big[600];
    /* Text + length: bytes past `len` are not read; a NUL inside is bad. */
    ck_assert_int_eq(
        resdeliv_config_from_json("{}garbage", 2, &c, err, sizeof err), 0);
    resdeliv_config_free(c);
    ck_assert_int_eq(resdeliv_config_from_json("{}\0", 3, &c, err, sizeof err),
                     RESDELIV_EBADJSON);
    assert_msg(err, "near byte 2");
    ck_assert_int_eq(resdeliv_config_from_json(NULL, 0, &c, err, sizeof err),
                     RESDELIV_EINVAL);
    assert_msg(err, "json");
    ck_assert_int_eq(resdeliv_config_from_json("{}", 2, NULL, err, sizeof err),
                     RESDELIV_EINVAL);
    /* An escaped backslash before "u0000" is text, not a NUL. */
    const char *j = "{\"key_prefix\":\"a\\\\u0000\"}";
    ck_assert_int_eq(
        resdeliv_config_from_json(j, strlen(j), &c, err, sizeof err), 0);
    ck_assert_str_eq(c->key_prefix, "a\\u0000");
    resdeliv_config_free(c);
    /* A long unknown key is named, cut short, without overflow. */
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    snprintf(big, sizeof big, "{\"retention\":{\"%s\":1}}", key);
    ck_assert_int_eq(
        resdeliv_config_from_json(big, strlen(big), &c, err, sizeof err),
        RESDELIV_EBADCONFIG);
    assert_msg(err, "unknown key 'retention.kkkk");
    /* A tiny error buffer truncates safely. */
    ck_assert_int_eq(resdeliv_config_from_json("{\"x\":1}", 7, &c, err, 5),
                     RESDELIV_EBADCONFIG);
    ck_assert_str_eq(err, "unkn");
}
END_TEST

static Suite *config_json_suite(void)
{
    Suite *s = suite_create("config_json");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, test_json_every_key_both_forms);
    tcase_add_test(tc, test_json_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("bad");
    tcase_add_loop_test(tc, test_json_bad, 0, BAD_JSON_CASES);
    suite_add_tcase(s, tc);

    tc = tcase_create("edges");
    tcase_add_test(tc, test_json_edges);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_json_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
