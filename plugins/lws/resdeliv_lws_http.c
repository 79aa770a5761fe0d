/* SPDX-License-Identifier: MIT */
/*
 * The libwebsockets shim, HTTP side: collects an HTTP API request (target,
 * query, body up to the limit), hands it to resdeliv_pusher_server_http()
 * and writes the answer when it comes (at once on the memory store, from
 * the event loop on the Redis store). A client that goes away before the
 * answer leaves its request orphaned; the answer then only frees it. Also
 * the dispatcher from lws callback reasons to the shim's helpers.
 */
#include "resdeliv_lws_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARG_MAX 4096
#define DRAIN_FACTOR 4
#define LENGTH_REQUIRED                                                        \
    "{\"error\":\"the HTTP API needs a Content-Length (no chunked "            \
    "bodies)\"}"
#define BAD_LENGTH "{\"error\":\"Content-Length is not a decimal number\"}"
#define NOT_ALLOWED "{\"error\":\"method not allowed: use POST\"}"

struct rlws_http {
    resdeliv_lws *rl;
    struct lws *wsi; /* NULL once the connection is gone */
    int method_post;
    int pending;  /* the library has the request */
    int answered; /* status and body are ready */
    int headers_sent;
    int too_big;
    int close_after; /* answered before the body was read: close after */
    char *target;    /* path '?' query */
    size_t query_at;
    char *body;
    size_t body_len;
    size_t body_cap;
    int status;
    unsigned char *out; /* LWS_PRE headroom + response body */
    size_t out_len;
};

/* --------------------------------------------------- request target */

struct sbuf {
    char *p;
    size_t len;
    size_t cap;
};

static int sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        char *p;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        p = realloc(b->p, cap);
        if (p == NULL) {
            return RESDELIV_ENOMEM;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
           ch == '~';
}

