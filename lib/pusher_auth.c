/* SPDX-License-Identifier: MIT */
/*
 * Pusher channel auth and HTTP API request signatures (auth.h).
 *
 * The HTTP string to sign is built the way Pusher's own reference server
 * code (the pusher-signature gem) builds it: every query parameter but
 * auth_signature, keys lowercased, sorted, joined as key=value with '&',
 * values as they were before URL-encoding. SDKs disagree on what they put
 * on the wire (pusher-http-node sends values unescaped, pusher-http-php
 * escapes them with http_build_query), but both sign the unescaped text,
 * so decoding the received query before joining accepts both.
 *
 * Parameter names and values come from the network; the error messages
 * that quote them show only printable ASCII and cut long text short, so a
 * message can go into a log or an HTTP response as it is.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTE_MAX 48

/* ------------------------------------------------------------- helpers */

/* Printable copy of untrusted text for an error message. */
static const char *quote(char *dst, size_t size, const char *src, size_t len)
{
    size_t n = 0;
    size_t max = size - 4;

    for (size_t i = 0; i < len && n < max; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (len > n) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
    return dst;
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

/* Digits only, 1 to 20 of them, no overflow. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0 || len > 20) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)((unsigned char)s[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* ---------------------------------------------------------- channel auth */

int resdeliv_pusher_socket_id_valid(const char *socket_id)
{
    const char *dot;
    uint64_t v;

    if (socket_id == NULL || (dot = strchr(socket_id, '.')) == NULL) {
        return 0;
    }
    return parse_u64(socket_id, (size_t)(dot - socket_id), &v) == 0 &&
           parse_u64(dot + 1, strlen(dot + 1), &v) == 0;
}

static int channel_args_ok(const char *key, const char *secret,
                           const char *socket_id, const char *channel)
{
    return key != NULL && secret != NULL && channel != NULL && key[0] != '\0' &&
           strchr(key, ':') == NULL &&
           resdeliv_pusher_socket_id_valid(socket_id) && channel[0] != '\0' &&
           strchr(channel, ':') == NULL;
}

/* Hex signature of socket_id:channel[:channel_data]. */
static void channel_sig(const char *secret, const char *socket_id,
                        const char *channel, const char *channel_data,
                        char hex[RESDELIV_PUSHER_SIG_HEXLEN + 1])
{
    struct resdeliv__hmac_sha256_ctx ctx;
    uint8_t mac[RESDELIV__SHA256_LEN];

    resdeliv__hmac_sha256_init(&ctx, secret, strlen(secret));
    resdeliv__hmac_sha256_update(&ctx, socket_id, strlen(socket_id));
    resdeliv__hmac_sha256_update(&ctx, ":", 1);
    resdeliv__hmac_sha256_update(&ctx, channel, strlen(channel));
    if (channel_data != NULL) {
        resdeliv__hmac_sha256_update(&ctx, ":", 1);
        resdeliv__hmac_sha256_update(&ctx, channel_data, strlen(channel_data));
    }
    resdeliv__hmac_sha256_final(&ctx, mac);
    resdeliv__hex(mac, sizeof(mac), hex);
}

int resdeliv_pusher_channel_auth(const char *key, const char *secret,
                                 const char *socket_id, const char *channel,
                                 const char *channel_data, char *out,
                                 size_t size)
{
    char hex[RESDELIV_PUSHER_SIG_HEXLEN + 1];
    size_t klen;

    if (!channel_args_ok(key, secret, socket_id, channel) || out == NULL) {
        return RESDELIV_EINVAL;
    }
    klen = strlen(key);
    if (size < klen + 1 + RESDELIV_PUSHER_SIG_HEXLEN + 1) {
        return RESDELIV_ENOSPC;
    }
    channel_sig(secret, socket_id, channel, channel_data, hex);
    memcpy(out, key, klen);
    out[klen] = ':';
    memcpy(out + klen + 1, hex, sizeof(hex));
    return (int)(klen + 1 + RESDELIV_PUSHER_SIG_HEXLEN);
}

int resdeliv_pusher_channel_auth_check(const char *key, const char *secret,
                                       const char *socket_id,
                                       const char *channel,
                                       const char *channel_data,
                                       const char *auth)
{
    char hex[RESDELIV_PUSHER_SIG_HEXLEN + 1];
    size_t klen;

    if (!channel_args_ok(key, secret, socket_id, channel) || auth == NULL) {
        return RESDELIV_EINVAL;
    }
    klen = strlen(key);
    /* The key is public, so only the signature needs constant time. */
    if (strlen(auth) != klen + 1 + RESDELIV_PUSHER_SIG_HEXLEN ||
        memcmp(auth, key, klen) != 0 || auth[klen] != ':') {
        return RESDELIV_EAUTH;
    }
    channel_sig(secret, socket_id, channel, channel_data, hex);
    if (!resdeliv__ct_equal(auth + klen + 1, hex, RESDELIV_PUSHER_SIG_HEXLEN)) {
        return RESDELIV_EAUTH;
    }
    return 0;
}

/* ---------------------------------------------------------- query parse */

struct param {
    const char *k;
    size_t klen;
    const char *v;
    size_t vlen;
};

struct query {
    struct param p[RESDELIV_PUSHER_MAX_PARAMS];
    size_t n;
    char *buf; /* decoded names and values */
};

/* Decode `len` bytes at `src` into `dst`; returns the decoded length or
 * -1 for a bad escape, -2 for a NUL byte. */
static long decode(const char *src, size_t len, char *dst, int raw)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (!raw && c == '+') {
            c = ' ';
        } else if (!raw && c == '%') {
            int hi = i + 2 < len
                         ? resdeliv__hexval((unsigned char)src[i + 1])
                         : -1;
            int lo =
                hi >= 0 ? resdeliv__hexval((unsigned char)src[i + 2]) : -1;
            if (lo < 0) {
                return -1;
            }
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') {
            return -2;
        }
        dst[n++] = (char)c;
    }
    return (long)n;
}

