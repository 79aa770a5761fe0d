/* SPDX-License-Identifier: MIT */
/*
 * The in-process host of the seam tests (see server_host.h). Failures are
 * Check assertions, so a broken harness fails the test that uses it.
 */
#include "server_host.h"

#include <check.h>
#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the host ---------------------------------------------------------- */

static void record(struct tconn *c, const char *frame, size_t len)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->frames = realloc(c->frames, c->cap * sizeof(*c->frames));
        ck_assert_ptr_nonnull(c->frames);
    }
    c->frames[c->n] = strndup(frame, len);
    ck_assert_ptr_nonnull(c->frames[c->n]);
    c->n++;
    if (c->n - c->since > c->burst) {
        c->burst = c->n - c->since;
    }
}

static int h_send(void *host, void *conn, const char *frame, size_t len)
{
    struct fx *fx = host;
    struct tconn *c = conn;

    ck_assert_uint_eq(strlen(frame), len);
    if (c->closed) {
        return RESDELIV_ECLOSED;
    }
    if (c->fail_send) {
        c->closed = 1;
        resdeliv_server_conn_close(fx->srv, c);
        return RESDELIV_ECLOSED;
    }
    if (c->free_on_send) {
        c->closed = 1;
        resdeliv_server_free(fx->srv);
        fx->srv = NULL;
        return RESDELIV_ECLOSED;
    }
    if (c->budget == 0) {
        return RESDELIV_EAGAIN;
    }
    if (c->budget > 0) {
        c->budget--;
    }
    record(c, frame, len);
    return 0;
}

static int h_broadcast(void *host, const char *channel, size_t channel_len,
                       const char *frame, size_t len, void *except)
{
    struct fx *fx = host;

    for (size_t i = 0; i < fx->njoins; i++) {
        struct join *j = &fx->joins[i];
        if (j->c != except && !j->c->closed &&
            strlen(j->channel) == channel_len &&
            memcmp(j->channel, channel, channel_len) == 0) {
            record(j->c, frame, len);
        }
    }
    return 0;
}

static int h_writable(void *host, void *conn)
{
    (void)host;
    ((struct tconn *)conn)->want = 1;
    return 0;
}

static int h_close(void *host, void *conn, uint32_t code, const char *reason)
{
    struct fx *fx = host;
    struct tconn *c = conn;

    c->closed = 1;
    c->code = code;
    snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason : "");
    if (fx->close_reenters) {
        resdeliv_server_conn_close(fx->srv, c);
    }
    return 0;
}

static int h_join(void *host, void *conn, const char *channel, size_t len)
{
    struct fx *fx = host;
    struct join *j;

    if (((struct tconn *)conn)->fail_join) {
        return RESDELIV_ECLOSED;
    }
    if (fx->njoins == fx->capjoins) {
        fx->capjoins = fx->capjoins ? fx->capjoins * 2 : 16;
        fx->joins = realloc(fx->joins, fx->capjoins * sizeof(*fx->joins));
        ck_assert_ptr_nonnull(fx->joins);
    }
    j = &fx->joins[fx->njoins++];
    j->c = conn;
    ck_assert_uint_le(len, RESDELIV_MAX_CHANNEL_LEN);
    memcpy(j->channel, channel, len);
    j->channel[len] = '\0';
    j->at = j->c->n;
    return 0;
}

static int h_leave(void *host, void *conn, const char *channel, size_t len)
{
    struct fx *fx = host;
    size_t k = 0;

    fx->nleaves++;
    for (size_t i = 0; i < fx->njoins; i++) {
        struct join *j = &fx->joins[i];
        if (j->c != conn || strlen(j->channel) != len ||
            memcmp(j->channel, channel, len) != 0) {
            fx->joins[k++] = *j;
        }
    }
    fx->njoins = k;
    return 0;
}

const struct join *joined(const struct fx *fx, const struct tconn *c,
                          const char *channel)
{
    for (size_t i = 0; i < fx->njoins; i++) {
        if (fx->joins[i].c == c && strcmp(fx->joins[i].channel, channel) == 0) {
            return &fx->joins[i];
        }
    }
    return NULL;
}

