/* SPDX-License-Identifier: MIT */
/*
 * Tests of the Pusher server frame builders: every builder's frame is
 * decoded again with cJSON, data twice where it is double encoded, and the
 * JSON string escaper round-trips every ASCII byte, Unicode, escapes inside
 * JSON text, invalid UTF-8 (as U+FFFD) and large data. The client frame
 * parsers are tested in check_pusher.c.
 */
#include <resdeliv/resdeliv.h>

#include <check.h>
#include <cjson/cJSON.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ helpers */

/* Decode a server frame: check its event and channel (NULL: absent) and
 * return its data member (owned by `*outer`). */
static const cJSON *decode_frame(const char *frame, size_t len,
                                 const char *event, const char *channel,
                                 cJSON **outer)
{
    ck_assert_uint_eq(strlen(frame), len);
    *outer = cJSON_ParseWithLength(frame, len);
    ck_assert_ptr_nonnull(*outer);
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(*outer, "event");
    ck_assert(cJSON_IsString(ev));
    ck_assert_str_eq(ev->valuestring, event);
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(*outer, "channel");
    if (channel == NULL) {
        ck_assert_ptr_null(ch);
    } else {
        ck_assert(cJSON_IsString(ch));
        ck_assert_str_eq(ch->valuestring, channel);
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(*outer, "data");
    ck_assert_ptr_nonnull(data);
    return data;
}

/* The data of a double-encoded frame, decoded twice. */
static cJSON *decode_inner(const char *frame, size_t len, const char *event,
                           const char *channel)
{
    cJSON *outer = NULL;
    const cJSON *data = decode_frame(frame, len, event, channel, &outer);

    ck_assert(cJSON_IsString(data));
    cJSON *inner = cJSON_Parse(data->valuestring);
    ck_assert_ptr_nonnull(inner);
    cJSON_Delete(outer);
    return inner;
}

static const char *inner_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    ck_assert_msg(cJSON_IsString(v), "member %s is not a string", name);
    return v->valuestring;
}

static int inner_is_null(const cJSON *obj, const char *name)
{
    return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(obj, name));
}

static int count_members(const cJSON *obj, const char *name)
{
    int n = 0;

    for (const cJSON *it = obj->child; it != NULL; it = it->next) {
        n += strcmp(it->string, name) == 0;
    }
    return n;
}

/* Build a broadcast of `data` and return its data string, decoded once. */
static char *event_roundtrip(const char *data, size_t len)
{
    char *frame = NULL;
    size_t flen = 0;
    cJSON *outer = NULL;

    ck_assert_int_eq(
        resdeliv_pusher_build_event("e", 1, "c", 1, data, len, &frame, &flen),
        0);
    const cJSON *d = decode_frame(frame, flen, "e", "c", &outer);
    ck_assert(cJSON_IsString(d));
    size_t n = strlen(d->valuestring);
    char *copy = malloc(n + 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, d->valuestring, n + 1);
    cJSON_Delete(outer);
    resdeliv_free(frame);
    return copy;
}

/* ---------------------------------------------------------------- build */

START_TEST(build_established)
{
    char *f = NULL;
    size_t n = 0;

    ck_assert_int_eq(resdeliv_pusher_build_established("123.456", 120, &f, &n),
                     0);
    ck_assert_str_eq(f, "{\"event\":\"pusher:connection_established\","
                        "\"data\":\"{\\\"socket_id\\\":\\\"123.456\\\","
                        "\\\"activity_timeout\\\":120}\"}");
    cJSON *in = decode_inner(f, n, "pusher:connection_established", NULL);
    ck_assert_str_eq(inner_str(in, "socket_id"), "123.456");
    ck_assert_int_eq(
        cJSON_GetObjectItemCaseSensitive(in, "activity_timeout")->valueint,
        120);
    cJSON_Delete(in);
    resdeliv_free(f);
    ck_assert_int_eq(resdeliv_pusher_build_established(NULL, 1, &f, &n),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_build_established("1.2", 1, NULL, &n),
                     RESDELIV_EINVAL);
}
END_TEST

