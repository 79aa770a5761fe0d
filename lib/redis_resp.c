/* SPDX-License-Identifier: MIT */
/*
 * Replies of the blocking Redis client, read without hiredis's reader.
 *
 * hiredis builds every reply with two allocations (the redisReply and its
 * string), and frees them one by one: a page of 100 stream entries is some
 * 700 replies, a batch of 64 appends 66, and that churn was the largest
 * part of the client's time on both paths. Here the RESP2 replies of one
 * exchange are first found complete in the bytes read so far
 * (resdeliv__redis_resp_scan(), which builds nothing and so can run again
 * after every read), then built into an arena as the same redisReply
 * trees the decoders read (resdeliv__redis_resp_build()): a few chunk
 * allocations per operation, strings copied once, NUL-terminated as
 * hiredis terminates them. The trees live until the arena is reset at the
 * start of the next operation; freeReplyObject() must never see them.
 *
 * Only what a RESP2 server sends on this connection is accepted: status,
 * error, integer, bulk string, array, and the nil bulk string and array.
 * Anything else, a length out of range, a missing CRLF or nesting deeper
 * than RESDELIV__RESP_DEPTH is a protocol error, never a guess.
 */
#include "redis_internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Chunks of at least this size; one chunk up to the keep size survives a
 * reset, so a steady load allocates nothing. */
#define CHUNK_MIN (64u * 1024u)
#define CHUNK_KEEP (256u * 1024u)
/* hiredis's own bounds for a bulk string and an array. */
#define BULK_MAX (512ll * 1024 * 1024)
#define ARRAY_MAX ((1ll << 32) - 1)
/* Integers of up to 18 digits: every count and flag this client asks for,
 * and no overflow to check while reading them. */
#define NUM_MAX 999999999999999999ll

struct resdeliv__redis_chunk {
    struct resdeliv__redis_chunk *next;
    size_t used;
    size_t cap;
    max_align_t mem[];
};

static size_t align_up(size_t n)
{
    return (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) *
           sizeof(max_align_t);
}

static void *arena_alloc(struct resdeliv__redis_arena *a, size_t size)
{
    struct resdeliv__redis_chunk *c = a->head;

    size = align_up(size);
    if (c == NULL || c->cap - c->used < size) {
        size_t cap = size > CHUNK_MIN ? size : CHUNK_MIN;
        c = malloc(sizeof(*c) + cap);
        if (c == NULL) {
            return NULL;
        }
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    c->used += size;
    return (char *)c->mem + c->used - size;
}

void resdeliv__redis_arena_reset(struct resdeliv__redis_arena *a)
{
    struct resdeliv__redis_chunk *keep = NULL;

    while (a->head != NULL) {
        struct resdeliv__redis_chunk *c = a->head;
        a->head = c->next;
        if (keep == NULL && c->cap <= CHUNK_KEEP) {
            keep = c;
        } else {
            free(c);
        }
    }
    if (keep != NULL) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->head = keep;
}

void resdeliv__redis_arena_free(struct resdeliv__redis_arena *a)
{
    if (a == NULL) {
        return;
    }
    resdeliv__redis_arena_reset(a);
    free(a->head);
    a->head = NULL;
}

/* ---- scanning ---- */

/* The decimal after the type byte at p[1], up to CRLF, within
 * [lo, hi]: 1 with *v and *end (past the CRLF), 0 when the line is not
 * complete yet, -1 when it is malformed. */
static int line_num(const char *p, const char *end, long long lo,
                    long long hi, long long *v, const char **next)
{
    const char *q = p + 1;
    const char *first;
    int neg = 0;
    int digits = 0;
    long long n = 0;

    if (q < end && *q == '-') {
        neg = 1;
        q++;
    }
    first = q;
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        if (++digits > 18) {
            return -1;
        }
        n = n * 10 + (*q - '0');
    }
    if (q + 1 >= end) {
        return 0;
    }
    if (digits == 0 || q[0] != '\r' || q[1] != '\n') {
        return -1;
    }
    /* Only as Redis writes numbers and hiredis reads them: no leading
     * zero, no "-0". */
    if (*first == '0' && (digits > 1 || neg)) {
        return -1;
    }
    n = neg ? -n : n;
    if (n < lo || n > hi) {
        return -1;
    }
    *v = n;
    *next = q + 2;
    return 1;
}

