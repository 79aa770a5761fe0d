/* SPDX-License-Identifier: MIT */
/*
 * Tests of the marker entries that announce messages sent untagged while
 * the store failed: a marker after recovery, in a batch, with an
 * asynchronous append in flight, none while still failing, and the bound
 * on channels owed a marker. A wrapper over the memory store fails for a
 * while, records each append call and can hold completions back.
 */
#include "log_fixture.h"

#include <cjson/cJSON.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

/* ---- unlogged markers -------------------------------------------------- */

#define REC_MAX 8200

/* What one item of the last append call was, and what the store said. */
struct rec {
    char channel[48];
    char event[48];
    char data[96];
    int status;
    struct resdeliv_id id;
};

struct held {
    resdeliv_append_cb cb;
    void *arg;
    int status;
    size_t n;
    struct resdeliv_append_result *res;
};

/* A store over the memory store that fails every append while `fail` is
 * set (as Redis does when it is down), records the items of the last
 * append call, and can hold completions back, as an event-loop store
 * does, until flaky_release(). */
struct flaky {
    resdeliv_store *inner;
    int fail;
    int hold;
    int calls;
    size_t n;
    struct rec *recs;
    struct held held[4];
    size_t nheld;
    struct held *cur;
};

static void flaky_inner_done(void *arg, int status,
                             const struct resdeliv_append_result *res,
                             size_t n)
{
    struct flaky *f = arg;
    struct held *h = f->cur;

    h->status = status;
    h->n = n;
    h->res = NULL;
    if (n > 0) {
        h->res = malloc(n * sizeof(*res));
        ck_assert_ptr_nonnull(h->res);
        memcpy(h->res, res, n * sizeof(*res));
    }
    for (size_t i = 0; i < n && i < REC_MAX; i++) {
        f->recs[i].status = res[i].status;
        f->recs[i].id = res[i].id;
    }
}

static int flaky_append(void *self, const char *app, size_t app_len,
                        const struct resdeliv_append_item *items, size_t n,
                        resdeliv_append_cb cb, void *arg)
{
    struct flaky *f = self;
    struct held h = {cb, arg, 0, 0, NULL};

    f->calls++;
    f->n = n;
    for (size_t i = 0; i < n && i < REC_MAX; i++) {
        struct rec *r = &f->recs[i];
        snprintf(r->channel, sizeof(r->channel), "%.*s",
                 (int)items[i].channel_len, items[i].channel);
        snprintf(r->event, sizeof(r->event), "%.*s", (int)items[i].event_len,
                 items[i].event);
        snprintf(r->data, sizeof(r->data), "%.*s", (int)items[i].data_len,
                 items[i].data);
        r->status = RESDELIV_ESTORE;
        memset(&r->id, 0, sizeof(r->id));
    }
    if (f->fail) {
        cb(arg, RESDELIV_ESTORE, NULL, 0);
        return 0;
    }
    f->cur = &h;
    ck_assert_int_eq(resdeliv_store_append(f->inner, app, app_len, items, n,
                                           flaky_inner_done, f),
                     0);
    if (f->hold) {
        ck_assert_uint_lt(f->nheld, 4);
        f->held[f->nheld++] = h;
        return 0;
    }
    cb(arg, h.status, h.res, h.n);
    free(h.res);
    return 0;
}

static void flaky_release(struct flaky *f)
{
    for (size_t i = 0; i < f->nheld; i++) {
        struct held *h = &f->held[i];
        h->cb(h->arg, h->status, h->res, h->n);
        free(h->res);
    }
    f->nheld = 0;
}

static int flaky_read(void *self, const struct resdeliv_log_key *key,
                      const struct resdeliv_id *after, size_t max,
                      resdeliv_read_cb cb, void *arg)
{
    struct flaky *f = self;

    return resdeliv_store_read(f->inner, key, after, max, cb, arg);
}