static int param_cmp(const void *a, const void *b)
{
    const struct param *x = a;
    const struct param *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->k, y->k, n);

    if (c != 0) {
        return c;
    }
    return (x->klen > y->klen) - (x->klen < y->klen);
}

/* Split one "name=value" piece into q->p[q->n], decoding into `*dst`. */
static int parse_piece(struct query *q, const char *s, size_t len, int raw,
                       char **dst, char *err, size_t errsize)
{
    const char *eq = memchr(s, '=', len);
    char qb[QUOTE_MAX + 4];
    long kn, vn;

    if (eq == NULL || eq == s) {
        resdeliv__errf(err, errsize,
                       eq == NULL ? "query parameter \"%s\" has no '='"
                                  : "query parameter \"%s\" has no name",
                       quote(qb, sizeof(qb), s, len));
        return RESDELIV_EAUTH;
    }
    if (q->n == RESDELIV_PUSHER_MAX_PARAMS) {
        resdeliv__errf(err, errsize, "too many query parameters (limit %u)",
                       RESDELIV_PUSHER_MAX_PARAMS);
        return RESDELIV_EAUTH;
    }
    kn = decode(s, (size_t)(eq - s), *dst, raw);
    vn = kn < 0 ? kn
                : decode(eq + 1, len - (size_t)(eq - s) - 1, *dst + kn, raw);
    if (kn < 0 || vn < 0) {
        resdeliv__errf(err, errsize, "query parameter \"%s\" has %s",
                       quote(qb, sizeof(qb), s, len),
                       (kn == -2 || vn == -2) ? "a NUL byte"
                                              : "bad percent-encoding");
        return RESDELIV_EAUTH;
    }
    struct param *p = &q->p[q->n++];
    p->k = *dst;
    p->klen = (size_t)kn;
    p->v = *dst + kn;
    p->vlen = (size_t)vn;
    for (size_t i = 0; i < p->klen; i++) {
        (*dst)[i] = (char)lower((unsigned char)(*dst)[i]);
    }
    *dst += kn + vn;
    return 0;
}