START_TEST(build_subscribed_plain)
{
    char *f = NULL;
    size_t n = 0;

    ck_assert_int_eq(resdeliv_pusher_build_subscribed("c", NULL, 0, NULL, NULL,
                                                      NULL, &f, &n),
                     0);
    ck_assert_str_eq(f, "{\"event\":\"pusher_internal:subscription_succeeded\","
                        "\"channel\":\"c\",\"data\":\"{}\"}");
    resdeliv_free(f);

    const char *presence = "{\"presence\":{\"ids\":[\"1\"],\"hash\":{\"1\":"
                           "{\"name\":\"A \\\"q\\\"\"}},\"count\":1}}";
    ck_assert_int_eq(resdeliv_pusher_build_subscribed("presence-x", presence,
                                                      strlen(presence), NULL,
                                                      NULL, NULL, &f, &n),
                     0);
    cJSON *outer = NULL;
    const cJSON *d = decode_frame(
        f, n, "pusher_internal:subscription_succeeded", "presence-x", &outer);
    ck_assert(cJSON_IsString(d));
    ck_assert_str_eq(d->valuestring, presence);
    cJSON_Delete(outer);
    resdeliv_free(f);
}
END_TEST

START_TEST(build_subscribed_position)
{
    struct resdeliv_position pos = {{1700000000000u, 5}, "abc123"};
    char *f = NULL;
    size_t n = 0;
    cJSON *outer = NULL;

    ck_assert_int_eq(resdeliv_pusher_build_subscribed("c", "{\"a\":1}", 7, &pos,
                                                      NULL, NULL, &f, &n),
                     0);
    const cJSON *d = decode_frame(
        f, n, "pusher_internal:subscription_succeeded", "c", &outer);
    ck_assert_str_eq(d->valuestring, "{\"a\":1,\"_replay_id\":"
                                     "\"1700000000000-5\",\"_replay_epoch\":"
                                     "\"abc123\"}");
    cJSON_Delete(outer);
    resdeliv_free(f);

    /* Empty object, custom names, no epoch: only the id member. */
    pos.epoch[0] = '\0';
    ck_assert_int_eq(resdeliv_pusher_build_subscribed("c", " { } ", 5, &pos,
                                                      "rid", "rep", &f, &n),
                     0);
    cJSON *in =
        decode_inner(f, n, "pusher_internal:subscription_succeeded", "c");
    ck_assert_str_eq(inner_str(in, "rid"), "1700000000000-5");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(in, "rep"));
    ck_assert_int_eq(cJSON_GetArraySize(in), 1);
    cJSON_Delete(in);
    resdeliv_free(f);
}
END_TEST

START_TEST(build_subscribed_replaces)
{
    struct resdeliv_position pos = {{9, 1}, "ep"};
    const char *data = "{\"_replay_id\":\"1-1\",\"x\":[1,2],"
                       "\"_replay_epoch\":\"old\"}";
    char *f = NULL;
    size_t n = 0;

    ck_assert_int_eq(resdeliv_pusher_build_subscribed("c", data, strlen(data),
                                                      &pos, NULL, NULL, &f, &n),
                     0);
    cJSON *in =
        decode_inner(f, n, "pusher_internal:subscription_succeeded", "c");
    ck_assert_int_eq(count_members(in, "_replay_id"), 1);
    ck_assert_int_eq(count_members(in, "_replay_epoch"), 1);
    ck_assert_str_eq(inner_str(in, "_replay_id"), "9-1");
    ck_assert_str_eq(inner_str(in, "_replay_epoch"), "ep");
    ck_assert_int_eq(
        cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(in, "x")), 2);
    cJSON_Delete(in);
    resdeliv_free(f);
}
END_TEST

