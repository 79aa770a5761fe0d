/* SPDX-License-Identifier: MIT */
/*
 * Tests of the Pusher protocol helpers: client frame and subscribe
 * parsing, and hostile input (oversized, deeply nested, invalid UTF-8, NUL
 * bytes, truncated frames, random mutations). The server frame builders
 * and the string escaper are tested in check_pusher_build.c.
 */
#include <resdeliv/resdeliv.h>

#include <check.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRSZ 256

/* ------------------------------------------------------------ helpers */

static int parse_frame_str(const char *text, struct resdeliv_pusher_frame *f,
                           char *err)
{
    return resdeliv_pusher_parse_frame(text, strlen(text), f, err, ERRSZ);
}

static int parse_sub_str(const char *text, struct resdeliv_pusher_subscribe *s,
                         char *err)
{
    return resdeliv_pusher_parse_subscribe(text, strlen(text), s, err, ERRSZ);
}

/* A bad frame must fail with EBADFRAME and name `member` in the message,
 * and leave the output empty. */
static void expect_bad_frame(const char *text, size_t len, const char *member)
{
    struct resdeliv_pusher_frame f;
    char err[ERRSZ] = "";

    ck_assert_int_eq(resdeliv_pusher_parse_frame(text, len, &f, err, ERRSZ),
                     RESDELIV_EBADFRAME);
    ck_assert_ptr_null(f.event);
    ck_assert_ptr_null(f.channel);
    ck_assert_ptr_null(f.data);
    if (member != NULL) {
        ck_assert_msg(strstr(err, member) != NULL, "'%s' not in '%s'", member,
                      err);
    }
}

static void expect_bad_sub(const char *text, size_t len, const char *member)
{
    struct resdeliv_pusher_subscribe s;
    char err[ERRSZ] = "";

    ck_assert_int_eq(resdeliv_pusher_parse_subscribe(text, len, &s, err, ERRSZ),
                     RESDELIV_EBADFRAME);
    ck_assert_ptr_null(s.channel);
    ck_assert_ptr_null(s.auth);
    ck_assert_ptr_null(s.last_event_id);
    if (member != NULL) {
        ck_assert_msg(strstr(err, member) != NULL, "'%s' not in '%s'", member,
                      err);
    }
}

/* ---------------------------------------------------------- parse_frame */

START_TEST(frame_object_data)
{
    struct resdeliv_pusher_frame f;
    char err[ERRSZ];
    const char *t = "{\"event\":\"client-typing\",\"channel\":\"private-a\","
                    "\"data\":{\"a\":1,\"b\":[true,null,\"x\"]}}";

    ck_assert_int_eq(parse_frame_str(t, &f, err), 0);
    ck_assert_str_eq(f.event, "client-typing");
    ck_assert_str_eq(f.channel, "private-a");
    ck_assert_str_eq(f.data, "{\"a\":1,\"b\":[true,null,\"x\"]}");
    ck_assert_uint_eq(f.data_len, strlen(f.data));
    resdeliv_pusher_frame_clear(&f);
    ck_assert_ptr_null(f.event);
    ck_assert_ptr_null(f.data);
}
END_TEST

START_TEST(frame_string_data)
{
    struct resdeliv_pusher_frame f;
    char err[ERRSZ];

    ck_assert_int_eq(
        parse_frame_str("{\"event\":\"e\",\"data\":\"{\\\"x\\\":\\\"y\\\"}\"}",
                        &f, err),
        0);
    ck_assert_str_eq(f.event, "e");
    ck_assert_ptr_null(f.channel);
    ck_assert_str_eq(f.data, "{\"x\":\"y\"}");
    ck_assert_uint_eq(f.data_len, 9);
    resdeliv_pusher_frame_clear(&f);
}
END_TEST