static int flaky_info(void *self, const struct resdeliv_log_key *key,
                      const struct resdeliv_id *after, uint64_t cap,
                      resdeliv_info_cb cb, void *arg)
{
    struct flaky *f = self;

    return resdeliv_store_info(f->inner, key, after, cap, cb, arg);
}

static void flaky_destroy(void *self)
{
    struct flaky *f = self;

    resdeliv_store_free(f->inner);
    free(f->recs);
    free(f);
}

static resdeliv_store *flaky_store(uint32_t flags, struct flaky **out)
{
    struct resdeliv_store_ops ops = {
        RESDELIV_STRUCT_HEAD(ops),
        .flags = flags,
        .name = "flaky",
        .append = flaky_append,
        .read = flaky_read,
        .info = flaky_info,
        .destroy = flaky_destroy,
    };
    struct flaky *f = calloc(1, sizeof(*f));
    resdeliv_store *st = NULL;

    ck_assert_ptr_nonnull(f);
    f->recs = calloc(REC_MAX, sizeof(*f->recs));
    ck_assert_ptr_nonnull(f->recs);
    f->inner = memory_store();
    ck_assert_int_eq(resdeliv_store_new(&ops, f, &st), 0);
    *out = f;
    return st;
}

static uint64_t wall_ms_now(void)
{
    return (uint64_t)time(NULL) * 1000u;
}

/* Item `i` of the last append is a marker on `channel` for `lost`
 * messages, the first of them in [t0, t1]. */
static void expect_marker(const struct flaky *f, size_t i,
                          const char *channel, int lost, uint64_t t0,
                          uint64_t t1)
{
    const struct rec *r = &f->recs[i];
    cJSON *data;
    const cJSON *v;

    ck_assert_uint_lt(i, f->n);
    ck_assert_str_eq(r->event, RESDELIV_UNLOGGED_EVENT);
    ck_assert_str_eq(r->channel, channel);
    data = cJSON_Parse(r->data);
    ck_assert_msg(data != NULL, "marker data '%s'", r->data);
    v = cJSON_GetObjectItemCaseSensitive(data, "lost");
    ck_assert(cJSON_IsNumber(v));
    ck_assert_int_eq(v->valueint, lost);
    v = cJSON_GetObjectItemCaseSensitive(data, "since");
    ck_assert(cJSON_IsNumber(v));
    ck_assert_msg(v->valuedouble >= (double)t0 && v->valuedouble <= (double)t1,
                  "since %.0f not in [%llu, %llu]", v->valuedouble,
                  (unsigned long long)t0, (unsigned long long)t1);
    cJSON_Delete(data);
}

static void expect_plain(const struct flaky *f, size_t i,
                         const char *channel, const char *event)
{
    ck_assert_uint_lt(i, f->n);
    ck_assert_str_eq(f->recs[i].channel, channel);
    ck_assert_str_eq(f->recs[i].event, event);
}

static void publish_one(resdeliv_log *log, const char *channel,
                        const char *event, int logged)
{
    struct resdeliv_message m = msg(channel, event, "{\"x\":1}");
    struct resdeliv_publish_result res;

    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    ck_assert_uint_eq(res.logged, (uint32_t)logged);
    ck_assert_uint_eq(res.tagged, (uint32_t)logged);
    ck_assert_str_ne(res.payload, "");
    resdeliv_publish_result_clear(&res);
}

/* Publishes while the store fails go out untagged; the next append of
 * the channel carries a marker first, in the same store call, and the
 * caller's result is the message's, not the marker's. */
