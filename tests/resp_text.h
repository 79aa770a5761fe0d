/* SPDX-License-Identifier: MIT */
/*
 * RESP2 replies for the tests of the blocking client's reader
 * (check_redis_resp.c, check_redis_resp_bad.c): a growing buffer to write
 * them into, the shapes of reply the Redis store reads, a seeded source
 * of hostile bytes, and hiredis's reader as the reference the built trees
 * are compared against.
 */
#ifndef RESDELIV_TESTS_RESP_TEXT_H
#define RESDELIV_TESTS_RESP_TEXT_H

#include <hiredis/hiredis.h>

#include <stddef.h>
#include <stdint.h>

/* A string literal as the (pointer, length) pair, its NULs counted. */
#define LIT(s) s, sizeof(s) - 1

/* Bytes being written; zero-initialised is empty. The caller frees p. */
struct text {
    char *p;
    size_t len;
    size_t cap;
};

/* Append n bytes of s, growing the buffer (out of memory fails the test). */
void put(struct text *t, const void *s, size_t n);
/* A type byte, the decimal n and CRLF: an integer reply, or the header
 * of a bulk string or an array. */
void put_head(struct text *t, char type, long long n);
/* A bulk string of the n bytes of s. */
void put_bulk(struct text *t, const void *s, size_t n);
/* A bulk string of the C string s. */
void put_str(struct text *t, const char *s);
/* A status ('+') or error ('-') line holding the C string s. */
void put_line(struct text *t, char type, const char *s);
/* An XRANGE page: n entries of [id, [field, value, ...]] with `fields`
 * field-value pairs each, every value a JSON payload of about vlen bytes
 * (under 480). */
void put_xrange(struct text *t, size_t n, size_t fields, size_t vlen);

/* How many shapes put_shape() writes, numbered from 0: the replies the
 * store reads (XRANGE pages, XREAD, EXEC, XINFO STREAM, EVALSHA), the
 * last one arrays nested RESDELIV__RESP_DEPTH deep, as deep as the scan
 * accepts. */
#define NSHAPES 10
/* Shape numbers of an XRANGE page of 3 and of 100 entries. */
#define XRANGE_3 1
#define XRANGE_100 2

/* Append shape i (below NSHAPES). */
void put_shape(struct text *t, size_t i);

/* A seeded splitmix64 sequence: the same seed, the same bytes. */
struct rng {
    uint64_t s;
};

/* The next 64 bits of r. */
uint64_t next_u64(struct rng *r);
/* A number in [0, n), n > 0. */
size_t below(struct rng *r, size_t n);
/* n bytes for a bulk string into out, CR, LF and NUL often among them. */
void gen_bytes(struct rng *r, char *out, size_t n);
/* A bulk string of n such bytes, seeded by n. */
void put_binary(struct text *t, size_t n);

/* A malloc'd copy of s[0..len) in a block of exactly len bytes (one when
 * len is 0), so that ASan sees a read past it. The caller frees it. */
char *dup_exact(const char *s, size_t len);
/* hiredis's reading of s[0..len): its reply (for freeReplyObject) and,
 * in *used, the bytes it took. Fails the test if hiredis has no reply. */
redisReply *hiredis_read(const char *s, size_t len, size_t *used);
/* Fail the test, naming the first difference, unless `mine` is the tree
 * hiredis built as `ref`: types, integers, lengths, string bytes and the
 * NUL after each string, elements. depth is that of the two roots. */
void same_tree(const redisReply *mine, const redisReply *ref, int depth);

#endif /* RESDELIV_TESTS_RESP_TEXT_H */
