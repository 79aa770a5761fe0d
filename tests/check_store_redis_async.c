/* SPDX-License-Identifier: MIT */
/*
 * The event-loop Redis store against a private redis-server, driven by a
 * real libuv loop and a real libevent loop through the header-only
 * adapters: the shared store conformance suite (through a test-side store
 * that runs the loop until each operation completes), bad arguments, and
 * faults: the server killed with publishes and a replay in flight, the
 * store freed with operations in flight (also from inside a callback),
 * reconnection, 10,000 publishes in flight with no memory growth, and
 * appends without the script (a plain pipeline) with their fall-backs to
 * it.
 *
 * Each loop-driven test is a loop test over the loop kinds this build has
 * (libuv and/or libevent are optional test dependencies).
 */
#include "redis_async_internal.h"
#include "redis_suite.h"
#include "store_conformance.h"

#include <check.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef RESDELIV_TEST_LIBUV
#include <resdeliv/adapters/libuv.h>
#endif
#ifdef RESDELIV_TEST_LIBEVENT
#include <resdeliv/adapters/libevent.h>
#endif
#if defined(__SANITIZE_ADDRESS__)
/* From ASan's allocator interface (its header is not always installed). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#define KIND_UV 0
#define KIND_EVENT 1
#define NKINDS 2
#define WAIT_MS 15000u

static struct redis_server srv;
static char errbuf[512];

/* ---- a loop of either kind ---- */

struct tloop {
    int kind;
    struct resdeliv_loop hooks;
#ifdef RESDELIV_TEST_LIBUV
    uv_loop_t uv;
    uv_timer_t tick;
#endif
#ifdef RESDELIV_TEST_LIBEVENT
    struct event_base *base;
    struct event *tick_ev;
#endif
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int kind_available(int kind)
{
#ifdef RESDELIV_TEST_LIBUV
    if (kind == KIND_UV) {
        return 1;
    }
#endif
#ifdef RESDELIV_TEST_LIBEVENT
    if (kind == KIND_EVENT) {
        return 1;
    }
#endif
    return 0;
}

#ifdef RESDELIV_TEST_LIBUV
static void uv_tick(uv_timer_t *t)
{
    (void)t;
}
#endif
#ifdef RESDELIV_TEST_LIBEVENT
static void ev_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}
#endif

/* A tick every 10 ms bounds each iteration, so waits can time out. */
static struct tloop *tloop_new(int kind)
{
    struct tloop *l = calloc(1, sizeof(*l));

    ck_assert_ptr_nonnull(l);
    l->kind = kind;
#ifdef RESDELIV_TEST_LIBUV
    if (kind == KIND_UV) {
        ck_assert_int_eq(uv_loop_init(&l->uv), 0);
        uv_timer_init(&l->uv, &l->tick);
        uv_timer_start(&l->tick, uv_tick, 10, 10);
        resdeliv_loop_uv_init(&l->hooks, &l->uv);
    }
#endif
#ifdef RESDELIV_TEST_LIBEVENT
    if (kind == KIND_EVENT) {
        struct timeval tv = {0, 10000};
        l->base = event_base_new();
        ck_assert_ptr_nonnull(l->base);
        l->tick_ev = event_new(l->base, -1, EV_PERSIST, ev_tick, NULL);
        event_add(l->tick_ev, &tv);
        resdeliv_loop_event_init(&l->hooks, l->base);
    }
#endif
    return l;
}

static void tloop_once(struct tloop *l)
{
#ifdef RESDELIV_TEST_LIBUV
    if (l->kind == KIND_UV) {
        uv_run(&l->uv, UV_RUN_ONCE);
    }
#endif
#ifdef RESDELIV_TEST_LIBEVENT
    if (l->kind == KIND_EVENT) {
        event_base_loop(l->base, EVLOOP_ONCE);
    }
#endif
}

/* Run until *count reaches want; 0 or -1 on timeout. */
static int tloop_until(struct tloop *l, const size_t *count, size_t want,
                       uint64_t ms)
{
    uint64_t end = now_ms() + ms;

    while (*count < want) {
        if (now_ms() > end) {
            return -1;
        }
        tloop_once(l);
    }
    return 0;
}

static void tloop_spin(struct tloop *l, uint64_t ms)
{
    uint64_t end = now_ms() + ms;
    while (now_ms() < end) {
        tloop_once(l);
    }
}

/* Frees the loop; every handle the adapters made must be closed by now
 * (libuv refuses to close a loop with open handles). */
static void tloop_free(struct tloop *l)
{
#ifdef RESDELIV_TEST_LIBUV
    if (l->kind == KIND_UV) {
        uv_timer_stop(&l->tick);
        uv_close((uv_handle_t *)&l->tick, NULL);
        uv_run(&l->uv, UV_RUN_DEFAULT);
        ck_assert_int_eq(uv_loop_close(&l->uv), 0);
    }
#endif
#ifdef RESDELIV_TEST_LIBEVENT
    if (l->kind == KIND_EVENT) {
        event_free(l->tick_ev);
        ck_assert_int_eq(event_base_get_num_events(l->base,
                                                   EVENT_BASE_COUNT_ADDED),
                         0);
        event_base_free(l->base);
    }
#endif
    free(l);
}

static int make_async(const char *url, struct tloop *l, uint64_t cmd_ms,
                      resdeliv_store **out)
{
    struct resdeliv_redis_options o;

    resdeliv_redis_options_init(&o);
    o.url = url;
    o.key_prefix = "ta";
    o.connect_timeout_ms = 1000;
    if (cmd_ms != 0) {
        o.command_timeout_ms = cmd_ms;
    }
    errbuf[0] = '\0';
    return resdeliv_store_redis_async_new(&o, &l->hooks, out, errbuf,
                                          sizeof(errbuf));
}

static resdeliv_store *async_or_fail(const char *url, struct tloop *l)
{
    resdeliv_store *st = NULL;
    int rc = make_async(url, l, 0, &st);
    ck_assert_msg(rc == 0, "store: %s (%s)", resdeliv_strerror(rc), errbuf);
    return st;
}

/* ---- a synchronous store over the async one, for conformance ---- */

struct shim {
    resdeliv_store *inner;
    struct tloop *l;
};

struct fwd {
    size_t done;
    union {
        resdeliv_append_cb append;
        resdeliv_read_cb read;
        resdeliv_info_cb info;
        resdeliv_done_cb drop;
    } cb;
    void *arg;
};

static void fwd_append(void *a, int status,
                       const struct resdeliv_append_result *res, size_t n)
{
    struct fwd *f = a;
    f->cb.append(f->arg, status, res, n);
    f->done++;
}

static void fwd_read(void *a, int status,
                     const struct resdeliv_stored_entry *e, size_t n,
                     const char *epoch)
{
    struct fwd *f = a;
    f->cb.read(f->arg, status, e, n, epoch);
    f->done++;
}