/* Parse, lowercase the names, sort by name, refuse duplicates. */
static int parse_query(const char *s, size_t len, int raw, struct query *q,
                       char *err, size_t errsize)
{
    char qb[QUOTE_MAX + 4];
    char *dst;
    int rc = 0;

    q->n = 0;
    if (len > RESDELIV_PUSHER_MAX_QUERY) {
        resdeliv__errf(err, errsize,
                       "query string too long (%zu bytes, limit %u)", len,
                       RESDELIV_PUSHER_MAX_QUERY);
        return RESDELIV_EAUTH;
    }
    q->buf = malloc(len + 1);
    if (q->buf == NULL) {
        return RESDELIV_ENOMEM;
    }
    dst = q->buf;
    for (size_t i = 0; rc == 0 && i < len;) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t plen = amp ? (size_t)(amp - (s + i)) : len - i;
        if (plen > 0) {
            rc = parse_piece(q, s + i, plen, raw, &dst, err, errsize);
        }
        i += plen + 1;
    }
    if (rc != 0) {
        return rc;
    }
    qsort(q->p, q->n, sizeof(q->p[0]), param_cmp);
    for (size_t i = 1; i < q->n; i++) {
        if (param_cmp(&q->p[i - 1], &q->p[i]) == 0) {
            resdeliv__errf(err, errsize, "duplicate query parameter \"%s\"",
                           quote(qb, sizeof(qb), q->p[i].k, q->p[i].klen));
            return RESDELIV_EAUTH;
        }
    }
    return 0;
}

static const struct param *find(const struct query *q, const char *name)
{
    struct param key = {name, strlen(name), NULL, 0};

    return bsearch(&key, q->p, q->n, sizeof(q->p[0]), param_cmp);
}

static int value_is(const struct param *p, const char *s)
{
    return p->vlen == strlen(s) && memcmp(p->v, s, p->vlen) == 0;
}

/* ------------------------------------------------------------ http check */

static const struct param *require(const struct query *q, const char *name,
                                   const char *why, char *err, size_t errsize)
{
    const struct param *p = find(q, name);

    if (p == NULL) {
        resdeliv__errf(err, errsize, "missing %s%s", name, why);
    }
    return p;
}

static int check_timestamp(const struct param *ts, uint64_t now,
                           uint64_t window, char *err, size_t errsize)
{
    char qb[QUOTE_MAX + 4];
    uint64_t t;

    if (parse_u64(ts->v, ts->vlen, &t) != 0) {
        resdeliv__errf(err, errsize,
                       "bad auth_timestamp \"%s\" (want seconds since the "
                       "epoch)",
                       quote(qb, sizeof(qb), ts->v, ts->vlen));
        return RESDELIV_EAUTH;
    }
    if (t <= now && now - t >= window) {
        resdeliv__errf(err, errsize,
                       "expired auth_timestamp %llu: %llu s before server "
                       "time %llu (limit %llu s)",
                       (unsigned long long)t, (unsigned long long)(now - t),
                       (unsigned long long)now, (unsigned long long)window);
        return RESDELIV_EAUTH;
    }
    if (t > now && t - now >= window) {
        resdeliv__errf(err, errsize,
                       "future auth_timestamp %llu: %llu s after server "
                       "time %llu (limit %llu s)",
                       (unsigned long long)t, (unsigned long long)(t - now),
                       (unsigned long long)now, (unsigned long long)window);
        return RESDELIV_EAUTH;
    }
    return 0;
}

