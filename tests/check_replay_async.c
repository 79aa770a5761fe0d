/* SPDX-License-Identifier: MIT */
/*
 * Tests of the replay cursor's asynchronous calls, on the memory store
 * and through a wrapper that completes reads and infos only when the test
 * pumps it (as an event-loop store does), with store failures in between;
 * and readers replaying beside publishers on other threads.
 */
#include "replay_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- asynchronous calls ------------------------------------------------ */

struct open_seen {
    int calls;
    int status;
    resdeliv_replay *cur;
};

static void on_opened(void *arg, int status, resdeliv_replay *cur)
{
    struct open_seen *s = arg;

    s->calls++;
    s->status = status;
    s->cur = cur;
}

START_TEST(async_memory)
{
    struct fixture fx;
    struct open_seen o = {0};
    struct page_seen p = {0};

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 3);
    ck_assert_int_eq(resdeliv_replay_open_async(fx.log, "news", "0-0", NULL,
                                                NULL, NULL),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_replay_open_async(fx.log, "news", "0-0", NULL,
                                                on_opened, &o),
                     0);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, 0);
    ck_assert_ptr_nonnull(o.cur);
    ck_assert_uint_eq(resdeliv_replay_status(o.cur)->expected, 3);
    ck_assert_int_eq(resdeliv_replay_fetch_async(o.cur, NULL, NULL),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_replay_fetch_async(o.cur, on_page, &p), 0);
    ck_assert_int_eq(p.calls, 1);
    ck_assert_int_eq(p.status, 0);
    ck_assert_uint_eq(p.n, 3);
    ck_assert_int_eq(resdeliv_id_cmp(&p.first, &fx.ids[0]), 0);
    ck_assert_int_eq(resdeliv_replay_fetch_async(o.cur, on_page, &p), 0);
    ck_assert_int_eq(p.calls, 2);
    ck_assert_uint_eq(p.n, 0);
    resdeliv_replay_close(o.cur);
    fx_close(&fx);
}
END_TEST

/*
 * A store that completes reads and infos only when the test pumps it, as
 * a store driven by an event loop does. Appends go straight through.
 */
struct deferred {
    resdeliv_store *inner;
    int pending;        /* 0 none, 1 info, 2 read */
    int fail;           /* complete the next call with an error */
    char channel[64];
    struct resdeliv_log_key key;
    struct resdeliv_id after;
    int has_after;
    uint64_t cap;
    resdeliv_info_cb info_cb;
    resdeliv_read_cb read_cb;
    void *arg;
};

static int def_append(void *self, const char *app, size_t app_len,
                      const struct resdeliv_append_item *items, size_t n,
                      resdeliv_append_cb cb, void *arg)
{
    struct deferred *d = self;

    return resdeliv_store_append(d->inner, app, app_len, items, n, cb, arg);
}

static void def_keep(struct deferred *d, const struct resdeliv_log_key *key,
                     const struct resdeliv_id *after, void *arg)
{
    ck_assert_int_eq(d->pending, 0);
    ck_assert_uint_lt(key->channel_len, sizeof(d->channel));
    memcpy(d->channel, key->channel, key->channel_len);
    d->key = *key;
    d->key.channel = d->channel;
    d->has_after = after != NULL;
    d->after = after != NULL ? *after : d->after;
    d->arg = arg;
}

static int def_read(void *self, const struct resdeliv_log_key *key,
                    const struct resdeliv_id *after, size_t max,
                    resdeliv_read_cb cb, void *arg)
{
    struct deferred *d = self;

    def_keep(d, key, after, arg);
    d->cap = max;
    d->read_cb = cb;
    d->pending = 2;
    return 0;
}

static int def_info(void *self, const struct resdeliv_log_key *key,
                    const struct resdeliv_id *after, uint64_t cap,
                    resdeliv_info_cb cb, void *arg)
{
    struct deferred *d = self;

    def_keep(d, key, after, arg);
    d->cap = cap;
    d->info_cb = cb;
    d->pending = 1;
    return 0;
}

static const char *def_errmsg(void *self)
{
    return "deferred store went away";
}

static void def_pump(struct deferred *d)
{
    int kind = d->pending;
    const struct resdeliv_id *after = d->has_after ? &d->after : NULL;

    ck_assert_int_ne(kind, 0);
    d->pending = 0;
    if (d->fail) {
        d->fail = 0;
        if (kind == 1) {
            d->info_cb(d->arg, RESDELIV_ESTORE, NULL);
        } else {
            d->read_cb(d->arg, RESDELIV_ESTORE, NULL, 0, NULL);
        }
    } else if (kind == 1) {
        ck_assert_int_eq(resdeliv_store_info(d->inner, &d->key, after, d->cap,
                                             d->info_cb, d->arg),
                         0);
    } else {
        ck_assert_int_eq(resdeliv_store_read(d->inner, &d->key, after,
                                             (size_t)d->cap, d->read_cb,
                                             d->arg),
                         0);
    }
}

