/* SPDX-License-Identifier: MIT */
/*
 * The blocking client's own RESP2 reader (redis_resp.c), judged against
 * hiredis's reader on well-formed replies. Every one, written out here or
 * drawn from a seeded generator, must scan to exactly its length and
 * build to the tree hiredis builds from the same bytes, strings
 * NUL-terminated as hiredis terminates them; every strict prefix of one
 * must scan as incomplete. Bytes a RESP2 server never sends, and the
 * arena the trees live in, are tested in check_redis_resp_bad.c.
 */
#include "redis_internal.h"
#include "resp_text.h"

#include <hiredis/hiredis.h>

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- a seeded generator of well-formed replies ---- */

/* Text for a status or error line: anything but CR (a lone LF is text). */
static void gen_line(struct rng *r, struct text *t, char type)
{
    char line[40];
    size_t n = below(r, sizeof(line));

    for (size_t i = 0; i < n; i++) {
        do {
            line[i] = (char)below(r, 256);
        } while (line[i] == '\r');
    }
    put(t, &type, 1);
    put(t, line, n);
    put(t, "\r\n", 2);
}

static long long gen_integer(struct rng *r)
{
    long long limit = 1;
    size_t digits = 1 + below(r, 18);
    long long v;

    for (size_t i = 0; i < digits; i++) {
        limit *= 10;
    }
    v = (long long)(next_u64(r) % (uint64_t)limit);
    return below(r, 3) == 0 ? -v : v;
}

static void gen_reply(struct rng *r, struct text *t, int depth)
{
    char bytes[2048];
    size_t kinds = depth < 3 ? 9 : depth < RESDELIV__RESP_DEPTH ? 8 : 7;
    size_t n;

    switch (below(r, kinds)) {
    case 0:
        gen_line(r, t, '+');
        break;
    case 1:
        gen_line(r, t, '-');
        break;
    case 2:
        put_head(t, ':', gen_integer(r));
        break;
    case 3:
        put_head(t, below(r, 2) ? '$' : '*', -1);
        break;
    case 4:
    case 5:
        n = below(r, 8) == 0 ? below(r, sizeof(bytes)) : below(r, 24);
        gen_bytes(r, bytes, n);
        put_bulk(t, bytes, n);
        break;
    case 6:
        put_head(t, '*', 0);
        break;
    default:
        n = below(r, depth < 3 ? 7 : 3);
        put_head(t, '*', (long long)n);
        for (size_t i = 0; i < n; i++) {
            gen_reply(r, t, depth + 1);
        }
        break;
    }
}

/* ---- checking a reply against hiredis ---- */

/* One complete reply: scan finds exactly its length, alone and with
 * another reply after it, and it builds to hiredis's tree. The bytes are
 * copied to a block of their exact size so that ASan sees a read past
 * them. */
static void check_reply(const char *s, size_t len)
{
    struct resdeliv__redis_arena a = {NULL};
    char *exact = dup_exact(s, len);
    char *more = malloc(len + 4);
    redisReply *ref;
    size_t used = 0;

    ck_assert_ptr_nonnull(more);
    memcpy(more, s, len);
    memcpy(more + len, ":1\r\n", 4);
    ck_assert_int_eq(resdeliv__redis_resp_scan(exact, len), (long long)len);
    ck_assert_int_eq(resdeliv__redis_resp_scan(more, len + 4), (long long)len);
    ref = hiredis_read(exact, len, &used);
    ck_assert_uint_eq(used, len);
    same_tree(resdeliv__redis_resp_build(&a, exact, len), ref, 0);
    /* Followed by another reply, the build says where that one starts. */
    used = 0;
    same_tree(resdeliv__redis_resp_build_next(&a, more, len + 4, &used), ref,
              0);
    ck_assert_uint_eq(used, len);
    freeReplyObject(ref);
    resdeliv__redis_arena_free(&a);
    free(more);
    free(exact);
}

/* Every strict prefix of a complete reply needs more bytes. Prefixes
 * within `window` bytes of either end get a block of their exact size
 * (a long bulk string's middle is skipped by arithmetic, not read). */
static void check_prefixes(const char *s, size_t len, size_t window)
{
    for (size_t k = 0; k < len; k++) {
        long long n;
        if (k < window || len - k <= window) {
            char *exact = dup_exact(s, k);
            n = resdeliv__redis_resp_scan(exact, k);
            free(exact);
        } else {
            n = resdeliv__redis_resp_scan(s, k);
        }
        if (n != 0) {
            ck_abort_msg("prefix of %zu of %zu bytes: %lld", k, len, n);
        }
    }
}

/* ---- the replies ---- */

struct literal {
    const char *s;
    size_t len;
};