START_TEST(marker_after_recovery)
{
    struct flaky *f;
    resdeliv_store *st = flaky_store(RESDELIV_STORE_SYNC, &f);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message m = msg("news", "update", "{\"a\":1}");
    struct resdeliv_publish_result res;
    struct resdeliv_counters c;
    uint64_t t0 = wall_ms_now(), t1;

    f->fail = 1;
    publish_one(log, "news", "update", 0);
    ck_assert_uint_eq(f->n, 1);
    publish_one(log, "news", "update", 0);
    publish_one(log, "news", "update", 0);
    /* Still failing: a marker was tried with the message and is still
     * owed, covering every failure so far. */
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, "news", 2, t0, wall_ms_now() + 1000);
    publish_one(log, "other", "update", 0);
    ck_assert_uint_eq(f->n, 1);
    t1 = wall_ms_now() + 1000;
    f->fail = 0;
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    ck_assert_int_eq(f->calls, 5);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, "news", 3, t0, t1);
    expect_plain(f, 1, "news", "update");
    ck_assert_int_eq(f->recs[0].status, 0);
    ck_assert_int_lt(resdeliv_id_cmp(&f->recs[0].id, &f->recs[1].id), 0);
    ck_assert_uint_eq(res.logged, 1);
    ck_assert_uint_eq(res.tagged, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&res.position.id, &f->recs[1].id), 0);
    ck_assert_ptr_null(strstr(res.payload, "lost"));
    resdeliv_publish_result_clear(&res);
    /* Announced once: the channel owes nothing more. */
    publish_one(log, "news", "update", 1);
    ck_assert_uint_eq(f->n, 1);
    expect_plain(f, 0, "news", "update");
    publish_one(log, "other", "update", 1);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, "other", 1, t0, t1);
    publish_one(log, "other", "update", 1);
    ck_assert_uint_eq(f->n, 1);
    c = counters_of(log);
    ck_assert_uint_eq(c.published, 8);
    ck_assert_uint_eq(c.untagged, 4);
    ck_assert_uint_eq(c.tagged, 4);
    ck_assert_uint_eq(c.log_failures, 4);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* A batch gets one marker per owing channel, each right before the
 * channel's first item; results keep the caller's count and order. */
START_TEST(marker_in_batch)
{
    struct flaky *f;
    resdeliv_store *st = flaky_store(RESDELIV_STORE_SYNC, &f);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message m[5];
    struct resdeliv_publish_result res[5];
    static const char *const want[] = {"b", "b", "a", "a", "x", "a"};
    uint64_t t0 = wall_ms_now();

    f->fail = 1;
    m[0] = msg("a", "e0", "{}");
    m[1] = msg("b", "e1", "{}");
    m[2] = msg("a", "e2", "{}");
    m[3] = msg("c", "e3", "{}");
    ck_assert_int_eq(resdeliv_log_publish_batch(log, m, 4, res), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(res[i].status, 0);
        ck_assert_uint_eq(res[i].logged, 0);
        resdeliv_publish_result_clear(&res[i]);
    }
    f->fail = 0;
    m[0] = msg("b", "e0", "{}");
    m[1] = msg("a", "e1", "{}");
    m[2] = msg("x", "e2", "{}");
    m[3] = msg("a", "client-refused", "{}");
    m[4] = msg("a", "e4", "{}");
    ck_assert_int_eq(resdeliv_log_publish_batch(log, m, 5, res), 0);
    ck_assert_uint_eq(f->n, 6);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_str_eq(f->recs[i].channel, want[i]);
    }
    expect_marker(f, 0, "b", 1, t0, wall_ms_now() + 1000);
    expect_plain(f, 1, "b", "e0");
    expect_marker(f, 2, "a", 2, t0, wall_ms_now() + 1000);
    expect_plain(f, 3, "a", "e1");
    expect_plain(f, 4, "x", "e2");
    expect_plain(f, 5, "a", "e4");
    ck_assert_int_eq(res[3].status, RESDELIV_EWHISPER);
    ck_assert_int_eq(resdeliv_id_cmp(&res[0].position.id, &f->recs[1].id), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&res[1].position.id, &f->recs[3].id), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&res[2].position.id, &f->recs[4].id), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&res[4].position.id, &f->recs[5].id), 0);
    for (int i = 0; i < 5; i++) {
        resdeliv_publish_result_clear(&res[i]);
    }
    /* "c" still owes its marker. */
    publish_one(log, "c", "e", 1);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, "c", 1, t0, wall_ms_now() + 1000);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