START_TEST(build_subscribed_bad)
{
    static const char *bad[] = {"[1]", "\"s\"", "{",       "{} x",
                                "",    "42",    "{\"a\":}"};
    struct resdeliv_position pos = {{1, 1}, "e"};
    char *f = (char *)"untouched";
    size_t n = 0;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(resdeliv_pusher_build_subscribed("c", bad[i],
                                                          strlen(bad[i]), NULL,
                                                          NULL, NULL, &f, &n),
                         RESDELIV_EINVAL);
        ck_assert_ptr_null(f);
        ck_assert_int_eq(resdeliv_pusher_build_subscribed("c", bad[i],
                                                          strlen(bad[i]), &pos,
                                                          NULL, NULL, &f, &n),
                         RESDELIV_EINVAL);
    }
    ck_assert_int_eq(resdeliv_pusher_build_subscribed(NULL, "{}", 2, NULL, NULL,
                                                      NULL, &f, &n),
                     RESDELIV_EINVAL);
    /* A tag field present twice cannot be tagged unambiguously. */
    const char *twice = "{\"_replay_id\":\"1-1\",\"_replay_id\":\"2-2\"}";
    ck_assert_int_eq(resdeliv_pusher_build_subscribed("c", twice, strlen(twice),
                                                      &pos, NULL, NULL, &f, &n),
                     RESDELIV_EINVAL);
    strcpy(pos.epoch, "not an epoch!");
    ck_assert_int_eq(resdeliv_pusher_build_subscribed("c", "{}", 2, &pos, NULL,
                                                      NULL, &f, &n),
                     RESDELIV_EINVAL);
    memset(pos.epoch, 'x', sizeof(pos.epoch)); /* not terminated */
    ck_assert_int_eq(resdeliv_pusher_build_subscribed("c", "{}", 2, &pos, NULL,
                                                      NULL, &f, &n),
                     RESDELIV_EINVAL);
}
END_TEST

START_TEST(build_error_frame)
{
    char *f = NULL;
    size_t n = 0;
    cJSON *outer = NULL;

    ck_assert_int_eq(
        resdeliv_pusher_build_error(RESDELIV_PUSHER_ERR_UNAUTHORIZED,
                                    "Bad \"auth\"", &f, &n),
        0);
    ck_assert_str_eq(f, "{\"event\":\"pusher:error\",\"data\":{\"message\":"
                        "\"Bad \\\"auth\\\"\",\"code\":4009}}");
    const cJSON *d = decode_frame(f, n, "pusher:error", NULL, &outer);
    ck_assert(cJSON_IsObject(d));
    ck_assert_str_eq(inner_str(d, "message"), "Bad \"auth\"");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(d, "code")->valueint,
                     4009);
    cJSON_Delete(outer);
    resdeliv_free(f);

    ck_assert_int_eq(
        resdeliv_pusher_build_error(0, "Existing subscription", &f, &n), 0);
    d = decode_frame(f, n, "pusher:error", NULL, &outer);
    ck_assert(inner_is_null(d, "code"));
    cJSON_Delete(outer);
    resdeliv_free(f);
    ck_assert_int_eq(resdeliv_pusher_build_error(4200, "x", NULL, &n),
                     RESDELIV_EINVAL);
}
END_TEST

START_TEST(build_event_frame)
{
    char *f = NULL;
    size_t n = 0;
    const char *data = "{\"a\":\"b\",\"_replay_id\":\"5-0\"}";

    ck_assert_int_eq(resdeliv_pusher_build_event("new-msg", 7, "chat", 4, data,
                                                 strlen(data), &f, &n),
                     0);
    ck_assert_str_eq(f, "{\"event\":\"new-msg\",\"channel\":\"chat\",\"data\":"
                        "\"{\\\"a\\\":\\\"b\\\",\\\"_replay_id\\\":"
                        "\\\"5-0\\\"}\"}");
    cJSON *in = decode_inner(f, n, "new-msg", "chat");
    ck_assert_str_eq(inner_str(in, "_replay_id"), "5-0");
    cJSON_Delete(in);
    resdeliv_free(f);

    /* No channel; lengths are honoured, not strlen. */
    ck_assert_int_eq(
        resdeliv_pusher_build_event("evXX", 2, NULL, 0, "[1]xx", 3, &f, &n), 0);
    ck_assert_str_eq(f, "{\"event\":\"ev\",\"data\":\"[1]\"}");
    resdeliv_free(f);
    ck_assert_int_eq(
        resdeliv_pusher_build_event(NULL, 0, NULL, 0, "x", 1, &f, &n),
        RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_pusher_build_event("e", 1, NULL, 0, NULL, 3, &f, &n),
        RESDELIV_EINVAL);
}
END_TEST

