/* SPDX-License-Identifier: MIT */
/*
 * Pusher authentication (auth.h), the WebSocket side: socket ids, and
 * channel auth strings for private and presence channels, checked against
 * the values Pusher publishes (auth_docs.h), then by rejection of every
 * tampered or malformed part and by argument checks. The HTTP API request
 * signature is tested in check_auth_http.c.
 */
#include "auth_docs.h"
#include "internal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ socket_id */

START_TEST(socket_id_forms)
{
    ck_assert_int_eq(resdeliv_pusher_socket_id_valid("1234.1234"), 1);
    ck_assert_int_eq(resdeliv_pusher_socket_id_valid("0.0"), 1);
    ck_assert_int_eq(resdeliv_pusher_socket_id_valid("12345678901234567890.1"),
                     1);
    static const char *const bad[] = {
        "",
        "1234",
        ".1",
        "1.",
        "1..1",
        "1.1.1",
        "a.1",
        "1.1a",
        " 1.1",
        "1.1 ",
        "-1.1",
        "1:1",
        "1.1\n",
        "+1.1",
        "1.-1",
        "123456789012345678901.1",
        "1.99999999999999999999",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(resdeliv_pusher_socket_id_valid(bad[i]) == 0,
                      "\"%s\" accepted", bad[i]);
    }
    ck_assert_int_eq(resdeliv_pusher_socket_id_valid(NULL), 0);
}
END_TEST

/* -------------------------------------------------------------- channel */

START_TEST(channel_docs_private)
{
    char out[RESDELIV_PUSHER_AUTH_BUFSIZE(sizeof(KEY) - 1)];
    int n = resdeliv_pusher_channel_auth(
        KEY, SECRET, "1234.1234", "private-foobar", NULL, out, sizeof(out));

    ck_assert_int_eq(n, (int)strlen(KEY ":" DOC_PRIVATE_SIG));
    ck_assert_str_eq(out, KEY ":" DOC_PRIVATE_SIG);
    ck_assert_int_eq(resdeliv_pusher_channel_auth_check(
                         KEY, SECRET, "1234.1234", "private-foobar", NULL,
                         KEY ":" DOC_PRIVATE_SIG),
                     0);
}
END_TEST

START_TEST(channel_docs_presence)
{
    char out[128];

    ck_assert_int_gt(resdeliv_pusher_channel_auth(
                         KEY, SECRET, "1234.1234", "presence-foobar",
                         DOC_PRESENCE_DATA, out, sizeof(out)),
                     0);
    ck_assert_str_eq(out, KEY ":" DOC_PRESENCE_SIG);
    ck_assert_int_eq(resdeliv_pusher_channel_auth_check(
                         KEY, SECRET, "1234.1234", "presence-foobar",
                         DOC_PRESENCE_DATA, KEY ":" DOC_PRESENCE_SIG),
                     0);
    /* Other member data, or none, is another signature. */
    ck_assert_int_eq(resdeliv_pusher_channel_auth_check(
                         KEY, SECRET, "1234.1234", "presence-foobar",
                         "{\"user_id\":11,\"user_info\":{\"name\":"
                         "\"Mr. Pusher\"}}",
                         KEY ":" DOC_PRESENCE_SIG),
                     RESDELIV_EAUTH);
    ck_assert_int_eq(resdeliv_pusher_channel_auth_check(
                         KEY, SECRET, "1234.1234", "presence-foobar", NULL,
                         KEY ":" DOC_PRESENCE_SIG),
                     RESDELIV_EAUTH);
    ck_assert_int_eq(resdeliv_pusher_channel_auth_check(
                         KEY, SECRET, "1234.1234", "presence-foobar", "",
                         KEY ":" DOC_PRESENCE_SIG),
                     RESDELIV_EAUTH);
}
END_TEST

