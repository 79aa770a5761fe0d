/* SPDX-License-Identifier: MIT */
/*
 * Tagging a message's data object with its log id and epoch by splicing
 * text into it.
 *
 * Publishing tags every message, so this is one linear structural pass and
 * one copy: no JSON tree, no allocation besides the output. The pass checks
 * what the splice depends on: a single top-level object, strings and their
 * escapes (so a brace or quote inside a string is not structure), balanced
 * and matching brackets, and the key/colon/value/comma shape of the top
 * level, where it also notes the values of members already named like the
 * tag fields so they are replaced rather than duplicated. Numbers and
 * literals are not validated. Strings are crossed with memchr, which is
 * where the time of a typical payload goes.
 *
 * A tag field that occurs more than once at the top level makes the data
 * untaggable: replacing one copy would leave the others disagreeing, and
 * which copy a client sees depends on its JSON parser.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct field {
    const char *name;
    size_t name_len;
    const char *value; /* replacement text, without quotes */
    size_t value_len;
    const char *old; /* existing value in the data, if any */
    size_t old_len;
    int seen;
};

struct scan {
    const char *data;
    const char *end;
    const char *close;    /* the top-level closing brace */
    const char *last_end; /* end of the last member's value, or NULL */
    struct field *fields;
    int nfields;
    int dup; /* a tag field occurs twice */
};

static int is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p)) {
        p++;
    }
    return p;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* Check the escape at p (a backslash); return the byte after it. */
static const char *scan_escape(const char *p, const char *end)
{
    if (end - p < 2) {
        return NULL;
    }
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return p + 2;
    case 'u':
        if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) ||
            !is_hex(p[5])) {
            return NULL;
        }
        return p + 6;
    default:
        return NULL;
    }
}

/* p is just past an opening quote; return the byte after the closing one. */
static const char *scan_string(const char *p, const char *end)
{
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        const char *b;
        if (q == NULL) {
            return NULL;
        }
        b = memchr(p, '\\', (size_t)(q - p));
        if (b == NULL) {
            return q + 1;
        }
        /* Walk the escapes before q; one may swallow q itself. */
        while (b != NULL) {
            p = scan_escape(b, end);
            if (p == NULL) {
                return NULL;
            }
            if (p > q) {
                break;
            }
            b = memchr(p, '\\', (size_t)(q - p));
        }
        if (p <= q) {
            return q + 1;
        }
    }
}

/* Bytes that matter to the structure outside strings. */
static const unsigned char special[256] = {
    ['"'] = 1, ['{'] = 1, ['['] = 1, ['}'] = 1, [']'] = 1,
};

/* p is at '{' or '[' of a value at depth 2; return the byte after its
 * matching closer. */
static const char *scan_nested(const char *p, const char *end)
{
    char stack[RESDELIV_TAG_MAX_DEPTH];
    int depth = 0;

    while (p < end) {
        char c = *p++;
        if (!special[(unsigned char)c]) {
            continue;
        }
        if (c == '"') {
            p = scan_string(p, end);
            if (p == NULL) {
                return NULL;
            }
        } else if (c == '{' || c == '[') {
            /* The top-level object is depth 1. */
            if (depth + 1 >= RESDELIV_TAG_MAX_DEPTH) {
                return NULL;
            }
            stack[depth++] = (char)(c == '{' ? '}' : ']');
        } else {
            if (depth == 0 || stack[depth - 1] != c) {
                return NULL;
            }
            if (--depth == 0) {
                return p;
            }
        }
    }
    return NULL;
}

/* A scalar ends at white space or a top-level delimiter. */
static const char *scan_scalar(const char *p, const char *end)
{
    const char *start = p;

    while (p < end && !is_ws(*p) && *p != ',' && *p != '}' && *p != ']' &&
           *p != ':' && !special[(unsigned char)*p]) {
        p++;
    }
    return p == start ? NULL : p;
}

static const char *scan_value(const char *p, const char *end)
{
    if (p >= end) {
        return NULL;
    }
    if (*p == '"') {
        return scan_string(p + 1, end);
    }
    if (*p == '{' || *p == '[') {
        return scan_nested(p, end);
    }
    return scan_scalar(p, end);
}

