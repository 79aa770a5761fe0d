/* SPDX-License-Identifier: MIT */
/*
 * The replies the tests of the blocking client's RESP2 reader feed it,
 * written out byte by byte so that a test controls every byte the reader
 * sees, and hiredis's reader, the reference the built trees must match.
 * Shared by check_redis_resp.c and check_redis_resp_bad.c; see
 * resp_text.h.
 */
#include "resp_text.h"

#include "redis_internal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing replies ---- */

void put(struct text *t, const void *s, size_t n)
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

void put_head(struct text *t, char type, long long n)
{
    char line[32];
    int k = snprintf(line, sizeof(line), "%c%lld\r\n", type, n);

    put(t, line, (size_t)k);
}

void put_bulk(struct text *t, const void *s, size_t n)
{
    put_head(t, '$', (long long)n);
    put(t, s, n);
    put(t, "\r\n", 2);
}

void put_str(struct text *t, const char *s)
{
    put_bulk(t, s, strlen(s));
}

void put_line(struct text *t, char type, const char *s)
{
    put(t, &type, 1);
    put(t, s, strlen(s));
    put(t, "\r\n", 2);
}

/* An XRANGE page: n entries of [id, [field, value, ...]], each value
 * a JSON payload of about vlen bytes. */
void put_xrange(struct text *t, size_t n, size_t fields, size_t vlen)
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

/* ---- seeded bytes ---- */

uint64_t next_u64(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

size_t below(struct rng *r, size_t n)
{
    return (size_t)(next_u64(r) % n);
}

/* Bytes for a bulk string: CR, LF and NUL among them, often. */
void gen_bytes(struct rng *r, char *out, size_t n)
{
    static const char some[] = "\r\n\0$*:+-0123456789abcXYZ\xff\x80";

    for (size_t i = 0; i < n; i++) {
        out[i] =
            below(r, 2) ? some[below(r, sizeof(some))] : (char)below(r, 256);
    }
}

/* ---- the shapes the store reads ---- */

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

_Static_assert(sizeof(shapes) / sizeof(shapes[0]) + 1 == NSHAPES,
               "NSHAPES counts the table and the deepest nesting");

void put_shape(struct text *t, size_t i)
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
void put_binary(struct text *t, size_t n)
{
    char *b = malloc(n);
    struct rng r = {n};

    ck_assert_ptr_nonnull(b);
    gen_bytes(&r, b, n);
    put_bulk(t, b, n);
    free(b);
}

/* ---- the reference and the comparison ---- */

/* hiredis's reading of s[0..len): its reply and the bytes it took. */
redisReply *hiredis_read(const char *s, size_t len, size_t *used)
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

void same_tree(const redisReply *mine, const redisReply *ref, int depth)
{
    char why[96];

    if (tree_diff(mine, ref, depth, why, sizeof(why))) {
        ck_abort_msg("built reply differs from hiredis's: %s", why);
    }
}

char *dup_exact(const char *s, size_t len)
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
