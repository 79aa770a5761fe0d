/* SPDX-License-Identifier: MIT */
/*
 * The blocking client's own RESP2 reader (redis_resp.c) on what it must
 * not accept and on the memory it keeps: bytes a RESP2 server never sends
 * must be refused, not guessed at, while bytes after a complete reply are
 * left for the next one; and the arena the trees live in must stay
 * bounded from one operation to the next and take replies larger than
 * its chunks. Well-formed replies are tested in check_redis_resp.c.
 */
#include "redis_internal.h"
#include "resp_text.h"

#include <hiredis/hiredis.h>

#include <check.h>
#include <stdlib.h>

/* Bytes the process has allocated: ASan's count when it replaces malloc,
 * glibc's otherwise. */
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
size_t __sanitizer_get_current_allocated_bytes(void);
#else
#include <malloc.h>
#endif

static size_t heap_in_use(void)
{
#ifdef HAVE_ASAN
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}

/* ---- malformed ---- */

static void rejects(const char *s, size_t len)
{
    char *exact = dup_exact(s, len);
    long long n = resdeliv__redis_resp_scan(exact, len);

    ck_assert_msg(n == RESDELIV_ESTORE, "scan gave %lld for \"%.*s\"", n,
                  (int)len, s);
    free(exact);
}

#define REJECTS(s) rejects(LIT(s))

START_TEST(bad_type)
{
    /* RESP3 types, inline text, stray line ends */
    REJECTS("_\r\n");
    REJECTS("%1\r\n+a\r\n+b\r\n");
    REJECTS("~0\r\n");
    REJECTS(">2\r\n");
    REJECTS("#t\r\n");
    REJECTS(",1.5\r\n");
    REJECTS("(12345678901234567890\r\n");
    REJECTS("=5\r\ntxt:x\r\n");
    REJECTS("|1\r\n");
    REJECTS("!3\r\nerr\r\n");
    REJECTS("OK\r\n");
    REJECTS("\r\n");
    REJECTS("\0");
    REJECTS("*2\r\n:1\r\n?\r\n");
    REJECTS("*3\r\n_");
}
END_TEST

START_TEST(bad_line_end)
{
    REJECTS("+OK\rX\r\n");
    REJECTS("-ERR\rX");
    REJECTS(":1\rX\r\n");
    REJECTS(":1\n\r\n");
    REJECTS("$1\rXa\r\n");
    REJECTS("$1\na\r\n");
    REJECTS("*1\r:1\r\n");
    REJECTS("*1\n:1\r\n");
    REJECTS("*2\r\n+OK\r\n:1\r;");
}
END_TEST

START_TEST(bad_bulk_end)
{
    REJECTS("$3\r\nabcXY");
    REJECTS("$3\r\nabcd\r\n");
    REJECTS("$3\r\nab\r\n\r\n");
    REJECTS("$3\r\nabc\n\r");
    REJECTS("$3\r\nabc\rX");
    REJECTS("$0\r\nX\r\n");
    REJECTS("$0\r\n\n\r");
    REJECTS("*2\r\n$1\r\nab\r\n:1\r\n");
}
END_TEST

START_TEST(bad_lengths)
{
    REJECTS("$-2\r\n");
    REJECTS("$-1000\r\n");
    REJECTS("*-2\r\n");
    REJECTS(":--1\r\n");
    /* 512 MB is hiredis's bound for a bulk, 2^32 - 1 for an array */
    REJECTS("$536870913\r\n");
    REJECTS("$999999999999999999\r\n");
    REJECTS("*4294967296\r\n");
    REJECTS("*1\r\n*4294967296\r\n");
    /* within the bounds: waiting for the bytes, not refused */
    ck_assert_int_eq(resdeliv__redis_resp_scan(LIT("$536870912\r\n")), 0);
    ck_assert_int_eq(resdeliv__redis_resp_scan(LIT("*4294967295\r\n")), 0);
}
END_TEST

START_TEST(bad_numbers)
{
    /* 19 digits, refused before the line is complete */
    REJECTS(":1234567890123456789\r\n");
    REJECTS(":-1234567890123456789\r\n");
    REJECTS(":0000000000000000001\r\n");
    REJECTS(":1234567890123456789");
    REJECTS("$0000000000000000003\r\nabc\r\n");
    REJECTS("*0000000000000000001\r\n:1\r\n");
    /* not as Redis writes numbers (nor as hiredis reads them) */
    REJECTS(":007\r\n");
    REJECTS(":00\r\n");
    REJECTS(":-0\r\n");
    REJECTS("$03\r\nabc\r\n");
    REJECTS("$-0\r\n\r\n");
    REJECTS("*01\r\n:1\r\n");
    REJECTS("*-0\r\n");
    REJECTS("*2\r\n:1\r\n$00\r\n\r\n");
    /* no digits, or not only digits */
    REJECTS("$\r\n");
    REJECTS("*\r\n");
    REJECTS(":\r\n");
    REJECTS("$-\r\n");
    REJECTS(":-\r\n");
    REJECTS(":+1\r\n");
    REJECTS(": 1\r\n");
    REJECTS(":1 \r\n");
    REJECTS("$5x\r\nhello\r\n");
    REJECTS("*1x\r\n:1\r\n");
    REJECTS(":0x10\r\n");
}
END_TEST