static void note_member(struct scan *sc, const char *key, size_t key_len,
                        const char *val, size_t val_len)
{
    for (int i = 0; i < sc->nfields; i++) {
        struct field *f = &sc->fields[i];
        if (f->name_len == key_len && memcmp(f->name, key, key_len) == 0) {
            if (f->seen) {
                sc->dup = 1;
            }
            f->seen = 1;
            f->old = val;
            f->old_len = val_len;
        }
    }
}

/* One `"key": value` at depth 1; p is at the key's quote. */
static const char *scan_member(struct scan *sc, const char *p)
{
    const char *key = p + 1;
    const char *key_end;
    const char *val;

    p = scan_string(key, sc->end);
    if (p == NULL) {
        return NULL;
    }
    key_end = p - 1;
    p = skip_ws(p, sc->end);
    if (p >= sc->end || *p != ':') {
        return NULL;
    }
    val = skip_ws(p + 1, sc->end);
    p = scan_value(val, sc->end);
    if (p == NULL) {
        return NULL;
    }
    note_member(sc, key, (size_t)(key_end - key), val, (size_t)(p - val));
    sc->last_end = p;
    return p;
}

/* The whole pass: 0 when data is one object, else RESDELIV_EBADJSON. */
static int scan_object(struct scan *sc)
{
    const char *p = skip_ws(sc->data, sc->end);

    if (p >= sc->end || *p != '{') {
        return RESDELIV_EBADJSON;
    }
    p = skip_ws(p + 1, sc->end);
    if (p < sc->end && *p != '}') {
        for (;;) {
            if (p >= sc->end || *p != '"') {
                return RESDELIV_EBADJSON;
            }
            p = scan_member(sc, p);
            if (p == NULL) {
                return RESDELIV_EBADJSON;
            }
            p = skip_ws(p, sc->end);
            if (p >= sc->end || *p != ',') {
                break;
            }
            p = skip_ws(p + 1, sc->end);
        }
    }
    if (p >= sc->end || *p != '}') {
        return RESDELIV_EBADJSON;
    }
    sc->close = p;
    if (skip_ws(p + 1, sc->end) != sc->end) {
        return RESDELIV_EBADJSON;
    }
    return sc->dup ? RESDELIV_EBADJSON : 0;
}

int resdeliv_tag_is_object(const char *data, size_t len)
{
    struct scan sc = {0};

    if (data == NULL) {
        return 0;
    }
    sc.data = data;
    sc.end = data + len;
    return scan_object(&sc) == 0;
}

static int field_ok(const char *name)
{
    if (name == NULL || *name == '\0') {
        return 0;
    }
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        if (*c < 0x20 || *c == 0x7f || *c == '"' || *c == '\\') {
            return 0;
        }
    }
    return 1;
}

/* Arguments other than the data; fills fields[] and returns how many. */
static int prepare(const char *id_field, const char *epoch_field,
                   const struct resdeliv_id *id, const char *epoch,
                   char idbuf[RESDELIV_ID_BUFSIZE], struct field fields[2])
{
    int n;
    int nfields = 1;

    if (id == NULL || !field_ok(id_field)) {
        return RESDELIV_EINVAL;
    }
    n = resdeliv_id_format(id, idbuf, RESDELIV_ID_BUFSIZE);
    if (n < 0) {
        return n;
    }
    memset(fields, 0, 2 * sizeof(fields[0]));
    fields[0].name = id_field;
    fields[0].name_len = strlen(id_field);
    fields[0].value = idbuf;
    fields[0].value_len = (size_t)n;
    if (epoch != NULL && *epoch != '\0') {
        size_t elen = strlen(epoch);
        if (!field_ok(epoch_field) || strcmp(epoch_field, id_field) == 0 ||
            resdeliv_epoch_check(epoch, elen) != 0) {
            return RESDELIV_EINVAL;
        }
        fields[1].name = epoch_field;
        fields[1].name_len = strlen(epoch_field);
        fields[1].value = epoch;
        fields[1].value_len = elen;
        nfields = 2;
    }
    return nfields;
}

/* Length of the tagged text, without the NUL. */
static size_t tagged_len(const struct scan *sc)
{
    size_t total = (size_t)(sc->end - sc->data);
    int members = sc->last_end != NULL;

    for (int i = 0; i < sc->nfields; i++) {
        const struct field *f = &sc->fields[i];
        if (f->seen) {
            total = total - f->old_len + f->value_len + 2;
        } else {
            /* ,"name":"value" */
            total += (size_t)members + f->name_len + f->value_len + 5;
            members = 1;
        }
    }
    return total;
}

