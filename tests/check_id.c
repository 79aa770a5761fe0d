/* SPDX-License-Identifier: MIT */
/*
 * Stream ids and epochs: strict parsing, formatting, ordering, the
 * successor function and epoch tokens.
 */
#include "internal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_str(const char *s, struct resdeliv_id *out)
{
    return resdeliv_id_parse(s, strlen(s), out);
}

START_TEST(test_parse_good)
{
    static const struct {
        const char *text;
        uint64_t ms;
        uint64_t seq;
    } cases[] = {
        {"0-0", 0, 0},
        {"0-1", 0, 1},
        {"1-2", 1, 2},
        {"1700000000000-0", 1700000000000ull, 0},
        {"1526919030474-55", 1526919030474ull, 55},
        {"01-2", 1, 2},
        {"0000000000000000000000000007-0009", 7, 9},
        {"18446744073709551615-18446744073709551615", UINT64_MAX, UINT64_MAX},
        {"18446744073709551615-0", UINT64_MAX, 0},
        {"0-18446744073709551615", 0, UINT64_MAX},
        {"018446744073709551615-1", UINT64_MAX, 1},
        {"9999999999999999999-1", 9999999999999999999ull, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct resdeliv_id id = {99, 99};
        ck_assert_msg(parse_str(cases[i].text, &id) == 0, "%s", cases[i].text);
        ck_assert_uint_eq(id.ms, cases[i].ms);
        ck_assert_uint_eq(id.seq, cases[i].seq);
    }
}
END_TEST

START_TEST(test_parse_bad)
{
    static const char *bad[] = {
        "",
        "-",
        "1-",
        "-1",
        "1",
        "12345",
        "1-2-3",
        " 1-2",
        "1-2 ",
        "1 -2",
        "1- 2",
        "+1-2",
        "1-+2",
        "1--2",
        "-1-2",
        "0x1-2",
        "1-0x2",
        "1-2a",
        "a1-2",
        "1.5-2",
        "1-2.0",
        "1e3-0",
        "1_000-0",
        "--",
        "1-2-",
        "1-*",
        "*",
        "$",
        ">",
        "1-\t",
        "\n1-2",
        "1,2",
        "1+2",
        "１-2",
        "99999999999999999999999-x",
        "1-99999999999999999999999-",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct resdeliv_id id = {42, 43};
        int rc = parse_str(bad[i], &id);
        ck_assert_msg(rc == RESDELIV_EBADID, "'%s' gave %d", bad[i], rc);
        ck_assert_uint_eq(id.ms, 42);
        ck_assert_uint_eq(id.seq, 43);
    }
}
END_TEST

START_TEST(test_parse_range)
{
    static const char *over[] = {
        "18446744073709551616-0",
        "0-18446744073709551616",
        "18446744073709551616-18446744073709551616",
        "18446744073709551620-0",
        "99999999999999999999-1",
        "1-100000000000000000000",
        "184467440737095516150-0",
        "1-999999999999999999999999999999999999999999",
    };
    for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
        struct resdeliv_id id = {42, 43};
        int rc = parse_str(over[i], &id);
        ck_assert_msg(rc == RESDELIV_ERANGE, "'%s' gave %d", over[i], rc);
        ck_assert_uint_eq(id.ms, 42);
        ck_assert_uint_eq(id.seq, 43);
    }
}
END_TEST

START_TEST(test_parse_len)
{
    struct resdeliv_id id = {0, 0};
    static const char nul_seq[] = "1-2\0"
                                  "3";
    static const char nul_ms[] = "1\0"
                                 "0-2";

    /* Not NUL-terminated: only `len` bytes count. */
    ck_assert_int_eq(resdeliv_id_parse("12-34xyz", 5, &id), 0);
    ck_assert_uint_eq(id.ms, 12);
    ck_assert_uint_eq(id.seq, 34);
    ck_assert_int_eq(resdeliv_id_parse("12-34", 4, &id), 0);
    ck_assert_uint_eq(id.seq, 3);
    ck_assert_int_eq(resdeliv_id_parse("12-34", 3, &id), RESDELIV_EBADID);
    ck_assert_int_eq(resdeliv_id_parse("12-34", 0, &id), RESDELIV_EBADID);
    ck_assert_int_eq(resdeliv_id_parse(nul_seq, sizeof(nul_seq) - 1, &id),
                     RESDELIV_EBADID);
    ck_assert_int_eq(resdeliv_id_parse(nul_ms, sizeof(nul_ms) - 1, &id),
                     RESDELIV_EBADID);
    ck_assert_int_eq(resdeliv_id_parse("1-2", 4, &id), RESDELIV_EBADID);
    ck_assert_int_eq(resdeliv_id_parse(NULL, 3, &id), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_id_parse("1-2", 3, NULL), RESDELIV_EINVAL);
}
END_TEST

