/* SPDX-License-Identifier: MIT */
/*
 * Tagging a message's data object with its log id and epoch by splicing
 * text into it.
 *
 * Publishing tags every message, so the work is split in two: a plan (one
 * linear structural pass, no allocation) and an apply (one copy with the
 * splice, no scan). The log plans before the store append, when the id is
 * not known yet, and applies after it; the public calls do both at once.
 *
 * The pass checks what the splice depends on: a single top-level object,
 * strings and their escapes (so a brace or quote inside a string is not
 * structure), balanced and matching brackets, and the key/colon/value/comma
 * shape of the top level, where it also notes the values of members already
 * named like the tag fields so they are replaced rather than duplicated.
 * Numbers and literals are not validated, and raw control bytes inside
 * strings are let through, as before. Runs of string bytes and of bytes
 * between brackets are crossed eight at a time (a word-wide test for the
 * few bytes that end them), which is where a typical payload's time goes.
 *
 * A tag field that occurs more than once at the top level makes the data
 * untaggable: replacing one copy would leave the others disagreeing, and
 * which copy a client sees depends on its JSON parser.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ &&   \
    defined(__GNUC__)
#define WORD_SCAN 1
#else
#define WORD_SCAN 0
#endif

/* Byte classes outside strings. A scalar is a run of C_PLAIN bytes. */
enum { C_PLAIN, C_WS, C_QUOTE, C_OPEN, C_CLOSE, C_PUNCT };

static const unsigned char cls[256] = {
    [' '] = C_WS,      ['\n'] = C_WS,     ['\r'] = C_WS,    ['\t'] = C_WS,
    ['"'] = C_QUOTE,   ['{'] = C_OPEN,    ['['] = C_OPEN,   ['}'] = C_CLOSE,
    [']'] = C_CLOSE,   [','] = C_PUNCT,   [':'] = C_PUNCT,
};

/* Bytes after a backslash: 2 for a one-letter escape, 6 for \u. */
static const unsigned char esc_len[256] = {
    ['"'] = 2, ['\\'] = 2, ['/'] = 2, ['b'] = 2, ['f'] = 2,
    ['n'] = 2, ['r'] = 2,  ['t'] = 2, ['u'] = 6,
};

static const unsigned char hex[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1,
    ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['A'] = 1, ['B'] = 1,
    ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
};

#define BYTE_OF(c) (0x0101010101010101ull * (unsigned char)(c))

static inline unsigned char ucls(const char *p)
{
    return cls[(unsigned char)*p];
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && ucls(p) == C_WS) {
        p++;
    }
    return p;
}

#if WORD_SCAN
/* High bit set in each byte of x that is zero; the lowest set bit is
 * exact (borrows only disturb bytes above a zero byte). */
static inline uint64_t zero_bytes(uint64_t x)
{
    return (x - BYTE_OF(1)) & ~x & BYTE_OF(0x80);
}

static inline uint64_t load8(const char *p)
{
    uint64_t x;

    memcpy(&x, p, sizeof(x));
    return x;
}
#endif

/* First '"' or '\\' at or after p, or end. */
static const char *find_string_stop(const char *p, const char *end)
{
#if WORD_SCAN
    while (end - p >= 8) {
        uint64_t x = load8(p);
        uint64_t m =
            zero_bytes(x ^ BYTE_OF('"')) | zero_bytes(x ^ BYTE_OF('\\'));
        if (m != 0) {
            return p + (__builtin_ctzll(m) >> 3);
        }
        p += 8;
    }
#endif
    while (p < end && *p != '"' && *p != '\\') {
        p++;
    }
    return p;
}

/* First quote or bracket at or after p, or end. '[' and '{' (and ']' and
 * '}') differ only in bit 5, so setting it folds four tests into two. */
static const char *find_struct(const char *p, const char *end)
{
#if WORD_SCAN
    while (end - p >= 8) {
        uint64_t x = load8(p);
        uint64_t y = x | BYTE_OF(0x20);
        uint64_t m = zero_bytes(x ^ BYTE_OF('"')) |
                     zero_bytes(y ^ BYTE_OF('{')) |
                     zero_bytes(y ^ BYTE_OF('}'));
        if (m != 0) {
            return p + (__builtin_ctzll(m) >> 3);
        }
        p += 8;
    }
#endif
    while (p < end) {
        unsigned char c = ucls(p);
        if (c == C_QUOTE || c == C_OPEN || c == C_CLOSE) {
            break;
        }
        p++;
    }
    return p;
}

/* Check the escape at p (a backslash); return the byte after it. */
static const char *scan_escape(const char *p, const char *end)
{
    size_t n;

    if (end - p < 2) {
        return NULL;
    }
    n = esc_len[(unsigned char)p[1]];
    if (n == 2) {
        return p + 2;
    }
    if (n == 0 || end - p < 6 || !hex[(unsigned char)p[2]] ||
        !hex[(unsigned char)p[3]] || !hex[(unsigned char)p[4]] ||
        !hex[(unsigned char)p[5]]) {
        return NULL;
    }
    return p + 6;
}