static char *put(char *dst, const char *src, size_t n)
{
    memcpy(dst, src, n);
    return dst + n;
}

static char *put_quoted(char *dst, const char *src, size_t n)
{
    *dst++ = '"';
    dst = put(dst, src, n);
    *dst++ = '"';
    return dst;
}

/* Copy the data with the replacements and the added members. Edits are
 * at most two replacements and one insertion point, applied in text
 * order. */
static void write_tagged(const struct scan *sc, char *dst)
{
    const char *src = sc->data;
    const char *at = sc->last_end != NULL ? sc->last_end : sc->close;
    const struct field *rep[2] = {NULL, NULL};
    int nrep = 0;
    int members = sc->last_end != NULL;

    for (int i = 0; i < sc->nfields; i++) {
        if (sc->fields[i].seen) {
            rep[nrep++] = &sc->fields[i];
        }
    }
    if (nrep == 2 && rep[1]->old < rep[0]->old) {
        const struct field *t = rep[0];
        rep[0] = rep[1];
        rep[1] = t;
    }
    for (int i = 0; i < nrep; i++) {
        dst = put(dst, src, (size_t)(rep[i]->old - src));
        dst = put_quoted(dst, rep[i]->value, rep[i]->value_len);
        src = rep[i]->old + rep[i]->old_len;
    }
    /* A replaced value can end exactly at the insertion point, never
     * after it. */
    dst = put(dst, src, (size_t)(at - src));
    for (int i = 0; i < sc->nfields; i++) {
        const struct field *f = &sc->fields[i];
        if (f->seen) {
            continue;
        }
        if (members) {
            *dst++ = ',';
        }
        dst = put_quoted(dst, f->name, f->name_len);
        *dst++ = ':';
        dst = put_quoted(dst, f->value, f->value_len);
        members = 1;
    }
    dst = put(dst, at, (size_t)(sc->end - at));
    *dst = '\0';
}

/* Shared front half of both entry points: validate and scan. */
static int tag_scan(const char *data, size_t len, const char *id_field,
                    const char *epoch_field, const struct resdeliv_id *id,
                    const char *epoch, char *idbuf, struct field *fields,
                    struct scan *sc)
{
    int rc;

    if (data == NULL) {
        return RESDELIV_EINVAL;
    }
    rc = prepare(id_field, epoch_field, id, epoch, idbuf, fields);
    if (rc < 0) {
        return rc;
    }
    memset(sc, 0, sizeof(*sc));
    sc->data = data;
    sc->end = data + len;
    sc->fields = fields;
    sc->nfields = rc;
    return scan_object(sc);
}

long resdeliv_tag_into(const char *data, size_t len, const char *id_field,
                       const char *epoch_field, const struct resdeliv_id *id,
                       const char *epoch, char *buf, size_t size)
{
    char idbuf[RESDELIV_ID_BUFSIZE];
    struct field fields[2];
    struct scan sc;
    size_t total;
    int rc;

    if (buf == NULL) {
        return RESDELIV_EINVAL;
    }
    rc = tag_scan(data, len, id_field, epoch_field, id, epoch, idbuf, fields,
                  &sc);
    if (rc != 0) {
        return rc;
    }
    total = tagged_len(&sc);
    if (size <= total) {
        return RESDELIV_ENOSPC;
    }
    write_tagged(&sc, buf);
    return (long)total;
}

int resdeliv_tag(const char *data, size_t len, const char *id_field,
                 const char *epoch_field, const struct resdeliv_id *id,
                 const char *epoch, char **out, size_t *out_len)
{
    char idbuf[RESDELIV_ID_BUFSIZE];
    struct field fields[2];
    struct scan sc;
    size_t total;
    char *buf;
    int rc;

    if (out == NULL) {
        return RESDELIV_EINVAL;
    }
    rc = tag_scan(data, len, id_field, epoch_field, id, epoch, idbuf, fields,
                  &sc);
    if (rc != 0) {
        return rc;
    }
    total = tagged_len(&sc);
    buf = malloc(total + 1);
    if (buf == NULL) {
        return RESDELIV_ENOMEM;
    }
    write_tagged(&sc, buf);
    *out = buf;
    if (out_len != NULL) {
        *out_len = total;
    }
    return 0;
}