static int check_body(const struct query *q, const char *body, size_t len,
                      char *err, size_t errsize)
{
    const struct param *p = find(q, "body_md5");
    uint8_t d[RESDELIV__MD5_LEN];
    char hex[2 * RESDELIV__MD5_LEN + 1];
    int same;

    if (p == NULL) {
        if (len == 0) {
            return 0;
        }
        resdeliv__errf(err, errsize,
                       "missing body_md5 (required with a non-empty body)");
        return RESDELIV_EAUTH;
    }
    resdeliv__md5(body, len, d);
    resdeliv__hex(d, sizeof(d), hex);
    same = p->vlen == 2 * RESDELIV__MD5_LEN;
    for (size_t i = 0; same && i < p->vlen; i++) {
        same = lower((unsigned char)p->v[i]) == (unsigned char)hex[i];
    }
    if (!same) {
        resdeliv__errf(err, errsize,
                       "bad body_md5: the body's MD5 is %s (%zu bytes)", hex,
                       len);
        return RESDELIV_EAUTH;
    }
    return 0;
}

/* METHOD\nPATH\nk=v&k=v... over every parameter but auth_signature. */
static char *string_to_sign(const char *method, const char *path,
                            const struct query *q, size_t *out_len)
{
    size_t ml = strlen(method), pl = strlen(path);
    size_t size = ml + pl + 3;
    size_t n = 0;
    char *s;

    for (size_t i = 0; i < q->n; i++) {
        size += q->p[i].klen + q->p[i].vlen + 2;
    }
    if ((s = malloc(size)) == NULL) {
        return NULL;
    }
    memcpy(s, method, ml);
    n = ml;
    s[n++] = '\n';
    memcpy(s + n, path, pl);
    n += pl;
    s[n++] = '\n';
    for (size_t i = 0, first = 1; i < q->n; i++) {
        const struct param *p = &q->p[i];
        if (p->klen == 14 && memcmp(p->k, "auth_signature", 14) == 0) {
            continue;
        }
        if (!first) {
            s[n++] = '&';
        }
        first = 0;
        memcpy(s + n, p->k, p->klen);
        n += p->klen;
        s[n++] = '=';
        memcpy(s + n, p->v, p->vlen);
        n += p->vlen;
    }
    s[n] = '\0';
    *out_len = n;
    return s;
}

/* The mismatch message shows what was signed, newlines as "\n", so the
 * sender can compare it with what its SDK signed (as Pusher's API does). */
static void signature_error(const char *sts, size_t len, char *err,
                            size_t errsize)
{
    char *e = malloc(2 * len + 1);
    size_t n = 0;

    if (e == NULL) {
        resdeliv__errf(err, errsize, "bad auth_signature");
        return;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)sts[i];
        if (c == '\n') {
            e[n++] = '\\';
            e[n++] = 'n';
        } else {
            e[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        }
    }
    e[n] = '\0';
    resdeliv__errf(err, errsize,
                   "bad auth_signature: it must be the HMAC-SHA256 hex "
                   "digest, keyed by the app secret, of \"%s\"",
                   e);
    free(e);
}

static int check_signature(const struct resdeliv_pusher_http_request *req,
                           const struct query *q, const struct param *sig,
                           const char *secret, char *err, size_t errsize)
{
    uint8_t mac[RESDELIV__SHA256_LEN];
    char hex[RESDELIV_PUSHER_SIG_HEXLEN + 1];
    size_t len;
    char *sts = string_to_sign(req->method, req->path, q, &len);

    if (sts == NULL) {
        return RESDELIV_ENOMEM;
    }
    resdeliv__hmac_sha256(secret, strlen(secret), sts, len, mac);
    resdeliv__hex(mac, sizeof(mac), hex);
    if (sig->vlen != RESDELIV_PUSHER_SIG_HEXLEN ||
        !resdeliv__ct_equal(sig->v, hex, RESDELIV_PUSHER_SIG_HEXLEN)) {
        signature_error(sts, len, err, errsize);
        free(sts);
        return RESDELIV_EAUTH;
    }
    free(sts);
    return 0;
}

/* Copy a caller's request into a zeroed current-size struct (the struct
 * head rules of ABI.md) and check what must be there. */
