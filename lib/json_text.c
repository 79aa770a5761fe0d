/* SPDX-License-Identifier: MIT */
/*
 * JSON text helpers of the Pusher protocol module (pusher.c): the input
 * checker, the string escaper and the output buffer.
 *
 * The checker is a byte scan of client text that cJSON itself does not do:
 * valid UTF-8, no NUL byte (raw or as \u0000, which would silently cut a C
 * string short), no raw control character, bounded nesting. It runs before
 * cJSON sees the text, so cJSON's recursive parser never meets deep input.
 *
 * The escaper writes JSON strings that round-trip byte for byte, which a
 * broadcast's double-encoded data needs; invalid UTF-8 is written as U+FFFD
 * so that a frame stays a valid WebSocket text frame. The output buffer
 * remembers a failed allocation, so a builder appends without checking and
 * looks once at the end.
 */
#include "internal.h"

#include <cjson/cJSON.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Client frames have no business nesting deeper than this; it also keeps
 * cJSON's recursive parser far below its own limit. */
#define SCAN_MAX_DEPTH 128
#define KEY_SHOWN_MAX 64

/* ---------------------------------------------------------------- UTF-8 */

/* Length of the valid UTF-8 sequence at `s` (strict: no overlong form, no
 * surrogate, nothing past U+10FFFF), or 0 when there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        lo = (c == 0xE0) ? 0xA0 : 0x80;
        hi = (c == 0xED) ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        lo = (c == 0xF0) ? 0x90 : 0x80;
        hi = (c == 0xF4) ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (n < need || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t k = 2; k < need; k++) {
        if (s[k] < 0x80 || s[k] > 0xBF) {
            return 0;
        }
    }
    return need;
}

/* ------------------------------------------------------ string escaping */

/* Characters with a two-character escape, and the letter after '\\'. */
static const char esc_from[] = "\"\\\b\f\n\r\t";
static const char esc_to[] = "\"\\bfnrt";

static int esc_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

size_t resdeliv__json_esc_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t out = 0;

    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t v = 1;
        if (esc_plain(c)) {
            out++;
        } else if (c < 0x80) {
            out += memchr(esc_from, c, sizeof(esc_from) - 1) ? 2 : 6;
        } else {
            v = utf8_len(s + i, n - i);
            out += v ? v : 3; /* U+FFFD is 3 bytes */
            v += !v;
        }
        i += v;
    }
    return out;
}

/* Write the escaped form of `s` (exactly resdeliv__json_esc_len() bytes). */
static char *esc_write(char *d, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;

    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        const char *two = NULL;
        size_t v = 1;
        if (esc_plain(c)) {
            *d++ = (char)c;
        } else if (c < 0x80 &&
                   (two = memchr(esc_from, c, sizeof(esc_from) - 1))) {
            *d++ = '\\';
            *d++ = esc_to[two - esc_from];
        } else if (c < 0x80) {
            memcpy(d, "\\u00", 4);
            d[4] = hex[c >> 4];
            d[5] = hex[c & 0xF];
            d += 6;
        } else if ((v = utf8_len(s + i, n - i)) != 0) {
            memcpy(d, s + i, v);
            d += v;
        } else {
            memcpy(d, "\xEF\xBF\xBD", 3);
            d += 3;
            v = 1;
        }
        i += v;
    }
    return d;
}

/* ------------------------------------------------------- output buffer */

