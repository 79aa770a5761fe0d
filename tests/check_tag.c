/* SPDX-License-Identifier: MIT */
/*
 * Tagging: exact output for small cases, replacement of existing members,
 * rejection of everything that is not one JSON object, argument checks and
 * caller buffers. The randomized comparisons are in check_tag_random.c.
 */
#include "internal.h"
#include "tag_test.h"

#include <cjson/cJSON.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tag a NUL-terminated string; returns the result (caller frees) or NULL
 * with *rc set. */
static char *tag_str(const char *data, const char *epoch, int *rc)
{
    char *out = NULL;
    size_t out_len = 0;

    *rc = resdeliv_tag(data, strlen(data), IDF, EPF, &test_id, epoch, &out,
                       &out_len);
    if (*rc != 0) {
        ck_assert_ptr_null(out);
        return NULL;
    }
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(strlen(out), out_len);
    return out;
}

static void expect_tag(const char *data, const char *epoch, const char *want)
{
    int rc;
    char *out = tag_str(data, epoch, &rc);

    ck_assert_msg(rc == 0, "'%s' gave %d", data, rc);
    ck_assert_str_eq(out, want);
    resdeliv_free(out);
}

static void expect_bad(const char *data)
{
    int rc;
    char *out = tag_str(data, "e1", &rc);

    ck_assert_msg(rc == RESDELIV_EBADJSON, "'%s' gave %d", data, rc);
    ck_assert_ptr_null(out);
    ck_assert_msg(!resdeliv_tag_is_object(data, strlen(data)), "'%s'", data);
}

START_TEST(test_append)
{
    expect_tag("{\"a\":1}", "e1",
               "{\"a\":1,\"_replay_id\":\"1700000000123-7\","
               "\"_replay_epoch\":\"e1\"}");
    expect_tag("{\"a\":1}", NULL,
               "{\"a\":1,\"_replay_id\":\"1700000000123-7\"}");
    expect_tag("{\"a\":1}", "", "{\"a\":1,\"_replay_id\":\"1700000000123-7\"}");
    expect_tag("{}", NULL, "{\"_replay_id\":\"1700000000123-7\"}");
    expect_tag("{}", "e1",
               "{\"_replay_id\":\"1700000000123-7\",\"_replay_epoch\":\"e1\"}");
    expect_tag("  { }  ", NULL, "  { \"_replay_id\":\"1700000000123-7\"}  ");
    expect_tag("\n{ \"a\" : [ 1 , 2 ] ,\t\"b\" : { } }\r\n", NULL,
               "\n{ \"a\" : [ 1 , 2 ] ,\t\"b\" : { },\"_replay_id\":"
               "\"1700000000123-7\" }\r\n");
    expect_tag("{\"s\":\"}{][\",\"t\":\"\\\"}\"}", NULL,
               "{\"s\":\"}{][\",\"t\":\"\\\"}\",\"_replay_id\":"
               "\"1700000000123-7\"}");
    /* Same name deeper down is not the top-level member. */
    expect_tag("{\"n\":{\"_replay_id\":5}}", NULL,
               "{\"n\":{\"_replay_id\":5},\"_replay_id\":\"1700000000123-7\"}");
    /* A key spelled with escapes names the same member once decoded, so its
     * value is replaced: a JSON reader must never see the name twice. */
    expect_tag("{\"_replay\\u005fid\":1}", NULL,
               "{\"_replay\\u005fid\":\"1700000000123-7\"}");
    expect_tag("{\"_replay\\u005fid\":\"x\",\"a\":1}", "e1",
               "{\"_replay\\u005fid\":\"1700000000123-7\",\"a\":1,"
               "\"_replay_epoch\":\"e1\"}");
    expect_tag("{\"\\u005freplay_epoch\":\"x\"}", "e1",
               "{\"\\u005freplay_epoch\":\"e1\",\"_replay_id\":"
               "\"1700000000123-7\"}");
    /* Other escapes decode to other names and are left alone. */
    expect_tag("{\"_replay\\u005fi\\u0064x\":1}", NULL,
               "{\"_replay\\u005fi\\u0064x\":1,\"_replay_id\":"
               "\"1700000000123-7\"}");
    expect_tag("{\"\\ud83d\\ude00\\n\":1}", NULL,
               "{\"\\ud83d\\ude00\\n\":1,\"_replay_id\":"
               "\"1700000000123-7\"}");
}
END_TEST