/* A status or error line: its end past the CRLF, as line_num(). */
static int line_text(const char *p, const char *end, const char **next)
{
    const char *cr = memchr(p + 1, '\r', (size_t)(end - p - 1));

    if (cr == NULL || cr + 1 >= end) {
        return 0;
    }
    if (cr[1] != '\n') {
        return -1;
    }
    *next = cr + 2;
    return 1;
}

static int scan(const char *p, const char *end, int depth, const char **next)
{
    long long n;
    int rc;

    if (p >= end) {
        return 0;
    }
    switch (*p) {
    case '+':
    case '-':
        return line_text(p, end, next);
    case ':':
        return line_num(p, end, -NUM_MAX, NUM_MAX, &n, next);
    case '$':
        rc = line_num(p, end, -1, BULK_MAX, &n, &p);
        if (rc <= 0 || n < 0) {
            *next = p;
            return rc;
        }
        if (end - p < n + 2) {
            return 0;
        }
        if (p[n] != '\r' || p[n + 1] != '\n') {
            return -1;
        }
        *next = p + n + 2;
        return 1;
    case '*':
        if (depth >= RESDELIV__RESP_DEPTH) {
            return -1;
        }
        rc = line_num(p, end, -1, ARRAY_MAX, &n, &p);
        for (long long i = 0; rc > 0 && i < n; i++) {
            rc = scan(p, end, depth + 1, &p);
        }
        *next = p;
        return rc;
    default:
        return -1;
    }
}

long long resdeliv__redis_resp_scan(const char *buf, size_t len)
{
    const char *next = buf;
    int rc = scan(buf, buf + len, 0, &next);

    if (rc < 0) {
        return RESDELIV_ESTORE;
    }
    return rc == 0 ? 0 : (long long)(next - buf);
}

/* ---- building ---- */

static redisReply *node(struct resdeliv__redis_arena *a, int type)
{
    redisReply *r = arena_alloc(a, sizeof(*r));

    if (r != NULL) {
        memset(r, 0, sizeof(*r));
        r->type = type;
    }
    return r;
}

static redisReply *string(struct resdeliv__redis_arena *a, int type,
                          const char *s, size_t len)
{
    redisReply *r = node(a, type);
    char *copy = r != NULL ? arena_alloc(a, len + 1) : NULL;

    if (copy == NULL) {
        return NULL;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    r->str = copy;
    r->len = len;
    return r;
}

/* The reply at p, which scan() found complete; *next past it. */
static redisReply *build(struct resdeliv__redis_arena *a, const char *p,
                         const char *end, const char **next)
{
    const char *q = p;
    redisReply *r;
    long long n = 0;

    if (*p == '+' || *p == '-') {
        line_text(p, end, next);
        return string(a, *p == '+' ? REDIS_REPLY_STATUS : REDIS_REPLY_ERROR,
                      p + 1, (size_t)(*next - p - 3));
    }
    line_num(p, end, -NUM_MAX, NUM_MAX, &n, &q);
    if (*p == ':') {
        *next = q;
        r = node(a, REDIS_REPLY_INTEGER);
        if (r != NULL) {
            r->integer = n;
        }
        return r;
    }
    if (n < 0) {
        *next = q;
        return node(a, REDIS_REPLY_NIL);
    }
    if (*p == '$') {
        *next = q + n + 2;
        return string(a, REDIS_REPLY_STRING, q, (size_t)n);
    }
    r = node(a, REDIS_REPLY_ARRAY);
    if (r == NULL || n == 0) {
        *next = q;
        return r;
    }
    r->element = arena_alloc(a, (size_t)n * sizeof(*r->element));
    if (r->element == NULL) {
        return NULL;
    }
    r->elements = (size_t)n;
    for (size_t i = 0; i < r->elements; i++) {
        r->element[i] = build(a, q, end, &q);
        if (r->element[i] == NULL) {
            return NULL;
        }
    }
    *next = q;
    return r;
}

redisReply *resdeliv__redis_resp_build_next(struct resdeliv__redis_arena *a,
                                            const char *buf, size_t len,
                                            size_t *used)
{
    const char *next = buf;
    redisReply *r = build(a, buf, buf + len, &next);

    *used = (size_t)(next - buf);
    return r;
}

redisReply *resdeliv__redis_resp_build(struct resdeliv__redis_arena *a,
                                       const char *buf, size_t len)
{
    size_t used;

    return resdeliv__redis_resp_build_next(a, buf, len, &used);
}