int resdeliv__json_buf_reserve(struct resdeliv__json_buf *b, size_t extra)
{
    if (b->oom) {
        return -1;
    }
    if (extra <= b->cap - b->len) {
        return 0;
    }
    size_t cap = b->cap < SIZE_MAX / 2 ? b->cap * 2 : SIZE_MAX;
    if (extra > SIZE_MAX - b->len) {
        cap = 0; /* cannot be satisfied */
    } else if (cap < b->len + extra) {
        cap = b->len + extra < 64 ? 64 : b->len + extra;
    }
    char *p = cap ? realloc(b->p, cap) : NULL;
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void resdeliv__json_buf_put(struct resdeliv__json_buf *b, const char *s,
                            size_t n)
{
    if (resdeliv__json_buf_reserve(b, n) == 0) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

void resdeliv__json_buf_puts(struct resdeliv__json_buf *b, const char *s)
{
    resdeliv__json_buf_put(b, s, strlen(s));
}

void resdeliv__json_buf_put_str(struct resdeliv__json_buf *b, const char *s,
                                size_t n)
{
    size_t e = resdeliv__json_esc_len(s, n);

    if (e > SIZE_MAX - 2 || resdeliv__json_buf_reserve(b, e + 2) != 0) {
        b->oom = 1;
        return;
    }
    char *d = b->p + b->len;
    *d++ = '"';
    d = esc_write(d, s, n);
    *d = '"';
    b->len += e + 2;
}

int resdeliv__json_buf_finish(struct resdeliv__json_buf *b, char **out,
                              size_t *out_len)
{
    if (resdeliv__json_buf_reserve(b, 1) != 0) {
        free(b->p);
        *out = NULL;
        return RESDELIV_ENOMEM;
    }
    b->p[b->len] = '\0';
    *out = b->p;
    if (out_len != NULL) {
        *out_len = b->len;
    }
    return 0;
}

/* ------------------------------------------------------- input scanner */

struct scan {
    const unsigned char *s;
    size_t len;
    size_t i;
    const char *what;
    char *err;
    size_t errsize;
    unsigned depth;
    int expect_key;
    size_t key_off; /* most recent member name, raw text */
    size_t key_len;
    unsigned char stack[SCAN_MAX_DEPTH + 1]; /* '{' or '[' */
};

static int key_printable(const struct scan *sc)
{
    if (sc->key_len == 0 || sc->key_len > KEY_SHOWN_MAX) {
        return 0;
    }
    for (size_t k = 0; k < sc->key_len; k++) {
        unsigned char c = sc->s[sc->key_off + k];
        if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\') {
            return 0;
        }
    }
    return 1;
}

static int scan_fail(const struct scan *sc, const char *problem)
{
    if (key_printable(sc)) {
        resdeliv__errf(sc->err, sc->errsize,
                       "%s: %s at offset %zu (in member \"%.*s\")", sc->what,
                       problem, sc->i, (int)sc->key_len,
                       (const char *)sc->s + sc->key_off);
    } else {
        resdeliv__errf(sc->err, sc->errsize, "%s: %s at offset %zu", sc->what,
                       problem, sc->i);
    }
    return RESDELIV_EBADFRAME;
}

/* At a backslash inside a string. cJSON checks the escape letters; this
 * catches what cJSON would turn into a NUL (\u0000, or bad hex digits). */
static int scan_escape(struct scan *sc)
{
    if (sc->i + 1 >= sc->len) {
        return scan_fail(sc, "truncated escape");
    }
    if (sc->s[sc->i + 1] != 'u') {
        sc->i += 2;
        return 0;
    }
    if (sc->len - sc->i < 6) {
        return scan_fail(sc, "truncated \\u escape");
    }
    for (size_t k = 2; k < 6; k++) {
        if (!isxdigit(sc->s[sc->i + k])) {
            return scan_fail(sc, "bad \\u escape");
        }
    }
    if (memcmp(sc->s + sc->i + 2, "0000", 4) == 0) {
        return scan_fail(sc, "\\u0000 (NUL) escape");
    }
    sc->i += 6;
    return 0;
}

/* At an opening quote; consumes the whole string. */
static int scan_string(struct scan *sc)
{
    size_t start = ++sc->i;

    while (sc->i < sc->len) {
        unsigned char c = sc->s[sc->i];
        if (c == '"') {
            if (sc->expect_key) {
                sc->key_off = start;
                sc->key_len = sc->i - start;
                sc->expect_key = 0;
            }
            sc->i++;
            return 0;
        }
        int rc = 0;
        if (c == '\\') {
            rc = scan_escape(sc);
        } else if (c == 0) {
            rc = scan_fail(sc, "NUL byte");
        } else if (c < 0x20) {
            rc = scan_fail(sc, "control character in a string");
        } else if (c >= 0x80) {
            size_t n = utf8_len(sc->s + sc->i, sc->len - sc->i);
            rc = n ? 0 : scan_fail(sc, "invalid UTF-8");
            sc->i += n;
        } else {
            sc->i++;
        }
        if (rc != 0) {
            return rc;
        }
    }
    return scan_fail(sc, "unterminated string");
}

/* Structure outside strings: nesting, and where member names stand. */
static int scan_struct(struct scan *sc, unsigned char c)
{
    if (c == '{' || c == '[') {
        if (sc->depth >= SCAN_MAX_DEPTH) {
            return scan_fail(sc, "nesting too deep");
        }
        sc->stack[++sc->depth] = c;
        sc->expect_key = (c == '{');
    } else if (c == '}' || c == ']') {
        sc->depth -= sc->depth ? 1 : 0;
        sc->expect_key = 0;
        sc->key_len = 0; /* past the member that held this value */
    } else if (c == ',') {
        sc->expect_key = sc->depth && sc->stack[sc->depth] == '{';
    } else if (c >= 0x80) {
        return scan_fail(sc, "invalid character");
    } else if (c == 0) {
        return scan_fail(sc, "NUL byte");
    } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
        return scan_fail(sc, "control character");
    }
    sc->i++;
    return 0;
}

int resdeliv__json_scan(const char *text, size_t len, const char *what,
                        char *err, size_t errsize)
{
    struct scan sc;

    memset(&sc, 0, sizeof(sc));
    sc.s = (const unsigned char *)text;
    sc.len = len;
    sc.what = what;
    sc.err = err;
    sc.errsize = errsize;
    while (sc.i < sc.len) {
        int rc = (sc.s[sc.i] == '"') ? scan_string(&sc)
                                     : scan_struct(&sc, sc.s[sc.i]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

cJSON *resdeliv__json_parse_whole(const char *text, size_t len)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(text, len, &end, 0);

    while (v != NULL && end < text + len &&
           (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) {
        end++;
    }
    if (v != NULL && end != text + len) {
        cJSON_Delete(v);
        v = NULL;
    }
    return v;
}