/* p is just past an opening quote; return the byte after the closing one. */
static const char *scan_string(const char *p, const char *end)
{
    for (;;) {
        p = find_string_stop(p, end);
        if (p >= end) {
            return NULL;
        }
        if (*p == '"') {
            return p + 1;
        }
        p = scan_escape(p, end);
        if (p == NULL) {
            return NULL;
        }
    }
}

/* p is at '{' or '[' of a member's value; return the byte after its
 * matching closer. Inside, only strings and bracket matching are checked. */
static const char *scan_nested(const char *p, const char *end)
{
    char stack[RESDELIV_TAG_MAX_DEPTH];
    int depth = 0;

    for (;;) {
        char c;
        p = find_struct(p, end);
        if (p >= end) {
            return NULL;
        }
        c = *p++;
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
        } else if (depth == 0 || stack[--depth] != c) {
            return NULL;
        } else if (depth == 0) {
            return p;
        }
    }
}

static const char *scan_value(const char *p, const char *end)
{
    const char *start = p;

    if (p >= end) {
        return NULL;
    }
    switch (ucls(p)) {
    case C_QUOTE:
        return scan_string(p + 1, end);
    case C_OPEN:
        return scan_nested(p, end);
    case C_PLAIN:
        while (p < end && ucls(p) == C_PLAIN) {
            p++;
        }
        return p == start ? NULL : p;
    default:
        return NULL;
    }
}

/* Scan state: the plan being filled and the fields looked for. */
struct scan {
    const char *data;
    const char *end;
    const struct resdeliv__tag_fields *f;
    struct resdeliv__tag_plan *plan;
    int seen[2];
    int dup;
};

static int name_is(const char *key, size_t key_len, const char *name,
                   size_t name_len)
{
    return name != NULL && key_len == name_len &&
           memcmp(key, name, key_len) == 0;
}

static void note_member(struct scan *sc, const char *key, size_t key_len,
                        const char *val, const char *val_end)
{
    struct resdeliv__tag_plan *pl = sc->plan;
    uint32_t which;

    if (name_is(key, key_len, sc->f->id, sc->f->id_len)) {
        which = RESDELIV__TAG_ID;
    } else if (name_is(key, key_len, sc->f->epoch, sc->f->epoch_len)) {
        which = RESDELIV__TAG_EPOCH;
    } else {
        return;
    }
    if (sc->seen[which]) {
        sc->dup = 1;
        return;
    }
    sc->seen[which] = 1;
    pl->rep[pl->nrep].off = (size_t)(val - sc->data);
    pl->rep[pl->nrep].len = (size_t)(val_end - val);
    pl->rep[pl->nrep].field = which;
    pl->rep[pl->nrep].reserved = 0;
    pl->nrep++;
}

/* One `"key": value` at depth 1; p is at the key's quote. */
static const char *scan_member(struct scan *sc, const char *p)
{
    const char *key = p + 1;
    size_t key_len;
    const char *val;

    p = scan_string(key, sc->end);
    if (p == NULL) {
        return NULL;
    }
    key_len = (size_t)(p - 1 - key);
    val = p;
    if (val < sc->end && ucls(val) == C_WS) {
        val = skip_ws(val, sc->end);
    }
    if (val >= sc->end || *val != ':') {
        return NULL;
    }
    val = skip_ws(val + 1, sc->end);
    p = scan_value(val, sc->end);
    if (p == NULL) {
        return NULL;
    }
    note_member(sc, key, key_len, val, p);
    return p;
}

/* The members up to the closing brace; p is just past the opening one.
 * @return the closing brace, or NULL. */
static const char *scan_members(struct scan *sc, const char *p)
{
    const char *end = sc->end;

    p = skip_ws(p, end);
    if (p < end && *p == '}') {
        return p;
    }
    for (;;) {
        if (p >= end || *p != '"') {
            return NULL;
        }
        p = scan_member(sc, p);
        if (p == NULL) {
            return NULL;
        }
        sc->plan->insert = (size_t)(p - sc->data);
        sc->plan->members = 1;
        if (p < end && ucls(p) == C_WS) {
            p = skip_ws(p, end);
        }
        if (p >= end || *p != ',') {
            break;
        }
        p = skip_ws(p + 1, end);
    }
    return p < end && *p == '}' ? p : NULL;
}

int resdeliv__tag_plan(const char *data, size_t len,
                       const struct resdeliv__tag_fields *fields,
                       struct resdeliv__tag_plan *plan)
{
    struct scan sc;
    const char *p;

