/* SPDX-License-Identifier: MIT */
/*
 * A real in-process host for the Pusher server tests (check_pusher_server
 * and check_pusher_http): a transport that records every frame each
 * connection receives, keeps the joined (connection, channel) pairs and
 * broadcasts over them as a WebSocket server would, records closes, and
 * lets the test decide when a connection is writable. Under it sit the
 * real memory store and log. Frames are read back with cJSON.
 *
 * Header-only (static functions) so that both test programs use the same
 * host without a shared object file.
 */
#ifndef PUSHER_TEST_HOST_H
#define PUSHER_TEST_HOST_H

#include <check.h>
#include <cjson/cJSON.h>
#include <resdeliv/resdeliv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Not every program uses every helper. */
#define T_HELPER static __attribute__((unused))

#define T_APP_ID "app-id"
#define T_KEY "app-key"
#define T_SECRET "app-secret"
#define T_PATH "/app/app-key?protocol=7&client=js&version=8.4.0"
#define T_NOW 1700000000u
#define T_MAXCONN 16
#define T_MAXJOIN 64

struct tconn {
    char *frames[512];
    size_t n;
    int want; /* request_writable seen */
    int closed;
    uint32_t code;
    int eagain; /* send() answers RESDELIV_EAGAIN */
    char socket_id[64];
};

struct tjoin {
    struct tconn *c;
    char channel[RESDELIV_MAX_CHANNEL_LEN + 1];
};

struct thost {
    struct tconn conns[T_MAXCONN];
    struct tjoin joins[T_MAXJOIN];
    size_t njoins;
    size_t broadcasts;
    resdeliv_store *store;
    resdeliv_log *log;
    resdeliv_pusher_server *ps;
};

T_HELPER void t_record(struct tconn *c, const char *frame, size_t len)
{
    char *copy = malloc(len + 1);

    ck_assert_ptr_nonnull(copy);
    ck_assert_uint_lt(c->n, sizeof(c->frames) / sizeof(c->frames[0]));
    memcpy(copy, frame, len);
    copy[len] = '\0';
    c->frames[c->n++] = copy;
}

T_HELPER int t_send(void *host, void *conn, const char *frame, size_t len)
{
    struct tconn *c = conn;

    (void)host;
    if (c->closed) {
        return RESDELIV_ECLOSED;
    }
    if (c->eagain) {
        return RESDELIV_EAGAIN;
    }
    t_record(c, frame, len);
    return 0;
}

T_HELPER int t_broadcast(void *host, const char *channel, size_t channel_len,
                         const char *frame, size_t len, void *except)
{
    struct thost *h = host;

    h->broadcasts++;
    for (size_t i = 0; i < h->njoins; i++) {
        struct tjoin *j = &h->joins[i];
        if (j->c != except && !j->c->closed &&
            strlen(j->channel) == channel_len &&
            memcmp(j->channel, channel, channel_len) == 0) {
            t_record(j->c, frame, len);
        }
    }
    return 0;
}

T_HELPER int t_request_writable(void *host, void *conn)
{
    (void)host;
    ((struct tconn *)conn)->want = 1;
    return 0;
}

T_HELPER int t_close(void *host, void *conn, uint32_t code, const char *reason)
{
    struct tconn *c = conn;

    (void)host;
    (void)reason;
    c->closed = 1;
    c->code = code;
    return 0;
}

T_HELPER int t_join(void *host, void *conn, const char *channel,
                    size_t channel_len)
{
    struct thost *h = host;
    struct tjoin *j;

    ck_assert_uint_lt(h->njoins, T_MAXJOIN);
    ck_assert_uint_le(channel_len, RESDELIV_MAX_CHANNEL_LEN);
    j = &h->joins[h->njoins++];
    j->c = conn;
    memcpy(j->channel, channel, channel_len);
    j->channel[channel_len] = '\0';
    return 0;
}

T_HELPER int t_leave(void *host, void *conn, const char *channel,
                     size_t channel_len)
{
    struct thost *h = host;
    size_t k = 0;

    for (size_t i = 0; i < h->njoins; i++) {
        if (h->joins[i].c != conn ||
            strlen(h->joins[i].channel) != channel_len ||
            memcmp(h->joins[i].channel, channel, channel_len) != 0) {
            h->joins[k++] = h->joins[i];
        }
    }
    h->njoins = k;
    return 0;
}

/* The host forgets a closed connection's joins, as a WebSocket server
 * drops a closed socket from its channel sets. */
T_HELPER void t_forget(struct thost *h, struct tconn *c)
{
    size_t k = 0;

    for (size_t i = 0; i < h->njoins; i++) {
        if (h->joins[i].c != c) {
            h->joins[k++] = h->joins[i];
        }
    }
    h->njoins = k;
}