struct async_keep {
    int calls;
    size_t n;
    int status[4];
    uint32_t logged[4];
    struct resdeliv_id id[4];
};

static void on_async_keep(void *arg, int status,
                          struct resdeliv_publish_result *results, size_t n)
{
    struct async_keep *k = arg;

    ck_assert_int_eq(status, 0);
    k->calls++;
    k->n = n;
    for (size_t i = 0; i < n && i < 4; i++) {
        k->status[i] = results[i].status;
        k->logged[i] = results[i].logged;
        k->id[i] = results[i].position.id;
    }
}

static void publish_async_one(resdeliv_log *log, const char *channel,
                              struct async_keep *k)
{
    struct resdeliv_message m = msg(channel, "ev", "{}");

    memset(k, 0, sizeof(*k));
    ck_assert_int_eq(resdeliv_log_publish_async(log, &m, 1, on_async_keep, k),
                     0);
}

/* An event-loop store: the marker goes with the asynchronous append too,
 * and a marker still in flight covers only the failures it counted. */
START_TEST(marker_async_in_flight)
{
    struct flaky *f;
    resdeliv_store *st = flaky_store(0, &f);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct async_keep k1, k2, k3;
    uint64_t t0 = wall_ms_now();

    f->fail = 1;
    publish_async_one(log, "ch", &k1);
    publish_async_one(log, "ch", &k2);
    ck_assert_int_eq(k2.calls, 1);
    ck_assert_int_eq(k2.status[0], 0);
    ck_assert_uint_eq(k2.logged[0], 0);
    /* The store is back but slow: a marker for 2 is in flight. */
    f->fail = 0;
    f->hold = 1;
    publish_async_one(log, "ch", &k1);
    ck_assert_int_eq(k1.calls, 0);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, "ch", 2, t0, wall_ms_now() + 1000);
    /* Down again before it completes: one more untagged; this call tried
     * a marker for the same two. */
    f->fail = 1;
    f->hold = 0;
    publish_async_one(log, "ch", &k2);
    ck_assert_uint_eq(k2.logged[0], 0);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, "ch", 2, t0, wall_ms_now() + 1000);
    /* The first marker lands: it covered two of the three. */
    f->fail = 0;
    flaky_release(f);
    ck_assert_int_eq(k1.calls, 1);
    ck_assert_uint_eq(k1.n, 1);
    ck_assert_int_eq(k1.status[0], 0);
    ck_assert_uint_eq(k1.logged[0], 1);
    publish_async_one(log, "ch", &k3);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, "ch", 1, t0, wall_ms_now() + 1000);
    ck_assert_uint_eq(k3.logged[0], 1);
    ck_assert_int_eq(resdeliv_id_cmp(&k3.id[0], &f->recs[1].id), 0);
    publish_async_one(log, "ch", &k3);
    ck_assert_uint_eq(f->n, 1);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* on_log_failure fail delivers nothing untagged: nothing to announce. */
START_TEST(no_marker_when_failing)
{
    struct flaky *f;
    resdeliv_store *st = flaky_store(RESDELIV_STORE_SYNC, &f);
    struct resdeliv_config cfg;
    resdeliv_log *log;
    struct resdeliv_message m = msg("news", "update", "{}");
    struct resdeliv_publish_result res;

    resdeliv_config_init(&cfg);
    cfg.on_log_failure = RESDELIV_ON_FAILURE_FAIL;
    log = open_log(&cfg, st, "app");
    f->fail = 1;
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_ESTORE);
    f->fail = 0;
    publish_one(log, "news", "update", 1);
    ck_assert_uint_eq(f->n, 1);
    expect_plain(f, 0, "news", "update");
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* The handle remembers at most RESDELIV_MAX_UNLOGGED_CHANNELS channels;
 * a failure on one more is refused, never delivered unannounced. */
