/* SPDX-License-Identifier: MIT */
/*
 * bench-server's Pusher side: payloads and signed HTTP API requests made
 * before a run (so the timed part only sends bytes), and the per-message
 * bookkeeping of the subscribers. Frames are classified by looking for
 * byte patterns rather than by parsing JSON: the client must stay cheap
 * next to the server it measures, on a machine with two cores.
 */
#include "bench_server.h"

#include "e2e_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAT_EVENT "\"event\":\""
#define PAT_ID "\\\"_replay_id\\\":\\\""
#define PAT_EPOCH "\\\"_replay_epoch\\\":\\\""
#define EV_SUCCEEDED "pusher_internal:subscription_succeeded"
#define EV_GAP "resdeliv:gap"
#define EV_PING "pusher:ping"
#define EV_ERROR "pusher:error"
#define EV_SUB_ERROR "pusher:subscription_error"
#define PONG "{\"event\":\"pusher:pong\",\"data\":{}}"

/* ---------------------------------------------------------- messages */

static const char *find(const char *text, size_t len, const char *pat)
{
    size_t k = strlen(pat);
    const char *p = memmem(text, len, pat, k);

    return p != NULL ? p + k : NULL;
}

/* Copies the escaped string value at `p` (up to its `\"`) into `out`. */
static void copy_value(const char *p, const char *end, char *out)
{
    size_t n = 0;

    while (p != NULL && p + 1 < end && !(p[0] == '\\' && p[1] == '"') &&
           n + 1 < BS_ID_MAX) {
        out[n++] = *p++;
    }
    out[n] = '\0';
}

static int is_event(const char *ev, const char *end, const char *name)
{
    size_t k = strlen(name);

    return ev != NULL && (size_t)(end - ev) > k && memcmp(ev, name, k) == 0 &&
           ev[k] == '"';
}

static void take_ids(struct bsub *s, const char *text, const char *end)
{
    const char *id = find(text, (size_t)(end - text), PAT_ID);
    const char *ep = find(text, (size_t)(end - text), PAT_EPOCH);

    if (id != NULL) {
        copy_value(id, end, s->last_id);
    }
    if (ep != NULL) {
        copy_value(ep, end, s->epoch);
    }
}

/* The id at `p` ("MS-SEQ") as two numbers; 0 when it is not one. */
static int parse_id(const char *p, uint64_t *ms, uint64_t *seq)
{
    char *end = NULL;

    if (p == NULL) {
        return 0;
    }
    *ms = strtoull(p, &end, 10);
    if (end == p || *end != '-') {
        return 0;
    }
    p = end + 1;
    *seq = strtoull(p, &end, 10);
    return end != p;
}

/* Every message must carry an id above the previous one: with the count,
 * that proves nothing was duplicated, reordered or lost. */
static void on_bench_event(struct bench *b, struct bsub *s, const char *text,
                           size_t len)
{
    const char *idp = find(text, len, PAT_ID);
    uint64_t ms = 0, seq = 0;

    if (!parse_id(idp, &ms, &seq) || ms < s->last_ms ||
        (ms == s->last_ms && seq <= s->last_seq)) {
        s->bad++;
    }
    s->last_ms = ms;
    s->last_seq = seq;
    s->got++;
    if (s->track_ids) {
        take_ids(s, text, text + len);
    }
    if (s->got == b->want && !s->reached) {
        s->reached = 1;
        b->reached++;
        b->t_reached = bnet_now_ns();
    }
}

static void on_ws(struct bench *b, struct bsub *s, const char *text,
                  size_t len)
{
    const char *end = text + len, *ev = find(text, len, PAT_EVENT);

    if (is_event(ev, end, BS_EVENT)) {
        on_bench_event(b, s, text, len);
    } else if (is_event(ev, end, EV_SUCCEEDED)) {
        s->subscribed++;
        b->subscribed++;
        take_ids(s, text, end);
    } else if (is_event(ev, end, EV_GAP)) {
        s->gaps++;
    } else if (is_event(ev, end, EV_PING)) {
        bnet_ws_send(s->c, PONG, sizeof(PONG) - 1);
    } else if (is_event(ev, end, EV_ERROR) || is_event(ev, end, EV_SUB_ERROR)) {
        s->sub_errors++;
        fprintf(stderr, "bench-server: server said: %.*s\n", (int)len, text);
        b->failed = 1;
    }
}

