/* SPDX-License-Identifier: MIT */
/*
 * Redis store URLs: `redis://[user:password@]host[:port][/db]` and
 * `unix:///path[?db=N&user=U&password=P]`. Parsing is strict and every
 * rejection names the part that is wrong, because a store URL usually comes
 * from a configuration file an operator has to fix.
 *
 * This file needs no hiredis, so it is always built; it also holds the
 * option defaults and, in a build without Redis, the ENOTSUP answer of
 * resdeliv_store_redis_new() and resdeliv_store_redis_async_new().
 */
#include "redis_internal.h"

#include <string.h>
#include <strings.h>

/* Percent-decode s[0..len) into dst of `size`; refuses NUL bytes. */
static int pct_decode(const char *s, size_t len, char *dst, size_t size,
                      const char *part, char *err, size_t errsize)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int h = i + 2 < len ? resdeliv__hexval(s[i + 1]) : -1;
            int l = i + 2 < len ? resdeliv__hexval(s[i + 2]) : -1;
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                resdeliv__errf(err, errsize,
                               "bad percent escape in URL %s", part);
                return RESDELIV_EBADURL;
            }
            c = h * 16 + l;
            i += 2;
        }
        if (o + 1 >= size) {
            resdeliv__errf(err, errsize, "URL %s is too long", part);
            return RESDELIV_EBADURL;
        }
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return 0;
}

/* Decimal in [lo, hi]; no sign, no spaces, not empty. */
static int parse_num(const char *s, size_t len, long lo, long hi, int *out)
{
    long v = 0;

    if (len == 0 || len > 9) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi) {
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int host_char_ok(char c, int ipv6)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z') || c == '.') {
        return 1;
    }
    return ipv6 ? c == ':' || c == '%' : c == '-' || c == '_';
}

static int set_host(const char *s, size_t len, int ipv6,
                    struct resdeliv__redis_url *u, char *err, size_t errsize)
{
    if (len == 0 || len >= sizeof(u->host)) {
        resdeliv__errf(err, errsize, "URL host is %s",
                       len == 0 ? "empty" : "too long");
        return RESDELIV_EBADURL;
    }
    for (size_t i = 0; i < len; i++) {
        if (!host_char_ok(s[i], ipv6)) {
            resdeliv__errf(err, errsize,
                           "URL host has a bad character at offset %zu", i);
            return RESDELIV_EBADURL;
        }
    }
    memcpy(u->host, s, len);
    u->host[len] = '\0';
    return 0;
}

static int parse_userinfo(const char *s, size_t len,
                          struct resdeliv__redis_url *u, char *err,
                          size_t errsize)
{
    const char *colon = memchr(s, ':', len);
    int rc;

    if (colon == NULL) {
        resdeliv__errf(err, errsize, "URL password is missing "
                       "(use user:password@ or :password@)");
        return RESDELIV_EBADURL;
    }
    size_t ulen = (size_t)(colon - s);
    size_t plen = len - ulen - 1;
    if (ulen > 0) {
        rc = pct_decode(s, ulen, u->user, sizeof(u->user), "user", err,
                        errsize);
        if (rc != 0) {
            return rc;
        }
        u->has_user = 1;
    }
    if (plen == 0) {
        resdeliv__errf(err, errsize, "URL password is empty");
        return RESDELIV_EBADURL;
    }
    rc = pct_decode(colon + 1, plen, u->password, sizeof(u->password),
                    "password", err, errsize);
    if (rc != 0) {
        return rc;
    }
    u->has_password = 1;
    return 0;
}

/* host[:port] or [v6][:port]. */
static int parse_hostport(const char *s, size_t len,
                          struct resdeliv__redis_url *u, char *err,
                          size_t errsize)
{
    const char *port = NULL;
    size_t hlen;
    int rc;

    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL) {
            resdeliv__errf(err, errsize, "URL host: missing ']'");
            return RESDELIV_EBADURL;
        }
        rc = set_host(s + 1, (size_t)(close - s - 1), 1, u, err, errsize);
        if (rc != 0) {
            return rc;
        }
        const char *rest = close + 1;
        if (rest < s + len && *rest != ':') {
            resdeliv__errf(err, errsize, "URL host: junk after ']'");
            return RESDELIV_EBADURL;
        }
        port = rest < s + len ? rest + 1 : NULL;
    } else {
        const char *colon = memchr(s, ':', len);
        hlen = colon ? (size_t)(colon - s) : len;
        rc = set_host(s, hlen, 0, u, err, errsize);
        if (rc != 0) {
            return rc;
        }
        port = colon ? colon + 1 : NULL;
    }
    u->port = RESDELIV__REDIS_DEFAULT_PORT;
    if (port != NULL &&
        parse_num(port, (size_t)(s + len - port), 1, 65535, &u->port) != 0) {
        resdeliv__errf(err, errsize, "URL port must be 1..65535");
        return RESDELIV_EBADURL;
    }
    return 0;
}

static int parse_db(const char *s, size_t len, struct resdeliv__redis_url *u,
                    char *err, size_t errsize)
{
    if (len == 0) {
        u->db = 0;
        return 0;
    }
    if (parse_num(s, len, 0, RESDELIV__REDIS_MAX_DB, &u->db) != 0) {
        resdeliv__errf(err, errsize, "URL db must be a number 0..%d",
                       RESDELIV__REDIS_MAX_DB);
        return RESDELIV_EBADURL;
    }
    return 0;
}