T_HELPER int t_joined(const struct thost *h, const struct tconn *c,
                      const char *channel)
{
    for (size_t i = 0; i < h->njoins; i++) {
        if (h->joins[i].c == c && strcmp(h->joins[i].channel, channel) == 0) {
            return 1;
        }
    }
    return 0;
}

T_HELPER void t_clear(struct tconn *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->frames[i]);
    }
    c->n = 0;
}

T_HELPER struct resdeliv_transport t_transport(struct thost *h)
{
    struct resdeliv_transport tp = {
        RESDELIV_STRUCT_HEAD(tp),
        .host = h,
        .send = t_send,
        .broadcast = t_broadcast,
        .request_writable = t_request_writable,
        .close = t_close,
        .log = NULL,
        .join = t_join,
        .leave = t_leave,
    };
    return tp;
}

/* Host, memory store, log and server with `opts` (NULL: defaults). */
T_HELPER void t_setup(struct thost *h,
                      struct resdeliv_pusher_server_options *opts)
{
    struct resdeliv_pusher_server_options o;
    struct resdeliv_transport tp;
    char err[256] = "";
    int rc;

    memset(h, 0, sizeof(*h));
    if (opts == NULL) {
        resdeliv_pusher_server_options_init(&o);
        opts = &o;
    }
    opts->app_id = T_APP_ID;
    opts->app_key = T_KEY;
    opts->app_secret = T_SECRET;
    ck_assert_int_eq(resdeliv_store_memory_new(NULL, &h->store), 0);
    rc = resdeliv_log_open(NULL, h->store, T_APP_ID, &h->log, err, sizeof(err));
    ck_assert_msg(rc == 0, "log: %s", err);
    tp = t_transport(h);
    rc =
        resdeliv_pusher_server_new(h->log, &tp, opts, &h->ps, err, sizeof(err));
    ck_assert_msg(rc == 0, "server: %d %s", rc, err);
}

T_HELPER void t_teardown(struct thost *h)
{
    resdeliv_pusher_server_free(h->ps);
    resdeliv_log_close(h->log);
    resdeliv_store_free(h->store);
    for (size_t i = 0; i < T_MAXCONN; i++) {
        t_clear(&h->conns[i]);
    }
}

/* Run writable callbacks until no connection asks for more. */
T_HELPER void t_drive(struct thost *h)
{
    for (int round = 0; round < 10000; round++) {
        int any = 0;
        for (size_t i = 0; i < T_MAXCONN; i++) {
            struct tconn *c = &h->conns[i];
            if (c->want && !c->closed && !c->eagain) {
                c->want = 0;
                any = 1;
                resdeliv_pusher_server_writable(h->ps, c);
            }
        }
        if (!any) {
            return;
        }
    }
    ck_abort_msg("writable callbacks did not settle");
}

/* ---- reading frames ---------------------------------------------------- */

T_HELPER cJSON *t_frame(const struct tconn *c, size_t i)
{
    cJSON *f;

    ck_assert_uint_lt(i, c->n);
    f = cJSON_Parse(c->frames[i]);
    ck_assert_msg(f != NULL, "frame is not JSON: %s", c->frames[i]);
    return f;
}

T_HELPER const char *t_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A frame's data: parsed from the JSON string it travels as, or the
 * object itself (pusher:error, subscription_error). Caller deletes. */
T_HELPER cJSON *t_data(const cJSON *frame)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(frame, "data");

    if (cJSON_IsString(d)) {
        return cJSON_Parse(d->valuestring);
    }
    return cJSON_Duplicate(d, 1);
}

/* Frames of `c` whose event is `event` (and channel, when not NULL). */
T_HELPER size_t t_count(const struct tconn *c, const char *event,
                        const char *channel)
{
    size_t n = 0;

    for (size_t i = 0; i < c->n; i++) {
        cJSON *f = t_frame(c, i);
        const char *e = t_str(f, "event"), *ch = t_str(f, "channel");
        if (e != NULL && strcmp(e, event) == 0 &&
            (channel == NULL || (ch != NULL && strcmp(ch, channel) == 0))) {
            n++;
        }
        cJSON_Delete(f);
    }
    return n;
}

/* Index of the first frame of `c` with `event` at or after `from`, or
 * -1. */
T_HELPER long t_find(const struct tconn *c, const char *event, size_t from)
{
    for (size_t i = from; i < c->n; i++) {
        cJSON *f = t_frame(c, i);
        const char *e = t_str(f, "event");
        int hit = e != NULL && strcmp(e, event) == 0;
        cJSON_Delete(f);
        if (hit) {
            return (long)i;
        }
    }
    return -1;
}

