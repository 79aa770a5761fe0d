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
#include "../e2e/e2e_client.h"
#include "soak.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

static char *request_text(const struct soak_channel *ch, uint64_t first,
                          uint64_t n, size_t *len)
{
    size_t blen;
    char *body = batch_body(ch, first, n, &blen), *req;

    if (body == NULL) {
        return NULL;
    }
    req = e2e_signed_post(PATH, body, blen, 0, len);
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

    r->n = ch->pending < SOAK_BATCH ? ch->pending : SOAK_BATCH;
    r->first = ch->next_seq;
    if (grow(ch, r->first + r->n) != 0) {
        return -1;
    }
    ch->next_seq += r->n;
    ch->pending -= r->n;
    ch->pending_since = now;
    r->started = now;
    r->out = request_text(ch, r->first, r->n, &r->out_len);
    r->fd = wsc_connect_start(port);
    s->c.requests++;
    if (r->out == NULL || r->fd < 0) {
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

void soak_pub_io(struct soak *s, struct soak_channel *ch, short revents)
{
    struct soak_http *r = &ch->req;
    size_t head, body;
    int status = 0, whole;
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
    }
    whole = wsc_http_response(r->in, r->in_len, &status, &head, &body);
    /* Read it whole, or as much as fits: the status line is what counts. */
    if (n > 0 && whole == 0 && r->in_len + 1 < sizeof(r->in)) {
        return;
    }
    settle(s, ch, status == 200);
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
