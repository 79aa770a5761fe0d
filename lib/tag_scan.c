/* SPDX-License-Identifier: MIT */
/*
 * The structural scan that plans a tag (tag.c applies the plan).
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
 * Data small enough for the block index is walked by a shorter copy of the
 * member walk that takes string ends from the index and compares only keys
 * as long as a field name; the general walk stays the reference for it.
 *
 * A tag field that occurs more than once at the top level makes the data
 * untaggable: replacing one copy would leave the others disagreeing, and
 * which copy a client sees depends on its JSON parser.
 */
#include "internal.h"

#include <string.h>

#if defined(__SSE2__) && !defined(RESDELIV_TAG_NO_SSE2)
#include <emmintrin.h>
#define BLOCK_SSE2 1
#else
#define BLOCK_SSE2 0
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ &&    \
    defined(__GNUC__)
#define WORD_SCAN 1
#else
#define WORD_SCAN 0
#endif

/* Byte classes outside strings. A scalar is a run of C_PLAIN bytes. */
enum { C_PLAIN, C_WS, C_QUOTE, C_OPEN, C_CLOSE, C_PUNCT };

static const unsigned char cls[256] = {
    [' '] = C_WS,    ['\n'] = C_WS,   ['\r'] = C_WS,   ['\t'] = C_WS,
    ['"'] = C_QUOTE, ['{'] = C_OPEN,  ['['] = C_OPEN,  ['}'] = C_CLOSE,
    [']'] = C_CLOSE, [','] = C_PUNCT, [':'] = C_PUNCT,
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
    /* Most bytes are above the space: one compare settles them. */
    while (p < end && (unsigned char)*p <= ' ' && ucls(p) == C_WS) {
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

/* ---- the block index ---------------------------------------------------
 *
 * Data up to INDEX_MAX bytes is first indexed 64 bytes at a time: where the
 * unescaped quotes are, and which brackets lie outside strings. The walk
 * then crosses a string by finding its closing quote in the index, and a
 * nested value by visiting only its brackets, with few branches per byte.
 * Backslashes outside strings are plain bytes to the token scan but would
 * escape a quote in the index, so data that has any is scanned by tokens;
 * otherwise both see the same strings and agree on every input.
 */
#define INDEX_BLOCKS 64
#define INDEX_MAX (INDEX_BLOCKS * 64)

struct index {
    size_t nblocks;
    uint64_t quote[INDEX_BLOCKS];   /* unescaped quotes */
    uint64_t bracket[INDEX_BLOCKS]; /* brackets outside strings */
};

enum { INDEX_OK, INDEX_BAD, INDEX_TOKENS };

#if !BLOCK_SSE2 && WORD_SCAN
/* One bit per byte of x equal to the byte of `pat`: exact per byte (no
 * borrow between bytes), gathered into the low 8 bits. */
static inline uint64_t eq_bits8(uint64_t x, uint64_t pat)
{
    uint64_t y = x ^ pat;
    uint64_t nz = ((y & BYTE_OF(0x7f)) + BYTE_OF(0x7f)) | y;

    return (((~nz & BYTE_OF(0x80)) >> 7) * 0x0102040810204080ull) >> 56;
}
#endif

/* Quotes, backslashes and brackets of one 64-byte block, a bit a byte. */
static void block_masks(const char *p, uint64_t *q, uint64_t *bs, uint64_t *br)
{
    uint64_t mq = 0;
    uint64_t mb = 0;
    uint64_t mr = 0;
#if BLOCK_SSE2
    const __m128i vq = _mm_set1_epi8('"');
    const __m128i vb = _mm_set1_epi8('\\');
    const __m128i v20 = _mm_set1_epi8(0x20);
    const __m128i vo = _mm_set1_epi8('{');
    const __m128i vc = _mm_set1_epi8('}');

    for (int i = 0; i < 4; i++) {
        const void *at = p + 16 * i;
        __m128i x = _mm_loadu_si128((const __m128i *)at);
        __m128i y = _mm_or_si128(x, v20);
        __m128i r = _mm_or_si128(_mm_cmpeq_epi8(y, vo), _mm_cmpeq_epi8(y, vc));
        mq |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, vq))
              << (16 * i);
        mb |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, vb))
              << (16 * i);
        mr |= (uint64_t)(uint16_t)_mm_movemask_epi8(r) << (16 * i);
    }