START_TEST(test_replace)
{
    expect_tag("{\"_replay_id\":\"old\",\"a\":1}", NULL,
               "{\"_replay_id\":\"1700000000123-7\",\"a\":1}");
    expect_tag("{\"a\":1, \"_replay_id\" : 12 }", NULL,
               "{\"a\":1, \"_replay_id\" : \"1700000000123-7\" }");
    expect_tag("{\"_replay_id\":{\"x\":[1,{\"y\":\"}\"}]},\"b\":null}", NULL,
               "{\"_replay_id\":\"1700000000123-7\",\"b\":null}");
    expect_tag("{\"_replay_epoch\":\"old\",\"_replay_id\":[]}", "e2",
               "{\"_replay_epoch\":\"e2\",\"_replay_id\":\"1700000000123-7\"}");
    expect_tag("{\"_replay_id\":null,\"_replay_epoch\":true}", "e2",
               "{\"_replay_id\":\"1700000000123-7\",\"_replay_epoch\":\"e2\"}");
    expect_tag("{\"_replay_epoch\":1}", "e2",
               "{\"_replay_epoch\":\"e2\",\"_replay_id\":\"1700000000123-7\"}");
    expect_tag("{\"_replay_id\":1,\"z\":2}", "e2",
               "{\"_replay_id\":\"1700000000123-7\",\"z\":2,"
               "\"_replay_epoch\":\"e2\"}");
    /* No epoch given: an existing epoch member is left alone. */
    expect_tag("{\"_replay_epoch\":\"keep\"}", NULL,
               "{\"_replay_epoch\":\"keep\",\"_replay_id\":"
               "\"1700000000123-7\"}");
}
END_TEST

START_TEST(test_not_object)
{
    static const char *bad[] = {
        "",
        "   ",
        "[]",
        "[{}]",
        "\"{}\"",
        "1",
        "-1.5",
        "null",
        "true",
        "false",
        "{",
        "}",
        "{]",
        "[}",
        "{{}}",
        "{\"a\":[}]",
        "{\"a\":{]}",
        "{\"a\":[1,2}",
        "{\"a\":1",
        "{\"a\":\"x}",
        "{\"a\":\"x",
        "{\"",
        "{}x",
        "{}{}",
        "{} {}",
        "{},",
        "x{}",
        "{,}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{1:2}",
        "{a:1}",
        "{\"a\":1 \"b\":2}",
        "{\"a\":1,,\"b\":2}",
        "{\"a\"::1}",
        "{\"a\":1 2}",
        "{:1}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u12G4\"}",
        "{\"a\":\"\\\"}",
        "{\"a\":\"\\",
        "{\"a\":[\"]\"}",
        "{\"a\":tr\"ue\"}",
        "{\"a\":[[[]]}",
        "{\"a\":]}",
        "{\"a\":}}",
        "\v{}",
        "{}\f",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_bad(bad[i]);
    }
}
END_TEST

START_TEST(test_duplicate_field)
{
    int rc;
    char *out;

    out = tag_str("{\"_replay_id\":1,\"_replay_id\":2}", NULL, &rc);
    ck_assert_int_eq(rc, RESDELIV_EBADJSON);
    out = tag_str("{\"_replay_epoch\":1,\"_replay_epoch\":2}", "e", &rc);
    ck_assert_int_eq(rc, RESDELIV_EBADJSON);
    /* Both spellings of one name are a duplicate too. */
    out = tag_str("{\"_replay_id\":1,\"_replay\\u005fid\":2}", NULL, &rc);
    ck_assert_int_eq(rc, RESDELIV_EBADJSON);
    /* Still an object; only the tag would be ambiguous. */
    ck_assert(resdeliv_tag_is_object("{\"a\":1,\"a\":2}", 13));
    expect_tag("{\"a\":1,\"a\":2}", NULL,
               "{\"a\":1,\"a\":2,\"_replay_id\":\"1700000000123-7\"}");
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_strings)
{
    expect_tag("{\"a\":\"\\\\\"}", NULL,
               "{\"a\":\"\\\\\",\"_replay_id\":\"1700000000123-7\"}");
    expect_tag("{\"a\":\"\\\\\\\"}\"}", NULL,
               "{\"a\":\"\\\\\\\"}\",\"_replay_id\":\"1700000000123-7\"}");
    expect_tag("{\"a\":\"\\u0022}\\uABcd\\/\\b\\f\\n\\r\\t\"}", NULL,
               "{\"a\":\"\\u0022}\\uABcd\\/\\b\\f\\n\\r\\t\","
               "\"_replay_id\":\"1700000000123-7\"}");
    expect_tag("{\"\\\"}\":\"{\"}", NULL,
               "{\"\\\"}\":\"{\",\"_replay_id\":\"1700000000123-7\"}");
    expect_tag("{\"é\":\"日本\"}", NULL,
               "{\"é\":\"日本\",\"_replay_id\":\"1700000000123-7\"}");
}
END_TEST