START_TEST(test_format)
{
    char buf[RESDELIV_ID_BUFSIZE];
    struct resdeliv_id max = {UINT64_MAX, UINT64_MAX};
    struct resdeliv_id zero = {0, 0};
    struct resdeliv_id id = {1526919030474ull, 55};

    ck_assert_int_eq(resdeliv_id_format(&zero, buf, sizeof(buf)), 3);
    ck_assert_str_eq(buf, "0-0");
    ck_assert_int_eq(resdeliv_id_format(&id, buf, sizeof(buf)), 16);
    ck_assert_str_eq(buf, "1526919030474-55");
    ck_assert_int_eq(resdeliv_id_format(&max, buf, sizeof(buf)), 41);
    ck_assert_str_eq(buf, "18446744073709551615-18446744073709551615");
    ck_assert_int_eq(resdeliv_id_format(&max, buf, 42), 41);
    ck_assert_int_eq(resdeliv_id_format(&max, buf, 41), RESDELIV_ENOSPC);
    ck_assert_int_eq(resdeliv_id_format(&zero, buf, 4), 3);
    ck_assert_int_eq(resdeliv_id_format(&zero, buf, 3), RESDELIV_ENOSPC);
    ck_assert_int_eq(resdeliv_id_format(&zero, buf, 0), RESDELIV_ENOSPC);
    ck_assert_int_eq(resdeliv_id_format(NULL, buf, 42), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_id_format(&zero, NULL, 42), RESDELIV_EINVAL);
}
END_TEST

START_TEST(test_format_powers)
{
    char buf[RESDELIV_ID_BUFSIZE];
    char expect[RESDELIV_ID_BUFSIZE];
    uint64_t p = 1;

    for (int i = 0; i < 20; i++) {
        uint64_t vals[3] = {p - 1, p, p + 1};
        for (int k = 0; k < 3; k++) {
            struct resdeliv_id id = {vals[k], p};
            int n = resdeliv_id_format(&id, buf, sizeof(buf));
            snprintf(expect, sizeof(expect), "%llu-%llu",
                     (unsigned long long)vals[k], (unsigned long long)p);
            ck_assert_int_eq(n, (int)strlen(expect));
            ck_assert_str_eq(buf, expect);
        }
        if (i < 19) {
            p *= 10;
        }
    }
}
END_TEST

static uint64_t rand64(uint64_t *state)
{
    /* xorshift64*: deterministic so a failure can be reproduced. */
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ull;
}

START_TEST(test_round_trip)
{
    uint64_t st = 0x9e3779b97f4a7c15ull;
    char buf[RESDELIV_ID_BUFSIZE];
    char expect[RESDELIV_ID_BUFSIZE];

    for (int i = 0; i < 100000; i++) {
        struct resdeliv_id id;
        struct resdeliv_id back = {0, 0};
        int n;
        /* Mix full-width values with short ones so every length shows. */
        id.ms = rand64(&st) >> (rand64(&st) % 64);
        id.seq = rand64(&st) >> (rand64(&st) % 64);
        n = resdeliv_id_format(&id, buf, sizeof(buf));
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(resdeliv_id_parse(buf, (size_t)n, &back), 0);
        ck_assert_int_eq(resdeliv_id_cmp(&id, &back), 0);
        if (i % 97 == 0) {
            snprintf(expect, sizeof(expect), "%llu-%llu",
                     (unsigned long long)id.ms, (unsigned long long)id.seq);
            ck_assert_str_eq(buf, expect);
        }
    }
}
END_TEST

START_TEST(test_cmp)
{
    static const struct resdeliv_id ordered[] = {
        {0, 0},
        {0, 1},
        {0, UINT64_MAX},
        {1, 0},
        {1, 1},
        {2, 0},
        {UINT64_MAX - 1, UINT64_MAX},
        {UINT64_MAX, 0},
        {UINT64_MAX, UINT64_MAX},
    };
    size_t n = sizeof(ordered) / sizeof(ordered[0]);

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int c = resdeliv_id_cmp(&ordered[i], &ordered[j]);
            if (i < j) {
                ck_assert_int_lt(c, 0);
            } else if (i > j) {
                ck_assert_int_gt(c, 0);
            } else {
                ck_assert_int_eq(c, 0);
            }
        }
    }
    ck_assert_int_lt(resdeliv_id_cmp(NULL, &ordered[0]), 0);
    ck_assert_int_gt(resdeliv_id_cmp(&ordered[0], NULL), 0);
    ck_assert_int_eq(resdeliv_id_cmp(NULL, NULL), 0);
}
END_TEST

START_TEST(test_is_zero)
{
    struct resdeliv_id a = {0, 0}, b = {0, 1}, c = {1, 0};

    ck_assert_int_eq(resdeliv_id_is_zero(&a), 1);
    ck_assert_int_eq(resdeliv_id_is_zero(&b), 0);
    ck_assert_int_eq(resdeliv_id_is_zero(&c), 0);
    ck_assert_int_eq(resdeliv_id_is_zero(NULL), 0);
}
END_TEST

