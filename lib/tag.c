/* SPDX-License-Identifier: MIT */
/*
 * Tagging a message's data object with its log id and epoch by splicing
 * text into it.
 *
 * Publishing tags every message, so the work is split in two: a plan (one
 * linear structural pass, no allocation; tag_scan.c) and an apply (one copy
 * with the splice, no scan; here). The log plans before the store append,
 * when the id is not known yet, and applies after it; the public calls do
 * both at once. Keys spelled with escapes are decoded here for the plan.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- fields and splicing ----------------------------------------------- */

/* Bytes a tag field name may not hold: control bytes, quote, backslash. */
static const unsigned char name_bad[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1,
    [0x06] = 1, [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1,
    [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1,
    [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
    [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1,
    [0x1e] = 1, [0x1f] = 1, [0x7f] = 1, ['"'] = 1,  ['\\'] = 1,
};

/* Length of a usable field name, or 0. */
static size_t field_len(const char *name)
{
    size_t n = 0;

    if (name == NULL) {
        return 0;
    }
    while (!name_bad[(unsigned char)name[n]]) {
        n++;
    }
    return name[n] == '\0' ? n : 0;
}

int resdeliv__tag_fields_init(struct resdeliv__tag_fields *f,
                              const char *id_field, const char *epoch_field)
{
    memset(f, 0, sizeof(*f));
    f->id_len = field_len(id_field);
    if (f->id_len == 0) {
        return RESDELIV_EINVAL;
    }
    f->id = id_field;
    if (epoch_field != NULL) {
        f->epoch_len = field_len(epoch_field);
        if (f->epoch_len == 0 ||
            (f->epoch_len == f->id_len &&
             memcmp(epoch_field, id_field, f->id_len) == 0)) {
            return RESDELIV_EINVAL;
        }
        f->epoch = epoch_field;
    }
    return 0;
}

/* What goes in: the id text and the epoch (len 0: none). */
static int values_init(struct resdeliv__tag_values *v,
                       const struct resdeliv__tag_fields *f,
                       const struct resdeliv_id *id, const char *epoch)
{
    resdeliv__tag_values_init(v, f, epoch);
    return resdeliv__tag_values_id(v, id);
}

void resdeliv__tag_values_init(struct resdeliv__tag_values *v,
                               const struct resdeliv__tag_fields *f,
                               const char *epoch)
{
    v->id_len = 0;
    v->ms_len = 0;
    v->ms = 0;
    v->epoch = epoch;
    v->epoch_len = 0;
    if (epoch != NULL && f->epoch != NULL) {
        v->epoch_len = strlen(epoch);
    }
}

int resdeliv__tag_values_id(struct resdeliv__tag_values *v,
                            const struct resdeliv_id *id)
{
    int n;

    if (id == NULL) {
        return RESDELIV_EINVAL;
    }
    if (v->ms_len == 0 || id->ms != v->ms) {
        v->ms_len = 0;
        v->ms = id->ms;
    }
    n = resdeliv__id_format_seq(id, v->id, &v->ms_len);
    if (n < 0) {
        return n;
    }
    v->id_len = (size_t)n;
    return 0;
}

/* JSON white space. */
static int is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static char *put(char *dst, const char *src, size_t n)
{
    return resdeliv__copy(dst, src, n);
}

static char *put_quoted(char *dst, const char *src, size_t n)
{
    *dst++ = '"';
    dst = put(dst, src, n);
    *dst++ = '"';
    return dst;
}

/* `,"name":"value"` (no comma when `comma` is 0). */
static char *put_member(char *dst, int comma, const char *name, size_t name_len,
                        const char *val, size_t val_len)
{
    if (comma) {
        *dst++ = ',';
    }
    dst = put_quoted(dst, name, name_len);
    *dst++ = ':';
    return put_quoted(dst, val, val_len);
}

/* The members added at the insertion point: those not already present. */
static char *put_added(char *dst, int comma,
                       const struct resdeliv__tag_fields *f,
                       const struct resdeliv__tag_values *v,
                       const int present[2])
{
    if (!present[RESDELIV__TAG_ID]) {
        dst = put_member(dst, comma, f->id, f->id_len, v->id, v->id_len);
        comma = 1;
    }
    if (v->epoch_len > 0 && !present[RESDELIV__TAG_EPOCH]) {
        dst = put_member(dst, comma, f->epoch, f->epoch_len, v->epoch,
                         v->epoch_len);
    }
    return dst;
}

static const char *value_of(const struct resdeliv__tag_values *v,
                            uint32_t which, size_t *len)
{
    if (which == RESDELIV__TAG_ID) {
        *len = v->id_len;
        return v->id;
    }
    *len = v->epoch_len;
    return v->epoch;
}

/* Length of the tagged text, without the NUL. A present epoch member is
 * only replaced when an epoch is given. */
static size_t planned_len(size_t len, const struct resdeliv__tag_plan *pl,
                          const struct resdeliv__tag_values *v, int present[2])
{
    const struct resdeliv__tag_fields *f = pl->fields;
    size_t total = len;
    int comma = pl->members != 0;

    present[0] = present[1] = 0;
    for (uint32_t i = 0; i < pl->nrep; i++) {
        size_t vlen;
        present[pl->rep[i].field] = 1;
        if (value_of(v, pl->rep[i].field, &vlen) != NULL && vlen > 0) {
            total = total - pl->rep[i].len + vlen + 2;
        }
    }
    if (!present[RESDELIV__TAG_ID]) {
        total += (size_t)comma + f->id_len + v->id_len + 5;
        comma = 1;
    }
    if (v->epoch_len > 0 && !present[RESDELIV__TAG_EPOCH]) {
        total += (size_t)comma + f->epoch_len + v->epoch_len + 5;
    }
    return total;
}

static long apply_values(const char *data, size_t len,
                         const struct resdeliv__tag_plan *pl,
                         const struct resdeliv__tag_values *v, char *buf,
                         size_t size)
{
    int present[2];
    size_t total = planned_len(len, pl, v, present);
    size_t src = 0;
    char *dst = buf;

    if (size <= total) {
        return RESDELIV_ENOSPC;
    }
    for (uint32_t i = 0; i < pl->nrep; i++) {
        const struct resdeliv__tag_member *r = &pl->rep[i];
        size_t vlen;
        const char *val = value_of(v, r->field, &vlen);
        if (val == NULL || vlen == 0) {
            continue; /* no epoch given: the data keeps its own */
        }
        dst = put(dst, data + src, r->off - src);
        dst = put_quoted(dst, val, vlen);
        src = r->off + r->len;
    }
    /* A replaced value can end exactly at the insertion point, never
     * after it. */
    dst = put(dst, data + src, pl->insert - src);
    dst = put_added(dst, pl->members != 0, pl->fields, v, present);
    dst = put(dst, data + pl->insert, len - pl->insert);
    *dst = '\0';
    return (long)total;
}

long resdeliv__tag_apply(const char *data, size_t len,
                         const struct resdeliv__tag_plan *plan,
                         const struct resdeliv_id *id, const char *epoch,
                         char *buf, size_t size)
{
    struct resdeliv__tag_values v;
    int rc = values_init(&v, plan->fields, id, epoch);

    if (rc < 0) {
        return rc;
    }
    return apply_values(data, len, plan, &v, buf, size);
}

long resdeliv__tag_apply_values(const char *data, size_t len,
                                const struct resdeliv__tag_plan *plan,
                                const struct resdeliv__tag_values *v,
                                char *buf, size_t size)
{
    return apply_values(data, len, plan, v, buf, size);
}

long resdeliv__tag_insert(const char *data, size_t len,
                          const struct resdeliv__tag_fields *fields,
                          const struct resdeliv_id *id, const char *epoch,
                          char *buf, size_t size)
{
    struct resdeliv__tag_values v;
    int rc = values_init(&v, fields, id, epoch);

    if (rc < 0) {
        return rc;
    }
    return resdeliv__tag_insert_values(data, len, fields, &v, buf, size);
}

long resdeliv__tag_insert_values(const char *data, size_t len,
                                 const struct resdeliv__tag_fields *fields,
                                 const struct resdeliv__tag_values *v,
                                 char *buf, size_t size)
{
    static const int absent[2] = {0, 0};
    size_t close = len;
    size_t at;
    size_t total;
    int members;
    char *dst;

    while (close > 0 && is_ws(data[close - 1])) {
        close--;
    }
    if (close < 2 || data[--close] != '}') {
        return RESDELIV_EBADJSON;
    }
    at = close;
    while (at > 0 && is_ws(data[at - 1])) {
        at--;
    }
    if (at == 0) {
        return RESDELIV_EBADJSON;
    }
    /* No value of a member ends in '{', so this is the empty object. */
    members = data[at - 1] != '{';
    at = members ? at : close;
    total = len + (size_t)members + fields->id_len + v->id_len + 5;
    if (v->epoch_len > 0) {
        total += 1 + fields->epoch_len + v->epoch_len + 5;
    }
    if (size <= total) {
        return RESDELIV_ENOSPC;
    }
    dst = put(buf, data, at);
    dst = put_added(dst, members, fields, v, absent);
    dst = put(dst, data + at, len - at);
    *dst = '\0';
    return (long)total;
}

/* ---- member names spelled with escapes (for tag_scan.c) -------------- */

static long hex4(const char *p, const char *end)
{
    long v = 0;

    if (end - p < 4) {
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        int d = resdeliv__hexval(p[i]);
        if (d < 0) {
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

/* Append code point `cp` as UTF-8 to out[*n], at most `cap` bytes. */
static int put_utf8(unsigned long cp, char *out, size_t *n, size_t cap)
{
    char b[4];
    size_t k;

    if (cp < 0x80) {
        b[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        k = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        k = 4;
    }
    if (*n + k > cap) {
        return -1;
    }
    memcpy(out + *n, b, k);
    *n += k;
    return 0;
}

/* Decode one escape at p (past the backslash) into out; the escapes were
 * checked by the plan. @return the byte after it, or NULL on overflow. */
static const char *unescape_one(const char *p, const char *end, char *out,
                                size_t *n, size_t cap)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    const char *hit = memchr(from, *p, sizeof(from) - 1);
    long cp, lo;

    if (hit != NULL) {
        return put_utf8((unsigned char)to[hit - from], out, n, cap) == 0
                   ? p + 1
                   : NULL;
    }
    cp = hex4(p + 1, end);
    p += 5;
    if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' &&
        p[1] == 'u' && (lo = hex4(p + 2, end)) >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
    }
    if (cp < 0 || put_utf8((unsigned long)cp, out, n, cap) != 0) {
        return NULL;
    }
    return p;
}

int resdeliv__tag_escaped_name_is(const char *key, size_t key_len,
                                  const char *name, size_t name_len)
{
    char buf[RESDELIV_MAX_FIELD_LEN + 4];
    const char *p = key;
    const char *end = key + key_len;
    size_t n = 0;

    while (p < end) {
        if (*p == '\\') {
            p = unescape_one(p + 1, end, buf, &n, sizeof buf);
            if (p == NULL) {
                return 0;
            }
        } else if (n < sizeof buf) {
            buf[n++] = *p++;
        } else {
            return 0;
        }
    }
    return n == name_len && memcmp(buf, name, n) == 0;
}

/* ---- public entry points ----------------------------------------------- */

/* Shared front half of both entry points: check the arguments, then plan.
 * The epoch field only matters when an epoch is given. */
static int tag_plan_args(const char *data, size_t len, const char *id_field,
                         const char *epoch_field, const struct resdeliv_id *id,
                         const char *epoch, struct resdeliv__tag_fields *fields,
                         struct resdeliv__tag_plan *plan)
{
    int with_epoch = epoch != NULL && *epoch != '\0';
    int rc;

    if (data == NULL || id == NULL) {
        return RESDELIV_EINVAL;
    }
    rc = resdeliv__tag_fields_init(fields, id_field,
                                   with_epoch ? epoch_field : NULL);
    if (rc < 0) {
        return rc;
    }
    if (with_epoch && (epoch_field == NULL ||
                       resdeliv_epoch_check(epoch, strlen(epoch)) != 0)) {
        return RESDELIV_EINVAL;
    }
    return resdeliv__tag_plan(data, len, fields, plan);
}

long resdeliv_tag_into(const char *data, size_t len, const char *id_field,
                       const char *epoch_field, const struct resdeliv_id *id,
                       const char *epoch, char *buf, size_t size)
{
    struct resdeliv__tag_fields fields;
    struct resdeliv__tag_plan plan;
    int rc;

    if (buf == NULL) {
        return RESDELIV_EINVAL;
    }
    rc = tag_plan_args(data, len, id_field, epoch_field, id, epoch, &fields,
                       &plan);
    if (rc != 0) {
        return rc;
    }
    return resdeliv__tag_apply(data, len, &plan, id, epoch, buf, size);
}

int resdeliv_tag(const char *data, size_t len, const char *id_field,
                 const char *epoch_field, const struct resdeliv_id *id,
                 const char *epoch, char **out, size_t *out_len)
{
    struct resdeliv__tag_fields fields;
    struct resdeliv__tag_plan plan;
    struct resdeliv__tag_values v;
    int present[2];
    size_t total;
    char *buf;
    int rc;

    if (out == NULL) {
        return RESDELIV_EINVAL;
    }
    rc = tag_plan_args(data, len, id_field, epoch_field, id, epoch, &fields,
                       &plan);
    if (rc == 0) {
        rc = values_init(&v, &fields, id, epoch);
    }
    if (rc != 0) {
        return rc;
    }
    total = planned_len(len, &plan, &v, present);
    buf = malloc(total + 1);
    if (buf == NULL) {
        return RESDELIV_ENOMEM;
    }
    apply_values(data, len, &plan, &v, buf, total + 1);
    *out = buf;
    if (out_len != NULL) {
        *out_len = total;
    }
    return 0;
}