static void fwd_info(void *a, int status, const struct resdeliv_log_info *i)
{
    struct fwd *f = a;
    f->cb.info(f->arg, status, i);
    f->done++;
}

static void fwd_drop(void *a, int status)
{
    struct fwd *f = a;
    f->cb.drop(f->arg, status);
    f->done++;
}

static int shim_wait(struct shim *sh, struct fwd *f, int rc)
{
    if (rc == 0) {
        ck_assert_msg(tloop_until(sh->l, &f->done, 1, WAIT_MS) == 0,
                      "async store did not complete: %s",
                      resdeliv_store_errmsg(sh->inner));
        ck_assert_uint_eq(f->done, 1);
    }
    return rc;
}

static int shim_append(void *self, const char *app, size_t app_len,
                       const struct resdeliv_append_item *items, size_t n,
                       resdeliv_append_cb cb, void *arg)
{
    struct shim *sh = self;
    struct fwd f = {0};

    f.cb.append = cb;
    f.arg = arg;
    return shim_wait(sh, &f,
                     resdeliv_store_append(sh->inner, app, app_len, items,
                                           n, fwd_append, &f));
}

static int shim_read(void *self, const struct resdeliv_log_key *key,
                     const struct resdeliv_id *after, size_t max,
                     resdeliv_read_cb cb, void *arg)
{
    struct shim *sh = self;
    struct fwd f = {0};

    f.cb.read = cb;
    f.arg = arg;
    return shim_wait(sh, &f,
                     resdeliv_store_read(sh->inner, key, after, max,
                                         fwd_read, &f));
}

static int shim_info(void *self, const struct resdeliv_log_key *key,
                     const struct resdeliv_id *after, uint64_t cap,
                     resdeliv_info_cb cb, void *arg)
{
    struct shim *sh = self;
    struct fwd f = {0};

    f.cb.info = cb;
    f.arg = arg;
    return shim_wait(sh, &f,
                     resdeliv_store_info(sh->inner, key, after, cap,
                                         fwd_info, &f));
}

static int shim_drop(void *self, const struct resdeliv_log_key *key,
                     resdeliv_done_cb cb, void *arg)
{
    struct shim *sh = self;
    struct fwd f = {0};

    f.cb.drop = cb;
    f.arg = arg;
    return shim_wait(sh, &f,
                     resdeliv_store_drop(sh->inner, key, fwd_drop, &f));
}

static void shim_destroy(void *self)
{
    struct shim *sh = self;

    resdeliv_store_free(sh->inner);
    tloop_free(sh->l);
    free(sh);
}

static const char *shim_errmsg(void *self)
{
    struct shim *sh = self;
    return resdeliv_store_errmsg(sh->inner);
}

static const struct resdeliv_store_ops shim_ops = {
    RESDELIV_STRUCT_HEAD(shim_ops),
    .flags = RESDELIV_STORE_SYNC,
    .name = "redis-async-shim",
    .append = shim_append,
    .read = shim_read,
    .info = shim_info,
    .drop = shim_drop,
    .destroy = shim_destroy,
    .errmsg = shim_errmsg,
};

static const int kinds[NKINDS] = {KIND_UV, KIND_EVENT};

static int make_shim(resdeliv_store **out, void *arg)
{
    struct shim *sh = calloc(1, sizeof(*sh));
    int rc;

    ck_assert_ptr_nonnull(sh);
    sh->l = tloop_new(*(const int *)arg);
    rc = make_async(srv.url, sh->l, 0, &sh->inner);
    if (rc == 0) {
        rc = resdeliv_store_new(&shim_ops, sh, out);
    }
    ck_assert_int_eq(rc, 0);
    return rc;
}

/* ---- helpers over the raw store ---- */

struct counts {
    size_t calls;
    size_t ok;
    size_t failed;
    int last_status;
    int *per;          /* calls per index, for exactly-once checks */
};

struct tag {
    struct counts *c;
    size_t index;
};

static void on_count_append(void *arg, int status,
                            const struct resdeliv_append_result *res,
                            size_t n)
{
    struct tag *t = arg;

    (void)res;
    (void)n;
    t->c->calls++;
    t->c->per[t->index]++;
    t->c->last_status = status;
    if (status == 0 && n == 1 && res[0].status == 0) {
        t->c->ok++;
    } else {
        t->c->failed++;
    }
}

static int append_one(resdeliv_store *st, const char *app, const char *chan,
                      struct tag *t)
{
    struct resdeliv_append_item it = {.channel = chan,
                                      .channel_len = strlen(chan),
                                      .event = "ev",
                                      .event_len = 2,
                                      .data = "{\"a\":1}",
                                      .data_len = 7,
                                      .retention = {100, 0}};
    return resdeliv_store_append(st, app, strlen(app), &it, 1,
                                 on_count_append, t);
}

/* Append until one succeeds (after a restart the store reconnects on its
 * own backoff timer); 0 on success. */
static int append_until_ok(struct tloop *l, resdeliv_store *st,
                           const char *app)
{
    uint64_t end = now_ms() + WAIT_MS;
    int per[1];
    struct counts c;
    struct tag t = {&c, 0};

    while (now_ms() < end) {
        memset(&c, 0, sizeof(c));
        c.per = per;
        per[0] = 0;
        if (append_one(st, app, "ch", &t) == 0) {
            ck_assert_int_eq(tloop_until(l, &c.calls, 1, WAIT_MS), 0);
            if (c.ok == 1) {
                return 0;
            }
        } else {
            ck_assert_str_ne(resdeliv_store_errmsg(st), "");
        }
        tloop_spin(l, 20);
    }
    return -1;
}

static void start_own(struct redis_server *own)
{
    int rc = redis_server_start(own, NULL);
    ck_assert_msg(rc == REDIS_SERVER_OK, "cannot start redis-server");
}

#define SKIP_UNLESS_KIND(k)                                                    \
    do {                                                                       \
        if (!kind_available(k)) {                                              \
            return;                                                            \
        }                                                                      \
    } while (0)

/* ---- arguments ---- */

struct fake {
    int watches;   /* live watchers */
    int timers;    /* live timers */
    int started;
    char handle;   /* address used as a handle */
};

static int fake_watch(void *loop, int fd, uint32_t ev, resdeliv_loop_io_cb cb,
                      void *arg, void **w)
{
    struct fake *f = loop;
    (void)fd, (void)ev, (void)cb, (void)arg;
    if (*w == NULL) {
        f->watches++;
        *w = &f->handle;
    }
    return 0;
}

static void fake_unwatch(void *loop, void **w)
{
    struct fake *f = loop;
    if (*w != NULL) {
        f->watches--;
        *w = NULL;
    }
}

static int fake_timer_start(void *loop, uint64_t ms, resdeliv_loop_timer_cb cb,
                            void *arg, void **t)
{
    struct fake *f = loop;
    (void)ms, (void)cb, (void)arg;
    f->started++;
    if (*t == NULL) {
        f->timers++;
        *t = &f->handle;
    }
    return 0;
}