START_TEST(test_next)
{
    struct resdeliv_id out = {7, 7};
    struct resdeliv_id a = {5, 9};
    struct resdeliv_id carry = {5, UINT64_MAX};
    struct resdeliv_id top_ms = {UINT64_MAX, 3};
    struct resdeliv_id max = {UINT64_MAX, UINT64_MAX};

    ck_assert_int_eq(resdeliv_id_next(&a, &out), 0);
    ck_assert_uint_eq(out.ms, 5);
    ck_assert_uint_eq(out.seq, 10);
    ck_assert_int_gt(resdeliv_id_cmp(&out, &a), 0);
    ck_assert_int_eq(resdeliv_id_next(&carry, &out), 0);
    ck_assert_uint_eq(out.ms, 6);
    ck_assert_uint_eq(out.seq, 0);
    ck_assert_int_gt(resdeliv_id_cmp(&out, &carry), 0);
    ck_assert_int_eq(resdeliv_id_next(&top_ms, &out), 0);
    ck_assert_uint_eq(out.ms, UINT64_MAX);
    ck_assert_uint_eq(out.seq, 4);
    out.ms = 1;
    out.seq = 2;
    ck_assert_int_eq(resdeliv_id_next(&max, &out), RESDELIV_ERANGE);
    ck_assert_uint_eq(out.ms, 1);
    ck_assert_uint_eq(out.seq, 2);
    /* In place is allowed. */
    ck_assert_int_eq(resdeliv_id_next(&carry, &carry), 0);
    ck_assert_uint_eq(carry.ms, 6);
    ck_assert_uint_eq(carry.seq, 0);
    ck_assert_int_eq(resdeliv_id_next(NULL, &out), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_id_next(&a, NULL), RESDELIV_EINVAL);
}
END_TEST

START_TEST(test_epoch_check)
{
    static const char *good[] = {"a",
                                 "Z",
                                 "0",
                                 "_",
                                 "-",
                                 "abc-DEF_123",
                                 "0123456789abcdef",
                                 "0123456789abcdef0123456789ABCDEF"};
    static const char *bad[] = {"",
                                "a b",
                                "a.b",
                                "a/b",
                                "é",
                                "a\"b",
                                "a\\b",
                                "a\nb",
                                "a+b",
                                "a=b",
                                "0123456789abcdef0123456789ABCDEFx"};
    static const char nul[] = "ab\0cd";

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(resdeliv_epoch_check(good[i], strlen(good[i])) == 0, "%s",
                      good[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(resdeliv_epoch_check(bad[i], strlen(bad[i])) ==
                          RESDELIV_EINVAL,
                      "%s", bad[i]);
    }
    ck_assert_int_eq(resdeliv_epoch_check(nul, sizeof(nul) - 1),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_epoch_check("abcdef", 3), 0);
    ck_assert_int_eq(resdeliv_epoch_check(NULL, 3), RESDELIV_EINVAL);
}
END_TEST

START_TEST(test_epoch_new)
{
    char a[RESDELIV_EPOCH_BUFSIZE];
    char b[RESDELIV_EPOCH_BUFSIZE];

    ck_assert_int_eq(resdeliv_epoch_new(a, sizeof(a)), 0);
    ck_assert_uint_eq(strlen(a), 16);
    ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 16);
    ck_assert_int_eq(resdeliv_epoch_check(a, strlen(a)), 0);
    /* 64 random bits: a collision here means the source is broken. */
    for (int i = 0; i < 32; i++) {
        ck_assert_int_eq(resdeliv_epoch_new(b, sizeof(b)), 0);
        ck_assert_str_ne(a, b);
    }
    ck_assert_int_eq(resdeliv_epoch_new(b, 17), RESDELIV_ENOSPC);
    ck_assert_int_eq(resdeliv_epoch_new(b, 0), RESDELIV_ENOSPC);
    ck_assert_int_eq(resdeliv_epoch_new(NULL, 64), RESDELIV_EINVAL);
}
END_TEST

static Suite *id_suite(void)
{
    Suite *s = suite_create("id");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, test_parse_good);
    tcase_add_test(tc, test_parse_bad);
    tcase_add_test(tc, test_parse_range);
    tcase_add_test(tc, test_parse_len);
    suite_add_tcase(s, tc);

    tc = tcase_create("format");
    tcase_add_test(tc, test_format);
    tcase_add_test(tc, test_format_powers);
    tcase_add_test(tc, test_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("order");
    tcase_add_test(tc, test_cmp);
    tcase_add_test(tc, test_is_zero);
    tcase_add_test(tc, test_next);
    suite_add_tcase(s, tc);

    tc = tcase_create("epoch");
    tcase_add_test(tc, test_epoch_check);
    tcase_add_test(tc, test_epoch_new);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(id_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