static resdeliv_store *deferred_store(resdeliv_store *inner,
                                      struct deferred **out)
{
    struct resdeliv_store_ops ops = {
        RESDELIV_STRUCT_HEAD(ops),
        .flags = 0,
        .name = "deferred",
        .append = def_append,
        .read = def_read,
        .info = def_info,
        .destroy = free,
        .errmsg = def_errmsg,
    };
    struct deferred *d = calloc(1, sizeof(*d));
    resdeliv_store *st = NULL;

    ck_assert_ptr_nonnull(d);
    d->inner = inner;
    ck_assert_int_eq(resdeliv_store_new(&ops, d, &st), 0);
    *out = d;
    return st;
}

START_TEST(async_deferred)
{
    struct fixture fx;
    struct deferred *d;
    resdeliv_store *st;
    resdeliv_log *log;
    resdeliv_replay *cur = NULL;
    struct open_seen o = {0};
    struct page_seen p = {0};
    const struct resdeliv_replay_entry *e;
    size_t n;

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 5);
    st = deferred_store(fx.store, &d);
    ck_assert_int_eq(resdeliv_log_open(NULL, st, "app", &log, NULL, 0), 0);
    ck_assert_int_eq(resdeliv_replay_open(log, "news", "0-0", NULL, &cur),
                     RESDELIV_ENOTSUP);

    ck_assert_int_eq(resdeliv_replay_open_async(log, "news", "0-0", NULL,
                                                on_opened, &o),
                     0);
    ck_assert_int_eq(o.calls, 0);
    def_pump(d);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, 0);
    ck_assert_uint_eq(resdeliv_replay_status(o.cur)->expected, 5);
    ck_assert_int_eq(resdeliv_replay_next_page(o.cur, &e, &n),
                     RESDELIV_ENOTSUP);

    ck_assert_int_eq(resdeliv_replay_fetch_async(o.cur, on_page, &p), 0);
    ck_assert_int_eq(resdeliv_replay_fetch_async(o.cur, on_page, &p),
                     RESDELIV_EAGAIN);
    ck_assert_int_eq(p.calls, 0);
    def_pump(d);
    ck_assert_int_eq(p.calls, 1);
    ck_assert_uint_eq(p.n, 5);

    /* Closed while a fetch is in flight: the callback still runs, once. */
    resdeliv_replay_close(o.cur);
    o.calls = 0;
    ck_assert_int_eq(resdeliv_replay_open_async(log, "news", "0-0", NULL,
                                                on_opened, &o),
                     0);
    def_pump(d);
    ck_assert_int_eq(resdeliv_replay_fetch_async(o.cur, on_page, &p), 0);
    resdeliv_replay_close(o.cur);
    def_pump(d);
    ck_assert_int_eq(p.calls, 2);
    ck_assert_int_eq(p.status, RESDELIV_ECLOSED);
    ck_assert_uint_eq(p.n, 0);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
    fx_close(&fx);
}
END_TEST

START_TEST(async_store_failures)
{
    struct fixture fx;
    struct deferred *d;
    resdeliv_store *st;
    resdeliv_log *log;
    struct open_seen o = {0};
    struct page_seen p = {0};

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 5);
    st = deferred_store(fx.store, &d);
    ck_assert_int_eq(resdeliv_log_open(NULL, st, "app", &log, NULL, 0), 0);

    /* The store fails the info: the open succeeds and reports the gap. */
    o.calls = 0;
    ck_assert_int_eq(resdeliv_replay_open_async(log, "news", "1-0", NULL,
                                                on_opened, &o),
                     0);
    d->fail = 1;
    def_pump(d);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, 0);
    ck_assert_uint_eq(resdeliv_replay_status(o.cur)->reason,
                      RESDELIV_GAP_STORE_UNAVAILABLE);
    ck_assert(resdeliv_replay_done(o.cur));
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "went away"));
    resdeliv_replay_close(o.cur);

    /* The store fails a read: the fetch reports it and the cursor ends. */
    ck_assert_int_eq(resdeliv_replay_open_async(log, "news", "0-0", NULL,
                                                on_opened, &o),
                     0);
    def_pump(d);
    ck_assert_int_eq(resdeliv_replay_fetch_async(o.cur, on_page, &p), 0);
    d->fail = 1;
    def_pump(d);
    ck_assert_int_eq(p.status, RESDELIV_ESTORE);
    ck_assert(resdeliv_replay_done(o.cur));
    resdeliv_replay_close(o.cur);

    resdeliv_log_close(log);
    resdeliv_store_free(st);
    fx_close(&fx);
}
END_TEST

/* ---- threads ----------------------------------------------------------- */

#define MT_PER_PUBLISHER 400
#define MT_CHANNELS 2

static const char *const mt_channels[MT_CHANNELS] = {"mt-a", "mt-b"};

struct mt_shared {
    resdeliv_store *store;
    int publishers_done;
    pthread_mutex_t lock;
};