/* ---- the deferred store ------------------------------------------------ */

static int def_append(void *self, const char *app, size_t app_len,
                      const struct resdeliv_append_item *items, size_t n,
                      resdeliv_append_cb cb, void *arg)
{
    struct deferred *d = self;

    return resdeliv_store_append(d->inner, app, app_len, items, n, cb, arg);
}

static struct pending *def_keep(struct deferred *d,
                                const struct resdeliv_log_key *key,
                                const struct resdeliv_id *after, void *arg)
{
    struct pending *p;

    ck_assert_uint_lt(d->nq, sizeof(d->q) / sizeof(d->q[0]));
    p = &d->q[d->nq++];
    memset(p, 0, sizeof(*p));
    memcpy(p->channel, key->channel, key->channel_len);
    p->key = *key;
    p->key.channel = p->channel;
    p->has_after = after != NULL;
    if (after != NULL) {
        p->after = *after;
    }
    p->arg = arg;
    return p;
}

static int def_read(void *self, const struct resdeliv_log_key *key,
                    const struct resdeliv_id *after, size_t max,
                    resdeliv_read_cb cb, void *arg)
{
    struct pending *p = def_keep(self, key, after, arg);

    p->kind = 2;
    p->cap = max;
    p->read_cb = cb;
    return 0;
}

static int def_info(void *self, const struct resdeliv_log_key *key,
                    const struct resdeliv_id *after, uint64_t cap,
                    resdeliv_info_cb cb, void *arg)
{
    struct pending *p = def_keep(self, key, after, arg);

    p->kind = 1;
    p->cap = cap;
    p->info_cb = cb;
    return 0;
}

/* A read copied out of the memory store's lock, as a network store hands
 * its reply over. */
struct copied {
    struct resdeliv_stored_entry e[64];
    char *bytes[64];
    size_t n;
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    int status;
};

static void copy_read(void *arg, int status,
                      const struct resdeliv_stored_entry *in, size_t n,
                      const char *epoch)
{
    struct copied *cp = arg;

    ck_assert_uint_le(n, 64);
    cp->status = status;
    cp->n = n;
    snprintf(cp->epoch, sizeof(cp->epoch), "%s", epoch ? epoch : "");
    for (size_t i = 0; i < n; i++) {
        char *b = malloc(in[i].event_len + in[i].data_len + 2);
        ck_assert_ptr_nonnull(b);
        memcpy(b, in[i].event, in[i].event_len);
        b[in[i].event_len] = '\0';
        memcpy(b + in[i].event_len + 1, in[i].data, in[i].data_len);
        b[in[i].event_len + 1 + in[i].data_len] = '\0';
        cp->bytes[i] = b;
        cp->e[i] = in[i];
        cp->e[i].event = b;
        cp->e[i].data = b + in[i].event_len + 1;
    }
}

/* Complete the oldest pending store call. @return 0 when none. */
int def_run_one(struct deferred *d)
{
    struct pending p;
    struct copied cp;

    if (d->nq == 0) {
        return 0;
    }
    p = d->q[0];
    p.key.channel = p.channel;
    memmove(d->q, d->q + 1, (d->nq - 1) * sizeof(d->q[0]));
    d->nq--;
    if (p.kind == 1) {
        ck_assert_int_eq(resdeliv_store_info(d->inner, &p.key,
                                             p.has_after ? &p.after : NULL,
                                             p.cap, p.info_cb, p.arg),
                         0);
        return 1;
    }
    memset(&cp, 0, sizeof(cp));
    ck_assert_uint_le(p.cap, 64);
    ck_assert_int_eq(resdeliv_store_read(d->inner, &p.key, &p.after,
                                         (size_t)p.cap, copy_read, &cp),
                     0);
    p.read_cb(p.arg, cp.status, cp.e, cp.n, cp.epoch);
    for (size_t i = 0; i < cp.n; i++) {
        free(cp.bytes[i]);
    }
    return 1;
}

static resdeliv_store *deferred_store(resdeliv_store *inner,
                                      struct deferred **out)
{
    struct resdeliv_store_ops ops = {
        RESDELIV_STRUCT_HEAD(ops), .flags = 0,       .name = "deferred",
        .append = def_append,      .read = def_read, .info = def_info,
        .destroy = free,
    };
    struct deferred *d = calloc(1, sizeof(*d));
    resdeliv_store *st = NULL;

