/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the blocking Redis client's own RESP2 reader
 * (lib/redis_resp.c), with hiredis's reader as the reference. Each input
 * is what the client could have read from its socket.
 *
 * Checked for each input: the scan answers a length within the input, 0,
 * or RESDELIV_ESTORE. A length: hiredis reads a reply from the same bytes
 * and takes exactly that many; the reply alone scans to the same length
 * and one byte less needs more; building it (from a block of its exact
 * size, twice with a reset in between) gives hiredis's tree: types,
 * integers, lengths, string bytes with a NUL after them, element counts,
 * recursively. A 0: hiredis has no reply yet either, unless it refuses
 * the bytes. A refusal is not compared: the scan refuses some of what
 * hiredis takes (a CR without LF in a status line, no CRLF after a bulk
 * string, integers of 19 digits, bulk strings over 512 MB).
 *
 * hiredis allocates an array's element vector when it reads the count, so
 * its array constructor is wrapped to refuse a count larger than the input
 * (no such array can be complete there) rather than ask for gigabytes.
 */
#include "redis_internal.h"

#include <hiredis/hiredis.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const uint8_t *data, size_t size,
                 long long n)
{
    fprintf(stderr, "fuzz_resp: %s\n  scan: %lld, input (%zu bytes): ", what, n,
            size);
    for (size_t i = 0; i < size && i < 512; i++) {
        fprintf(stderr, data[i] >= 0x20 && data[i] < 0x7f ? "%c" : "\\x%02x",
                data[i]);
    }
    fputc('\n', stderr);
    abort();
}

/* ---- the reference: hiredis's reader ---- */

struct reference {
    redisReplyObjectFunctions fn;
    void *(*create_array)(const redisReadTask *, int);
    size_t max_elements;
};

static void *guarded_array(const redisReadTask *task, int elements)
{
    const struct reference *ref = task->privdata;

    if (elements < 0 || (size_t)elements > ref->max_elements) {
        return NULL; /* hiredis reports it as out of memory */
    }
    return ref->create_array(task, elements);
}

/* hiredis's reading of the input: REDIS_OK or REDIS_ERR, the reply (NULL
 * while incomplete) and how many bytes it took. */
static int reference_read(const uint8_t *data, size_t size, redisReply **reply,
                          size_t *used)
{
    redisReader *rd = redisReaderCreate();
    struct reference ref;
    void *out = NULL;
    int rc;

    if (rd == NULL) {
        fail("redisReaderCreate failed", data, size, 0);
    }
    ref.fn = *rd->fn;
    ref.create_array = rd->fn->createArray;
    ref.fn.createArray = guarded_array;
    ref.max_elements = size;
    rd->fn = &ref.fn;
    rd->privdata = &ref;
    rc = redisReaderFeed(rd, (const char *)data, size);
    if (rc == REDIS_OK) {
        rc = redisReaderGetReply(rd, &out);
    }
    *used = size - (rd->len - rd->pos);
    redisReaderFree(rd);
    *reply = out;
    return rc;
}

/* ---- the comparison ---- */

static const char *tree_diff(const redisReply *mine, const redisReply *ref)
{
    if (mine == NULL) {
        return "no reply built";
    }
    if (mine->type != ref->type) {
        return "type differs";
    }
    if (mine->integer != ref->integer) {
        return "integer differs";
    }
    if (mine->len != ref->len || mine->elements != ref->elements) {
        return "len or elements differ";
    }
    if ((mine->str == NULL) != (ref->str == NULL) ||
        (mine->element == NULL) != (ref->element == NULL)) {
        return "str or element NULL for one only";
    }
    if (ref->str != NULL && (memcmp(mine->str, ref->str, ref->len) != 0 ||
                             mine->str[mine->len] != '\0')) {
        return "string bytes or NUL differ";
    }
    for (size_t i = 0; i < ref->elements; i++) {
        const char *why = tree_diff(mine->element[i], ref->element[i]);
        if (why != NULL) {
            return why;
        }
    }
    return NULL;
}

/* The complete reply of n bytes at the start of the input. */
static void check_complete(const uint8_t *data, size_t size, size_t n,
                           const redisReply *ref)
{
    struct resdeliv__redis_arena a = {NULL};
    char *copy = malloc(n);
    const char *why;

    if (copy == NULL) {
        fail("out of memory", data, size, (long long)n);
    }
    memcpy(copy, data, n);
    if (resdeliv__redis_resp_scan(copy, n) != (long long)n) {
        fail("the reply alone does not scan to its length", data, size,
             (long long)n);
    }
    if (resdeliv__redis_resp_scan(copy, n - 1) != 0) {
        fail("the reply less its last byte is not incomplete", data, size,
             (long long)n);
    }
    for (int round = 0; round < 2; round++) {
        why = tree_diff(resdeliv__redis_resp_build(&a, copy, n), ref);
        if (why != NULL) {
            fail(why, data, size, (long long)n);
        }
        resdeliv__redis_arena_reset(&a);
    }
    resdeliv__redis_arena_free(&a);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long long n = resdeliv__redis_resp_scan((const char *)data, size);
    redisReply *ref = NULL;
    size_t used = 0;
    int rc;

    if (n < 0) {
        if (n != RESDELIV_ESTORE) {
            fail("scan refused with a code other than ESTORE", data, size, n);
        }
        return 0;
    }
    if ((unsigned long long)n > size) {
        fail("scan answered more bytes than the input", data, size, n);
    }
    rc = reference_read(data, size, &ref, &used);
    if (n == 0) {
        if (rc == REDIS_OK && ref != NULL) {
            fail("incomplete for the scan, a reply for hiredis", data, size, n);
        }
        return 0;
    }
    if (rc != REDIS_OK || ref == NULL) {
        fail("a reply for the scan, none for hiredis", data, size, n);
    }
    if (used != (size_t)n) {
        fail("hiredis took another length", data, size, n);
    }
    check_complete(data, size, (size_t)n, ref);
    freeReplyObject(ref);
    return 0;
}
