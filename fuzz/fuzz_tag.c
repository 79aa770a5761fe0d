/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for tagging, checked against cJSON. The input is the data
 * text; it is tagged with the default field names and a fixed id, once with
 * an epoch and once without.
 *
 * When tagging succeeds and cJSON reads the input as an object, the output
 * must read as an object holding every top-level member of the input, in
 * order and with the same printed value (members named like the tag fields
 * excepted), plus exactly one id member and, when given, one epoch member
 * with the tag values. When cJSON reads the input as an object with no
 * duplicate top-level key and no member named like a tag field, tagging
 * must succeed. resdeliv_tag_into() must agree byte for byte.
 *
 * Where the two parsers read JSON differently nothing is compared: cJSON
 * takes every byte up to 0x20 as white space, reads a `\u` escape without
 * four hex digits and skips a leading UTF-8 byte order mark (JSON refuses
 * the first two and lets a reader refuse the third); raw control bytes in
 * strings are not JSON, and a NUL, raw or as `\u0000`, ends a cJSON name
 * early, so "_replay_id\u0000x" would look like a tag field. Tagging
 * refuses nesting deeper than RESDELIV_TAG_MAX_DEPTH, so the second rule
 * stops there.
 */
#include <resdeliv/resdeliv.h>

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ID_FIELD "_replay_id"
#define EPOCH_FIELD "_replay_epoch"
#define EPOCH "a1b2c3d4e5f60718"
static const struct resdeliv_id tag_id = {1700000000000ull, 42};