START_TEST(build_gap_frame)
{
    struct resdeliv_replay_status st;
    char *f = NULL;
    size_t n = 0;

    memset(&st, 0, sizeof(st));
    st.reason = RESDELIV_GAP_TRIMMED;
    st.has_oldest = 1;
    st.oldest = (struct resdeliv_id){1700000000000u, 2};
    st.lost = 17;
    st.position.id = (struct resdeliv_id){1700000000999u, 0};
    strcpy(st.position.epoch, "a1b2c3d4e5f60718");
    ck_assert_int_eq(resdeliv_pusher_build_gap("news", &st, &f, &n), 0);
    cJSON *in = decode_inner(f, n, RESDELIV_GAP_EVENT, "news");
    ck_assert_str_eq(inner_str(in, "reason"), "trimmed");
    ck_assert_str_eq(inner_str(in, "oldest"), "1700000000000-2");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(in, "lost")->valueint,
                     17);
    ck_assert_str_eq(inner_str(in, "position"), "1700000000999-0");
    ck_assert_str_eq(inner_str(in, "epoch"), "a1b2c3d4e5f60718");
    ck_assert_int_eq(cJSON_GetArraySize(in), 5);
    cJSON_Delete(in);
    resdeliv_free(f);

    st.reason = RESDELIV_GAP_MISSING;
    st.has_oldest = 0;
    st.lost = -1;
    st.position.epoch[0] = '\0';
    ck_assert_int_eq(resdeliv_pusher_build_gap("news", &st, &f, &n), 0);
    in = decode_inner(f, n, RESDELIV_GAP_EVENT, "news");
    ck_assert_str_eq(inner_str(in, "reason"), "missing");
    ck_assert(inner_is_null(in, "oldest"));
    ck_assert(inner_is_null(in, "lost"));
    ck_assert(inner_is_null(in, "epoch"));
    ck_assert_str_eq(inner_str(in, "position"), "1700000000999-0");
    cJSON_Delete(in);
    resdeliv_free(f);

    ck_assert_int_eq(resdeliv_pusher_build_gap(NULL, &st, &f, &n),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_build_gap("c", NULL, &f, &n),
                     RESDELIV_EINVAL);
}
END_TEST

/* ------------------------------------------------------------- escaping */

START_TEST(escape_all_ascii)
{
    char data[128];

    for (int i = 1; i < 128; i++) {
        data[i - 1] = (char)i;
    }
    char *back = event_roundtrip(data, 127);
    ck_assert_uint_eq(strlen(back), 127);
    ck_assert_mem_eq(back, data, 127);
    free(back);
}
END_TEST

START_TEST(escape_forms)
{
    char *f = NULL;
    size_t n = 0;

    ck_assert_int_eq(resdeliv_pusher_build_event(
                         "e", 1, NULL, 0, "\x01\"\\\n\t\x1f/\x7f", 8, &f, &n),
                     0);
    ck_assert_str_eq(f, "{\"event\":\"e\",\"data\":"
                        "\"\\u0001\\\"\\\\\\n\\t\\u001f/\x7f\"}");
    resdeliv_free(f);

    /* A NUL inside data is escaped, never written raw. */
    ck_assert_int_eq(
        resdeliv_pusher_build_event("e", 1, NULL, 0, "a\0b", 3, &f, &n), 0);
    ck_assert_uint_eq(strlen(f), n);
    ck_assert_ptr_nonnull(strstr(f, "a\\u0000b"));
    resdeliv_free(f);

    /* Event and channel names are escaped too. */
    ck_assert_int_eq(
        resdeliv_pusher_build_event("e\"v", 3, "c\\h", 3, "", 0, &f, &n), 0);
    ck_assert_str_eq(f, "{\"event\":\"e\\\"v\",\"channel\":\"c\\\\h\","
                        "\"data\":\"\"}");
    resdeliv_free(f);
}
END_TEST

