/* SPDX-License-Identifier: MIT */
/*
 * Error names and messages, the free function, the run-time version and
 * the internal error-buffer helper.
 */
#include "internal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CODE RESDELIV_OK
#define LAST_CODE RESDELIV_ESTALE

static const struct {
    int code;
    const char *name;
} named_codes[] = {
    {RESDELIV_OK, "RESDELIV_OK"},
    {RESDELIV_EINVAL, "RESDELIV_EINVAL"},
    {RESDELIV_ENOMEM, "RESDELIV_ENOMEM"},
    {RESDELIV_EBADID, "RESDELIV_EBADID"},
    {RESDELIV_ERANGE, "RESDELIV_ERANGE"},
    {RESDELIV_EBADJSON, "RESDELIV_EBADJSON"},
    {RESDELIV_EBADCONFIG, "RESDELIV_EBADCONFIG"},
    {RESDELIV_EWHISPER, "RESDELIV_EWHISPER"},
    {RESDELIV_ESTORE, "RESDELIV_ESTORE"},
    {RESDELIV_ENOTSUP, "RESDELIV_ENOTSUP"},
    {RESDELIV_EABI, "RESDELIV_EABI"},
    {RESDELIV_ENOSPC, "RESDELIV_ENOSPC"},
    {RESDELIV_EOVERFLOW, "RESDELIV_EOVERFLOW"},
    {RESDELIV_EBADFRAME, "RESDELIV_EBADFRAME"},
    {RESDELIV_ENOENT, "RESDELIV_ENOENT"},
    {RESDELIV_EAGAIN, "RESDELIV_EAGAIN"},
    {RESDELIV_ECLOSED, "RESDELIV_ECLOSED"},
    {RESDELIV_ETIMEDOUT, "RESDELIV_ETIMEDOUT"},
    {RESDELIV_EAUTH, "RESDELIV_EAUTH"},
    {RESDELIV_EBADURL, "RESDELIV_EBADURL"},
    {RESDELIV_ESTALE, "RESDELIV_ESTALE"},
};
#define N_CODES (sizeof(named_codes) / sizeof(named_codes[0]))

START_TEST(test_names_match_macros)
{
    for (size_t i = 0; i < N_CODES; i++) {
        ck_assert_str_eq(resdeliv_err_name(named_codes[i].code),
                         named_codes[i].name);
    }
}
END_TEST

START_TEST(test_every_code_named)
{
    ck_assert_int_eq((int)N_CODES, -LAST_CODE + 1);
    for (int c = FIRST_CODE; c >= LAST_CODE; c--) {
        const char *name = resdeliv_err_name(c);
        const char *msg = resdeliv_strerror(c);
        ck_assert_ptr_nonnull(name);
        ck_assert_ptr_nonnull(msg);
        ck_assert_str_ne(name, "RESDELIV_E?");
        ck_assert_str_ne(msg, "unknown error");
        ck_assert_int_eq(strncmp(name, "RESDELIV_", 9), 0);
        ck_assert_uint_gt(strlen(msg), 3);
    }
}
END_TEST

START_TEST(test_distinct)
{
    for (int a = FIRST_CODE; a >= LAST_CODE; a--) {
        for (int b = a - 1; b >= LAST_CODE; b--) {
            ck_assert_str_ne(resdeliv_err_name(a), resdeliv_err_name(b));
            ck_assert_str_ne(resdeliv_strerror(a), resdeliv_strerror(b));
        }
    }
}
END_TEST

START_TEST(test_unknown_codes)
{
    static const int bad[] = {1,     2,         100,      LAST_CODE - 1,
                              -1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_str_eq(resdeliv_strerror(bad[i]), "unknown error");
        ck_assert_str_eq(resdeliv_err_name(bad[i]), "RESDELIV_E?");
    }
}
END_TEST

START_TEST(test_free)
{
    resdeliv_free(NULL);
    resdeliv_free(malloc(16));
}
END_TEST

START_TEST(test_version)
{
    char expect[32];
    unsigned hex = resdeliv_version_hex();

    ck_assert_str_eq(resdeliv_version(), RESDELIV_VERSION_STRING);
    ck_assert_uint_eq(hex, RESDELIV_VERSION_HEX);
    snprintf(expect, sizeof(expect), "%u.%u.%u", (hex >> 16) & 0xffu,
             (hex >> 8) & 0xffu, hex & 0xffu);
    ck_assert_str_eq(resdeliv_version(), expect);
}
END_TEST

START_TEST(test_errf)
{
    char buf[16];

    resdeliv__errf(NULL, 0, "ignored %d", 1);
    resdeliv__errf(NULL, 10, "ignored %d", 2);
    memset(buf, 'x', sizeof(buf));
    resdeliv__errf(buf, 0, "not written %d", 3);
    ck_assert_int_eq(buf[0], 'x');
    resdeliv__errf(buf, sizeof(buf), "bad id '%s'", "1-");
    ck_assert_str_eq(buf, "bad id '1-'");
    resdeliv__errf(buf, sizeof(buf), "%s", "a message that is far too long");
    ck_assert_uint_eq(strlen(buf), sizeof(buf) - 1);
    ck_assert_int_eq(strncmp(buf, "a message that ", 15), 0);
    resdeliv__errf(buf, 1, "%s", "xyz");
    ck_assert_str_eq(buf, "");
}
END_TEST

static Suite *error_suite(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("names");

    tcase_add_test(tc, test_names_match_macros);
    tcase_add_test(tc, test_every_code_named);
    tcase_add_test(tc, test_distinct);
    tcase_add_test(tc, test_unknown_codes);
    suite_add_tcase(s, tc);

    tc = tcase_create("misc");
    tcase_add_test(tc, test_free);
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_errf);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(error_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