static void fail(const char *what, const char *text)
{
    fprintf(stderr, "fuzz_tag: %s\n  text: %s\n", what,
            text != NULL ? text : "(null)");
    abort();
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* 1 when cJSON may accept text that JSON refuses (see the top comment). */
static int cjson_lax(const char *text, size_t len)
{
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        return 1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return 1;
        }
        if (c == '\\' && i + 1 < len && text[i + 1] == 'u') {
            for (size_t k = i + 2; k < i + 6; k++) {
                if (k >= len || !is_hex(text[k])) {
                    return 1;
                }
            }
            if (memcmp(text + i + 2, "0000", 4) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

static int depth_of(const cJSON *item)
{
    int most = 0;

    for (const cJSON *c = item->child; c != NULL; c = c->next) {
        int d = depth_of(c);
        if (d > most) {
            most = d;
        }
    }
    return (cJSON_IsObject(item) || cJSON_IsArray(item)) ? most + 1 : most;
}

static int is_tag_name(const cJSON *c, int with_epoch)
{
    return c->string != NULL &&
           (strcmp(c->string, ID_FIELD) == 0 ||
            (with_epoch && strcmp(c->string, EPOCH_FIELD) == 0));
}

/* 1 when two top-level members of `obj` share a name, or a member is
 * named like a tag field. */
static int untaggable_names(const cJSON *obj)
{
    for (const cJSON *a = obj->child; a != NULL; a = a->next) {
        if (a->string == NULL || is_tag_name(a, 1)) {
            return 1;
        }
        for (const cJSON *b = a->next; b != NULL; b = b->next) {
            if (b->string != NULL && strcmp(a->string, b->string) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

static int printed_same(const cJSON *a, const cJSON *b)
{
    char *pa = cJSON_PrintUnformatted(a);
    char *pb = cJSON_PrintUnformatted(b);
    int same = pa != NULL && pb != NULL && strcmp(pa, pb) == 0;

    cJSON_free(pa);
    cJSON_free(pb);
    return same;
}

static const cJSON *next_plain(const cJSON *c, int with_epoch)
{
    while (c != NULL && is_tag_name(c, with_epoch)) {
        c = c->next;
    }
    return c;
}

/* Exactly one member `name` in `obj`, a string equal to `value`. */
static int one_member(const cJSON *obj, const char *name, const char *value)
{
    int n = 0;

    for (const cJSON *c = obj->child; c != NULL; c = c->next) {
        if (c->string != NULL && strcmp(c->string, name) == 0) {
            if (!cJSON_IsString(c) || strcmp(c->valuestring, value) != 0) {
                return 0;
            }
            n++;
        }
    }
    return n == 1;
}

static void check_output(const cJSON *in, const char *out, size_t out_len,
                         int with_epoch)
{
    char idtext[RESDELIV_ID_BUFSIZE];
    cJSON *parsed = cJSON_ParseWithLengthOpts(out, out_len + 1, NULL, 1);
    const cJSON *a;
    const cJSON *b;

    if (parsed == NULL || !cJSON_IsObject(parsed)) {
        fail("tagged output is not a JSON object", out);
    }
    a = next_plain(in->child, with_epoch);
    b = next_plain(parsed->child, with_epoch);
    while (a != NULL && b != NULL) {
        if (a->string == NULL || b->string == NULL ||
            strcmp(a->string, b->string) != 0 || !printed_same(a, b)) {
            fail("a member changed in the tagged output", out);
        }
        a = next_plain(a->next, with_epoch);
        b = next_plain(b->next, with_epoch);
    }
    if (a != NULL || b != NULL) {
        fail("members lost or added in the tagged output", out);
    }
    resdeliv_id_format(&tag_id, idtext, sizeof(idtext));
    if (!one_member(parsed, ID_FIELD, idtext)) {
        fail("tagged output lacks exactly one id member", out);
    }
    if (with_epoch && !one_member(parsed, EPOCH_FIELD, EPOCH)) {
        fail("tagged output lacks exactly one epoch member", out);
    }
    cJSON_Delete(parsed);
}

/* resdeliv_tag_into() must write the same bytes with the documented
 * buffer size and refuse a buffer without room for the NUL. */
static void check_into(const char *text, size_t size, const char *epoch,
                       const char *out, size_t out_len)
{
    size_t room = size + strlen(ID_FIELD) + strlen(EPOCH_FIELD) +
                  RESDELIV_ID_BUFSIZE + RESDELIV_EPOCH_BUFSIZE + 16;
    char *buf = malloc(room);
    long n;

    if (buf == NULL) {
        return;
    }
    n = resdeliv_tag_into(text, size, ID_FIELD, EPOCH_FIELD, &tag_id, epoch,
                          buf, room);
    if (n < 0 || (size_t)n != out_len || memcmp(buf, out, out_len + 1) != 0) {
        fail("resdeliv_tag_into() differs from resdeliv_tag()", out);
    }
    n = resdeliv_tag_into(text, size, ID_FIELD, EPOCH_FIELD, &tag_id, epoch,
                          buf, out_len);
    if (n != RESDELIV_ENOSPC) {
        fail("resdeliv_tag_into() wrote into a buffer that is too small", out);
    }
    free(buf);
}

/* `raw` is the input without a NUL, `text` the same with one. */
static void fuzz_one(const char *raw, const char *text, size_t size,
                     const cJSON *in, int with_epoch)
{
    const char *epoch = with_epoch ? EPOCH : NULL;
    char *out = NULL;
    size_t out_len = 0;
    int rc = resdeliv_tag(raw, size, ID_FIELD, EPOCH_FIELD, &tag_id, epoch,
                          &out, &out_len);

    if (rc == 0) {
        if (!resdeliv_tag_is_object(raw, size)) {
            fail("tagged data that is not an object", out);
        }
        check_into(raw, size, epoch, out, out_len);
        if (in != NULL) {
            check_output(in, out, out_len, with_epoch);
        }
    } else if (rc != RESDELIV_EBADJSON) {
        fail("unexpected error code", resdeliv_err_name(rc));
    } else if (out != NULL) {
        fail("refused data left an output", out);
    } else if (in != NULL && !untaggable_names(in) &&
               depth_of(in) <= RESDELIV_TAG_MAX_DEPTH) {
        fail("refused an object cJSON reads", text);
    }
    resdeliv_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A NUL-terminated copy for cJSON, which is told to read up to the
     * NUL and refuse anything after the value, and one without a NUL for
     * tagging, so ASan sees any read past `size`. */
    char *text = malloc(size + 1);
    char *raw = malloc(size > 0 ? size : 1);
    cJSON *in;

    if (text == NULL || raw == NULL) {
        free(text);
        free(raw);
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    memcpy(raw, data, size);
    in = cjson_lax(text, size)
             ? NULL
             : cJSON_ParseWithLengthOpts(text, size + 1, NULL, 1);
    if (in != NULL && !cJSON_IsObject(in)) {
        cJSON_Delete(in);
        in = NULL;
    }
    fuzz_one(raw, text, size, in, 1);
    fuzz_one(raw, text, size, in, 0);
    cJSON_Delete(in);
    free(raw);
    free(text);
    return 0;
}
