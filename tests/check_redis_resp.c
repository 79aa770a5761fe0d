/* SPDX-License-Identifier: MIT */
/*
 * The blocking client's own RESP2 reader (redis_resp.c), judged against
 * hiredis's reader. Every well-formed reply, written out here or drawn
 * from a seeded generator, must scan to exactly its length and build to
 * the tree hiredis builds from the same bytes, strings NUL-terminated as
 * hiredis terminates them; every strict prefix of one must scan as
 * incomplete; bytes a RESP2 server never sends must be refused, not
 * guessed at; and the arena the trees live in must stay bounded from one
 * operation to the next and take replies larger than its chunks.
 */
#include "redis_internal.h"

#include <hiredis/hiredis.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define LIT(s) s, sizeof(s) - 1

/* ---- writing replies ---- */

struct text {
    char *p;
    size_t len;
    size_t cap;
};

static void put(struct text *t, const void *s, size_t n)
{
    if (t->cap - t->len < n) {
        size_t cap = t->cap != 0 ? t->cap : 256;
        while (cap - t->len < n) {
            cap *= 2;
        }
        t->p = realloc(t->p, cap);
        if (t->p == NULL) {
            ck_abort_msg("out of memory");
        }
        t->cap = cap;
    }
    if (n > 0) {
        memcpy(t->p + t->len, s, n);
    }
    t->len += n;
}

static void put_head(struct text *t, char type, long long n)
{
    char line[32];
    int k = snprintf(line, sizeof(line), "%c%lld\r\n", type, n);

    put(t, line, (size_t)k);
}

static void put_bulk(struct text *t, const void *s, size_t n)
{
    put_head(t, '$', (long long)n);
    put(t, s, n);
    put(t, "\r\n", 2);
}

static void put_str(struct text *t, const char *s)
{
    put_bulk(t, s, strlen(s));
}

static void put_line(struct text *t, char type, const char *s)
{
    put(t, &type, 1);
    put(t, s, strlen(s));
    put(t, "\r\n", 2);
}

/* An XRANGE page: n entries of [id, [field, value, ...]], each value
 * a JSON payload of about vlen bytes. */
static void put_xrange(struct text *t, size_t n, size_t fields, size_t vlen)
{
    static const char *const names[] = {"e", "d", "x", "s"};
    char id[48];
    char value[512];

    ck_assert_uint_lt(vlen, sizeof(value) - 32);
    put_head(t, '*', (long long)n);
    for (size_t i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "%llu-%zu", 1700000000000ull + i, i % 3);
        put_head(t, '*', 2);
        put_str(t, id);
        put_head(t, '*', (long long)(2 * fields));
        for (size_t f = 0; f < fields; f++) {
            int k = snprintf(value, sizeof(value), "{\"n\":%zu,\"p\":\"", i);
            memset(value + k, 'a' + (int)(f % 26), vlen);
            memcpy(value + k + vlen, "\"}", 3);
            put_str(t, names[f % 4]);
            put_str(t, value);
        }
    }
}

/* ---- a seeded generator of well-formed replies ---- */

struct rng {
    uint64_t s;
};