START_TEST(channel_check_rejects)
{
    /* The signature for socket 1234.5678, valid but for another socket. */
    const char *other = KEY ":84f3ef7d76312ffd95cadfa1ef3df17c08315790d0e225"
                            "36847e96ae7e46c504";
    char upper[128];

    ck_assert_int_eq(
        resdeliv_pusher_channel_auth_check(KEY, SECRET, "1234.5678",
                                           "private-foobar", NULL, other),
        0);
    static const char *const bad[] = {
        KEY ":84f3ef7d76312ffd95cadfa1ef3df17c08315790d0e22536847e96ae7e46c504",
        KEY ":58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a5",
        KEY ":58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a",
        KEY ":58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
            "0",
        "278d425bdf160c739804:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f536"
        "9f135bf843651c3a4",
        KEY DOC_PRIVATE_SIG,
        DOC_PRIVATE_SIG,
        "",
        ":",
        KEY ":",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(resdeliv_pusher_channel_auth_check(
                          KEY, SECRET, "1234.1234", "private-foobar", NULL,
                          bad[i]) == RESDELIV_EAUTH,
                      "bad auth %zu accepted", i);
    }
    /* Hex digits are compared as sent: uppercase is not the signature. */
    strcpy(upper, KEY ":" DOC_PRIVATE_SIG);
    for (char *p = upper + strlen(KEY) + 1; *p; p++) {
        if (*p >= 'a' && *p <= 'f') {
            *p = (char)(*p - 32);
        }
    }
    ck_assert_int_eq(
        resdeliv_pusher_channel_auth_check(KEY, SECRET, "1234.1234",
                                           "private-foobar", NULL, upper),
        RESDELIV_EAUTH);
    /* Another secret, another channel. */
    ck_assert_int_eq(resdeliv_pusher_channel_auth_check(
                         KEY, "other-secret", "1234.1234", "private-foobar",
                         NULL, KEY ":" DOC_PRIVATE_SIG),
                     RESDELIV_EAUTH);
    ck_assert_int_eq(resdeliv_pusher_channel_auth_check(
                         KEY, SECRET, "1234.1234", "private-foobaz", NULL,
                         KEY ":" DOC_PRIVATE_SIG),
                     RESDELIV_EAUTH);
}
END_TEST

START_TEST(channel_bad_arguments)
{
    char out[RESDELIV_PUSHER_AUTH_BUFSIZE(sizeof(KEY) - 1)];
    const char *ok = KEY ":" DOC_PRIVATE_SIG;

    /* One byte short of the documented size. */
    ck_assert_int_eq(resdeliv_pusher_channel_auth(KEY, SECRET, "1.1", "c", NULL,
                                                  out, sizeof(out) - 1),
                     RESDELIV_ENOSPC);
    ck_assert_int_eq(
        resdeliv_pusher_channel_auth(KEY, SECRET, "1.1", "c", NULL, NULL, 0),
        RESDELIV_EINVAL);
    /* A colon in the channel would let "a:b" + no data sign like "a" with
     * data "b"; a colon in the key would make the auth ambiguous. */
    ck_assert_int_eq(resdeliv_pusher_channel_auth(KEY, SECRET, "1.1",
                                                  "presence-a:b", NULL, out,
                                                  sizeof(out)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_channel_auth("k:ey", SECRET, "1.1", "c",
                                                  NULL, out, sizeof(out)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_channel_auth("", SECRET, "1.1", "c", NULL,
                                                  out, sizeof(out)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_channel_auth(KEY, SECRET, "1.1", "", NULL,
                                                  out, sizeof(out)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_channel_auth(KEY, SECRET, "11", "c", NULL,
                                                  out, sizeof(out)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_channel_auth(KEY, NULL, "1.1", "c", NULL,
                                                  out, sizeof(out)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_pusher_channel_auth_check(KEY, SECRET, "1234.1234",
                                           "private-foobar", NULL, NULL),
        RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_channel_auth_check(
                         KEY, SECRET, "1234:1234", "private-foobar", NULL, ok),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_channel_auth_check(
                         NULL, SECRET, "1234.1234", "private-foobar", NULL, ok),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_channel_auth_check(
                         KEY, SECRET, "1234.1234", NULL, NULL, ok),
                     RESDELIV_EINVAL);
}
END_TEST

static Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("socket_id");

    tcase_add_test(tc, socket_id_forms);
    suite_add_tcase(s, tc);

    tc = tcase_create("channel");
    tcase_add_test(tc, channel_docs_private);
    tcase_add_test(tc, channel_docs_presence);
    tcase_add_test(tc, channel_check_rejects);
    tcase_add_test(tc, channel_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(auth_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