static const struct literal literals[] = {
    {LIT("+OK\r\n")},
    {LIT("+\r\n")},
    {LIT("+QUEUED\r\n")},
    {LIT("+a\nb\0c\r\n")},
    {LIT("-ERR unknown command 'FOO'\r\n")},
    {LIT("-NOSCRIPT No matching script. Please use EVAL.\r\n")},
    {LIT("-WRONGTYPE Operation against a key holding the wrong kind of "
         "value\r\n")},
    {LIT("-\r\n")},
    {LIT(":0\r\n")},
    {LIT(":1\r\n")},
    {LIT(":-1\r\n")},
    {LIT(":1700000000123\r\n")},
    {LIT(":999999999999999999\r\n")},
    {LIT(":-999999999999999999\r\n")},
    {LIT("$-1\r\n")},
    {LIT("$0\r\n\r\n")},
    {LIT("$5\r\nhello\r\n")},
    {LIT("$15\r\n1700000000000-0\r\n")},
    {LIT("$8\r\na\0b\r\nc\rd\r\n")},
    {LIT("$2\r\n\r\n\r\n")},
    {LIT("$1\r\n\0\r\n")},
    {LIT("*-1\r\n")},
    {LIT("*0\r\n")},
    {LIT("*1\r\n*0\r\n")},
    {LIT("*2\r\n$-1\r\n*-1\r\n")},
    {LIT("*3\r\n:1\r\n+OK\r\n-ERR x\r\n")},
    {LIT("*2\r\n*1\r\n*1\r\n:7\r\n$0\r\n\r\n")},
};

#define NLIT (sizeof(literals) / sizeof(literals[0]))

/* The i-th written reply, the literals then the shapes: 0 past them. */
static int written(size_t i, struct text *t)
{
    t->len = 0;
    if (i < NLIT) {
        put(t, literals[i].s, literals[i].len);
    } else if (i < NLIT + NSHAPES) {
        put_shape(t, i - NLIT);
    }
    return i < NLIT + NSHAPES;
}

/* A 100 KB bulk string, then an array of 2000 integers and strings. */
static int large(size_t i, struct text *t)
{
    t->len = 0;
    if (i == 0) {
        put_binary(t, 100 * 1024);
    } else if (i == 1) {
        put_head(t, '*', 2000);
        for (int k = 0; k < 2000; k++) {
            if (k % 2) {
                put_head(t, ':', -k);
            } else {
                put_binary(t, (size_t)k % 9);
            }
        }
    }
    return i < 2;
}

/* ---- differential ---- */

START_TEST(diff_written)
{
    struct text t = {0};

    for (size_t i = 0; written(i, &t); i++) {
        check_reply(t.p, t.len);
    }
    free(t.p);
}
END_TEST

START_TEST(diff_large)
{
    struct text t = {0};

    for (size_t i = 0; large(i, &t); i++) {
        check_reply(t.p, t.len);
    }
    free(t.p);
}
END_TEST

START_TEST(diff_random)
{
    struct rng r = {20240601};
    struct text t = {0};

    for (int i = 0; i < 3000; i++) {
        t.len = 0;
        gen_reply(&r, &t, 0);
        check_reply(t.p, t.len);
    }
    free(t.p);
}
END_TEST

/* A pipeline's replies back to back, found one after the other the way
 * the client walks its read buffer. */
START_TEST(diff_pipeline)
{
    struct resdeliv__redis_arena a = {NULL};
    struct text all = {0};
    struct text t = {0};
    size_t off = 0;

    for (size_t i = 0; written(i, &t); i++) {
        put(&all, t.p, t.len);
    }
    for (size_t i = 0; written(i, &t); i++) {
        long long n = resdeliv__redis_resp_scan(all.p + off, all.len - off);
        size_t used = 0;
        redisReply *ref;
        ck_assert_int_eq(n, (long long)t.len);
        ref = hiredis_read(all.p + off, (size_t)n, &used);
        same_tree(resdeliv__redis_resp_build(&a, all.p + off, (size_t)n), ref,
                  0);
        freeReplyObject(ref);
        off += (size_t)n;
    }
    ck_assert_uint_eq(off, all.len);
    resdeliv__redis_arena_free(&a);
    free(all.p);
    free(t.p);
}
END_TEST

/* ---- incomplete ---- */

START_TEST(prefix_written)
{
    struct text t = {0};

    for (size_t i = 0; written(i, &t); i++) {
        check_prefixes(t.p, t.len, 4096);
    }
    free(t.p);
}
END_TEST

START_TEST(prefix_large)
{
    struct text t = {0};

    for (size_t i = 0; large(i, &t); i++) {
        check_prefixes(t.p, t.len, 512);
    }
    free(t.p);
}
END_TEST

START_TEST(prefix_random)
{
    struct rng r = {20240601};
    struct text t = {0};

    for (int i = 0; i < 3000; i++) {
        t.len = 0;
        gen_reply(&r, &t, 0);
        check_prefixes(t.p, t.len, 4096);
    }
    free(t.p);
}
END_TEST

static Suite *resp_suite(void)
{
    Suite *s = suite_create("redis_resp");
    TCase *tc = tcase_create("differential");

    tcase_add_test(tc, diff_written);
    tcase_add_test(tc, diff_large);
    tcase_add_test(tc, diff_random);
    tcase_add_test(tc, diff_pipeline);
    suite_add_tcase(s, tc);
    tc = tcase_create("incomplete");
    tcase_add_test(tc, prefix_written);
    tcase_add_test(tc, prefix_large);
    tcase_add_test(tc, prefix_random);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(resp_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