static void fake_timer_stop(void *loop, void **t)
{
    struct fake *f = loop;
    if (*t != NULL) {
        f->timers--;
        *t = NULL;
    }
}

static struct resdeliv_loop fake_hooks(struct fake *f)
{
    struct resdeliv_loop l = {RESDELIV_STRUCT_HEAD(l)};
    l.loop = f;
    l.watch = fake_watch;
    l.unwatch = fake_unwatch;
    l.timer_start = fake_timer_start;
    l.timer_stop = fake_timer_stop;
    return l;
}

START_TEST(bad_arguments)
{
    struct fake f = {0};
    struct resdeliv_loop l = fake_hooks(&f);
    struct resdeliv_redis_options o;
    resdeliv_store *st = (resdeliv_store *)&f;
    char err[256];

    resdeliv_redis_options_init(&o);
    o.url = srv.url;
    ck_assert_int_eq(resdeliv_store_redis_async_new(&o, NULL, &st, err,
                                                    sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(strstr(err, "loop"));
    l.timer_start = NULL;
    ck_assert_int_eq(resdeliv_store_redis_async_new(&o, &l, &st, err,
                                                    sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "timer_start"));
    l = fake_hooks(&f);
    l.struct_size = 8;
    ck_assert_int_eq(resdeliv_store_redis_async_new(&o, &l, &st, err,
                                                    sizeof(err)),
                     RESDELIV_EINVAL);
    l = fake_hooks(&f);
    l.abi_version = 7u << 16;
    ck_assert_int_eq(resdeliv_store_redis_async_new(&o, &l, &st, err,
                                                    sizeof(err)),
                     RESDELIV_EABI);
    l = fake_hooks(&f);
    o.url = "redis://127.0.0.1:99999";
    ck_assert_int_eq(resdeliv_store_redis_async_new(&o, &l, &st, err,
                                                    sizeof(err)),
                     RESDELIV_EBADURL);
    ck_assert_ptr_nonnull(strstr(err, "port"));
    ck_assert_int_eq(resdeliv_store_redis_async_new(NULL, &l, &st, err,
                                                    sizeof(err)),
                     RESDELIV_EINVAL);
    o.url = srv.url;
    ck_assert_int_eq(resdeliv_store_redis_async_new(&o, &l, NULL, err,
                                                    sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(f.watches + f.timers, 0);
}
END_TEST

START_TEST(hooks_released)
{
    struct fake f = {0};
    struct resdeliv_loop l = fake_hooks(&f);
    struct resdeliv_redis_options o;
    resdeliv_store *st = NULL;
    resdeliv_log *log = NULL;
    struct resdeliv_message m = {"ch", 2, "ev", 2, "{}", 2};
    struct resdeliv_publish_result res;

    resdeliv_redis_options_init(&o);
    o.url = srv.url;
    ck_assert_int_eq(resdeliv_store_redis_async_new(&o, &l, &st, errbuf,
                                                    sizeof(errbuf)),
                     0);
    /* Connecting is under way: a write watcher and the connect deadline. */
    ck_assert_int_eq(f.watches, 1);
    ck_assert_int_eq(f.timers, 1);
    ck_assert_uint_eq(resdeliv_store_flags(st) & RESDELIV_STORE_SYNC, 0);
    ck_assert_str_eq(resdeliv_store_name(st), "redis");
    ck_assert_int_eq(resdeliv_log_open(NULL, st, "app", &log, errbuf,
                                       sizeof(errbuf)),
                     0);
    memset(&res, 0, sizeof(res));
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_ENOTSUP);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
    ck_assert_int_eq(f.watches, 0);
    ck_assert_int_eq(f.timers, 0);
}
END_TEST

/* ---- faults ---- */

START_TEST(down_fails_at_once)
{
    struct tloop *l;
    struct redis_server own;
    resdeliv_store *st;
    int per[1] = {0};
    struct counts c = {0};
    struct tag t = {&c, 0};
    int rc;

    SKIP_UNLESS_KIND(kinds[_i]);
    l = tloop_new(kinds[_i]);
    c.per = per;
    start_own(&own);
    redis_server_kill(&own);
    st = async_or_fail(own.url, l);
    /* Failed connects leave a clean state for the next attempt: with
     * hiredis 1.x the cleanup hook runs before the NULL replies, which
     * once made every later attempt fail to queue its handshake. */
    for (int i = 0; i < 10; i++) {
        tloop_spin(l, 20);
        ck_assert_msg(strstr(resdeliv_store_errmsg(st), "cannot queue") ==
                          NULL,
                      "%s", resdeliv_store_errmsg(st));
    }
    /* Disconnected, an append fails at once without its callback; caught
     * in the middle of a reconnect attempt (a loaded machine), it waits
     * for that attempt and then fails through its callback, exactly once.
     * Either way it fails with a store error and never hangs. */
    rc = append_one(st, "down", "ch", &t);
    if (rc == 0) {
        uint64_t end = now_ms() + WAIT_MS;
        while (c.calls == 0 && now_ms() < end) {
            tloop_spin(l, 20);
        }
        ck_assert_uint_eq(c.calls, 1);
        ck_assert_uint_eq(c.failed, 1);
        ck_assert_int_eq(per[0], 1);
    } else {
        ck_assert_int_eq(rc, RESDELIV_ESTORE);
        ck_assert_ptr_nonnull(strstr(resdeliv_store_errmsg(st), "Redis"));
        tloop_spin(l, 50);
        ck_assert_uint_eq(c.calls, 0);
    }
    ck_assert_ptr_nonnull(strstr(resdeliv_store_errmsg(st), "Redis"));
    ck_assert_int_eq(redis_server_restart(&own), REDIS_SERVER_OK);
    ck_assert_int_eq(append_until_ok(l, st, "down"), 0);
    resdeliv_store_free(st);
    tloop_free(l);
    redis_server_stop(&own);
}
END_TEST

#define INFLIGHT 1000

struct pubs {
    size_t calls;
    int per[INFLIGHT];
    size_t logged, untagged_ok, failed;
};

struct pub_tag {
    struct pubs *p;
    size_t index;
    const char *data;
};

static void on_pub(void *arg, int status, struct resdeliv_publish_result *r,
                   size_t n)
{
    struct pub_tag *t = arg;
    struct pubs *p = t->p;

    p->calls++;
    p->per[t->index]++;
    ck_assert_int_eq(status, 0);
    ck_assert_uint_eq(n, 1);
    if (r[0].status == RESDELIV_ESTORE) {
        p->failed++;
    } else if (r[0].logged) {
        p->logged++;
    } else if (!r[0].tagged && r[0].status == 0 &&
               strcmp(r[0].payload, t->data) == 0) {
        p->untagged_ok++;
    }
}

static resdeliv_log *open_log(resdeliv_store *st, uint32_t on_failure,
                              uint64_t batch)
{
    struct resdeliv_config cfg;
    resdeliv_log *log = NULL;

    resdeliv_config_init(&cfg);
    cfg.on_log_failure = on_failure;
    if (batch != 0) {
        cfg.replay_batch_size = batch;
    }
    ck_assert_int_eq(resdeliv_log_open(&cfg, st, "faults", &log, errbuf,
                                       sizeof(errbuf)),
                     0);
    return log;
}

/* Publish INFLIGHT messages, SIGKILL the server before the loop writes
 * them, and collect every callback. */
static void publish_into_kill(struct tloop *l, resdeliv_log *log,
                              struct redis_server *own, struct pubs *p,
                              struct pub_tag *tags)
{
    static const char data[] = "{\"k\":\"v\"}";

    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < INFLIGHT; i++) {
        struct resdeliv_message m = {"ch", 2, "ev", 2, data, sizeof(data) - 1};
        tags[i] = (struct pub_tag){p, i, data};
        ck_assert_int_eq(resdeliv_log_publish_async(log, &m, 1, on_pub,
                                                    &tags[i]),
                         0);
    }
    redis_server_kill(own);
    ck_assert_int_eq(tloop_until(l, &p->calls, INFLIGHT, WAIT_MS), 0);
    tloop_spin(l, 30);
    ck_assert_uint_eq(p->calls, INFLIGHT);
    for (size_t i = 0; i < INFLIGHT; i++) {
        ck_assert_int_eq(p->per[i], 1);
    }
}

START_TEST(kill_with_publishes_in_flight)
{
    struct tloop *l;
    struct redis_server own;
    resdeliv_store *st;
    resdeliv_log *log;
    struct resdeliv_counters k;
    static struct pubs p;
    static struct pub_tag tags[INFLIGHT];

    SKIP_UNLESS_KIND(kinds[_i]);
    l = tloop_new(kinds[_i]);
    start_own(&own);
    st = async_or_fail(own.url, l);
    ck_assert_int_eq(append_until_ok(l, st, "faults"), 0);

    /* deliver_untagged: live delivery goes on, untagged and counted. */
    log = open_log(st, RESDELIV_ON_FAILURE_DELIVER_UNTAGGED, 0);
    publish_into_kill(l, log, &own, &p, tags);
    ck_assert_uint_eq(p.untagged_ok, INFLIGHT);
    ck_assert_ptr_nonnull(strstr(resdeliv_store_errmsg(st), "Redis"));
    ck_assert_int_eq(resdeliv_log_counters(log, &k, sizeof(k)), 0);
    ck_assert_uint_eq(k.log_failures, INFLIGHT);
    ck_assert_uint_eq(k.untagged, INFLIGHT);
    ck_assert_uint_eq(k.published, INFLIGHT);
    ck_assert_uint_eq(k.tagged, 0);
    resdeliv_log_close(log);

    /* The store reconnects by itself once the server is back. */
    ck_assert_int_eq(redis_server_restart(&own), REDIS_SERVER_OK);
    ck_assert_int_eq(append_until_ok(l, st, "faults"), 0);

    /* fail: every publish reports the store error. */
    log = open_log(st, RESDELIV_ON_FAILURE_FAIL, 0);
    publish_into_kill(l, log, &own, &p, tags);
    ck_assert_uint_eq(p.failed, INFLIGHT);
    ck_assert_int_eq(resdeliv_log_counters(log, &k, sizeof(k)), 0);
    ck_assert_uint_eq(k.log_failures, INFLIGHT);
    ck_assert_uint_eq(k.published, 0);
    resdeliv_log_close(log);

    ck_assert_int_eq(redis_server_restart(&own), REDIS_SERVER_OK);
    ck_assert_int_eq(append_until_ok(l, st, "faults"), 0);
    resdeliv_store_free(st);
    tloop_free(l);
    redis_server_stop(&own);
}
END_TEST

static void on_batch(void *arg, int status, struct resdeliv_publish_result *r,
                     size_t n)
{
    struct pub_tag *t = arg;

    t->p->calls++;
    ck_assert_int_eq(status, 0);
    for (size_t i = 0; i < n; i++) {
        t->p->logged += r[i].status == 0 && r[i].logged;
    }
}

struct replay_wait {
    size_t opened;
    size_t pages;
    int status;
    size_t n;
    resdeliv_replay *cur;
};

static void on_open(void *arg, int status, resdeliv_replay *cur)
{
    struct replay_wait *w = arg;
    w->status = status;
    w->cur = cur;
    w->opened++;
}

static void on_page(void *arg, int status,
                    const struct resdeliv_replay_entry *e, size_t n)
{
    struct replay_wait *w = arg;
    (void)e;
    w->status = status;
    w->n = n;
    w->pages++;
}

static void open_replay(struct tloop *l, resdeliv_log *log, const char *id,
                        struct replay_wait *w)
{
    memset(w, 0, sizeof(*w));
    ck_assert_int_eq(resdeliv_replay_open_async(log, "ch", id, NULL, on_open,
                                                w),
                     0);
    ck_assert_int_eq(tloop_until(l, &w->opened, 1, WAIT_MS), 0);
    ck_assert_int_eq(w->status, 0);
    ck_assert_ptr_nonnull(w->cur);
}

START_TEST(kill_mid_replay)
{
    struct tloop *l;
    struct redis_server own;
    resdeliv_store *st;
    resdeliv_log *log;
    struct replay_wait w;
    static struct pubs p;
    static struct pub_tag tags[200];
    struct resdeliv_message m[50];
    char first[RESDELIV_ID_BUFSIZE];
    const struct resdeliv_replay_status *rs;
    int rc;

    SKIP_UNLESS_KIND(kinds[_i]);
    l = tloop_new(kinds[_i]);
    start_own(&own);
    st = async_or_fail(own.url, l);
    log = open_log(st, RESDELIV_ON_FAILURE_FAIL, 20);
    memset(&p, 0, sizeof(p));
    for (size_t i = 0; i < 50; i++) {
        m[i] = (struct resdeliv_message){"ch", 2, "ev", 2, "{}", 2};
    }
    for (size_t b = 0; b < 4; b++) {
        tags[b] = (struct pub_tag){&p, b, "{}"};
        ck_assert_int_eq(resdeliv_log_publish_async(log, m, 50, on_batch,
                                                    &tags[b]),
                         0);
    }
    ck_assert_int_eq(tloop_until(l, &p.calls, 4, WAIT_MS), 0);
    ck_assert_uint_eq(p.logged, 200);
    ck_assert_str_eq(resdeliv_log_errmsg(log), "");
    snprintf(first, sizeof(first), "0-1");
    open_replay(l, log, first, &w);
    rs = resdeliv_replay_status(w.cur);
    ck_assert_uint_gt(rs->expected, 100);
    ck_assert_int_eq(resdeliv_replay_fetch_async(w.cur, on_page, &w), 0);
    ck_assert_int_eq(tloop_until(l, &w.pages, 1, WAIT_MS), 0);
    ck_assert_int_eq(w.status, 0);
    ck_assert_uint_eq(w.n, 20);

    /* Killed between pages: the next page reports the store error. */
    redis_server_kill(&own);
    rc = resdeliv_replay_fetch_async(w.cur, on_page, &w);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(tloop_until(l, &w.pages, 2, WAIT_MS), 0);
    ck_assert_int_lt(w.status, 0);
    ck_assert_int_eq(resdeliv_replay_done(w.cur), 1);
    resdeliv_replay_close(w.cur);

    /* Opened while down: a gap "store_unavailable", never a hang. */
    tloop_spin(l, 20);
    open_replay(l, log, first, &w);
    rs = resdeliv_replay_status(w.cur);
    ck_assert_uint_eq(rs->continuous, 0);
    ck_assert_uint_eq(rs->reason, RESDELIV_GAP_STORE_UNAVAILABLE);
    resdeliv_replay_close(w.cur);

    /* Killed while the open is in flight: the same gap. */
    ck_assert_int_eq(redis_server_restart(&own), REDIS_SERVER_OK);
    ck_assert_int_eq(append_until_ok(l, st, "faults"), 0);
    memset(&w, 0, sizeof(w));
    ck_assert_int_eq(resdeliv_replay_open_async(log, "ch", first, NULL,
                                                on_open, &w),
                     0);
    redis_server_kill(&own);
    ck_assert_int_eq(tloop_until(l, &w.opened, 1, WAIT_MS), 0);
    ck_assert_ptr_nonnull(w.cur);
    rs = resdeliv_replay_status(w.cur);
    ck_assert_uint_eq(rs->reason, RESDELIV_GAP_STORE_UNAVAILABLE);
    resdeliv_replay_close(w.cur);

    resdeliv_log_close(log);
    resdeliv_store_free(st);
    tloop_free(l);
    redis_server_stop(&own);
}
END_TEST

#define NDESTROY 100

struct destroy_ctx {
    struct counts c; /* first: a tag's counts lead back to the context */
    resdeliv_store *st;
    int per[NDESTROY];
    int statuses[NDESTROY];
    struct tag tags[NDESTROY];
    int free_in_callback;
};

static void on_destroy_append(void *arg, int status,
                              const struct resdeliv_append_result *res,
                              size_t n)
{
    struct tag *t = arg;
    struct destroy_ctx *d = (struct destroy_ctx *)(void *)t->c;

    on_count_append(arg, status, res, n);
    d->statuses[t->index] = status;
    if (d->free_in_callback && d->st != NULL) {
        resdeliv_store *st = d->st;
        d->st = NULL;
        resdeliv_store_free(st);
    }
}

static void issue_destroy_batch(struct destroy_ctx *d)
{
    struct resdeliv_append_item it = {.channel = "ch",
                                      .channel_len = 2,
                                      .event = "ev",
                                      .event_len = 2,
                                      .data = "{}",
                                      .data_len = 2,
                                      .retention = {100, 0}};

    d->c.per = d->per;
    for (size_t i = 0; i < NDESTROY; i++) {
        d->tags[i] = (struct tag){&d->c, i};
        ck_assert_int_eq(resdeliv_store_append(d->st, "destroy", 7, &it, 1,
                                               on_destroy_append,
                                               &d->tags[i]),
                         0);
    }
}

START_TEST(free_with_ops_in_flight)
{
    struct tloop *l;
    static struct destroy_ctx d;

    SKIP_UNLESS_KIND(kinds[_i]);
    l = tloop_new(kinds[_i]);
    memset(&d, 0, sizeof(d));
    d.st = async_or_fail(srv.url, l);
    ck_assert_int_eq(append_until_ok(l, d.st, "destroy"), 0);
    issue_destroy_batch(&d);
    resdeliv_store_free(d.st);
    /* Every callback ran, once, before resdeliv_store_free() returned. */
    ck_assert_uint_eq(d.c.calls, NDESTROY);
    for (size_t i = 0; i < NDESTROY; i++) {
        ck_assert_int_eq(d.per[i], 1);
        ck_assert_int_eq(d.statuses[i], RESDELIV_ECLOSED);
    }
    tloop_free(l);
}
END_TEST

START_TEST(free_from_a_callback)
{
    struct tloop *l;
    static struct destroy_ctx d;
    size_t closed = 0;

    SKIP_UNLESS_KIND(kinds[_i]);
    l = tloop_new(kinds[_i]);
    memset(&d, 0, sizeof(d));
    d.st = async_or_fail(srv.url, l);
    ck_assert_int_eq(append_until_ok(l, d.st, "destroy"), 0);
    issue_destroy_batch(&d);
    d.free_in_callback = 1;
    ck_assert_int_eq(tloop_until(l, &d.c.calls, NDESTROY, WAIT_MS), 0);
    ck_assert_ptr_null(d.st);
    tloop_spin(l, 30);
    ck_assert_uint_eq(d.c.calls, NDESTROY);
    ck_assert_int_eq(d.statuses[0], 0);
    for (size_t i = 0; i < NDESTROY; i++) {
        ck_assert_int_eq(d.per[i], 1);
        closed += d.statuses[i] == RESDELIV_ECLOSED;
    }
    ck_assert_uint_eq(closed, NDESTROY - 1);
    tloop_free(l);
}
END_TEST

START_TEST(command_timeout)
{
    struct tloop *l;
    struct redis_server own;
    resdeliv_store *st = NULL;
    int per[1] = {0};
    struct counts c = {0};
    struct tag t = {&c, 0};

    SKIP_UNLESS_KIND(kinds[_i]);
    l = tloop_new(kinds[_i]);
    c.per = per;
    start_own(&own);
    ck_assert_int_eq(make_async(own.url, l, 200, &st), 0);
    ck_assert_int_eq(append_until_ok(l, st, "stall"), 0);
    kill(own.pid, SIGSTOP);
    ck_assert_int_eq(append_one(st, "stall", "ch", &t), 0);
    ck_assert_int_eq(tloop_until(l, &c.calls, 1, WAIT_MS), 0);
    kill(own.pid, SIGCONT);
    ck_assert_int_eq(c.last_status, RESDELIV_ESTORE);
    ck_assert_ptr_nonnull(strstr(resdeliv_store_errmsg(st), "timed out"));
    ck_assert_int_eq(append_until_ok(l, st, "stall"), 0);
    resdeliv_store_free(st);
    tloop_free(l);
    redis_server_stop(&own);
}
END_TEST

START_TEST(auth_refused)
{
    static const char *const extra[] = {"--requirepass", "s3cret", NULL};
    struct tloop *l;
    struct redis_server own;
    resdeliv_store *st;
    char url[160];
    int per[1] = {0};
    struct counts c = {0};
    struct tag t = {&c, 0};

    SKIP_UNLESS_KIND(kinds[_i]);
    l = tloop_new(kinds[_i]);
    c.per = per;
    ck_assert_int_eq(redis_server_start(&own, extra), REDIS_SERVER_OK);
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d", own.port);
    st = async_or_fail(url, l);
    /* Issued during the handshake: waits for it, then fails. */
    ck_assert_int_eq(append_one(st, "auth", "ch", &t), 0);
    ck_assert_int_eq(tloop_until(l, &c.calls, 1, WAIT_MS), 0);
    ck_assert_int_eq(c.last_status, RESDELIV_ESTORE);
    ck_assert_ptr_nonnull(strstr(resdeliv_store_errmsg(st), "AUTH"));
    resdeliv_store_free(st);
    snprintf(url, sizeof(url), "redis://:s3cret@127.0.0.1:%d/3", own.port);
    st = async_or_fail(url, l);
    ck_assert_int_eq(append_until_ok(l, st, "auth"), 0);
    resdeliv_store_free(st);
    tloop_free(l);
    redis_server_stop(&own);
}
END_TEST

/* ---- load ---- */

#define NLOAD 10000

static size_t heap_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

static void load_round(struct tloop *l, resdeliv_log *log, struct pubs *p,
                       struct pub_tag *tags)
{
    static const char data[] = "{\"load\":true}";

    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < NLOAD; i++) {
        struct resdeliv_message m = {"load", 4, "ev", 2, data,
                                     sizeof(data) - 1};
        tags[i] = (struct pub_tag){p, 0, data};
        ck_assert_int_eq(resdeliv_log_publish_async(log, &m, 1, on_pub,
                                                    &tags[i]),
                         0);
    }
    ck_assert_int_eq(tloop_until(l, &p->calls, NLOAD, 60000), 0);
    ck_assert_uint_eq(p->logged, NLOAD);
}

START_TEST(ten_thousand_in_flight)
{
    struct tloop *l;
    resdeliv_store *st;
    resdeliv_log *log;
    static struct pubs p;
    static struct pub_tag tags[NLOAD];
    const struct resdeliv__ra_store *s;
    size_t before, after;

    SKIP_UNLESS_KIND(kinds[_i]);
    l = tloop_new(kinds[_i]);
    st = async_or_fail(srv.url, l);
    log = open_log(st, RESDELIV_ON_FAILURE_FAIL, 0);
    load_round(l, log, &p, tags);
    before = heap_in_use();
    load_round(l, log, &p, tags);
    after = heap_in_use();
    ck_assert_msg(after <= before + 256 * 1024,
                  "heap grew from %zu to %zu bytes", before, after);
    s = resdeliv__store_self(st);
    ck_assert_ptr_null(s->ops_head);
    ck_assert_uint_eq(s->cmds_out, 0);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
    tloop_free(l);
}
END_TEST

/* ---- batches ---- */

struct batch_seen {
    size_t calls;
    int status;
    size_t n;
    struct resdeliv_append_result res[8];
};

static void on_batch_seen(void *arg, int status,
                          const struct resdeliv_append_result *res, size_t n)
{
    struct batch_seen *b = arg;

    b->calls++;
    b->status = status;
    b->n = n;
    memcpy(b->res, res, (n < 8 ? n : 8) * sizeof(*res));
}

/* A batch of two logs whose script the server forgot: each log's call is
 * sent again with EVAL, and the results keep the items' order. */
START_TEST(script_flushed_batch)
{
    static const char *const chans[6] = {"x", "y", "x", "y", "x", "x"};
    struct resdeliv_append_item items[6];
    struct batch_seen b;
    struct tloop *l;
    resdeliv_store *st;
    redisContext *c;
    redisReply *r;

    SKIP_UNLESS_KIND(kinds[_i]);
    l = tloop_new(kinds[_i]);
    st = async_or_fail(srv.url, l);
    ck_assert_int_eq(append_until_ok(l, st, "sfb"), 0);
    c = redisConnect("127.0.0.1", srv.port);
    ck_assert(c != NULL && c->err == 0);
    r = redisCommand(c, "SCRIPT FLUSH");
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);
    for (size_t i = 0; i < 6; i++) {
        items[i] = (struct resdeliv_append_item){
            chans[i], 1, "ev", 2, "{}", 2, {100, 0}, 0, 0};
    }
    memset(&b, 0, sizeof(b));
    ck_assert_int_eq(resdeliv_store_append(st, "sfb", 3, items, 6,
                                           on_batch_seen, &b),
                     0);
    ck_assert_int_eq(tloop_until(l, &b.calls, 1, 5000), 0);
    ck_assert_int_eq(b.status, 0);
    ck_assert_uint_eq(b.n, 6);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_int_eq(b.res[i].status, 0);
        for (size_t j = 0; j < i; j++) {
            if (chans[j] == chans[i]) {
                ck_assert_int_lt(resdeliv_id_cmp(&b.res[j].id, &b.res[i].id),
                                 0);
                ck_assert_str_eq(b.res[j].epoch, b.res[i].epoch);
            }
        }
    }
    ck_assert_str_ne(b.res[0].epoch, b.res[1].epoch);
    redisFree(c);
    resdeliv_store_free(st);
    tloop_free(l);
}
END_TEST