static void on_http(struct bench *b, struct bconn *c, int status,
                    const char *body, size_t len)
{
    b->answered++;
    b->t_answer = bnet_now_ns();
    if (status != 200) {
        fprintf(stderr, "bench-server: publish answered %d: %.*s\n", status,
                (int)len, body);
        b->bad_status = 1;
        return;
    }
    if (b->next_req < b->nreq) {
        struct breq *r = &b->reqs[b->next_req++];
        if (bnet_send(c, r->text, r->len) != 0) {
            b->failed = 1;
        }
    }
}

void bs_on_msg(void *arg, struct bconn *c, int status, const char *text,
               size_t len)
{
    struct bench *b = arg;

    if (status < 0) {
        fprintf(stderr, "bench-server: a %s connection closed (code %d)\n",
                c->kind == BNET_WS ? "WebSocket" : "HTTP", c->ws.close_code);
        b->failed = 1;
    } else if (c->kind == BNET_HTTP) {
        on_http(b, c, status, text, len);
    } else {
        on_ws(b, c->user, text, len);
    }
}

/* ------------------------------------------------------- subscribers */

int bs_sub_connect(struct bench *b, struct bsub *s)
{
    struct e2e_pusher p;

    if (e2e_pusher_connect(&p, b->port) != 0) {
        return -1;
    }
    /* The connection moves to the event loop, with what it has read. */
    s->c = bnet_add_ws(b->net, &p.ws, s);
    return s->c != NULL ? 0 : -1;
}

int bs_sub_subscribe(struct bsub *s, const char *channel, const char *last_id,
                     const char *epoch)
{
    char text[512];
    int has_epoch = epoch != NULL && epoch[0] != '\0';
    int n;

    if (last_id != NULL && last_id[0] != '\0') {
        n = snprintf(text, sizeof(text),
                     "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
                     "\"%s\",\"last_event_id\":\"%s\"%s%s%s}}",
                     channel, last_id,
                     has_epoch ? ",\"last_event_epoch\":\"" : "",
                     has_epoch ? epoch : "", has_epoch ? "\"" : "");
    } else {
        n = snprintf(text, sizeof(text),
                     "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
                     "\"%s\"}}",
                     channel);
    }
    if (n < 0 || (size_t)n >= sizeof(text)) {
        return -1;
    }
    return bnet_ws_send(s->c, text, (size_t)n);
}

/* ---------------------------------------------------------- requests */

/* A broadcast of BS_DATA_SIZE bytes, as a JSON string value (its quotes
 * escaped), numbered `n` first so that subscribers find it cheaply. */
static size_t data_string(char *out, size_t size, int n)
{
    char raw[BS_DATA_SIZE + 64];
    size_t len, o = 0;

    len = (size_t)snprintf(raw, sizeof(raw),
                           "{\"n\":%d,\"type\":\"order.updated\",\"order\":"
                           "{\"id\":%d,\"status\":\"shipped\",\"items\":"
                           "[3,1,4],\"total\":129.95},\"note\":\"",
                           n, 100000 + n);
    while (len < BS_DATA_SIZE - 2) {
        raw[len] = (char)('a' + len % 26);
        len++;
    }
    raw[len++] = '"';
    raw[len++] = '}';
    for (size_t i = 0; i < len && o + 3 < size; i++) {
        if (raw[i] == '"' || raw[i] == '\\') {
            out[o++] = '\\';
        }
        out[o++] = raw[i];
    }
    out[o] = '\0';
    return o;
}

/* The JSON body: one event object, or a batch of them. */
static char *make_body(const char *channel, int first_n, int batch)
{
    size_t cap = (size_t)batch * (2 * BS_DATA_SIZE + 160) + 64, len = 0;
    char *body = malloc(cap), data[2 * BS_DATA_SIZE + 8];

    if (body == NULL) {
        return NULL;
    }
    if (batch > 1) {
        len += (size_t)snprintf(body, cap, "{\"batch\":[");
    }
    for (int i = 0; i < batch; i++) {
        data_string(data, sizeof(data), first_n + i);
        len += (size_t)snprintf(body + len, cap - len,
                                "%s{\"name\":\"" BS_EVENT "\",\"channel\":"
                                "\"%s\",\"data\":\"%s\"}",
                                i ? "," : "", channel, data);
    }
    if (batch > 1) {
        snprintf(body + len, cap - len, "]}");
    }
    return body;
}