/* One decoded argument "name=value", encoded again; the first '=' stays. */
static int put_arg(struct sbuf *b, const char *arg)
{
    static const char hex[] = "0123456789ABCDEF";
    int seen_eq = 0;

    for (const unsigned char *s = (const unsigned char *)arg; *s; s++) {
        char esc[3] = {'%', hex[*s >> 4], hex[*s & 15]};
        int rc;
        if (unreserved(*s) || (*s == '=' && !seen_eq)) {
            seen_eq |= *s == '=';
            rc = sb_put(b, (const char *)s, 1);
        } else {
            rc = sb_put(b, esc, 3);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int resdeliv__lws_request_target(struct lws *wsi, int token, char **out,
                                 size_t *query_at)
{
    struct sbuf b = {NULL, 0, 0};
    int total = lws_hdr_total_length(wsi, (enum lws_token_indexes)token);
    char arg[ARG_MAX];
    int rc = 0;

    *out = NULL;
    if (total <= 0) {
        return RESDELIV_ENOENT;
    }
    b.cap = (size_t)total + 1;
    b.p = malloc(b.cap);
    if (b.p == NULL) {
        return RESDELIV_ENOMEM;
    }
    b.len = (size_t)lws_hdr_copy(wsi, b.p, total + 1,
                                 (enum lws_token_indexes)token);
    if (query_at != NULL) {
        *query_at = b.len;
    }
    for (int i = 0; rc == 0; i++) {
        if (lws_hdr_copy_fragment(wsi, arg, sizeof(arg),
                                  WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
            break;
        }
        rc = sb_put(&b, i == 0 ? "?" : "&", 1);
        rc = rc == 0 ? put_arg(&b, arg) : rc;
    }
    if (rc != 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    return 0;
}

/* ----------------------------------------------------------- requests */

static void http_free(struct rlws_http *h)
{
    if (h != NULL) {
        free(h->target);
        free(h->body);
        free(h->out);
        free(h);
    }
}

static void set_answer(struct rlws_http *h, int status, const char *body,
                       size_t len)
{
    free(h->out);
    h->out = malloc(LWS_PRE + len + 1);
    if (h->out == NULL) {
        status = 500;
        len = 0;
        h->out = malloc(LWS_PRE + 1);
    } else {
        memcpy(h->out + LWS_PRE, body, len);
    }
    h->out_len = h->out != NULL ? len : 0;
    h->status = status;
    h->answered = 1;
    if (h->wsi != NULL) {
        lws_callback_on_writable(h->wsi);
    }
}

static void on_done(void *arg, struct resdeliv_http_response *resp)
{
    struct rlws_http *h = arg;

    h->pending = 0;
    if (h->wsi == NULL) {
        http_free(h);
        return;
    }
    set_answer(h, resp->status, resp->body ? resp->body : "",
               resp->body ? resp->body_len : 0);
}

static void dispatch(struct rlws_http *h)
{
    struct resdeliv_http_request req;
    char msg[128];
    int rc;

    if (h->too_big) {
        snprintf(msg, sizeof(msg),
                 "{\"error\":\"request body larger than %llu bytes\"}",
                 (unsigned long long)h->rl->max_body);
        set_answer(h, 413, msg, strlen(msg));
        return;
    }
    memset(&req, 0, sizeof(req));
    req.query = "";
    if (h->target[h->query_at] == '?') {
        h->target[h->query_at] = '\0';
        req.query = h->target + h->query_at + 1;
    }
    req.method = h->method_post ? "POST" : "GET";
    req.path = h->target;
    req.body = h->body != NULL ? h->body : "";
    req.body_len = h->body_len;
    h->pending = 1;
    rc = resdeliv_pusher_server_http(h->rl->ps, &req, (uint64_t)time(NULL),
                                     on_done, h);
    if (rc != 0) {
        h->pending = 0;
        snprintf(msg, sizeof(msg), "{\"error\":\"%s\"}", resdeliv_strerror(rc));
        set_answer(h, 500, msg, strlen(msg));
    }
}

/* What a POST's headers say about its body: 0 none, 1 it follows, or the
 * status to answer at once. Answering before the body spares reading (and
 * discarding) what the client announced. */
static int body_status(resdeliv_lws *rl, struct lws *wsi)
{
    char clen[32] = "";
    char *end = NULL;
    unsigned long long n;

    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING)) {
        return 411; /* lws 4.1 hands a server no chunked request body */
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
        return 411;
    }
    if (lws_hdr_copy(wsi, clen, sizeof(clen), WSI_TOKEN_HTTP_CONTENT_LENGTH) <=
            0 ||
        clen[0] < '0' || clen[0] > '9') {
        return 400;
    }
    errno = 0;
    n = strtoull(clen, &end, 10);
    if (errno == ERANGE || *end != '\0') {
        return 400;
    }
    /* A body a little over the limit is read and dropped, so that the
     * client, still sending, gets its 413 rather than a reset; past
     * DRAIN_FACTOR times the limit it is refused unread. */
    if (n / DRAIN_FACTOR > rl->max_body) {
        return 413;
    }
    return n > 0 ? 1 : 0;
}

/* An answer given before the request's body was read: lws would take
 * the unread body for the next request, so the connection closes. */
static void answer_early(struct rlws_http *h, int status)
{
    h->close_after = 1;
    if (status == 413) {
        h->too_big = 1;
        dispatch(h);
    } else if (status == 405) {
        set_answer(h, status, NOT_ALLOWED, sizeof(NOT_ALLOWED) - 1);
    } else if (status == 411) {
        set_answer(h, status, LENGTH_REQUIRED, sizeof(LENGTH_REQUIRED) - 1);
    } else {
        set_answer(h, status, BAD_LENGTH, sizeof(BAD_LENGTH) - 1);
    }
}

int resdeliv_lws_http(resdeliv_lws *rl, struct lws *wsi,
                      struct resdeliv_lws_pss *pss, const char *uri)
{
    struct rlws_http *h;
    int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    int rc, body = 0;

    (void)uri;
    resdeliv_lws_http_drop(rl, pss);
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return -1;
    }
    h->rl = rl;
    h->wsi = wsi;
    h->method_post = post;
    rc = resdeliv__lws_request_target(
        wsi, post ? WSI_TOKEN_POST_URI : WSI_TOKEN_GET_URI, &h->target,
        &h->query_at);
    if (rc == RESDELIV_ENOENT) {
        /* Neither GET nor POST (PUT, DELETE, OPTIONS...). */
        h->target = strdup("");
        body = h->target != NULL ? 405 : -1;
    } else if (rc != 0) {
        body = -1;
    } else if (post) {
        body = body_status(rl, wsi);
    }
    if (body < 0) {
        http_free(h);
        return -1;
    }
    pss->http = h;
    if (body > 1) {
        answer_early(h, body);
    } else if (body == 0) {
        dispatch(h);
    }
    return 0;
}

int resdeliv_lws_http_body(resdeliv_lws *rl, struct lws *wsi,
                           struct resdeliv_lws_pss *pss, const void *in,
                           size_t len)
{
    struct rlws_http *h = pss->http;

    (void)wsi;
    /* lws may signal an empty chunk with `in` NULL. */
    if (h == NULL || h->too_big || h->answered || len == 0) {
        return 0;
    }
    if (h->body_len + len > rl->max_body) {
        h->too_big = 1;
        return 0;
    }
    if (h->body_len + len + 1 > h->body_cap) {
        size_t cap = h->body_cap ? h->body_cap * 2 : 4096;
        char *p;
        while (cap < h->body_len + len + 1) {
            cap *= 2;
        }
        p = realloc(h->body, cap);
        if (p == NULL) {
            return -1;
        }
        h->body = p;
        h->body_cap = cap;
    }
    memcpy(h->body + h->body_len, in, len);
    h->body_len += len;
    h->body[h->body_len] = '\0';
    return 0;
}

int resdeliv_lws_http_body_done(resdeliv_lws *rl, struct lws *wsi,
                                struct resdeliv_lws_pss *pss)
{
    (void)rl;
    (void)wsi;
    if (pss->http != NULL && !((struct rlws_http *)pss->http)->pending &&
        !((struct rlws_http *)pss->http)->answered) {
        dispatch(pss->http);
    }
    return 0;
}

int resdeliv_lws_http_writable(resdeliv_lws *rl, struct lws *wsi,
                               struct resdeliv_lws_pss *pss)
{
    struct rlws_http *h = pss->http;
    unsigned char buf[LWS_PRE + 512];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
    int close_after;

    if (h == NULL || !h->answered) {
        return 0;
    }
    if (!h->headers_sent) {
        if (lws_add_http_common_headers(wsi, (unsigned int)h->status,
                                        "application/json", h->out_len, &p,
                                        end) ||
            lws_finalize_write_http_header(wsi, start, &p, end)) {
            return -1;
        }
        h->headers_sent = 1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (lws_write(wsi, h->out + LWS_PRE, h->out_len, LWS_WRITE_HTTP_FINAL) !=
        (int)h->out_len) {
        return -1;
    }
    pss->http = NULL;
    close_after = h->close_after;
    http_free(h);
    rl->stats.http_requests++;
    if (close_after) {
        return -1;
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void resdeliv_lws_http_drop(resdeliv_lws *rl, struct resdeliv_lws_pss *pss)
{
    struct rlws_http *h = pss->http;

    (void)rl;
    if (h == NULL) {
        return;
    }
    pss->http = NULL;
    if (h->pending) {
        h->wsi = NULL; /* on_done frees it */
    } else {
        http_free(h);
    }
}

/* --------------------------------------------------------- dispatcher */

int resdeliv_lws_callback(resdeliv_lws *rl, struct lws *wsi,
                          enum lws_callback_reasons reason, void *user,
                          void *in, size_t len)
{
    struct resdeliv_lws_pss *pss = user;

    if (rl == NULL || (pss == NULL && reason != LWS_CALLBACK_PROTOCOL_INIT &&
                       reason != LWS_CALLBACK_PROTOCOL_DESTROY)) {
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        return resdeliv_lws_established(rl, wsi, pss);
    case LWS_CALLBACK_RECEIVE:
        return resdeliv_lws_receive(rl, wsi, pss, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return resdeliv_lws_writable(rl, wsi, pss);
    case LWS_CALLBACK_CLOSED:
        resdeliv_lws_closed(rl, wsi, pss);
        return 0;
    case LWS_CALLBACK_HTTP:
        return resdeliv_lws_http(rl, wsi, pss, in);
    case LWS_CALLBACK_HTTP_BODY:
        return resdeliv_lws_http_body(rl, wsi, pss, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return resdeliv_lws_http_body_done(rl, wsi, pss);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return resdeliv_lws_http_writable(rl, wsi, pss);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        resdeliv_lws_http_drop(rl, pss);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