START_TEST(frame_ping_and_absent)
{
    struct resdeliv_pusher_frame f;
    char err[ERRSZ];

    ck_assert_int_eq(
        parse_frame_str(" {\"event\":\"pusher:ping\",\"data\":{}}\r\n", &f,
                        err),
        0);
    ck_assert_str_eq(f.event, "pusher:ping");
    ck_assert_str_eq(f.data, "{}");
    resdeliv_pusher_frame_clear(&f);

    ck_assert_int_eq(parse_frame_str("{\"event\":\"pusher:pong\"}", &f, err),
                     0);
    ck_assert_str_eq(f.event, "pusher:pong");
    ck_assert_ptr_null(f.data);
    ck_assert_uint_eq(f.data_len, 0);
    resdeliv_pusher_frame_clear(&f);

    /* JSON null is treated like an absent member. */
    ck_assert_int_eq(
        parse_frame_str("{\"event\":\"e\",\"channel\":null,\"data\":null}", &f,
                        err),
        0);
    ck_assert_ptr_null(f.channel);
    ck_assert_ptr_null(f.data);
    resdeliv_pusher_frame_clear(&f);

    ck_assert_int_eq(
        parse_frame_str("{\"event\":\"e\",\"data\":[1,2]}", &f, err), 0);
    ck_assert_str_eq(f.data, "[1,2]");
    resdeliv_pusher_frame_clear(&f);
}
END_TEST

START_TEST(frame_wrong_types)
{
    static const struct {
        const char *text;
        const char *member;
    } cases[] = {
        {"{\"channel\":\"a\"}", "\"event\""},
        {"{\"event\":42}", "\"event\""},
        {"{\"event\":null}", "\"event\""},
        {"{\"event\":{\"a\":1}}", "\"event\""},
        {"{\"event\":\"e\",\"channel\":7}", "\"channel\""},
        {"{\"event\":\"e\",\"channel\":[\"a\"]}", "\"channel\""},
        {"{\"event\":\"e\",\"data\":12}", "\"data\""},
        {"{\"event\":\"e\",\"data\":false}", "\"data\""},
        {"{\"event\":\"e\",\"event\":\"f\"}", "\"event\""},
        {"{\"event\":\"e\",\"data\":{},\"data\":{}}", "\"data\""},
        {"[{\"event\":\"e\"}]", "frame"},
        {"\"event\"", "frame"},
        {"42", "frame"},
        {"{\"event\":\"e\"} {}", "frame"},
        {"{\"event\":\"e\",}", "frame"},
        {"{event:\"e\"}", "frame"},
        {"", "frame"},
        {"   ", "frame"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_bad_frame(cases[i].text, strlen(cases[i].text), cases[i].member);
    }
}
END_TEST

START_TEST(frame_bad_args)
{
    struct resdeliv_pusher_frame f;

    ck_assert_int_eq(resdeliv_pusher_parse_frame("{}", 2, NULL, NULL, 0),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_parse_frame(NULL, 5, &f, NULL, 0),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_parse_frame(NULL, 0, &f, NULL, 0),
                     RESDELIV_EBADFRAME);
    /* A NULL error buffer is fine. */
    ck_assert_int_eq(resdeliv_pusher_parse_frame("nope", 4, &f, NULL, 0),
                     RESDELIV_EBADFRAME);
    resdeliv_pusher_frame_clear(NULL);
    resdeliv_pusher_subscribe_clear(NULL);
}
END_TEST

/* ------------------------------------------------------ parse_subscribe */

static void check_full_sub(const struct resdeliv_pusher_subscribe *s)
{
    ck_assert_str_eq(s->channel, "presence-room.1");
    ck_assert_str_eq(s->auth, "key:abc");
    ck_assert_str_eq(s->channel_data, "{\"user_id\":\"7\"}");
    ck_assert_str_eq(s->last_event_id, "1700000000000-3");
    ck_assert_str_eq(s->last_event_epoch, "e1f2");
}

START_TEST(sub_object_data)
{
    struct resdeliv_pusher_subscribe s;
    char err[ERRSZ];
    const char *t =
        "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
        "\"presence-room.1\",\"auth\":\"key:abc\",\"channel_data\":"
        "\"{\\\"user_id\\\":\\\"7\\\"}\",\"last_event_id\":\"1700000000000-3\","
        "\"last_event_epoch\":\"e1f2\"}}";

    ck_assert_int_eq(parse_sub_str(t, &s, err), 0);
    check_full_sub(&s);
    resdeliv_pusher_subscribe_clear(&s);
    ck_assert_ptr_null(s.channel);
    ck_assert_ptr_null(s.last_event_epoch);
}
END_TEST

START_TEST(sub_string_data)
{
    struct resdeliv_pusher_subscribe s;
    char err[ERRSZ];
    const char *t =
        "{\"event\":\"pusher:subscribe\",\"data\":\"{\\\"channel\\\":"
        "\\\"presence-room.1\\\",\\\"auth\\\":\\\"key:abc\\\","
        "\\\"channel_data\\\":\\\"{\\\\\\\"user_id\\\\\\\":\\\\\\\"7\\\\\\\"}"
        "\\\",\\\"last_event_id\\\":\\\"1700000000000-3\\\","
        "\\\"last_event_epoch\\\":\\\"e1f2\\\"}\"}";

    ck_assert_int_eq(parse_sub_str(t, &s, err), 0);
    check_full_sub(&s);
    resdeliv_pusher_subscribe_clear(&s);
}
END_TEST

START_TEST(sub_minimal)
{
    struct resdeliv_pusher_subscribe s;
    char err[ERRSZ];

    ck_assert_int_eq(
        parse_sub_str("{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
                      "\"my-channel\",\"last_event_id\":null}}",
                      &s, err),
        0);
    ck_assert_str_eq(s.channel, "my-channel");
    ck_assert_ptr_null(s.auth);
    ck_assert_ptr_null(s.channel_data);
    ck_assert_ptr_null(s.last_event_id);
    ck_assert_ptr_null(s.last_event_epoch);
    resdeliv_pusher_subscribe_clear(&s);
}
END_TEST

START_TEST(sub_wrong_types)
{
    static const struct {
        const char *data;
        const char *member;
    } cases[] = {
        {"{\"channel\":\"a\",\"last_event_id\":1700000000000}",
         "\"last_event_id\""},
        {"{\"channel\":\"a\",\"last_event_epoch\":5}", "\"last_event_epoch\""},
        {"{\"channel\":\"a\",\"auth\":[\"x\"]}", "\"auth\""},
        {"{\"channel\":\"a\",\"channel_data\":{\"user_id\":1}}",
         "\"channel_data\""},
        {"{\"channel\":1}", "\"channel\""},
        {"{\"auth\":\"x\"}", "\"channel\""},
        {"{\"channel\":\"\"}", "\"channel\""},
        {"{\"channel\":\"bad channel\"}", "\"channel\""},
        {"{\"channel\":\"a/b\"}", "\"channel\""},
        {"{\"channel\":\"caf\xc3\xa9\"}", "\"channel\""},
        {"{\"channel\":\"a\",\"channel\":\"b\"}", "\"channel\""},
        {"12", "\"data\""},
        {"[{\"channel\":\"a\"}]", "\"data\""},
        {"\"not json\"", "\"data\""},
        {"\"[1,2]\"", "\"data\""},
        {"\"{\\\"channel\\\":\\\"a\\\"} x\"", "\"data\""},
    };
    char text[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text),
                 "{\"event\":\"pusher:subscribe\",\"data\":%s}", cases[i].data);
        expect_bad_sub(text, strlen(text), cases[i].member);
    }
    static const char *const frames[][2] = {
        {"{\"event\":\"pusher:subscribe\"}", "\"data\""},
        {"{\"event\":\"pusher:subscribe\",\"data\":null}", "\"data\""},
        {"{\"event\":\"pusher:ping\",\"data\":{\"channel\":\"a\"}}",
         "\"event\""},
        {"{\"event\":7,\"data\":{\"channel\":\"a\"}}", "\"event\""},
        {"{\"data\":{\"channel\":\"a\"}}", "\"event\""},
    };
    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        expect_bad_sub(frames[i][0], strlen(frames[i][0]), frames[i][1]);
    }
}
END_TEST