/* ---- connecting and subscribing ---------------------------------------- */

/* Open connection `i` with the good path; read its socket id. */
T_HELPER struct tconn *t_open(struct thost *h, size_t i)
{
    struct tconn *c = &h->conns[i];
    cJSON *f, *d;

    ck_assert_int_eq(resdeliv_pusher_server_open(h->ps, c, T_PATH), 0);
    ck_assert_uint_ge(c->n, 1);
    f = t_frame(c, c->n - 1);
    ck_assert_str_eq(t_str(f, "event"), "pusher:connection_established");
    d = t_data(f);
    ck_assert_ptr_nonnull(t_str(d, "socket_id"));
    snprintf(c->socket_id, sizeof(c->socket_id), "%s", t_str(d, "socket_id"));
    cJSON_Delete(d);
    cJSON_Delete(f);
    return c;
}

T_HELPER void t_close_conn(struct thost *h, struct tconn *c)
{
    c->closed = 1;
    t_forget(h, c);
    resdeliv_pusher_server_close(h->ps, c);
}

T_HELPER int t_send_text(struct thost *h, struct tconn *c, const char *text)
{
    return resdeliv_pusher_server_message(h->ps, c, text, strlen(text));
}

/* Send a pusher:subscribe; NULL members are left out. */
T_HELPER int t_subscribe(struct thost *h, struct tconn *c, const char *channel,
                         const char *auth, const char *channel_data,
                         const char *last_id, const char *last_epoch)
{
    cJSON *f = cJSON_CreateObject(), *d = cJSON_CreateObject();
    char *text;
    int rc;

    cJSON_AddStringToObject(f, "event", "pusher:subscribe");
    cJSON_AddStringToObject(d, "channel", channel);
    if (auth != NULL) {
        cJSON_AddStringToObject(d, "auth", auth);
    }
    if (channel_data != NULL) {
        cJSON_AddStringToObject(d, "channel_data", channel_data);
    }
    if (last_id != NULL) {
        cJSON_AddStringToObject(d, "last_event_id", last_id);
    }
    if (last_epoch != NULL) {
        cJSON_AddStringToObject(d, "last_event_epoch", last_epoch);
    }
    cJSON_AddItemToObject(f, "data", d);
    text = cJSON_PrintUnformatted(f);
    rc = t_send_text(h, c, text);
    cJSON_free(text);
    cJSON_Delete(f);
    return rc;
}

/* Subscribe with the auth the app's auth endpoint would hand out. */
T_HELPER int t_subscribe_auth(struct thost *h, struct tconn *c,
                              const char *channel, const char *channel_data,
                              const char *last_id, const char *last_epoch)
{
    char auth[RESDELIV_PUSHER_AUTH_BUFSIZE(sizeof(T_KEY))];
    int n = resdeliv_pusher_channel_auth(T_KEY, T_SECRET, c->socket_id, channel,
                                         channel_data, auth, sizeof(auth));

    ck_assert_int_gt(n, 0);
    return t_subscribe(h, c, channel, auth, channel_data, last_id, last_epoch);
}

/* ---- the HTTP API ------------------------------------------------------- */

struct tresp {
    int calls;
    int status;
    char *body;
};

T_HELPER void t_done(void *arg, struct resdeliv_http_response *resp)
{
    struct tresp *r = arg;

    r->calls++;
    r->status = resp->status;
    free(r->body);
    r->body = resp->body; /* taken */
    resp->body = NULL;
}

/* A request to `path` signed with `secret` at T_NOW; answer in `r`. */
T_HELPER int t_http(struct thost *h, const char *method, const char *path,
                    const char *body, const char *secret, struct tresp *r)
{
    struct resdeliv_http_request req;
    char *query = NULL, err[256] = "";
    size_t len = body != NULL ? strlen(body) : 0;
    int rc =
        resdeliv_pusher_http_sign(method, path, NULL, 0, T_KEY, secret, T_NOW,
                                  body, len, &query, err, sizeof(err));

    ck_assert_msg(rc == 0, "sign: %s", err);
    memset(r, 0, sizeof(*r));
    req.method = method;
    req.path = path;
    req.query = query;
    req.body = body;
    req.body_len = len;
    rc = resdeliv_pusher_server_http(h->ps, &req, T_NOW, t_done, r);
    resdeliv_free(query);
    return rc;
}

T_HELPER int t_publish(struct thost *h, const char *body, struct tresp *r)
{
    return t_http(h, "POST", "/apps/" T_APP_ID "/events", body, T_SECRET, r);
}

T_HELPER void t_resp_clear(struct tresp *r)
{
    free(r->body);
    r->body = NULL;
}

#endif /* PUSHER_TEST_HOST_H */