static int take_request(const struct resdeliv_pusher_http_request *req,
                        struct resdeliv_pusher_http_request *r, char *err,
                        size_t errsize)
{
    const size_t min = offsetof(struct resdeliv_pusher_http_request, flags);

    if (req->struct_size < min) {
        resdeliv__errf(err, errsize,
                       "request struct_size %u too small (fill the head "
                       "with RESDELIV_STRUCT_HEAD)",
                       (unsigned)req->struct_size);
        return RESDELIV_EINVAL;
    }
    if (RESDELIV_ABI_VERSION_MAJOR(req->abi_version) != RESDELIV_ABI_MAJOR) {
        resdeliv__errf(err, errsize, "request ABI major %u, library has %u",
                       (unsigned)RESDELIV_ABI_VERSION_MAJOR(req->abi_version),
                       RESDELIV_ABI_MAJOR);
        return RESDELIV_EABI;
    }
    memset(r, 0, sizeof(*r));
    memcpy(r, req,
           req->struct_size < sizeof(*r) ? req->struct_size : sizeof(*r));
    if (r->method == NULL || r->method[0] == '\0' || r->path == NULL ||
        r->path[0] == '\0' || strlen(r->path) > RESDELIV_PUSHER_MAX_PATH ||
        (r->query == NULL && r->query_len > 0) ||
        (r->body == NULL && r->body_len > 0)) {
        resdeliv__errf(err, errsize,
                       "request needs a method, a path of 1 to %u bytes, "
                       "and query/body pointers for their lengths",
                       RESDELIV_PUSHER_MAX_PATH);
        return RESDELIV_EINVAL;
    }
    return 0;
}

/* The auth_* parameters, in the order the header documents. */
static int check_params(const struct resdeliv_pusher_http_request *r,
                        const struct query *q, const char *key, uint64_t now_s,
                        uint64_t window_s, const struct param **sig, char *err,
                        size_t errsize)
{
    char qb[QUOTE_MAX + 4];
    const struct param *p;

    if ((p = require(q, "auth_key", "", err, errsize)) == NULL) {
        return RESDELIV_EAUTH;
    }
    if (!value_is(p, key)) {
        resdeliv__errf(err, errsize, "unknown auth_key \"%s\"",
                       quote(qb, sizeof(qb), p->v, p->vlen));
        return RESDELIV_EAUTH;
    }
    if ((*sig = require(q, "auth_signature", "", err, errsize)) == NULL) {
        return RESDELIV_EAUTH;
    }
    if ((p = require(q, "auth_version", " (want 1.0)", err, errsize)) == NULL) {
        return RESDELIV_EAUTH;
    }
    if (!value_is(p, "1.0")) {
        resdeliv__errf(err, errsize,
                       "unsupported auth_version \"%s\" (want 1.0)",
                       quote(qb, sizeof(qb), p->v, p->vlen));
        return RESDELIV_EAUTH;
    }
    if ((p = require(q, "auth_timestamp", "", err, errsize)) == NULL) {
        return RESDELIV_EAUTH;
    }
    int rc = check_timestamp(p, now_s, window_s, err, errsize);
    return rc != 0 ? rc : check_body(q, r->body, r->body_len, err, errsize);
}

int resdeliv_pusher_http_check_window(
    const struct resdeliv_pusher_http_request *req, const char *key,
    const char *secret, uint64_t now_s, uint64_t window_s, char *err,
    size_t errsize)
{
    struct resdeliv_pusher_http_request r;
    struct query q;
    const struct param *sig = NULL;
    int rc;

    if (req == NULL || key == NULL || secret == NULL) {
        resdeliv__errf(err, errsize, "request, key and secret are required");
        return RESDELIV_EINVAL;
    }
    if ((rc = take_request(req, &r, err, errsize)) != 0) {
        return rc;
    }
    q.buf = NULL;
    rc = parse_query(r.query, r.query_len,
                     (r.flags & RESDELIV_PUSHER_QUERY_DECODED) != 0, &q, err,
                     errsize);
    if (rc == 0) {
        rc = check_params(&r, &q, key, now_s, window_s, &sig, err, errsize);
    }
    if (rc == 0) {
        rc = check_signature(&r, &q, sig, secret, err, errsize);
    }
    free(q.buf);
    return rc;
}