    memset(plan, 0, sizeof(*plan));
    plan->fields = fields;
    if (data == NULL) {
        return RESDELIV_EBADJSON;
    }
    memset(&sc, 0, sizeof(sc));
    sc.data = data;
    sc.end = data + len;
    sc.f = fields;
    sc.plan = plan;
    p = skip_ws(data, sc.end);
    if (p >= sc.end || *p != '{') {
        return RESDELIV_EBADJSON;
    }
    p = scan_members(&sc, p + 1);
    if (p == NULL || skip_ws(p + 1, sc.end) != sc.end || sc.dup) {
        return RESDELIV_EBADJSON;
    }
    plan->close = (size_t)(p - data);
    if (!plan->members) {
        plan->insert = plan->close;
    }
    /* Replacements are applied in text order. */
    if (plan->nrep == 2 && plan->rep[1].off < plan->rep[0].off) {
        struct resdeliv__tag_member t = plan->rep[0];
        plan->rep[0] = plan->rep[1];
        plan->rep[1] = t;
    }
    return 0;
}

int resdeliv_tag_is_object(const char *data, size_t len)
{
    static const struct resdeliv__tag_fields none = {NULL, 0, NULL, 0};
    struct resdeliv__tag_plan plan;

    return resdeliv__tag_plan(data, len, &none, &plan) == 0;
}

/* ---- fields and splicing ----------------------------------------------- */

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

int resdeliv__tag_fields_init(struct resdeliv__tag_fields *f,
                              const char *id_field, const char *epoch_field)
{
    memset(f, 0, sizeof(*f));
    if (!field_ok(id_field)) {
        return RESDELIV_EINVAL;
    }
    f->id = id_field;
    f->id_len = strlen(id_field);
    if (epoch_field != NULL) {
        if (!field_ok(epoch_field) || strcmp(epoch_field, id_field) == 0) {
            return RESDELIV_EINVAL;
        }
        f->epoch = epoch_field;
        f->epoch_len = strlen(epoch_field);
    }
    return 0;
}

/* What goes in: the id text and the epoch (len 0: none). */
struct values {
    char id[RESDELIV_ID_BUFSIZE];
    size_t id_len;
    const char *epoch;
    size_t epoch_len;
};

static int values_init(struct values *v, const struct resdeliv__tag_fields *f,
                       const struct resdeliv_id *id, const char *epoch)
{
    int n = resdeliv_id_format(id, v->id, sizeof(v->id));

    if (n < 0) {
        return n;
    }
    v->id_len = (size_t)n;
    v->epoch = epoch;
    v->epoch_len = 0;
    if (epoch != NULL && f->epoch != NULL) {
        v->epoch_len = strlen(epoch);
    }
    return 0;
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

/* `,"name":"value"` (no comma when `comma` is 0). */
static char *put_member(char *dst, int comma, const char *name,
                        size_t name_len, const char *val, size_t val_len)
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
                       const struct values *v, const int present[2])
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

static const char *value_of(const struct values *v, uint32_t which,
                            size_t *len)
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
                          const struct values *v, int present[2])
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
                         const struct values *v, char *buf, size_t size)
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
    struct values v;
    int rc = values_init(&v, plan->fields, id, epoch);

    if (rc < 0) {
        return rc;
    }
    return apply_values(data, len, plan, &v, buf, size);
}

long resdeliv__tag_insert(const char *data, size_t len,
                          const struct resdeliv__tag_fields *fields,
                          const struct resdeliv_id *id, const char *epoch,
                          char *buf, size_t size)
{
    static const int absent[2] = {0, 0};
    struct values v;
    size_t close = len;
    size_t at;
    size_t total;
    int members;
    char *dst;
    int rc;

    while (close > 0 && cls[(unsigned char)data[close - 1]] == C_WS) {
        close--;
    }
    if (close < 2 || data[--close] != '}') {
        return RESDELIV_EBADJSON;
    }
    at = close;
    while (at > 0 && cls[(unsigned char)data[at - 1]] == C_WS) {
        at--;
    }
    if (at == 0) {
        return RESDELIV_EBADJSON;
    }
    /* No value of a member ends in '{', so this is the empty object. */
    members = data[at - 1] != '{';
    at = members ? at : close;
    rc = values_init(&v, fields, id, epoch);
    if (rc < 0) {
        return rc;
    }
    total = len + (size_t)members + fields->id_len + v.id_len + 5;
    if (v.epoch_len > 0) {
        total += 1 + fields->epoch_len + v.epoch_len + 5;
    }
    if (size <= total) {
        return RESDELIV_ENOSPC;
    }
    dst = put(buf, data, at);
    dst = put_added(dst, members, fields, &v, absent);
    dst = put(dst, data + at, len - at);
    *dst = '\0';
    return (long)total;
}

/* ---- public entry points ----------------------------------------------- */

/* Shared front half of both entry points: check the arguments, then plan.
 * The epoch field only matters when an epoch is given. */
static int tag_plan_args(const char *data, size_t len, const char *id_field,
                         const char *epoch_field, const struct resdeliv_id *id,
                         const char *epoch,
                         struct resdeliv__tag_fields *fields,
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
    struct values v;
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