struct mt_reader {
    struct mt_shared *sh;
    uint64_t seen[MT_CHANNELS];
    int errors;
};

static void *mt_publish(void *arg)
{
    struct mt_shared *sh = arg;
    resdeliv_log *log = NULL;

    if (resdeliv_log_open(NULL, sh->store, "mt", &log, NULL, 0) != 0) {
        return (void *)1;
    }
    for (int i = 0; i < MT_PER_PUBLISHER; i++) {
        struct resdeliv_message m;
        struct resdeliv_publish_result res;
        const char *ch = mt_channels[i % MT_CHANNELS];

        m.channel = ch;
        m.channel_len = strlen(ch);
        m.event = "ev";
        m.event_len = 2;
        m.data = "{\"v\":1}";
        m.data_len = 7;
        if (resdeliv_log_publish(log, &m, &res) != 0) {
            resdeliv_log_close(log);
            return (void *)1;
        }
        resdeliv_publish_result_clear(&res);
    }
    resdeliv_log_close(log);
    return NULL;
}

/* One pass over a channel from the reader's last id; 0 or -1. */
static int mt_pass(resdeliv_log *log, const char *ch, struct resdeliv_id *last,
                   uint64_t *seen)
{
    char buf[RESDELIV_ID_BUFSIZE];
    const struct resdeliv_replay_entry *e;
    resdeliv_replay *cur;
    size_t n;
    uint32_t reason;

    resdeliv_id_format(last, buf, sizeof(buf));
    if (resdeliv_replay_open(log, ch, buf, NULL, &cur) != 0) {
        return -1;
    }
    reason = resdeliv_replay_status(cur)->reason;
    if (reason != RESDELIV_GAP_NONE &&
        !(reason == RESDELIV_GAP_MISSING && *seen == 0)) {
        resdeliv_replay_close(cur);
        return -1;
    }
    do {
        if (resdeliv_replay_next_page(cur, &e, &n) != 0) {
            resdeliv_replay_close(cur);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            if (resdeliv_id_cmp(&e[i].id, last) <= 0 || !e[i].tagged) {
                resdeliv_replay_close(cur);
                return -1;
            }
            *last = e[i].id;
            (*seen)++;
        }
    } while (n > 0);
    resdeliv_replay_close(cur);
    return 0;
}

static void *mt_read(void *arg)
{
    struct mt_reader *r = arg;
    struct resdeliv_id last[MT_CHANNELS];
    resdeliv_log *log = NULL;
    int finished = 0;

    memset(last, 0, sizeof(last));
    if (resdeliv_log_open(NULL, r->sh->store, "mt", &log, NULL, 0) != 0) {
        r->errors++;
        return NULL;
    }
    while (!finished) {
        /* Read the flag before the pass, so the last pass sees it all. */
        pthread_mutex_lock(&r->sh->lock);
        finished = r->sh->publishers_done;
        pthread_mutex_unlock(&r->sh->lock);
        for (int k = 0; k < MT_CHANNELS; k++) {
            if (mt_pass(log, mt_channels[k], &last[k], &r->seen[k]) != 0) {
                r->errors++;
                finished = 1;
            }
        }
    }
    resdeliv_log_close(log);
    return NULL;
}

START_TEST(threads_publish_and_replay)
{
    struct mt_shared sh;
    struct mt_reader readers[2];
    pthread_t pub[2], rd[2];
    void *ret;

    memset(&sh, 0, sizeof(sh));
    memset(readers, 0, sizeof(readers));
    pthread_mutex_init(&sh.lock, NULL);
    ck_assert_int_eq(resdeliv_store_memory_new(NULL, &sh.store), 0);
    for (int i = 0; i < 2; i++) {
        readers[i].sh = &sh;
        ck_assert_int_eq(pthread_create(&rd[i], NULL, mt_read, &readers[i]),
                         0);
    }
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_create(&pub[i], NULL, mt_publish, &sh), 0);
    }
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_join(pub[i], &ret), 0);
        ck_assert_ptr_null(ret);
    }
    pthread_mutex_lock(&sh.lock);
    sh.publishers_done = 1;
    pthread_mutex_unlock(&sh.lock);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_join(rd[i], NULL), 0);
    }
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(readers[i].errors, 0);
        for (int k = 0; k < MT_CHANNELS; k++) {
            ck_assert_uint_eq(readers[i].seen[k], MT_PER_PUBLISHER);
        }
    }
    resdeliv_store_free(sh.store);
    pthread_mutex_destroy(&sh.lock);
}
END_TEST

static Suite *replay_async_suite(void)
{
    Suite *s = suite_create("replay_async");
    TCase *tc;

    tc = tcase_create("async");
    tcase_add_test(tc, async_memory);
    tcase_add_test(tc, async_deferred);
    tcase_add_test(tc, async_store_failures);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_add_test(tc, threads_publish_and_replay);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(replay_async_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