    ck_assert_ptr_nonnull(d);
    d->inner = inner;
    ck_assert_int_eq(resdeliv_store_new(&ops, d, &st), 0);
    *out = d;
    return st;
}

/* ---- fixture ----------------------------------------------------------- */

static uint64_t test_now(void *arg)
{
    return *(uint64_t *)arg;
}

struct resdeliv_transport host_transport(struct fx *fx)
{
    struct resdeliv_transport tp = {
        RESDELIV_STRUCT_HEAD(tp),
        .host = fx,
        .send = h_send,
        .broadcast = h_broadcast,
        .request_writable = h_writable,
        .close = h_close,
        .join = h_join,
        .leave = h_leave,
    };
    return tp;
}

void fx_open_with(struct fx *fx, const struct resdeliv_config *cfg,
                  const struct resdeliv_server_options *opts, int deferred)
{
    struct resdeliv_memory_options mo = {RESDELIV_STRUCT_HEAD(mo)};
    struct resdeliv_transport tp;
    char err[256] = "";

    memset(fx, 0, sizeof(*fx));
    fx->now = 1000;
    mo.clock.now_ms = test_now;
    mo.clock.arg = &fx->now;
    ck_assert_int_eq(resdeliv_store_memory_new(&mo, &fx->mem), 0);
    fx->store = deferred ? deferred_store(fx->mem, &fx->def) : fx->mem;
    ck_assert_msg(resdeliv_log_open(cfg, fx->store, "app", &fx->log, err,
                                    sizeof(err)) == 0,
                  "log: %s", err);
    tp = host_transport(fx);
    ck_assert_int_eq(resdeliv_server_new(fx->log, &tp, opts, &fx->srv), 0);
    for (int i = 0; i < MAXCONN; i++) {
        fx->conns[i].budget = -1;
        ck_assert_int_eq(resdeliv_server_conn_open(fx->srv, &fx->conns[i]), 0);
    }
}

/* Batch size `batch`, retention `cap`, gap notices on or off. */
void fx_open(struct fx *fx, uint64_t batch, uint64_t cap, int gap,
             const struct resdeliv_server_options *opts)
{
    struct resdeliv_config cfg;

    resdeliv_config_init(&cfg);
    cfg.replay_batch_size = batch;
    cfg.default_max_messages = cap;
    cfg.gap_notice = (uint32_t)gap;
    fx_open_with(fx, &cfg, opts, 0);
}

void fx_close(struct fx *fx)
{
    resdeliv_server_free(fx->srv);
    while (fx->def != NULL && def_run_one(fx->def)) {
    }
    resdeliv_log_close(fx->log);
    if (fx->store != fx->mem) {
        resdeliv_store_free(fx->store);
    }
    resdeliv_store_free(fx->mem);
    for (int i = 0; i < MAXCONN; i++) {
        for (size_t k = 0; k < fx->conns[i].n; k++) {
            free(fx->conns[i].frames[k]);
        }
        free(fx->conns[i].frames);
    }
    free(fx->joins);
}

struct pub_arg {
    struct fx *fx;
    int seq;
    int calls;
};

