/* SPDX-License-Identifier: MIT */
/*
 * The soak's publisher: POST /apps/{id}/batch_events over non-blocking
 * HTTP/1.1 connections, signed with resdeliv_pusher_http_sign() as
 * Pusher's server SDKs sign. The rate is spread round-robin over the
 * channels; each channel has at most one request in flight and sends what
 * the rate owes it (up to SOAK_BATCH events) when its previous request is
 * answered, so its seqs reach the log in order. A 200 acknowledges the
 * request's seqs; anything else (or a dead server) marks them failed: they
 * may or may not have been logged, and no client is owed them.
 */
#include "soak.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PENDING 200
/* A request waits this long for a fuller batch. */
#define BATCH_WAIT 0.02
#define REQUEST_TIMEOUT 10.0
#define PATH "/apps/app-id/batch_events"

static int grow(struct soak_channel *ch, uint64_t need)
{
    uint64_t cap = ch->cap ? ch->cap : 4096;
    struct soak_seq *p;

    if (need < ch->cap) {
        return 0;
    }
    while (cap <= need) {
        cap *= 2;
    }
    p = realloc(ch->seqs, cap * sizeof(*p));
    if (p == NULL) {
        return -1;
    }
    memset(p + ch->cap, 0, (cap - ch->cap) * sizeof(*p));
    ch->seqs = p;
    ch->cap = cap;
    return 0;
}

static char *batch_body(const struct soak_channel *ch, uint64_t first,
                        uint64_t n, size_t *len)
{
    size_t cap = 64 + n * (sizeof(ch->name) + 96), off;
    char *b = malloc(cap);

    if (b == NULL) {
        return NULL;
    }
    off = (size_t)snprintf(b, cap, "{\"batch\":[");
    for (uint64_t i = 0; i < n; i++) {
        off += (size_t)snprintf(b + off, cap - off,
                                "%s{\"name\":\"tick\",\"channel\":\"%s\","
                                "\"data\":\"{\\\"seq\\\":%llu}\"}",
                                i ? "," : "", ch->name,
                                (unsigned long long)(first + i));
    }
    off += (size_t)snprintf(b + off, cap - off, "]}");
    *len = off;
    return b;
}

static char *request_text(const struct soak_channel *ch, int port,
                          uint64_t first, uint64_t n, size_t *len)
{
    char err[256], *query = NULL, *req = NULL;
    size_t blen;
    char *body = batch_body(ch, first, n, &blen);

    if (body != NULL &&
        resdeliv_pusher_http_sign("POST", PATH, NULL, 0, "app-key",
                                  "app-secret", (uint64_t)time(NULL), body,
                                  blen, &query, err, sizeof(err)) == 0) {
        size_t cap = blen + strlen(query) + 512;
        req = malloc(cap);
        if (req != NULL) {
            *len = (size_t)snprintf(
                req, cap,
                "POST %s?%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                "Connection: close\r\n\r\n%s",
                PATH, query, port, blen, body);
        }
    }
    resdeliv_free(query);
    free(body);
    return req;
}