START_TEST(marker_map_bound)
{
    enum { MAXCH = RESDELIV_MAX_UNLOGGED_CHANNELS };
    struct flaky *f;
    resdeliv_store *st = flaky_store(RESDELIV_STORE_SYNC, &f);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message *m = calloc(MAXCH, sizeof(*m));
    struct resdeliv_publish_result *res = calloc(MAXCH, sizeof(*res));
    char (*names)[16] = calloc(MAXCH + 1, sizeof(*names));
    struct resdeliv_counters c;
    struct resdeliv_message one;
    struct resdeliv_publish_result r1;

    ck_assert(m != NULL && res != NULL && names != NULL);
    for (int i = 0; i <= MAXCH; i++) {
        snprintf(names[i], sizeof(names[i]), "ch-%d", i);
    }
    f->fail = 1;
    for (int i = 0; i < MAXCH; i++) {
        publish_one(log, names[i], "e", 0);
    }
    one = msg(names[MAXCH], "e", "{}");
    ck_assert_int_eq(resdeliv_log_publish(log, &one, &r1), RESDELIV_ESTORE);
    ck_assert_ptr_null(r1.payload);
    ck_assert_uint_eq(r1.logged, 0);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "marker"));
    /* A channel already remembered still goes out untagged. */
    publish_one(log, names[7], "e", 0);
    c = counters_of(log);
    ck_assert_uint_eq(c.log_failures, MAXCH + 2);
    ck_assert_uint_eq(c.untagged, MAXCH + 1);
    ck_assert_uint_eq(c.published, MAXCH + 1);
    /* One channel announced frees a place. */
    f->fail = 0;
    publish_one(log, names[7], "e", 1);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, names[7], 2, 0, UINT64_MAX / 2);
    f->fail = 1;
    publish_one(log, names[MAXCH], "e", 0);
    ck_assert_int_eq(resdeliv_log_publish(log, &one, &r1), 0);
    resdeliv_publish_result_clear(&r1);
    /* Every remembered channel gets its own marker, in one call. */
    f->fail = 0;
    for (int i = 0; i < MAXCH; i++) {
        m[i] = msg(names[i + 1], "e", "{}");
    }
    ck_assert_int_eq(resdeliv_log_publish_batch(log, m, MAXCH, res), 0);
    ck_assert_uint_eq(f->n, 2 * MAXCH - 1);
    for (size_t i = 0, k = 0; i < MAXCH; i++) {
        ck_assert_int_eq(res[i].status, 0);
        if (i + 1 != 7) {
            expect_marker(f, k++, names[i + 1], i + 1 == MAXCH ? 2 : 1, 0,
                          UINT64_MAX / 2);
        }
        ck_assert_int_eq(resdeliv_id_cmp(&res[i].position.id, &f->recs[k].id),
                         0);
        k++;
        resdeliv_publish_result_clear(&res[i]);
    }
    /* Only ch-0 is owed now. */
    ck_assert_int_eq(resdeliv_log_publish_batch(log, m, MAXCH, res), 0);
    ck_assert_uint_eq(f->n, MAXCH);
    for (int i = 0; i < MAXCH; i++) {
        resdeliv_publish_result_clear(&res[i]);
    }
    publish_one(log, names[0], "e", 1);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, names[0], 1, 0, UINT64_MAX / 2);
    free(m);
    free(res);
    free(names);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

static Suite *log_unlogged_suite(void)
{
    Suite *s = suite_create("log_unlogged");
    TCase *tc;

    tc = tcase_create("unlogged");
    tcase_add_test(tc, marker_after_recovery);
    tcase_add_test(tc, marker_in_batch);
    tcase_add_test(tc, marker_async_in_flight);
    tcase_add_test(tc, no_marker_when_failing);
    tcase_add_test(tc, marker_map_bound);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(log_unlogged_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