static void on_pub(void *arg, int status, struct resdeliv_publish_result *r,
                   size_t n)
{
    struct pub_arg *pa = arg;

    ck_assert_int_eq(status, 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(r[0].status, 0);
    pa->fx->ids[pa->seq] = r[0].position.id;
    pa->calls++;
}

/* Publish `count` messages {"seq":N} on `channel` through the server. */
void pub(struct fx *fx, const char *channel, int count)
{
    for (int i = 0; i < count; i++) {
        struct pub_arg pa = {fx, fx->seq, 0};
        struct resdeliv_message m = {0};
        char data[64];

        ck_assert_int_lt(fx->seq, MAXSEQ);
        fx->now += 1;
        snprintf(data, sizeof(data), "{\"seq\":%d}", fx->seq);
        m.channel = channel;
        m.channel_len = strlen(channel);
        m.event = "ev";
        m.event_len = 2;
        m.data = data;
        m.data_len = strlen(data);
        ck_assert_int_eq(
            resdeliv_server_publish(fx->srv, &m, 1, NULL, on_pub, &pa), 0);
        ck_assert_int_eq(pa.calls, 1);
        fx->seq++;
    }
}

void id_text(const struct fx *fx, int seq, char *buf)
{
    ck_assert_int_gt(
        resdeliv_id_format(&fx->ids[seq], buf, RESDELIV_ID_BUFSIZE), 0);
}

/* Subscribe conns[k] to CH resuming after message `seq` (-1: no id). */
int sub(struct fx *fx, int k, int seq)
{
    char id[RESDELIV_ID_BUFSIZE];

    if (seq < 0) {
        return resdeliv_server_subscribe(fx->srv, &fx->conns[k], CH, NULL, NULL,
                                         NULL, 0);
    }
    id_text(fx, seq, id);
    return resdeliv_server_subscribe(fx->srv, &fx->conns[k], CH, id, NULL, NULL,
                                     0);
}

/* Give every connection that asked its writable turns until none asks. */
void drive(struct fx *fx)
{
    int rounds = 0;
    int any;

    do {
        any = 0;
        for (int i = 0; i < MAXCONN; i++) {
            struct tconn *c = &fx->conns[i];
            if (c->want && !c->closed) {
                c->want = 0;
                c->since = c->n;
                any = 1;
                ck_assert_int_eq(resdeliv_server_writable(fx->srv, c), 0);
            }
        }
        ck_assert_int_lt(++rounds, 100000);
    } while (any);
}

struct resdeliv_server_stats stats(const struct fx *fx)
{
    struct resdeliv_server_stats st;

    ck_assert_int_eq(resdeliv_server_stats(fx->srv, &st, sizeof(st)), 0);
    return st;
}

/* ---- reading frames ---------------------------------------------------- */

static void copy_str(const cJSON *o, const char *name, char *buf, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    buf[0] = '\0';
    if (cJSON_IsString(v)) {
        snprintf(buf, size, "%s", v->valuestring);
    }
}

struct fr frame_at(const struct tconn *c, size_t i)
{
    struct fr f;
    cJSON *root, *inner = NULL;
    const cJSON *data, *v;

    memset(&f, 0, sizeof(f));
    f.seq = -1;
    ck_assert_uint_lt(i, c->n);
    root = cJSON_Parse(c->frames[i]);
    ck_assert_msg(root != NULL, "not JSON: %s", c->frames[i]);
    copy_str(root, "event", f.event, sizeof(f.event));
    copy_str(root, "channel", f.channel, sizeof(f.channel));
    data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (cJSON_IsString(data)) {
        inner = cJSON_Parse(data->valuestring);
        data = inner;
    }
    if (cJSON_IsObject(data)) {
        v = cJSON_GetObjectItemCaseSensitive(data, "seq");
        f.seq = cJSON_IsNumber(v) ? v->valueint : -1;
        v = cJSON_GetObjectItemCaseSensitive(data, "code");
        f.code = cJSON_IsNumber(v) ? v->valueint : 0;
        copy_str(data, "_replay_id", f.id, sizeof(f.id));
        copy_str(data, "reason", f.reason, sizeof(f.reason));
    }
    cJSON_Delete(inner);
    cJSON_Delete(root);
    return f;
}

void expect_event(const struct tconn *c, size_t i, const char *event)
{
    struct fr f = frame_at(c, i);

    ck_assert_msg(strcmp(f.event, event) == 0, "frame %zu: %s, not %s", i,
                  c->frames[i], event);
}

/* Frames [at, at + count) are messages seq first, first + 1, ... */
void expect_seqs(const struct tconn *c, size_t at, int first, int count)
{
    for (int k = 0; k < count; k++) {
        struct fr f = frame_at(c, at + (size_t)k);
        ck_assert_msg(f.seq == first + k && strcmp(f.event, "ev") == 0 &&
                          strcmp(f.channel, CH) == 0,
                      "frame %zu is %s, expected seq %d", at + (size_t)k,
                      c->frames[at + (size_t)k], first + k);
    }
}