static int parse_tcp(const char *s, struct resdeliv__redis_url *u, char *err,
                     size_t errsize)
{
    size_t len = strlen(s);
    const char *slash = memchr(s, '/', len);
    const char *end = slash ? slash : s + len;
    const char *at = NULL;
    int rc;

    if (memchr(s, '?', len) != NULL || memchr(s, '#', len) != NULL) {
        resdeliv__errf(err, errsize, "URL query is not supported in "
                       "redis:// URLs (db goes in the path)");
        return RESDELIV_EBADURL;
    }
    for (const char *p = s; p < end; p++) {
        if (*p == '@') {
            at = p;
        }
    }
    if (at != NULL) {
        rc = parse_userinfo(s, (size_t)(at - s), u, err, errsize);
        if (rc != 0) {
            return rc;
        }
        s = at + 1;
    }
    rc = parse_hostport(s, (size_t)(end - s), u, err, errsize);
    if (rc != 0 || slash == NULL) {
        return rc;
    }
    return parse_db(slash + 1, strlen(slash + 1), u, err, errsize);
}

static int parse_query_pair(const char *s, size_t len,
                            struct resdeliv__redis_url *u, char *err,
                            size_t errsize)
{
    const char *eq = memchr(s, '=', len);
    size_t klen = eq ? (size_t)(eq - s) : len;
    const char *v = eq ? eq + 1 : s + len;
    size_t vlen = (size_t)(s + len - v);

    if (klen == 2 && memcmp(s, "db", 2) == 0) {
        if (vlen == 0) {
            resdeliv__errf(err, errsize, "URL db is empty");
            return RESDELIV_EBADURL;
        }
        return parse_db(v, vlen, u, err, errsize);
    }
    if (klen == 8 && memcmp(s, "password", 8) == 0 && vlen > 0) {
        u->has_password = 1;
        return pct_decode(v, vlen, u->password, sizeof(u->password),
                          "password", err, errsize);
    }
    if (klen == 4 && memcmp(s, "user", 4) == 0 && vlen > 0) {
        u->has_user = 1;
        return pct_decode(v, vlen, u->user, sizeof(u->user), "user", err,
                          errsize);
    }
    resdeliv__errf(err, errsize, "URL query: unknown or empty parameter "
                   "(db, user, password)");
    return RESDELIV_EBADURL;
}

static int parse_unix(const char *s, struct resdeliv__redis_url *u,
                      char *err, size_t errsize)
{
    const char *q = strchr(s, '?');
    size_t plen = q ? (size_t)(q - s) : strlen(s);
    int rc;

    u->is_unix = 1;
    if (plen == 0 || s[0] != '/') {
        resdeliv__errf(err, errsize, "URL path must be absolute "
                       "(unix:///path/to/socket)");
        return RESDELIV_EBADURL;
    }
    rc = pct_decode(s, plen, u->path, sizeof(u->path), "path", err, errsize);
    if (rc != 0 || q == NULL) {
        return rc;
    }
    for (const char *p = q + 1;;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        rc = parse_query_pair(p, len, u, err, errsize);
        if (rc != 0 || amp == NULL) {
            return rc;
        }
        p = amp + 1;
    }
}

int resdeliv__redis_url_parse(const char *url,
                              struct resdeliv__redis_url *out, char *err,
                              size_t errsize)
{
    if (url == NULL || out == NULL) {
        resdeliv__errf(err, errsize, "URL is missing");
        return RESDELIV_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    if (strncasecmp(url, "redis://", 8) == 0) {
        return parse_tcp(url + 8, out, err, errsize);
    }
    if (strncasecmp(url, "unix://", 7) == 0) {
        return parse_unix(url + 7, out, err, errsize);
    }
    resdeliv__errf(err, errsize,
                   "URL scheme must be redis:// or unix://");
    return RESDELIV_EBADURL;
}

void resdeliv_redis_options_init(struct resdeliv_redis_options *opts)
{
    if (opts == NULL) {
        return;
    }
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = (uint32_t)sizeof(*opts);
    opts->abi_version = RESDELIV_ABI_VERSION;
    opts->key_prefix = "delivery";
    opts->connect_timeout_ms = RESDELIV_REDIS_CONNECT_TIMEOUT_MS;
    opts->command_timeout_ms = RESDELIV_REDIS_COMMAND_TIMEOUT_MS;
}

#ifndef RESDELIV_HAVE_REDIS
int resdeliv_store_redis_new(const struct resdeliv_redis_options *opts,
                             resdeliv_store **out, char *err, size_t errsize)
{
    (void)opts;
    if (out != NULL) {
        *out = NULL;
    }
    resdeliv__errf(err, errsize, "this libresdeliv was built without Redis");
    return RESDELIV_ENOTSUP;
}

int resdeliv_store_redis_async_new(const struct resdeliv_redis_options *opts,
                                   const struct resdeliv_loop *loop,
                                   resdeliv_store **out, char *err,
                                   size_t errsize)
{
    (void)loop;
    return resdeliv_store_redis_new(opts, out, err, errsize);
}
#endif