START_TEST(escape_unicode_kept)
{
    /* é, €, U+1D11E, U+2028, 日本 */
    const char *data = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e "
                       "\xe2\x80\xa8 \xe6\x97\xa5\xe6\x9c\xac";
    char *f = NULL;
    size_t n = 0;

    ck_assert_int_eq(resdeliv_pusher_build_event("e", 1, NULL, 0, data,
                                                 strlen(data), &f, &n),
                     0);
    ck_assert_ptr_nonnull(strstr(f, data)); /* raw, not \u escaped */
    resdeliv_free(f);
    char *back = event_roundtrip(data, strlen(data));
    ck_assert_str_eq(back, data);
    free(back);
}
END_TEST

START_TEST(escape_double_encoding)
{
    /* JSON text whose strings carry escapes of their own. */
    const char *data = "{\"msg\":\"l1\\nl2 \\\"q\\\" \\\\ \\u0001 caf\xc3\xa9"
                       " \\ud834\\udd1e\",\n \"n\":[1, 2.5e3]}";
    char *back = event_roundtrip(data, strlen(data));

    ck_assert_str_eq(back, data);
    cJSON *in = cJSON_Parse(back);
    ck_assert_ptr_nonnull(in);
    ck_assert_str_eq(inner_str(in, "msg"), "l1\nl2 \"q\" \\ \x01 caf\xc3\xa9"
                                           " \xf0\x9d\x84\x9e");
    cJSON_Delete(in);
    free(back);
}
END_TEST

START_TEST(escape_invalid_utf8)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"a\xff"
         "b",
         "a\xef\xbf\xbd"
         "b"},
        {"x\xc3", "x\xef\xbf\xbd"},
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf4\x90\x80\x80!",
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *back = event_roundtrip(cases[i].in, strlen(cases[i].in));
        ck_assert_str_eq(back, cases[i].out);
        free(back);
    }
}
END_TEST

START_TEST(escape_large)
{
    size_t len = 200000;
    char *data = malloc(len);
    uint32_t x = 12345;

    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (char)(1 + (x >> 16) % 127);
    }
    char *back = event_roundtrip(data, len);
    ck_assert_uint_eq(strlen(back), len);
    ck_assert_mem_eq(back, data, len);
    free(back);
    free(data);
}
END_TEST

/* ----------------------------------------------------------------- main */

static Suite *pusher_build_suite(void)
{
    Suite *s = suite_create("pusher_build");
    TCase *tc = tcase_create("build");

    tcase_add_test(tc, build_established);
    tcase_add_test(tc, build_subscribed_plain);
    tcase_add_test(tc, build_subscribed_position);
    tcase_add_test(tc, build_subscribed_replaces);
    tcase_add_test(tc, build_subscribed_bad);
    tcase_add_test(tc, build_error_frame);
    tcase_add_test(tc, build_event_frame);
    tcase_add_test(tc, build_gap_frame);
    suite_add_tcase(s, tc);

    tc = tcase_create("escaping");
    tcase_add_test(tc, escape_all_ascii);
    tcase_add_test(tc, escape_forms);
    tcase_add_test(tc, escape_unicode_kept);
    tcase_add_test(tc, escape_double_encoding);
    tcase_add_test(tc, escape_invalid_utf8);
    tcase_add_test(tc, escape_large);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pusher_build_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