static char *nested(int depth, char open, char close)
{
    char *s = malloc((size_t)depth * 2 + 16);
    size_t n = 0;

    ck_assert_ptr_nonnull(s);
    n += (size_t)sprintf(s, "{\"a\":");
    for (int i = 1; i < depth; i++) {
        s[n++] = open;
    }
    s[n++] = '1';
    for (int i = 1; i < depth; i++) {
        s[n++] = close;
    }
    s[n++] = '}';
    s[n] = '\0';
    return s;
}

START_TEST(test_depth)
{
    char *ok_arr = nested(RESDELIV_TAG_MAX_DEPTH, '[', ']');
    char *bad_arr = nested(RESDELIV_TAG_MAX_DEPTH + 1, '[', ']');
    char *far = nested(10000, '[', ']');
    char buf[RESDELIV_TAG_MAX_DEPTH * 8];
    int rc;
    char *out;
    size_t n = 0;

    ck_assert(resdeliv_tag_is_object(ok_arr, strlen(ok_arr)));
    out = tag_str(ok_arr, NULL, &rc);
    ck_assert_int_eq(rc, 0);
    resdeliv_free(out);
    expect_bad(bad_arr);
    expect_bad(far);

    /* Objects all the way down: 128 levels pass, 129 do not. */
    for (int i = 0; i < RESDELIV_TAG_MAX_DEPTH - 1; i++) {
        n += (size_t)sprintf(buf + n, "{\"k\":");
    }
    n += (size_t)sprintf(buf + n, "{}");
    for (int i = 0; i < RESDELIV_TAG_MAX_DEPTH - 1; i++) {
        buf[n++] = '}';
    }
    buf[n] = '\0';
    ck_assert(resdeliv_tag_is_object(buf, n));
    memmove(buf + 5, buf, n + 1);
    memcpy(buf, "{\"k\":", 5);
    buf[n + 5] = '}';
    buf[n + 6] = '\0';
    ck_assert(!resdeliv_tag_is_object(buf, n + 6));
    free(ok_arr);
    free(bad_arr);
    free(far);
}
END_TEST