int resdeliv_pusher_http_check(const struct resdeliv_pusher_http_request *req,
                               const char *key, const char *secret,
                               uint64_t now_s, char *err, size_t errsize)
{
    return resdeliv_pusher_http_check_window(req, key, secret, now_s,
                                             RESDELIV_PUSHER_TIMESTAMP_WINDOW,
                                             err, errsize);
}

/* ------------------------------------------------------------- http sign */

struct entry {
    const char *name; /* as given, for the query string */
    const char *value;
    char *lname; /* lowercased, for sorting and signing */
};

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->lname,
                  ((const struct entry *)b)->lname);
}

static int sign_args_ok(const char *method, const char *path,
                        const struct resdeliv_pusher_param *params,
                        size_t nparams, const char *key, const char *secret,
                        const char *body, size_t body_len, char **out,
                        char *err, size_t errsize)
{
    static const char *const reserved[] = {"auth_key", "auth_timestamp",
                                           "auth_version", "auth_signature",
                                           "body_md5"};

    if (method == NULL || method[0] == '\0' || path == NULL ||
        path[0] == '\0' || key == NULL || key[0] == '\0' || secret == NULL ||
        secret[0] == '\0' || out == NULL || (params == NULL && nparams > 0) ||
        (body == NULL && body_len > 0) ||
        nparams > RESDELIV_PUSHER_MAX_PARAMS) {
        resdeliv__errf(err, errsize,
                       "method, path, key, secret and out are required; at "
                       "most %u params",
                       RESDELIV_PUSHER_MAX_PARAMS);
        return 0;
    }
    for (size_t i = 0; i < nparams; i++) {
        if (params[i].name == NULL || params[i].name[0] == '\0' ||
            params[i].value == NULL) {
            resdeliv__errf(err, errsize, "param %zu needs a name and a value",
                           i);
            return 0;
        }
        for (size_t j = 0; j < sizeof(reserved) / sizeof(reserved[0]); j++) {
            if (strcasecmp(params[i].name, reserved[j]) == 0) {
                resdeliv__errf(err, errsize,
                               "param \"%s\" is set by the signer",
                               reserved[j]);
                return 0;
            }
        }
    }
    return 1;
}

/* The sorted entries: the caller's params plus the auth ones. `lbuf`
 * receives the lowercased names. */
static int make_entries(const struct resdeliv_pusher_param *params,
                        size_t nparams, const struct entry *auth, size_t nauth,
                        struct entry *e, char *lbuf, char *err, size_t errsize)
{
    char qb[QUOTE_MAX + 4];
    size_t n = nparams + nauth;

    for (size_t i = 0; i < n; i++) {
        const char *name =
            i < nparams ? params[i].name : auth[i - nparams].name;
        size_t len = strlen(name);
        e[i].name = name;
        e[i].value = i < nparams ? params[i].value : auth[i - nparams].value;
        e[i].lname = lbuf;
        for (size_t j = 0; j <= len; j++) {
            lbuf[j] = (char)lower((unsigned char)name[j]);
        }
        lbuf += len + 1;
    }
    qsort(e, n, sizeof(e[0]), entry_cmp);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(e[i - 1].lname, e[i].lname) == 0) {
            resdeliv__errf(
                err, errsize, "param \"%s\" given twice",
                quote(qb, sizeof(qb), e[i].lname, strlen(e[i].lname)));
            return RESDELIV_EINVAL;
        }
    }
    return 0;
}