static int make_request(struct breq *r, const char *channel, int first_n,
                        int batch)
{
    const char *path = batch > 1 ? "/apps/" BS_APP_ID "/batch_events"
                                 : "/apps/" BS_APP_ID "/events";
    char *body = make_body(channel, first_n, batch);

    if (body == NULL) {
        return -1;
    }
    /* Keep-alive: a publisher sends its next request on the same
     * connection when the answer comes. */
    r->text = e2e_signed_post(path, body, strlen(body), 1, &r->len);
    free(body);
    if (r->text == NULL) {
        fprintf(stderr, "bench-server: cannot sign a request to %s\n", path);
        return -1;
    }
    return 0;
}

int bs_prepare(struct bench *b, const char *channel, int first_n, size_t nreq,
               int batch)
{
    bs_requests_free(b);
    b->reqs = calloc(nreq, sizeof(*b->reqs));
    if (b->reqs == NULL) {
        return -1;
    }
    b->nreq = nreq;
    for (size_t i = 0; i < nreq; i++) {
        if (make_request(&b->reqs[i], channel, first_n + (int)i * batch,
                         batch) != 0) {
            return -1;
        }
    }
    return 0;
}

void bs_requests_free(struct bench *b)
{
    for (size_t i = 0; b->reqs != NULL && i < b->nreq; i++) {
        free(b->reqs[i].text);
    }
    free(b->reqs);
    b->reqs = NULL;
    b->nreq = b->next_req = b->answered = 0;
}

int bs_pub_open(struct bench *b, int n)
{
    bs_pub_close(b);
    for (; b->npub < n && b->npub < BS_MAX_PUB; b->npub++) {
        b->pub[b->npub] = bnet_http_open(b->net, b->port, NULL);
        if (b->pub[b->npub] == NULL) {
            return -1;
        }
    }
    return 0;
}

void bs_pub_close(struct bench *b)
{
    for (int i = 0; i < b->npub; i++) {
        bnet_close(b->pub[i]);
        b->pub[i] = NULL;
    }
    b->npub = 0;
}

/* --------------------------------------------------------------- runs */

void bs_goal(struct bench *b, struct bsub **watch, size_t nwatch, int want,
             const char *after)
{
    b->watch = watch;
    b->nwatch = nwatch;
    b->want = want;
    b->reached = 0;
    b->t_reached = 0;
    b->next_req = b->answered = 0;
    b->bad_status = 0;
    for (size_t i = 0; i < nwatch; i++) {
        watch[i]->got = 0;
        watch[i]->bad = 0;
        watch[i]->gaps = 0;
        watch[i]->reached = 0;
        watch[i]->last_ms = watch[i]->last_seq = 0;
        if (after != NULL) {
            parse_id(after, &watch[i]->last_ms, &watch[i]->last_seq);
        }
    }
}

static int goal_done(void *arg)
{
    struct bench *b = arg;

    return b->failed || b->bad_status ||
           (b->reached >= b->nwatch && b->answered >= b->nreq);
}

static int subscribed_done(void *arg)
{
    struct bench *b = arg;

    return b->failed || b->subscribed >= b->want_subscribed;
}

static int finish(struct bench *b, int rc)
{
    if (rc != 0) {
        fprintf(stderr, "bench-server: run timed out (%zu/%zu answers, "
                        "%zu/%zu subscribers done)\n",
                b->answered, b->nreq, b->reached, b->nwatch);
    }
    return rc != 0 || b->failed || b->bad_status ? -1 : 0;
}

int bs_run_publish(struct bench *b)
{
    for (int i = 0; i < b->npub && b->next_req < b->nreq; i++) {
        struct breq *r = &b->reqs[b->next_req++];
        if (bnet_send(b->pub[i], r->text, r->len) != 0) {
            return -1;
        }
    }
    return finish(b, bnet_run(b->net, BS_RUN_TIMEOUT_MS, goal_done, b));
}

int bs_run_goal(struct bench *b)
{
    return finish(b, bnet_run(b->net, BS_RUN_TIMEOUT_MS, goal_done, b));
}

int bs_run_subscribed(struct bench *b, size_t want)
{
    int rc;

    b->want_subscribed = want;
    rc = bnet_run(b->net, BS_RUN_TIMEOUT_MS, subscribed_done, b);
    if (rc != 0) {
        fprintf(stderr, "bench-server: %zu of %zu subscriptions succeeded\n",
                b->subscribed, want);
    }
    return rc != 0 || b->failed ? -1 : 0;
}
