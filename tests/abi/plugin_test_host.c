/* SPDX-License-Identifier: MIT */
/*
 * The in-process host of check_plugin (plugin_test_host.h): the transport
 * callbacks, the writable pump and the frame readers. Assertions are
 * Check's, so a test that uses a helper fails at the helper's line.
 */
#include "plugin_test_host.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct resdeliv_plugin *plugin;

/* ---------------------------------------------------- in-process host */

static void record(struct conn *c, const char *frame, size_t len)
{
    ck_assert_uint_lt(c->n, MAXFRAMES);
    c->frames[c->n] = strndup(frame, len);
    ck_assert_ptr_nonnull(c->frames[c->n]);
    c->n++;
}

static int h_send(void *h, void *conn, const char *frame, size_t len)
{
    struct conn *c = conn;

    (void)h;
    if (c->closed) {
        return RESDELIV_ECLOSED;
    }
    record(c, frame, len);
    return 0;
}

static int h_broadcast(void *hp, const char *channel, size_t channel_len,
                       const char *frame, size_t len, void *except)
{
    struct host *h = hp;

    for (size_t i = 0; i < h->njoins; i++) {
        if (h->joins[i].c != except && !h->joins[i].c->closed &&
            strlen(h->joins[i].channel) == channel_len &&
            memcmp(h->joins[i].channel, channel, channel_len) == 0) {
            record(h->joins[i].c, frame, len);
        }
    }
    return 0;
}

static int h_writable(void *h, void *conn)
{
    (void)h;
    ((struct conn *)conn)->want = 1;
    return 0;
}

static int h_close(void *h, void *conn, uint32_t code, const char *reason)
{
    (void)h;
    (void)code;
    (void)reason;
    ((struct conn *)conn)->closed = 1;
    return 0;
}

static void h_log(void *hp, uint32_t level, const char *msg)
{
    (void)level;
    (void)msg;
    ((struct host *)hp)->logs++;
}

static int h_join(void *hp, void *conn, const char *channel, size_t len)
{
    struct host *h = hp;

    ck_assert_uint_lt(h->njoins, MAXJOINS);
    ck_assert_uint_lt(len, sizeof(h->joins[0].channel));
    h->joins[h->njoins].c = conn;
    memcpy(h->joins[h->njoins].channel, channel, len);
    h->joins[h->njoins].channel[len] = '\0';
    h->njoins++;
    return 0;
}

/* Drops every membership of `conn`: a closed socket leaves its channels. */
void forget(struct host *h, const void *conn)
{
    size_t k = 0;

    for (size_t i = 0; i < h->njoins; i++) {
        if (h->joins[i].c != conn) {
            h->joins[k++] = h->joins[i];
        }
    }
    h->njoins = k;
}

static int h_leave(void *hp, void *conn, const char *channel, size_t len)
{
    (void)channel;
    (void)len;
    forget(hp, conn);
    return 0;
}

struct resdeliv_transport transport_of(struct host *h)
{
    struct resdeliv_transport tp = {
        RESDELIV_STRUCT_HEAD(tp),
        .host = h,
        .send = h_send,
        .broadcast = h_broadcast,
        .request_writable = h_writable,
        .close = h_close,
        .log = h_log,
        .join = h_join,
        .leave = h_leave,
    };
    return tp;
}

void host_clear(struct host *h)
{
    for (size_t i = 0; i < sizeof(h->conns) / sizeof(h->conns[0]); i++) {
        for (size_t j = 0; j < h->conns[i].n; j++) {
            free(h->conns[i].frames[j]);
        }
    }
}

/* Answers writable callbacks until nobody asks for one. */
void pump(struct host *h, void *inst)
{
    for (int round = 0, busy = 1; busy; round++) {
        ck_assert_int_lt(round, 1000);
        busy = 0;
        for (size_t i = 0; i < sizeof(h->conns) / sizeof(h->conns[0]); i++) {
            if (h->conns[i].want && !h->conns[i].closed) {
                h->conns[i].want = 0;
                busy = 1;
                ck_assert_int_eq(plugin->writable(inst, &h->conns[i]), 0);
            }
        }
    }
}

/* ------------------------------------------------------ frame reading */

/* The event name of frame `i` of `c`, into `ev`. */
void frame_event(const struct conn *c, size_t i, char *ev, size_t n)
{
    cJSON *f = cJSON_Parse(c->frames[i]);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(f, "event");

    ck_assert_msg(cJSON_IsString(e), "frame without event: %s", c->frames[i]);
    snprintf(ev, n, "%s", e->valuestring);
    cJSON_Delete(f);
}

/* The "n" member of the data of broadcast frame `i`, and its replay id. */
int frame_n(const struct conn *c, size_t i, char *id, size_t idsize)
{
    cJSON *f = cJSON_Parse(c->frames[i]);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(f, "data");
    cJSON *data = cJSON_IsString(d) ? cJSON_Parse(d->valuestring) : NULL;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(data, "n");
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(data, "_replay_id");
    int v;

    ck_assert_msg(cJSON_IsNumber(n) && cJSON_IsString(rid),
                  "not a tagged message: %s", c->frames[i]);
    v = n->valueint;
    if (id != NULL) {
        snprintf(id, idsize, "%s", rid->valuestring);
    }
    cJSON_Delete(data);
    cJSON_Delete(f);
    return v;
}

void expect_event(const struct conn *c, size_t i, const char *event)
{
    char ev[96];

    ck_assert_uint_lt(i, c->n);
    frame_event(c, i, ev, sizeof(ev));
    ck_assert_msg(strcmp(ev, event) == 0, "frame %zu is %s, not %s", i, ev,
                  event);
}

void *make(struct host *h, struct resdeliv_transport *tp)
{
    struct resdeliv_plugin_host ph = {RESDELIV_STRUCT_HEAD(ph),
                                      .transport = tp};
    char err[256] = "";
    void *inst = NULL;
    int rc;

    *tp = transport_of(h);
    rc = plugin->create(&ph, APP_CONFIG, strlen(APP_CONFIG), &inst, err,
                        sizeof(err));
    ck_assert_msg(rc == 0, "create: %s: %s", resdeliv_err_name(rc), err);
    ck_assert_ptr_nonnull(inst);
    return inst;
}

void publish(void *inst, int from, int to)
{
    char data[64];

    for (int i = from; i <= to; i++) {
        snprintf(data, sizeof(data), "{\"n\":%d}", i);
        ck_assert_int_eq(
            plugin->broadcast(inst, "news", "update", data, strlen(data), NULL),
            0);
    }
}

/* Frames [first, c->n) are messages n = from..to, each once, in order. */
void expect_run(const struct conn *c, size_t first, int from, int to)
{
    ck_assert_uint_eq(c->n - first, (size_t)(to - from + 1));
    for (size_t i = first; i < c->n; i++) {
        ck_assert_int_eq(frame_n(c, i, NULL, 0), from + (int)(i - first));
    }
}