static uint64_t next_u64(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t below(struct rng *r, size_t n)
{
    return (size_t)(next_u64(r) % n);
}

/* Bytes for a bulk string: CR, LF and NUL among them, often. */
static void gen_bytes(struct rng *r, char *out, size_t n)
{
    static const char some[] = "\r\n\0$*:+-0123456789abcXYZ\xff\x80";

    for (size_t i = 0; i < n; i++) {
        out[i] =
            below(r, 2) ? some[below(r, sizeof(some))] : (char)below(r, 256);
    }
}

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

/* ---- the reference and the comparison ---- */

/* hiredis's reading of s[0..len): its reply and the bytes it took. */
static redisReply *hiredis_read(const char *s, size_t len, size_t *used)
{
    redisReader *rd = redisReaderCreate();
    void *reply = NULL;

    ck_assert_ptr_nonnull(rd);
    ck_assert_int_eq(redisReaderFeed(rd, s, len), REDIS_OK);
    ck_assert_int_eq(redisReaderGetReply(rd, &reply), REDIS_OK);
    ck_assert_ptr_nonnull(reply);
    *used = len - (rd->len - rd->pos);
    redisReaderFree(rd);
    return reply;
}

/* The first way `mine` differs from hiredis's `ref`, written into why;
 * 0 when the trees are the same. Checked without an assertion per field:
 * Check reports every passing assertion to its parent process. */
static int tree_diff(const redisReply *mine, const redisReply *ref, int depth,
                     char *why, size_t size)
{
    const char *what = NULL;

    if (mine == NULL) {
        what = "no reply built";
    } else if (mine->type != ref->type) {
        what = "type";
    } else if (mine->integer != ref->integer) {
        what = "integer";
    } else if (mine->len != ref->len) {
        what = "len";
    } else if (mine->elements != ref->elements) {
        what = "elements";
    } else if ((mine->str == NULL) != (ref->str == NULL)) {
        what = "str NULL or not";
    } else if (ref->str != NULL && memcmp(mine->str, ref->str, ref->len) != 0) {
        what = "string bytes";
    } else if (ref->str != NULL && mine->str[mine->len] != '\0') {
        what = "NUL after the string";
    } else if ((mine->element == NULL) != (ref->element == NULL)) {
        what = "element NULL or not";
    }
    if (what != NULL) {
        snprintf(why, size, "%s differs at depth %d", what, depth);
        return 1;
    }
    for (size_t i = 0; i < ref->elements; i++) {
        if (tree_diff(mine->element[i], ref->element[i], depth + 1, why,
                      size)) {
            return 1;
        }
    }
    return 0;
}

static void same_tree(const redisReply *mine, const redisReply *ref, int depth)
{
    char why[96];

    if (tree_diff(mine, ref, depth, why, sizeof(why))) {
        ck_abort_msg("built reply differs from hiredis's: %s", why);
    }
}

static char *dup_exact(const char *s, size_t len)
{
    char *p = malloc(len > 0 ? len : 1);

    if (p == NULL) {
        ck_abort_msg("out of memory");
    }
    if (len > 0) {
        memcpy(p, s, len);
    }
    return p;
}

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

/* The shapes the store reads, written as words that are turned into RESP
 * with their lengths counted: *N array, :N integer, $-1 nil, $word bulk,
 * +word status, -word error, XN an XRANGE page of N entries. The last
 * shape nests arrays as deep as the scan accepts. */
static const char *const shapes[] = {
    "X0",
    "X3",
    "X100",
    /* XREAD */
    "*1 *2 $t:{app:orders} X2",
    /* EXEC of an append, of a read, with an error */
    "*4 $1700000000000 $1700000000001-0 :5 X2",
    "*2 +OK *1 *2 $t:{app:orders} X2",
    "*3 -WRONGTYPE :1 $-1",
    /* XINFO STREAM */
    ("*8 $length :2 $last-generated-id $1700000000001-0 $first-entry "
     "*2 $1700000000000-0 *2 $e $order.created $last-entry $-1"),
    /* EVALSHA */
    "*3 :1 $1700000000002-0 *2 $1700000000000 *-1",
};

#define NSHAPES (sizeof(shapes) / sizeof(shapes[0]) + 1)
#define XRANGE_3 1
#define XRANGE_100 2

static void put_shape(struct text *t, size_t i)
{
    const char *w = i < NSHAPES - 1 ? shapes[i] : "";

    while (*w != '\0') {
        size_t n = strcspn(w, " ");
        char word[64];
        snprintf(word, sizeof(word), "%.*s", (int)n - 1, w + 1);
        if (*w == '*' || *w == ':' || (*w == '$' && word[0] == '-')) {
            put_head(t, *w, strtoll(word, NULL, 10));
        } else if (*w == '$') {
            put_str(t, word);
        } else if (*w == 'X') {
            put_xrange(t, strtoul(word, NULL, 10), 2, 100);
        } else {
            put_line(t, *w, word);
        }
        w += n + (w[n] == ' ');
    }
    if (i == NSHAPES - 1) {
        for (int d = 0; d < RESDELIV__RESP_DEPTH; d++) {
            put_head(t, '*', 2);
            put_head(t, ':', d);
        }
        put_str(t, "bottom");
    }
}

/* A bulk string of n bytes with CR, LF and NUL throughout. */
static void put_binary(struct text *t, size_t n)
{
    char *b = malloc(n);
    struct rng r = {n};

    ck_assert_ptr_nonnull(b);
    gen_bytes(&r, b, n);
    put_bulk(t, b, n);
    free(b);
}

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
    tc = tcase_create("malformed");
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
    SRunner *sr = srunner_create(resp_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