START_TEST(sub_channel_limits)
{
    char name[202];
    char text[300];
    struct resdeliv_pusher_subscribe s;
    char err[ERRSZ];

    memset(name, 'a', 200);
    name[200] = '\0';
    snprintf(text, sizeof(text),
             "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"%s\"}}",
             name);
    ck_assert_int_eq(parse_sub_str(text, &s, err), 0);
    ck_assert_uint_eq(strlen(s.channel), 200);
    resdeliv_pusher_subscribe_clear(&s);

    name[200] = 'a';
    name[201] = '\0';
    snprintf(text, sizeof(text),
             "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"%s\"}}",
             name);
    expect_bad_sub(text, strlen(text), "\"channel\"");
}
END_TEST

START_TEST(channel_valid_rules)
{
    ck_assert_int_eq(resdeliv_pusher_channel_valid("private-encrypted-x", 19),
                     1);
    ck_assert_int_eq(resdeliv_pusher_channel_valid("A_z-0=@,.;", 10), 1);
    ck_assert_int_eq(resdeliv_pusher_channel_valid("", 0), 0);
    ck_assert_int_eq(resdeliv_pusher_channel_valid(NULL, 3), 0);
    ck_assert_int_eq(resdeliv_pusher_channel_valid("a b", 3), 0);
    ck_assert_int_eq(resdeliv_pusher_channel_valid("a:b", 3), 0);
    ck_assert_int_eq(resdeliv_pusher_channel_valid("a*", 2), 0);
    ck_assert_int_eq(resdeliv_pusher_channel_valid("a\0b", 3), 0);
    ck_assert_int_eq(resdeliv_pusher_channel_valid("\xc3\xa9", 2), 0);
}
END_TEST