static void sign_entries(const char *method, const char *path,
                         const struct entry *e, size_t n, const char *secret,
                         char hex[RESDELIV_PUSHER_SIG_HEXLEN + 1])
{
    struct resdeliv__hmac_sha256_ctx ctx;
    uint8_t mac[RESDELIV__SHA256_LEN];

    resdeliv__hmac_sha256_init(&ctx, secret, strlen(secret));
    resdeliv__hmac_sha256_update(&ctx, method, strlen(method));
    resdeliv__hmac_sha256_update(&ctx, "\n", 1);
    resdeliv__hmac_sha256_update(&ctx, path, strlen(path));
    resdeliv__hmac_sha256_update(&ctx, "\n", 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            resdeliv__hmac_sha256_update(&ctx, "&", 1);
        }
        resdeliv__hmac_sha256_update(&ctx, e[i].lname, strlen(e[i].lname));
        resdeliv__hmac_sha256_update(&ctx, "=", 1);
        resdeliv__hmac_sha256_update(&ctx, e[i].value, strlen(e[i].value));
    }
    resdeliv__hmac_sha256_final(&ctx, mac);
    resdeliv__hex(mac, sizeof(mac), hex);
}

static char *encode_into(char *dst, const char *s)
{
    static const char digits[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (is_unreserved(c)) {
            *dst++ = (char)c;
        } else {
            *dst++ = '%';
            *dst++ = digits[c >> 4];
            *dst++ = digits[c & 0x0fu];
        }
    }
    return dst;
}

static char *encode_query(const struct entry *e, size_t n, const char *hex)
{
    size_t size = sizeof("&auth_signature=") + RESDELIV_PUSHER_SIG_HEXLEN;
    char *out, *p;

    for (size_t i = 0; i < n; i++) {
        size += 3 * (strlen(e[i].name) + strlen(e[i].value)) + 2;
    }
    if ((out = p = malloc(size)) == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        p = encode_into(p, e[i].name);
        *p++ = '=';
        p = encode_into(p, e[i].value);
        *p++ = '&';
    }
    memcpy(p, "auth_signature=", 15);
    memcpy(p + 15, hex, RESDELIV_PUSHER_SIG_HEXLEN + 1);
    return out;
}

int resdeliv_pusher_http_sign(const char *method, const char *path,
                              const struct resdeliv_pusher_param *params,
                              size_t nparams, const char *key,
                              const char *secret, uint64_t timestamp,
                              const char *body, size_t body_len, char **out,
                              char *err, size_t errsize)
{
    char ts[24], md5hex[2 * RESDELIV__MD5_LEN + 1];
    char hex[RESDELIV_PUSHER_SIG_HEXLEN + 1];
    uint8_t d[RESDELIV__MD5_LEN];

    if (!sign_args_ok(method, path, params, nparams, key, secret, body,
                      body_len, out, err, errsize)) {
        return RESDELIV_EINVAL;
    }
    snprintf(ts, sizeof(ts), "%llu", (unsigned long long)timestamp);
    resdeliv__md5(body, body_len, d);
    resdeliv__hex(d, sizeof(d), md5hex);
    const struct entry auth[] = {{"auth_key", key, NULL},
                                 {"auth_timestamp", ts, NULL},
                                 {"auth_version", "1.0", NULL},
                                 {"body_md5", md5hex, NULL}};
    size_t nauth = body_len > 0 ? 4 : 3;
    size_t n = nparams + nauth, lsize = 0;
    for (size_t i = 0; i < nparams; i++) {
        lsize += strlen(params[i].name) + 1;
    }
    struct entry *e = malloc(n * sizeof(*e));
    char *lbuf = malloc(lsize + sizeof("auth_timestamp") * nauth);
    int rc = (e == NULL || lbuf == NULL) ? RESDELIV_ENOMEM : 0;
    if (rc == 0) {
        rc = make_entries(params, nparams, auth, nauth, e, lbuf, err, errsize);
    }
    if (rc == 0) {
        sign_entries(method, path, e, n, secret, hex);
        *out = encode_query(e, n, hex);
        rc = *out == NULL ? RESDELIV_ENOMEM : 0;
    }
    free(e);
    free(lbuf);
    return rc;
}