START_TEST(test_length)
{
    static const char nul_in_str[] = "{\"a\":\"x\0y\"}";
    static const char nul_outside[] = "{\"a\":1}\0";
    char *out = NULL;
    size_t out_len = 0;

    /* Only len bytes count, and the data need not end in NUL. */
    ck_assert_int_eq(
        resdeliv_tag("{}garbage", 2, IDF, EPF, &test_id, NULL, &out, &out_len),
        0);
    ck_assert_str_eq(out, "{\"_replay_id\":\"1700000000123-7\"}");
    resdeliv_free(out);
    out = NULL;
    ck_assert_int_eq(
        resdeliv_tag("{\"a\":1}", 6, IDF, EPF, &test_id, NULL, &out, &out_len),
        RESDELIV_EBADJSON);
    ck_assert(resdeliv_tag_is_object(nul_in_str, sizeof(nul_in_str) - 1));
    ck_assert(!resdeliv_tag_is_object(nul_outside, sizeof(nul_outside) - 1));
    ck_assert(!resdeliv_tag_is_object(NULL, 0));
    ck_assert(!resdeliv_tag_is_object("{}", 0));
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_args)
{
    static const char *bad_fields[] = {"",     "a\"b",      "a\\b",   "a\nb",
                                       "\x01", "tab\there", "del\x7f"};
    char *out = NULL;
    size_t len = 0;
    char buf[256];

    for (size_t i = 0; i < sizeof(bad_fields) / sizeof(bad_fields[0]); i++) {
        ck_assert_int_eq(resdeliv_tag("{}", 2, bad_fields[i], EPF, &test_id,
                                      NULL, &out, &len),
                         RESDELIV_EINVAL);
        ck_assert_int_eq(resdeliv_tag("{}", 2, IDF, bad_fields[i], &test_id,
                                      "e1", &out, &len),
                         RESDELIV_EINVAL);
    }
    ck_assert_int_eq(
        resdeliv_tag("{}", 2, NULL, EPF, &test_id, NULL, &out, &len),
        RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_tag("{}", 2, IDF, NULL, &test_id, "e1", &out, &len),
        RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_tag("{}", 2, IDF, IDF, &test_id, "e1", &out, &len),
        RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_tag("{}", 2, IDF, EPF, NULL, NULL, &out, &len),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_tag(NULL, 2, IDF, EPF, &test_id, NULL, &out, &len),
        RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_tag("{}", 2, IDF, EPF, &test_id, NULL, NULL, &len),
        RESDELIV_EINVAL);
    /* Epochs are checked too, so they cannot break the JSON. */
    ck_assert_int_eq(
        resdeliv_tag("{}", 2, IDF, EPF, &test_id, "a\"b", &out, &len),
        RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_tag("{}", 2, IDF, EPF, &test_id,
                                  "0123456789abcdef0123456789abcdef0", &out,
                                  &len),
                     RESDELIV_EINVAL);
    ck_assert_ptr_null(out);
    /* With no epoch the epoch field is not needed. */
    ck_assert_int_eq(
        resdeliv_tag_into("{}", 2, IDF, NULL, &test_id, NULL, buf, sizeof(buf)),
        32);
    ck_assert_int_eq(
        resdeliv_tag_into("{}", 2, IDF, EPF, &test_id, NULL, NULL, 100),
        RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_tag_into("{}", 2, "x\"", EPF, &test_id, NULL, buf,
                                       sizeof(buf)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_tag_into("[]", 2, IDF, EPF, &test_id, NULL, buf, sizeof(buf)),
        RESDELIV_EBADJSON);
}
END_TEST

START_TEST(test_into)
{
    const char *data = "{\"a\":[1,2,3],\"b\":\"x\"}";
    const char *want = "{\"a\":[1,2,3],\"b\":\"x\",\"_replay_id\":"
                       "\"1700000000123-7\",\"_replay_epoch\":\"ep\"}";
    size_t wlen = strlen(want);
    char *buf = malloc(wlen + 1);
    long n;

    ck_assert_ptr_nonnull(buf);
    n = resdeliv_tag_into(data, strlen(data), IDF, EPF, &test_id, "ep", buf,
                          wlen + 1);
    ck_assert_int_eq(n, (long)wlen);
    ck_assert_str_eq(buf, want);
    n = resdeliv_tag_into(data, strlen(data), IDF, EPF, &test_id, "ep", buf,
                          wlen);
    ck_assert_int_eq(n, RESDELIV_ENOSPC);
    n = resdeliv_tag_into(data, strlen(data), IDF, EPF, &test_id, "ep", buf, 0);
    ck_assert_int_eq(n, RESDELIV_ENOSPC);
    free(buf);
}
END_TEST

static Suite *tag_suite(void)
{
    Suite *s = suite_create("tag");
    TCase *tc = tcase_create("splice");

    tcase_add_test(tc, test_append);
    tcase_add_test(tc, test_replace);
    tcase_add_test(tc, test_strings);
    tcase_add_test(tc, test_into);
    suite_add_tcase(s, tc);

    tc = tcase_create("reject");
    tcase_add_test(tc, test_not_object);
    tcase_add_test(tc, test_duplicate_field);
    tcase_add_test(tc, test_depth);
    tcase_add_test(tc, test_length);
    tcase_add_test(tc, test_args);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tag_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