/* -------------------------------------------------------------- hostile */

START_TEST(hostile_oversize)
{
    size_t len = 1024 * 1024;
    char *big = malloc(len + 1);

    ck_assert_ptr_nonnull(big);
    memset(big, ' ', len);
    memcpy(big, "{\"event\":\"e\",\"data\":\"", 21);
    big[len - 2] = '"';
    big[len - 1] = '}';
    big[len] = '\0';
    expect_bad_frame(big, len, "exceeds");
    expect_bad_sub(big, len, "exceeds");
    expect_bad_frame(big, RESDELIV_PUSHER_MAX_FRAME + 1, "exceeds");

    /* A frame of exactly the limit is accepted. */
    struct resdeliv_pusher_frame f;
    size_t max = RESDELIV_PUSHER_MAX_FRAME;
    memset(big, ' ', max);
    memcpy(big, "{\"event\":\"e\"}", 13);
    ck_assert_int_eq(resdeliv_pusher_parse_frame(big, max, &f, NULL, 0), 0);
    resdeliv_pusher_frame_clear(&f);
    free(big);
}
END_TEST

static char *nested(size_t depth, const char *prefix, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *t = malloc(pl + 2 * depth + sl + 1);

    ck_assert_ptr_nonnull(t);
    memcpy(t, prefix, pl);
    memset(t + pl, '[', depth);
    memset(t + pl + depth, ']', depth);
    memcpy(t + pl + 2 * depth, suffix, sl + 1);
    return t;
}

START_TEST(hostile_deep_nesting)
{
    char *t = nested(10000, "{\"event\":\"e\",\"data\":", "}");
    expect_bad_frame(t, strlen(t), "nesting");
    free(t);

    /* Unbalanced: only openers. */
    t = nested(10000, "{\"event\":\"e\",\"data\":", "}");
    t[strlen(t) - 10001] = '\0';
    expect_bad_frame(t, strlen(t), "nesting");
    free(t);

    /* Deep nesting hidden in a subscribe's string data. */
    char *inner = malloc(20000 + 64);
    ck_assert_ptr_nonnull(inner);
    strcpy(inner, "{\"event\":\"pusher:subscribe\",\"data\":\"{\\\"x\\\":");
    size_t at = strlen(inner);
    memset(inner + at, '[', 10000);
    strcpy(inner + at + 10000, "\"}");
    expect_bad_sub(inner, strlen(inner), "nesting");
    free(inner);

    /* Moderate nesting is fine. */
    struct resdeliv_pusher_frame f;
    t = nested(100, "{\"event\":\"e\",\"data\":", "}");
    ck_assert_int_eq(resdeliv_pusher_parse_frame(t, strlen(t), &f, NULL, 0), 0);
    ck_assert_uint_eq(f.data_len, 200);
    resdeliv_pusher_frame_clear(&f);
    free(t);
}
END_TEST

