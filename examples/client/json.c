/* SPDX-License-Identifier: MIT */
/*
 * The JSON reading of resdeliv-client (see json.h): one pass over an
 * object's members at the top level, skipping nested values by counting
 * brackets outside strings, so a member's value is found without building
 * a tree.
 */
#include "json.h"

#include <stdint.h>
#include <string.h>

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    return p;
}

/* `p` at an opening quote: the byte after the closing one, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* Past one value (string, number, literal, object, array): at the ',' or
 * '}' that follows it, or NULL when the text ends first. */
static const char *skip_value(const char *p, const char *end)
{
    int depth = 0;

    while (p < end) {
        if (*p == '"') {
            p = skip_string(p, end);
            if (p == NULL) {
                return NULL;
            }
            continue;
        }
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (depth == 0) {
                return p;
            }
            depth--;
        } else if (*p == ',' && depth == 0) {
            return p;
        }
        p++;
    }
    return NULL;
}

int json_member(const char *obj, size_t len, const char *name, char *out,
                size_t size)
{
    const char *end = obj + len, *p = skip_ws(obj, end);
    size_t nlen = strlen(name);
    int found;

    if (p == end || *p++ != '{') {
        return -1;
    }
    for (;;) {
        const char *key, *kend, *v, *vend;
        p = skip_ws(p, end);
        if (p < end && *p == '}') {
            return 0;
        }
        if (p == end || *p != '"' || (kend = skip_string(p, end)) == NULL) {
            return -1;
        }
        key = p + 1;
        p = skip_ws(kend, end);
        if (p == end || *p++ != ':') {
            return -1;
        }
        v = skip_ws(p, end);
        if ((vend = skip_value(v, end)) == NULL) {
            return -1;
        }
        p = vend + (*vend == ',');
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\n' ||
                            vend[-1] == '\t' || vend[-1] == '\r')) {
            vend--;
        }
        if ((size_t)(kend - 1 - key) != nlen || memcmp(key, name, nlen) != 0) {
            continue;
        }
        found = vend - v >= 2 && *v == '"' ? 2 : 1;
        if (found == 2) {
            v++;
            vend--;
        }
        if ((size_t)(vend - v) >= size) {
            return -1;
        }
        memcpy(out, v, (size_t)(vend - v));
        out[vend - v] = '\0';
        return found;
    }
}

static int hex4(const char *p, const char *end, uint32_t *out)
{
    uint32_t v = 0;

    if (end - p < 4) {
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (uint32_t)(c - '0');
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            v |= (uint32_t)((c | 0x20) - 'a' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

static char *put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        *out++ = (char)cp;
    } else if (cp < 0x800) {
        *out++ = (char)(0xc0 | (cp >> 6));
        *out++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *out++ = (char)(0xe0 | (cp >> 12));
        *out++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *out++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *out++ = (char)(0xf0 | (cp >> 18));
        *out++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *out++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *out++ = (char)(0x80 | (cp & 0x3f));
    }
    return out;
}

/* `p` just after "\u": the code point, a surrogate pair joined. The
 * output is never longer than the escape it replaces, so unescaping works
 * in place. @return the bytes read after "\u", or -1. */
static int unicode_escape(const char *p, const char *end, uint32_t *cp)
{
    uint32_t lo;

    if (hex4(p, end, cp) != 0) {
        return -1;
    }
    if (*cp >= 0xd800 && *cp <= 0xdbff && end - p >= 10 && p[4] == '\\' &&
        p[5] == 'u' && hex4(p + 6, end, &lo) == 0 && lo >= 0xdc00 &&
        lo <= 0xdfff) {
        *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
        return 10;
    }
    if (*cp >= 0xd800 && *cp <= 0xdfff) {
        *cp = 0xfffd;
    }
    return 4;
}

int json_unescape(char *s, size_t *len)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *p = s, *end = s + *len, *hit;
    char *out = s;
    uint32_t cp;
    int n;

    while (p < end) {
        if (*p != '\\') {
            *out++ = *p++;
            continue;
        }
        if (++p == end) {
            return -1;
        }
        if (*p == 'u') {
            if ((n = unicode_escape(p + 1, end, &cp)) < 0) {
                return -1;
            }
            out = put_utf8(out, cp);
            p += 1 + n;
        } else if (*p != '\0' && (hit = strchr(from, *p)) != NULL) {
            *out++ = to[hit - from];
            p++;
        } else {
            return -1;
        }
    }
    *out = '\0';
    *len = (size_t)(out - s);
    return 0;
}