static void settle(struct soak *s, struct soak_channel *ch, int ok)
{
    struct soak_http *r = &ch->req;

    for (uint64_t q = r->first; q < r->first + r->n; q++) {
        ch->seqs[q].ack = ok ? ACK_OK : ACK_FAILED;
    }
    if (ok) {
        s->c.published += r->n;
        if (r->first + r->n - 1 > ch->last_acked) {
            ch->last_acked = r->first + r->n - 1;
        }
    } else {
        s->c.publish_failed += r->n;
    }
    if (r->fd >= 0) {
        close(r->fd);
    }
    free(r->out);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

static int start(struct soak *s, struct soak_channel *ch, double now)
{
    struct soak_http *r = &ch->req;
    int port = s->servers[ch->home].port;
    struct sockaddr_in sa;

    r->n = ch->pending < SOAK_BATCH ? ch->pending : SOAK_BATCH;
    r->first = ch->next_seq;
    if (grow(ch, r->first + r->n) != 0) {
        return -1;
    }
    ch->next_seq += r->n;
    ch->pending -= r->n;
    ch->pending_since = now;
    r->started = now;
    r->out = request_text(ch, port, r->first, r->n, &r->out_len);
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    s->c.requests++;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (r->out == NULL || r->fd < 0 ||
        (connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
         errno != EINPROGRESS)) {
        settle(s, ch, 0);
    }
    return 0;
}

void soak_pub_tick(struct soak *s, double dt, double now)
{
    if (s->publishing) {
        s->credit += s->o.rate * dt;
        for (; s->credit >= 1.0; s->credit -= 1.0) {
            struct soak_channel *ch = &s->chans[s->rr];
            s->rr = (s->rr + 1) % s->o.channels;
            if (ch->pending == 0) {
                ch->pending_since = now;
            }
            if (ch->pending < MAX_PENDING) {
                ch->pending++;
            }
        }
    }
    for (int i = 0; i < s->o.channels; i++) {
        struct soak_channel *ch = &s->chans[i];
        if (ch->req.out != NULL && now - ch->req.started > REQUEST_TIMEOUT) {
            settle(s, ch, 0);
        }
        if (ch->req.out == NULL && ch->pending > 0 &&
            (ch->pending >= SOAK_BATCH / 2 || !s->publishing ||
             now - ch->pending_since >= BATCH_WAIT)) {
            start(s, ch, now);
        }
    }
}

short soak_pub_events(const struct soak_channel *ch)
{
    if (ch->req.fd < 0 || ch->req.out == NULL) {
        return 0;
    }
    return ch->req.out_off < ch->req.out_len ? POLLOUT : POLLIN;
}

/* The answer is complete when its headers and Content-Length bytes are
 * in (or the server closed). @return 1 when complete. */
static int answer_complete(const struct soak_http *r)
{
    const char *end = memmem(r->in, r->in_len, "\r\n\r\n", 4);
    const char *cl;

    if (end == NULL) {
        return 0;
    }
    cl = memmem(r->in, (size_t)(end - r->in), "ontent-Length:", 14);
    if (cl == NULL) {
        cl = memmem(r->in, (size_t)(end - r->in), "ontent-length:", 14);
    }
    return cl != NULL && r->in_len - (size_t)(end + 4 - r->in) >=
                             (size_t)strtoul(cl + 14, NULL, 10);
}

void soak_pub_io(struct soak *s, struct soak_channel *ch, short revents)
{
    struct soak_http *r = &ch->req;
    ssize_t n;

    if (r->out_off < r->out_len) {
        n = send(r->fd, r->out + r->out_off, r->out_len - r->out_off,
                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINPROGRESS)) {
            return;
        }
        if (n <= 0) {
            settle(s, ch, 0);
            return;
        }
        r->out_off += (size_t)n;
        return;
    }
    if (!(revents & (POLLIN | POLLERR | POLLHUP))) {
        return;
    }
    n = recv(r->fd, r->in + r->in_len, sizeof(r->in) - 1 - r->in_len,
             MSG_DONTWAIT);
    if (n < 0 && errno == EAGAIN) {
        return;
    }
    if (n > 0) {
        r->in_len += (size_t)n;
        r->in[r->in_len] = '\0';
        if (!answer_complete(r) && r->in_len + 1 < sizeof(r->in)) {
            return;
        }
    }
    settle(s, ch, r->in_len >= 12 && memcmp(r->in, "HTTP/1.1 200", 12) == 0);
}

void soak_pub_abort(struct soak *s, struct soak_channel *ch)
{
    if (ch->req.out != NULL) {
        settle(s, ch, 0);
    }
}

int soak_pub_idle(const struct soak *s)
{
    for (int i = 0; i < s->o.channels; i++) {
        if (s->chans[i].req.out != NULL || s->chans[i].pending > 0) {
            return 0;
        }
    }
    return 1;
}