START_TEST(hostile_utf8_and_nul)
{
    static const char sub[] = "{\"event\":\"pusher:subscribe\",\"data\":";
    char t[256];

    expect_bad_frame("{\"event\":\"e\",\"channel\":\"a\xff\"}", 26,
                     "\"channel\"");
    expect_bad_frame("{\"event\":\"e\xc0\xaf\"}", 14, "UTF-8");
    expect_bad_frame("{\"event\":\"e\xed\xa0\x80\"}", 15, "UTF-8");
    /* NUL raw inside a string, raw outside, and as an escape. */
    expect_bad_frame("{\"event\":\"e\0x\"}", 15, "NUL");
    expect_bad_frame("{\"event\":\"e\"}\0", 14, "NUL");
    expect_bad_frame("{\"event\":\"e\",\"channel\":\"a\\u0000b\"}", 34,
                     "\"channel\"");
    expect_bad_frame("{\"event\":\"e\\uZZZZ\"}", 19, "escape");
    expect_bad_frame("{\"event\":\"e\\ud800\"}", 19, "frame");
    expect_bad_frame("{\"event\":\"a\tb\"}", 15, "control");
    expect_bad_frame("{\"event\":\"e\"\x01}", 14, "control");

    snprintf(t, sizeof(t), "%s{\"channel\":\"a\\u0000b\"}}", sub);
    expect_bad_sub(t, strlen(t), "\"channel\"");
    snprintf(t, sizeof(t), "%s\"{\\\"channel\\\":\\\"a\xff\\\"}\"}", sub);
    expect_bad_sub(t, strlen(t), "UTF-8");
    snprintf(t, sizeof(t), "%s{\"channel\":\"a\",\"auth\":\"k\xfe\"}}", sub);
    expect_bad_sub(t, strlen(t), "\"auth\"");

    /* An escaped backslash before "u0000" is plain text, not a NUL. */
    struct resdeliv_pusher_frame f;
    char err[ERRSZ];
    ck_assert_int_eq(parse_frame_str("{\"event\":\"a\\\\u0000\"}", &f, err), 0);
    ck_assert_str_eq(f.event, "a\\u0000");
    resdeliv_pusher_frame_clear(&f);
}
END_TEST

START_TEST(hostile_truncated)
{
    const char *t = "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
                    "\"private-a\",\"auth\":\"k:s\",\"last_event_id\":"
                    "\"17-1\"}}";
    size_t len = strlen(t);

    for (size_t i = 0; i < len; i++) {
        char *cut = malloc(i + 1); /* exact size for ASan */
        ck_assert_ptr_nonnull(cut);
        memcpy(cut, t, i);
        expect_bad_sub(cut, i, NULL);
        expect_bad_frame(cut, i, NULL);
        free(cut);
    }
    struct resdeliv_pusher_subscribe s;
    ck_assert_int_eq(resdeliv_pusher_parse_subscribe(t, len, &s, NULL, 0), 0);
    resdeliv_pusher_subscribe_clear(&s);
}
END_TEST

START_TEST(hostile_mutations)
{
    const char *base = "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
                       "\"presence-a\",\"channel_data\":\"{\\\"u\\\":1}\","
                       "\"last_event_id\":\"5-1\"},\"x\":[1,{\"y\":null}]}";
    size_t len = strlen(base);
    char *buf = malloc(len);
    uint32_t x = 77;

    ck_assert_ptr_nonnull(buf);
    for (int round = 0; round < 5000; round++) {
        memcpy(buf, base, len);
        for (int k = 0; k < 1 + round % 4; k++) {
            x = x * 1664525u + 1013904223u;
            buf[(x >> 8) % len] = (char)(x >> 24);
        }
        struct resdeliv_pusher_frame f;
        struct resdeliv_pusher_subscribe s;
        int rc = resdeliv_pusher_parse_frame(buf, len, &f, NULL, 0);
        ck_assert(rc == 0 || rc == RESDELIV_EBADFRAME);
        ck_assert(rc != 0 || f.event != NULL);
        resdeliv_pusher_frame_clear(&f);
        rc = resdeliv_pusher_parse_subscribe(buf, len, &s, NULL, 0);
        ck_assert(rc == 0 || rc == RESDELIV_EBADFRAME);
        ck_assert(rc != 0 ||
                  resdeliv_pusher_channel_valid(s.channel, strlen(s.channel)));
        resdeliv_pusher_subscribe_clear(&s);
    }
    free(buf);
}
END_TEST

/* ----------------------------------------------------------------- main */

static Suite *pusher_suite(void)
{
    Suite *s = suite_create("pusher");
    TCase *tc = tcase_create("parse_frame");

    tcase_add_test(tc, frame_object_data);
    tcase_add_test(tc, frame_string_data);
    tcase_add_test(tc, frame_ping_and_absent);
    tcase_add_test(tc, frame_wrong_types);
    tcase_add_test(tc, frame_bad_args);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse_subscribe");
    tcase_add_test(tc, sub_object_data);
    tcase_add_test(tc, sub_string_data);
    tcase_add_test(tc, sub_minimal);
    tcase_add_test(tc, sub_wrong_types);
    tcase_add_test(tc, sub_channel_limits);
    tcase_add_test(tc, channel_valid_rules);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_add_test(tc, hostile_oversize);
    tcase_add_test(tc, hostile_deep_nesting);
    tcase_add_test(tc, hostile_utf8_and_nul);
    tcase_add_test(tc, hostile_truncated);
    tcase_add_test(tc, hostile_mutations);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pusher_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