START_TEST(bad_depth)
{
    struct text t = {0};

    /* one array more than the deepest accepted (the last shape) */
    for (int d = 0; d <= RESDELIV__RESP_DEPTH; d++) {
        put_head(&t, '*', 1);
    }
    /* refused as soon as the array header is seen */
    rejects(t.p, t.len);
    put_head(&t, ':', 1);
    rejects(t.p, t.len);
    t.len = 0;
    for (int d = 0; d < RESDELIV__RESP_DEPTH; d++) {
        put_head(&t, '*', 2);
        put_head(&t, '*', 0);
    }
    put_head(&t, '*', -1);
    put_head(&t, '*', 0);
    rejects(t.p, t.len);
    free(t.p);
}
END_TEST

START_TEST(trailing_bytes)
{
    ck_assert_int_eq(resdeliv__redis_resp_scan(LIT("+OK\r\ngarbage")), 5);
    ck_assert_int_eq(resdeliv__redis_resp_scan(LIT("+OK\r\n?\r\n")), 5);
    ck_assert_int_eq(resdeliv__redis_resp_scan(LIT(":1\r\n:2\r\n")), 4);
    ck_assert_int_eq(resdeliv__redis_resp_scan(LIT("$-1\r\n$-2\r\n")), 5);
    ck_assert_int_eq(resdeliv__redis_resp_scan(LIT("$1\r\n\r\r\n\n")), 7);
    ck_assert_int_eq(resdeliv__redis_resp_scan(LIT("*0\r\n*")), 4);
    ck_assert_int_eq(resdeliv__redis_resp_scan(LIT("*2\r\n:1\r\n:2\r\n:3\r\n")),
                     12);
    ck_assert_int_eq(resdeliv__redis_resp_scan(LIT("*1\r\n*-1\r\n\r\n")), 9);
    /* nothing at all is not yet a reply */
    ck_assert_int_eq(resdeliv__redis_resp_scan("", 0), 0);
}
END_TEST

/* ---- arena ---- */

/* One operation after another: the arena is reset between them, keeps
 * one chunk, and so holds about one page however many pages are read. */
START_TEST(arena_bounded)
{
    struct resdeliv__redis_arena a = {NULL};
    struct text t = {0};
    redisReply *ref;
    size_t used = 0;
    size_t warm = 0;

    put_shape(&t, XRANGE_100);
    ref = hiredis_read(t.p, t.len, &used);
    for (int i = 0; i < 1000; i++) {
        redisReply *mine;
        resdeliv__redis_arena_reset(&a);
        mine = resdeliv__redis_resp_build(&a, t.p, t.len);
        same_tree(mine, ref, 0);
        if (i == 10) {
            warm = heap_in_use();
        }
    }
    ck_assert_msg(heap_in_use() < warm + 1024 * 1024,
                  "heap grew from %zu to %zu bytes", warm, heap_in_use());
    freeReplyObject(ref);
    resdeliv__redis_arena_free(&a);
    free(t.p);
}
END_TEST

/* A string and an element vector each larger than a chunk, then small
 * replies again after the reset. */
START_TEST(arena_large)
{
    struct resdeliv__redis_arena a = {NULL};
    struct text big = {0};
    struct text many = {0};
    struct text small = {0};
    redisReply *ref[3];
    size_t used = 0;

    put_binary(&big, 300 * 1024);
    put_head(&many, '*', 20000);
    for (int i = 0; i < 20000; i++) {
        put_head(&many, ':', i);
    }
    put_shape(&small, XRANGE_3);
    ref[0] = hiredis_read(big.p, big.len, &used);
    ref[1] = hiredis_read(many.p, many.len, &used);
    ref[2] = hiredis_read(small.p, small.len, &used);
    for (int round = 0; round < 3; round++) {
        redisReply *b = resdeliv__redis_resp_build(&a, big.p, big.len);
        redisReply *m = resdeliv__redis_resp_build(&a, many.p, many.len);
        redisReply *s = resdeliv__redis_resp_build(&a, small.p, small.len);
        /* the first trees are intact after the later ones are built */
        same_tree(b, ref[0], 0);
        same_tree(m, ref[1], 0);
        same_tree(s, ref[2], 0);
        resdeliv__redis_arena_reset(&a);
        same_tree(resdeliv__redis_resp_build(&a, small.p, small.len), ref[2],
                  0);
        resdeliv__redis_arena_reset(&a);
    }
    for (int i = 0; i < 3; i++) {
        freeReplyObject(ref[i]);
    }
    resdeliv__redis_arena_free(&a);
    free(big.p);
    free(many.p);
    free(small.p);
}
END_TEST

START_TEST(arena_empty)
{
    struct resdeliv__redis_arena a = {NULL};

    resdeliv__redis_arena_reset(&a);
    ck_assert_ptr_null(a.head);
    resdeliv__redis_arena_free(&a);
    resdeliv__redis_arena_free(NULL);
    /* freed, the arena is empty and usable again */
    ck_assert_ptr_nonnull(resdeliv__redis_resp_build(&a, LIT(":1\r\n")));
    resdeliv__redis_arena_free(&a);
    ck_assert_ptr_null(a.head);
    resdeliv__redis_arena_free(&a);
}
END_TEST

static Suite *resp_bad_suite(void)
{
    Suite *s = suite_create("redis_resp_bad");
    TCase *tc = tcase_create("malformed");

    tcase_add_test(tc, bad_type);
    tcase_add_test(tc, bad_line_end);
    tcase_add_test(tc, bad_bulk_end);
    tcase_add_test(tc, bad_lengths);
    tcase_add_test(tc, bad_numbers);
    tcase_add_test(tc, bad_depth);
    tcase_add_test(tc, trailing_bytes);
    suite_add_tcase(s, tc);
    tc = tcase_create("arena");
    tcase_add_test(tc, arena_bounded);
    tcase_add_test(tc, arena_large);
    tcase_add_test(tc, arena_empty);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(resp_bad_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