/* ---- single appends without the script ---- */

static void raw_ok(redisContext *c, const char *cmd)
{
    redisReply *r = redisCommand(c, cmd);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_ne(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

static long long raw_int(redisContext *c, const char *cmd, const char *key,
                         size_t key_len)
{
    const char *argv[2] = {cmd, key};
    size_t len[2] = {strlen(cmd), key_len};
    redisReply *r = redisCommandArgv(c, 2, argv, len);
    long long v;

    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

/* Calls of `cmd` since the last CONFIG RESETSTAT. */
static long long calls_of(redisContext *c, const char *cmd)
{
    redisReply *r = redisCommand(c, "INFO commandstats");
    char pat[64];
    const char *p;
    long long n = 0;

    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    snprintf(pat, sizeof(pat), "cmdstat_%s:calls=", cmd);
    p = strstr(r->str, pat);
    if (p != NULL) {
        n = strtoll(p + strlen(pat), NULL, 10);
    }
    freeReplyObject(r);
    return n;
}

/* Append `items` and run the loop until the callback: its results. */
static struct batch_seen append_wait(struct tloop *l, resdeliv_store *st,
                                     const struct resdeliv_append_item *items,
                                     size_t n)
{
    struct batch_seen b;

    memset(&b, 0, sizeof(b));
    ck_assert_int_eq(resdeliv_store_append(st, "afp", 3, items, n,
                                           on_batch_seen, &b),
                     0);
    ck_assert_int_eq(tloop_until(l, &b.calls, 1, WAIT_MS), 0);
    ck_assert_uint_eq(b.calls, 1);
    ck_assert_int_eq(b.status, 0);
    ck_assert_uint_eq(b.n, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(b.res[i].status == 0, "item %zu: %s", i,
                      resdeliv_store_errmsg(st));
    }
    return b;
}

/* Appends of one item to a log that exists take no script; a log whose
 * epoch key or stream vanished falls back to it and gets a new epoch
 * holding just the new item. */
START_TEST(fast_path_single)
{
    struct resdeliv_append_item it = {"ch", 2, "ev", 2, "{}", 2, {100, 0},
                                      0, 0};
    struct resdeliv__redis_keys k;
    struct batch_seen first;
    struct batch_seen b;
    struct tloop *l;
    resdeliv_store *st;
    redisContext *c;

    SKIP_UNLESS_KIND(kinds[_i]);
    l = tloop_new(kinds[_i]);
    st = async_or_fail(srv.url, l);
    c = redisConnect("127.0.0.1", srv.port);
    ck_assert(c != NULL && c->err == 0);
    ck_assert_int_eq(resdeliv__redis_keys_build("ta", 2, "afp", 3, "ch", 2,
                                                &k),
                     0);
    raw_int(c, "DEL", k.stream, k.stream_len);
    raw_int(c, "DEL", k.epoch, k.epoch_len);
    ck_assert_int_eq(append_until_ok(l, st, "afp"), 0);
    raw_ok(c, "CONFIG RESETSTAT");
    first = append_wait(l, st, &it, 1);
    for (int i = 0; i < 4; i++) {
        b = append_wait(l, st, &it, 1);
        ck_assert_str_eq(b.res[0].epoch, first.res[0].epoch);
        ck_assert_int_lt(resdeliv_id_cmp(&first.res[0].id, &b.res[0].id), 0);
    }
    ck_assert_int_eq(calls_of(c, "evalsha"), 0);
    ck_assert_int_eq(calls_of(c, "eval"), 0);
    ck_assert_int_eq(calls_of(c, "multi"), 0);
    ck_assert_int_eq(calls_of(c, "get"), 10);
    ck_assert_int_eq(calls_of(c, "xadd"), 5);
    ck_assert_int_eq(raw_int(c, "XLEN", k.stream, k.stream_len), 6);
    /* The epoch key vanished: a new epoch, the old entries gone. */
    ck_assert_int_eq(raw_int(c, "DEL", k.epoch, k.epoch_len), 1);
    b = append_wait(l, st, &it, 1);
    ck_assert_str_ne(b.res[0].epoch, first.res[0].epoch);
    ck_assert_int_eq(raw_int(c, "XLEN", k.stream, k.stream_len), 1);
    ck_assert_int_eq(calls_of(c, "evalsha"), 1);
    first = b;
    /* The stream vanished: a new log. */
    ck_assert_int_eq(raw_int(c, "DEL", k.stream, k.stream_len), 1);
    b = append_wait(l, st, &it, 1);
    ck_assert_str_ne(b.res[0].epoch, first.res[0].epoch);
    ck_assert_int_eq(raw_int(c, "XLEN", k.stream, k.stream_len), 1);
    ck_assert_int_eq(calls_of(c, "evalsha"), 2);
    resdeliv__redis_keys_clear(&k);
    redisFree(c);
    resdeliv_store_free(st);
    tloop_free(l);
}
END_TEST

/* ---- publishing on the bus channel (bus.h) ---- */

/* A bus message, parsed strictly: `RD1 <epoch> <id> <flags>
 * <event_len>\n` + event + data. */
struct bus_msg {
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    struct resdeliv_id id;
    unsigned flags;
    char event[16];
    char data[32];
};

static void parse_bus(const redisReply *r, struct bus_msg *m)
{
    char id[RESDELIV_ID_BUFSIZE];
    unsigned long elen;
    int used = 0;

    memset(m, 0, sizeof(*m));
    ck_assert_int_eq(sscanf(r->str, "RD1 %32s %41s %u %lu%n", m->epoch, id,
                            &m->flags, &elen, &used),
                     4);
    ck_assert_int_eq(resdeliv_id_parse(id, strlen(id), &m->id), 0);
    ck_assert_int_eq(r->str[used++], '\n');
    ck_assert_uint_lt(elen, sizeof(m->event));
    ck_assert_uint_le(used + elen, r->len);
    ck_assert_uint_lt(r->len - used - elen, sizeof(m->data));
    memcpy(m->event, r->str + used, elen);
    memcpy(m->data, r->str + used + elen, r->len - used - elen);
}

/* Every message published so far on the subscriber `c`: PING's answer
 * follows them all. */
static size_t sub_drain(redisContext *c, struct bus_msg *out, size_t max)
{
    redisReply *r = NULL;
    size_t n = 0;

    ck_assert_int_eq(redisAppendCommand(c, "PING"), REDIS_OK);
    for (;;) {
        ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        ck_assert(r->type == REDIS_REPLY_ARRAY && r->elements >= 2);
        if (strcmp(r->element[0]->str, "pong") == 0) {
            freeReplyObject(r);
            return n;
        }
        ck_assert_str_eq(r->element[1]->str, "ta:{afp:pub}:bus");
        ck_assert_uint_lt(n, max);
        parse_bus(r->element[2], &out[n++]);
        freeReplyObject(r);
    }
}

static void assert_msg(const struct bus_msg *m,
                       const struct resdeliv_append_result *r,
                       const char *data)
{
    ck_assert_str_eq(m->epoch, r->epoch);
    ck_assert_int_eq(resdeliv_id_cmp(&m->id, &r->id), 0);
    ck_assert_uint_eq(m->flags, 0);
    ck_assert_str_eq(m->event, "ev");
    ck_assert_str_eq(m->data, data);
}

/* With `publish`, every append PUBLISHes its entries from the script: a
 * new log, lone appends (no MULTI), a vanished epoch key and a batch that
 * also holds another log's item. */
START_TEST(publish_appends)
{
    struct resdeliv_append_item it[4] = {
        {"pub", 3, "ev", 2, "p0", 2, {100, 0}, 0, 0},
        {"oth", 3, "ev", 2, "o", 1, {100, 0}, 0, 0},
        {"pub", 3, "ev", 2, "p1", 2, {100, 0}, 0, 0},
        {"pub", 3, "ev", 2, "p2", 2, {100, 0}, 0, 0}};
    struct resdeliv_redis_options o;
    struct resdeliv__redis_keys k;
    struct batch_seen a[4];
    struct bus_msg m[8];
    resdeliv_store *st = NULL;
    redisContext *c;
    redisContext *sub;
    struct tloop *l;

    SKIP_UNLESS_KIND(kinds[_i]);
    l = tloop_new(kinds[_i]);
    resdeliv_redis_options_init(&o);
    o.url = srv.url;
    o.key_prefix = "ta";
    o.publish = 1;
    ck_assert_int_eq(resdeliv_store_redis_async_new(&o, &l->hooks, &st,
                                                    errbuf, sizeof(errbuf)),
                     0);
    c = redisConnect("127.0.0.1", srv.port);
    sub = redisConnect("127.0.0.1", srv.port);
    ck_assert(c != NULL && c->err == 0 && sub != NULL && sub->err == 0);
    ck_assert_int_eq(resdeliv__redis_keys_build("ta", 2, "afp", 3, "pub", 3,
                                                &k),
                     0);
    raw_int(c, "DEL", k.stream, k.stream_len);
    raw_int(c, "DEL", k.epoch, k.epoch_len);
    freeReplyObject(redisCommand(sub, "SUBSCRIBE ta:{afp:pub}:bus"));
    ck_assert_int_eq(append_until_ok(l, st, "afp"), 0);
    raw_ok(c, "CONFIG RESETSTAT");
    a[0] = append_wait(l, st, &it[0], 1);
    a[1] = append_wait(l, st, &it[2], 1);
    ck_assert_int_eq(raw_int(c, "DEL", k.epoch, k.epoch_len), 1);
    a[2] = append_wait(l, st, &it[3], 1);
    ck_assert_str_ne(a[2].res[0].epoch, a[1].res[0].epoch);
    a[3] = append_wait(l, st, it, 4);
    ck_assert_int_eq(calls_of(c, "multi"), 0);
    ck_assert_int_eq(calls_of(c, "publish"), 7);
    ck_assert_uint_eq(sub_drain(sub, m, 8), 6);
    assert_msg(&m[0], &a[0].res[0], "p0");
    assert_msg(&m[1], &a[1].res[0], "p1");
    assert_msg(&m[2], &a[2].res[0], "p2");
    assert_msg(&m[3], &a[3].res[0], "p0");
    assert_msg(&m[4], &a[3].res[2], "p1");
    assert_msg(&m[5], &a[3].res[3], "p2");
    resdeliv__redis_keys_clear(&k);
    redisFree(sub);
    redisFree(c);
    resdeliv_store_free(st);
    tloop_free(l);
}
END_TEST

/* One batch: a lone item with an age on a log that exists (a pipeline
 * with XTRIM and PEXPIREs), a lone item on a new log (a pipeline, then
 * the script) and a new log of two (the same). */
START_TEST(fast_path_batch_age)
{
    struct resdeliv_append_item it[4] = {
        {"ch", 2, "ev", 2, "{}", 2, {0, 250}, 0, 0},
        {"duo", 3, "ev", 2, "{}", 2, {100, 0}, 0, 0},
        {"fresh", 5, "ev", 2, "{}", 2, {100, 0}, 0, 0},
        {"duo", 3, "ev", 2, "{}", 2, {100, 0}, 0, 0}};
    struct resdeliv__redis_keys k;
    struct resdeliv__redis_keys f;
    struct resdeliv__redis_keys d;
    struct batch_seen b;
    struct tloop *l;
    resdeliv_store *st;
    redisContext *c;
    long long pttl;

    SKIP_UNLESS_KIND(kinds[_i]);
    l = tloop_new(kinds[_i]);
    st = async_or_fail(srv.url, l);
    c = redisConnect("127.0.0.1", srv.port);
    ck_assert(c != NULL && c->err == 0);
    ck_assert_int_eq(resdeliv__redis_keys_build("ta", 2, "afp", 3, "ch", 2,
                                                &k),
                     0);
    ck_assert_int_eq(resdeliv__redis_keys_build("ta", 2, "afp", 3, "fresh",
                                                5, &f),
                     0);
    raw_int(c, "DEL", f.stream, f.stream_len);
    raw_int(c, "DEL", f.epoch, f.epoch_len);
    ck_assert_int_eq(resdeliv__redis_keys_build("ta", 2, "afp", 3, "duo", 3,
                                                &d),
                     0);
    raw_int(c, "DEL", d.stream, d.stream_len);
    raw_int(c, "DEL", d.epoch, d.epoch_len);
    resdeliv__redis_keys_clear(&d);
    ck_assert_int_eq(append_until_ok(l, st, "afp"), 0);
    raw_ok(c, "CONFIG RESETSTAT");
    b = append_wait(l, st, it, 4);
    ck_assert_int_eq(calls_of(c, "multi"), 0);
    ck_assert_int_eq(calls_of(c, "evalsha"), 2);
    ck_assert_int_eq(calls_of(c, "xtrim"), 1);
    ck_assert_int_eq(calls_of(c, "pexpire"), 2);
    ck_assert_int_lt(resdeliv_id_cmp(&b.res[1].id, &b.res[3].id), 0);
    ck_assert_str_eq(b.res[1].epoch, b.res[3].epoch);
    ck_assert_int_eq(raw_int(c, "XLEN", f.stream, f.stream_len), 1);
    pttl = raw_int(c, "PTTL", k.stream, k.stream_len);
    ck_assert(pttl > 0 && pttl <= 250);
    pttl = raw_int(c, "PTTL", k.epoch, k.epoch_len);
    ck_assert(pttl > 0 && pttl <= 250);
    resdeliv__redis_keys_clear(&k);
    resdeliv__redis_keys_clear(&f);
    redisFree(c);
    resdeliv_store_free(st);
    tloop_free(l);
}
END_TEST

static Suite *redis_async_suite(void)
{
    Suite *s = suite_create("redis");
    TCase *tc;

    for (int i = 0; i < NKINDS; i++) {
        if (kind_available(kinds[i])) {
            tc = conformance_tcase(i == KIND_UV ? "conformance_libuv"
                                                : "conformance_libevent",
                                   make_shim, (void *)&kinds[i],
                                   CONFORMANCE_KEEPS_FLAGS);
            suite_add_tcase(s, tc);
        }
    }
    tc = tcase_create("arguments");
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, hooks_released);
    suite_add_tcase(s, tc);
    tc = tcase_create("faults");
    tcase_add_loop_test(tc, down_fails_at_once, 0, NKINDS);
    tcase_add_loop_test(tc, kill_with_publishes_in_flight, 0, NKINDS);
    tcase_add_loop_test(tc, kill_mid_replay, 0, NKINDS);
    tcase_add_loop_test(tc, command_timeout, 0, NKINDS);
    tcase_add_loop_test(tc, auth_refused, 0, NKINDS);
    suite_add_tcase(s, tc);
    tc = tcase_create("lifetime");
    tcase_add_loop_test(tc, free_with_ops_in_flight, 0, NKINDS);
    tcase_add_loop_test(tc, free_from_a_callback, 0, NKINDS);
    suite_add_tcase(s, tc);
    tc = tcase_create("batch");
    tcase_add_loop_test(tc, script_flushed_batch, 0, NKINDS);
    suite_add_tcase(s, tc);
    tc = tcase_create("fast_path");
    tcase_add_loop_test(tc, fast_path_single, 0, NKINDS);
    tcase_add_loop_test(tc, fast_path_batch_age, 0, NKINDS);
    suite_add_tcase(s, tc);
    tc = tcase_create("publish");
    tcase_add_loop_test(tc, publish_appends, 0, NKINDS);
    suite_add_tcase(s, tc);
    tc = tcase_create("load");
    tcase_add_loop_test(tc, ten_thousand_in_flight, 0, NKINDS);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    static const char *const extra[] = {"--stream-node-max-entries", "4",
                                        NULL};

    return redis_suite_run(&srv, extra, redis_async_suite());
}