#elif WORD_SCAN
    for (int i = 0; i < 8; i++) {
        uint64_t x = load8(p + 8 * i);
        uint64_t y = x | BYTE_OF(0x20);
        mq |= eq_bits8(x, BYTE_OF('"')) << (8 * i);
        mb |= eq_bits8(x, BYTE_OF('\\')) << (8 * i);
        mr |= (eq_bits8(y, BYTE_OF('{')) | eq_bits8(y, BYTE_OF('}')))
              << (8 * i);
    }
#else
    for (int i = 0; i < 64; i++) {
        unsigned char c = (unsigned char)p[i];
        mq |= (uint64_t)(c == '"') << i;
        mb |= (uint64_t)(c == '\\') << i;
        mr |= (uint64_t)(cls[c] == C_OPEN || cls[c] == C_CLOSE) << i;
    }
#endif
    *q = mq;
    *bs = mb;
    *br = mr;
}

/* Bits set from each opening quote up to (not including) its closer. */
static uint64_t prefix_xor(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

/* The bytes escaped by backslashes, in order: a backslash escapes the next
 * byte, which escapes nothing itself. `*carry`: the first byte of the
 * block is escaped (and then the last one escapes the next block's). */
static uint64_t escaped_bytes(uint64_t bs, uint64_t *carry)
{
    uint64_t esc = *carry;

    bs &= ~esc;
    *carry = 0;
    while (bs != 0) {
        int i = __builtin_ctzll(bs);
        if (i == 63) {
            *carry = 1;
            break;
        }
        esc |= 2ull << i;
        bs &= ~(3ull << i);
    }
    return esc;
}

/* The escape whose escaped byte is at `pos` is valid. */
static int escape_ok(const char *data, size_t len, size_t pos)
{
    size_t n = pos < len ? esc_len[(unsigned char)data[pos]] : 0;

    if (n == 2) {
        return 1;
    }
    return n == 6 && pos + 5 <= len && hex[(unsigned char)data[pos + 1]] &&
           hex[(unsigned char)data[pos + 2]] &&
           hex[(unsigned char)data[pos + 3]] &&
           hex[(unsigned char)data[pos + 4]];
}

/* Index data of at most INDEX_MAX bytes; also checks every escape and
 * that the last string is closed. */
static int index_build(const char *data, size_t len, struct index *ix)
{
    uint64_t carry = 0;
    uint64_t in_str = 0;
    char tail[64];

    ix->nblocks = (len + 63) / 64;
    for (size_t b = 0; b < ix->nblocks; b++) {
        const char *p = data + b * 64;
        uint64_t q, bs, br, esc, str, e;
        size_t rest = len - b * 64;
        if (rest >= 64) {
            block_masks(p, &q, &bs, &br);
        } else if (len >= 64) {
            /* The last 64 bytes, shifted so the bytes before the block
             * drop out. */
            block_masks(data + len - 64, &q, &bs, &br);
            q >>= 64 - rest;
            bs >>= 64 - rest;
            br >>= 64 - rest;
        } else {
            memset(tail, ' ', sizeof(tail));
            memcpy(tail, p, rest);
            block_masks(tail, &q, &bs, &br);
        }
        esc = (bs | carry) != 0 ? escaped_bytes(bs, &carry) : 0;
        q &= ~esc;
        str = prefix_xor(q) ^ in_str;
        in_str = 0 - (str >> 63);
        if ((bs & ~str) != 0) {
            return INDEX_TOKENS;
        }
        for (e = esc; e != 0; e &= e - 1) {
            if (!escape_ok(data, len, b * 64 + (size_t)__builtin_ctzll(e))) {
                return INDEX_BAD;
            }
        }
        ix->quote[b] = q;
        ix->bracket[b] = br & ~str;
    }
    return in_str != 0 || carry != 0 ? INDEX_BAD : INDEX_OK;
}

/* Position of the first set bit at or after `pos`, or SIZE_MAX. */
static inline size_t next_bit(const uint64_t *bits, size_t nblocks, size_t pos)
{
    size_t b = pos / 64;
    uint64_t w;

    if (b >= nblocks) {
        return SIZE_MAX;
    }
    w = bits[b] >> (pos % 64);
    if (w != 0) {
        return pos + (size_t)__builtin_ctzll(w);
    }
    while (++b < nblocks) {
        if (bits[b] != 0) {
            return b * 64 + (size_t)__builtin_ctzll(bits[b]);
        }
    }
    return SIZE_MAX;
}

/* p is at '{' or '[' of a member's value: visit only the brackets, a word
 * of the index at a time. */
static const char *index_nested(const struct index *ix, const char *data,
                                const char *p)
{
    char stack[RESDELIV_TAG_MAX_DEPTH];
    int depth = 0;
    size_t pos = (size_t)(p - data);
    size_t b = pos / 64;
    uint64_t w = ix->bracket[b] & (~0ull << (pos % 64));

    for (;;) {
        char c;
        while (w == 0) {
            if (++b >= ix->nblocks) {
                return NULL;
            }
            w = ix->bracket[b];
        }
        pos = b * 64 + (size_t)__builtin_ctzll(w);
        w &= w - 1;
        c = data[pos];
        if (c == '{' || c == '[') {
            if (depth + 1 >= RESDELIV_TAG_MAX_DEPTH) {
                return NULL;
            }
            stack[depth++] = (char)(c == '{' ? '}' : ']');
        } else if (depth == 0 || stack[--depth] != c) {
            return NULL;
        } else if (depth == 0) {
            return data + pos + 1;
        }
    }
}

/* Scan state: the plan being filled and the fields looked for. */
struct scan {
    const char *data;
    const char *end;
    const struct resdeliv__tag_fields *f;
    struct resdeliv__tag_plan *plan;
    const struct index *ix; /* NULL: scan by tokens */
    size_t min_name;        /* shorter keys name no tag field */
    int seen[2];
    int dup;
};

/* p is just past an opening quote; return the byte after the closing one. */
static const char *string_end(const struct scan *sc, const char *p)
{
    size_t pos;

    if (sc->ix == NULL) {
        return scan_string(p, sc->end);
    }
    pos = next_bit(sc->ix->quote, sc->ix->nblocks, (size_t)(p - sc->data));
    return pos == SIZE_MAX ? NULL : sc->data + pos + 1;
}

static const char *scan_value(const struct scan *sc, const char *p)
{
    const char *end = sc->end;
    const char *start = p;

    if (p >= end) {
        return NULL;
    }
    switch (ucls(p)) {
    case C_QUOTE:
        return string_end(sc, p + 1);
    case C_OPEN:
        return sc->ix != NULL ? index_nested(sc->ix, sc->data, p)
                              : scan_nested(p, end);
    case C_PLAIN:
        while (p < end && ucls(p) == C_PLAIN) {
            p++;
        }
        return p == start ? NULL : p;
    default:
        return NULL;
    }
}

/* Does the raw key text (between its quotes) name `name`? Decoding never
 * lengthens a key and names hold no backslash, so a key no longer than the
 * name matches only byte for byte: most keys are settled by their length,
 * without looking for escapes. */
static inline int name_is(const char *key, size_t key_len, const char *name,
                          size_t name_len)
{
    if (name == NULL || key_len < name_len) {
        return 0;
    }
    if (key_len == name_len) {
        return memcmp(key, name, key_len) == 0;
    }
    return memchr(key, '\\', key_len) != NULL &&
           resdeliv__tag_escaped_name_is(key, key_len, name, name_len);
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

    p = string_end(sc, key);
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
    p = scan_value(sc, val);
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

/* White space from p on; the caller knows a byte that is not lies ahead. */
static inline const char *skip_ws_to(const char *p)
{
    while ((unsigned char)*p <= ' ' && ucls(p) == C_WS) {
        p++;
    }
    return p;
}

/* scan_value() for indexed data whose closing brace is at `last`. */
static inline const char *index_value(const struct scan *sc, const char *p,
                                      const char *last)
{
    size_t q;

    switch (ucls(p)) {
    case C_QUOTE:
        q = next_bit(sc->ix->quote, sc->ix->nblocks,
                     (size_t)(p + 1 - sc->data));
        return q == SIZE_MAX ? NULL : sc->data + q + 1;
    case C_OPEN:
        p = index_nested(sc->ix, sc->data, p);
        /* Ending at the last brace leaves the object unclosed. */
        return p != NULL && p <= last ? p : NULL;
    case C_PLAIN:
        do {
            p++;
        } while (ucls(p) == C_PLAIN);
        return p;
    default:
        return NULL;
    }
}

/* scan_members() for indexed data, which it must match on every input
 * (the tests compare the two): string ends come from the index, keys
 * shorter than both names are not compared, and no read needs a bounds
 * check. The last byte that is not white space must be a closing brace
 * (else scan_members() fails too), and the index puts it outside every
 * string: each token walked ends before it, except a nested value, which
 * index_value() holds to it. */
static const char *index_members(struct scan *sc, const char *p)
{
    const char *data = sc->data;
    const char *last = sc->end - 1;
    const size_t min = sc->min_name;

    while (last >= p && ucls(last) == C_WS) {
        last--;
    }
    if (last < p || *last != '}') {
        return NULL;
    }
    p = skip_ws_to(p);
    if (*p == '}') {
        return p;
    }
    for (;;) {
        size_t key;
        size_t q;
        const char *val;
        if (*p != '"') {
            return NULL;
        }
        key = (size_t)(p + 1 - data);
        q = next_bit(sc->ix->quote, sc->ix->nblocks, key);
        if (q == SIZE_MAX) {
            return NULL;
        }
        p = skip_ws_to(data + q + 1);
        if (*p != ':') {
            return NULL;
        }
        val = skip_ws_to(p + 1);
        p = index_value(sc, val, last);
        if (p == NULL) {
            return NULL;
        }
        if (q - key >= min) {
            note_member(sc, data + key, q - key, val, p);
        }
        sc->plan->insert = (size_t)(p - data);
        sc->plan->members = 1;
        p = skip_ws_to(p);
        if (*p != ',') {
            break;
        }
        p = skip_ws_to(p + 1);
    }
    return *p == '}' ? p : NULL;
}

/* The length of the shorter field name, or SIZE_MAX with none. */
static size_t min_name(const struct resdeliv__tag_fields *f)
{
    size_t n = f->id != NULL ? f->id_len : SIZE_MAX;

    return f->epoch != NULL && f->epoch_len < n ? f->epoch_len : n;
}

/* `fast`: walk indexed data with index_members(). */
static int plan_scan(const char *data, size_t len,
                     const struct resdeliv__tag_fields *fields,
                     struct resdeliv__tag_plan *plan, int fast)
{
    struct index ix;
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
    sc.min_name = min_name(fields);
    if (len <= INDEX_MAX) {
        switch (index_build(data, len, &ix)) {
        case INDEX_OK:
            sc.ix = &ix;
            break;
        case INDEX_BAD:
            return RESDELIV_EBADJSON;
        default:
            break;
        }
    }
    p = skip_ws(data, sc.end);
    if (p >= sc.end || *p != '{') {
        return RESDELIV_EBADJSON;
    }
    p = fast && sc.ix != NULL ? index_members(&sc, p + 1)
                              : scan_members(&sc, p + 1);
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

int resdeliv__tag_plan(const char *data, size_t len,
                       const struct resdeliv__tag_fields *fields,
                       struct resdeliv__tag_plan *pl)
{
    return plan_scan(data, len, fields, pl, 1);
}

int resdeliv__tag_plan_ref(const char *data, size_t len,
                           const struct resdeliv__tag_fields *fields,
                           struct resdeliv__tag_plan *pl)
{
    return plan_scan(data, len, fields, pl, 0);
}

int resdeliv_tag_is_object(const char *data, size_t len)
{
    static const struct resdeliv__tag_fields none = {NULL, 0, NULL, 0};
    struct resdeliv__tag_plan plan;

    return resdeliv__tag_plan(data, len, &none, &plan) == 0;
}
