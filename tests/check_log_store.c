/* SPDX-License-Identifier: MIT */
/*
 * Tests of the log handle's use of its store: batches published in one
 * store call (synchronous and asynchronous), store failures in both
 * on_log_failure modes (a vtable whose appends always fail stands in for
 * an unreachable store), the counters, and positions and drops. They run
 * on the real memory store otherwise.
 */
#include "log_fixture.h"

#include <cjson/cJSON.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A store whose append always fails: the whole batch, or every item. */
struct failing {
    int per_item;
};

static int fail_append(void *self, const char *app, size_t app_len,
                       const struct resdeliv_append_item *items, size_t n,
                       resdeliv_append_cb cb, void *arg)
{
    struct failing *f = self;
    struct resdeliv_append_result res[8];

    if (!f->per_item || n > 8) {
        cb(arg, RESDELIV_ESTORE, NULL, 0);
        return 0;
    }
    memset(res, 0, sizeof(res));
    for (size_t i = 0; i < n; i++) {
        res[i].status = RESDELIV_ESTORE;
    }
    cb(arg, 0, res, n);
    return 0;
}

static int fail_read(void *self, const struct resdeliv_log_key *key,
                     const struct resdeliv_id *after, size_t max,
                     resdeliv_read_cb cb, void *arg)
{
    return RESDELIV_ESTORE;
}

static int fail_info(void *self, const struct resdeliv_log_key *key,
                     const struct resdeliv_id *after, uint64_t cap,
                     resdeliv_info_cb cb, void *arg)
{
    return RESDELIV_ESTORE;
}

static const char *fail_errmsg(void *self)
{
    return "connection refused by test double";
}

static resdeliv_store *failing_store(int per_item)
{
    struct resdeliv_store_ops ops = {
        RESDELIV_STRUCT_HEAD(ops),
        .flags = RESDELIV_STORE_SYNC,
        .name = "failing",
        .append = fail_append,
        .read = fail_read,
        .info = fail_info,
        .destroy = free,
        .errmsg = fail_errmsg,
    };
    struct failing *f = calloc(1, sizeof(*f));
    resdeliv_store *st = NULL;

    ck_assert_ptr_nonnull(f);
    f->per_item = per_item;
    ck_assert_int_eq(resdeliv_store_new(&ops, f, &st), 0);
    return st;
}

/* ---- batches ----------------------------------------------------------- */

START_TEST(batch_one_call)
{
    enum { N = 64, CHANNELS = 4 };
    static const char *const chans[CHANNELS] = {"a", "b", "c", "d"};
    resdeliv_store *mem = memory_store();
    struct counting *cnt;
    resdeliv_store *st = counting_store(mem, RESDELIV_STORE_SYNC, &cnt);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message msgs[N];
    struct resdeliv_publish_result res[N];
    char data[N][32];
    struct resdeliv_id last[CHANNELS];

    memset(last, 0, sizeof(last));
    for (int i = 0; i < N; i++) {
        snprintf(data[i], sizeof(data[i]), "{\"n\":%d}", i);
        msgs[i] = msg(chans[i % CHANNELS], "ev", data[i]);
    }
    msgs[10] = msg("a", "client-x", "{}");
    msgs[20] = msg("", "ev", "{}");
    ck_assert_int_eq(resdeliv_log_publish_batch(log, msgs, N, res), 0);
    ck_assert_int_eq(cnt->appends, 1);
    ck_assert_uint_eq(cnt->last_n, N - 2);
    for (int i = 0; i < N; i++) {
        cJSON *obj;
        if (i == 10 || i == 20) {
            ck_assert_int_eq(res[i].status, i == 10 ? RESDELIV_EWHISPER
                                                    : RESDELIV_EINVAL);
            ck_assert_ptr_null(res[i].payload);
            continue;
        }
        check_tagged(&res[i], "_replay_id", "_replay_epoch", "n");
        obj = cJSON_Parse(res[i].payload);
        ck_assert_int_eq(
            cJSON_GetObjectItemCaseSensitive(obj, "n")->valueint, i);
        cJSON_Delete(obj);
        ck_assert_int_gt(resdeliv_id_cmp(&res[i].position.id,
                                         &last[i % CHANNELS]),
                         0);
        last[i % CHANNELS] = res[i].position.id;
    }
    for (int k = 0; k < CHANNELS; k++) {
        struct resdeliv_position pos;
        ck_assert_int_eq(resdeliv_log_position(log, chans[k], &pos), 0);
        ck_assert_int_eq(resdeliv_id_cmp(&pos.id, &last[k]), 0);
    }
    ck_assert_uint_eq(counters_of(log).published, N - 2);
    for (int i = 0; i < N; i++) {
        resdeliv_publish_result_clear(&res[i]);
    }
    /* An empty batch is processed without a store call. */
    ck_assert_int_eq(resdeliv_log_publish_batch(log, NULL, 0, NULL), 0);
    ck_assert_int_eq(cnt->appends, 1);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
    resdeliv_store_free(mem);
}
END_TEST

struct async_seen {
    int calls;
    int status;
    size_t n;
    char *taken;
    int tagged;
};

static void on_published(void *arg, int status,
                         struct resdeliv_publish_result *results, size_t n)
{
    struct async_seen *s = arg;

    s->calls++;
    s->status = status;
    s->n = n;
    if (n > 0 && results[0].status == 0) {
        /* Take the first payload; the library frees the rest. */
        s->taken = results[0].payload;
        s->tagged = (int)results[0].tagged;
        results[0].payload = NULL;
    }
}

START_TEST(batch_async)
{
    resdeliv_store *mem = memory_store();
    struct counting *cnt;
    /* Flags 0: the wrapper completes at once, but the log may not rely on
     * that and must copy the messages. */
    resdeliv_store *st = counting_store(mem, 0, &cnt);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message msgs[3];
    struct resdeliv_publish_result res;
    struct async_seen seen = {0};
    char data[] = "{\"k\":\"v\"}";

    msgs[0] = msg("a", "ev", data);
    msgs[1] = msg("b", "ev", "[]");
    msgs[2] = msg("c", "client-no", "{}");
    memset(&res, 0x5A, sizeof(res));
    ck_assert_int_eq(resdeliv_log_publish(log, &msgs[0], &res),
                     RESDELIV_ENOTSUP);
    ck_assert_ptr_null(res.payload);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "async"));
    ck_assert_int_eq(resdeliv_log_publish_async(log, msgs, 3, NULL, NULL),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_log_publish_async(log, msgs, 3, on_published, &seen), 0);
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_int_eq(seen.status, 0);
    ck_assert_uint_eq(seen.n, 3);
    ck_assert_int_eq(cnt->appends, 1);
    ck_assert_ptr_nonnull(seen.taken);
    ck_assert_int_eq(seen.tagged, 1);
    ck_assert_ptr_nonnull(strstr(seen.taken, "\"_replay_id\""));
    resdeliv_free(seen.taken);
    ck_assert_uint_eq(counters_of(log).published, 2);
    ck_assert_uint_eq(counters_of(log).whispers_refused, 1);

    /* An empty batch still completes exactly once. */
    seen.calls = 0;
    seen.taken = NULL;
    ck_assert_int_eq(
        resdeliv_log_publish_async(log, NULL, 0, on_published, &seen), 0);
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_uint_eq(seen.n, 0);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
    resdeliv_store_free(mem);
}
END_TEST

/* ---- store failures ---------------------------------------------------- */

static void failure_mode(uint32_t mode, int per_item)
{
    resdeliv_store *st = failing_store(per_item);
    struct resdeliv_config cfg;
    resdeliv_log *log;
    struct resdeliv_message m = msg("news", "update", "{\"a\":1}");
    struct resdeliv_publish_result res;
    struct resdeliv_counters c;
    int rc;

    resdeliv_config_init(&cfg);
    cfg.on_log_failure = mode;
    log = open_log(&cfg, st, "app");
    rc = resdeliv_log_publish(log, &m, &res);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log),
                                 "connection refused by test double"));
    c = counters_of(log);
    ck_assert_uint_eq(c.log_failures, 1);
    ck_assert_uint_eq(res.logged, 0);
    ck_assert_uint_eq(res.tagged, 0);
    if (mode == RESDELIV_ON_FAILURE_FAIL) {
        ck_assert_int_eq(rc, RESDELIV_ESTORE);
        ck_assert_int_eq(res.status, RESDELIV_ESTORE);
        ck_assert_ptr_null(res.payload);
        ck_assert_uint_eq(c.published, 0);
        ck_assert_uint_eq(c.untagged, 0);
    } else {
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(res.status, 0);
        ck_assert_str_eq(res.payload, "{\"a\":1}");
        ck_assert_uint_eq(res.payload_len, 7);
        ck_assert(resdeliv_id_is_zero(&res.position.id));
        ck_assert_uint_eq(c.published, 1);
        ck_assert_uint_eq(c.untagged, 1);
    }
    resdeliv_publish_result_clear(&res);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}

START_TEST(failure_deliver_untagged)
{
    failure_mode(RESDELIV_ON_FAILURE_DELIVER_UNTAGGED, 0);
    failure_mode(RESDELIV_ON_FAILURE_DELIVER_UNTAGGED, 1);
}
END_TEST

START_TEST(failure_fail)
{
    failure_mode(RESDELIV_ON_FAILURE_FAIL, 0);
    failure_mode(RESDELIV_ON_FAILURE_FAIL, 1);
}
END_TEST

START_TEST(failure_position)
{
    resdeliv_store *st = failing_store(0);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_position pos;

    ck_assert_int_eq(resdeliv_log_position(log, "news", &pos),
                     RESDELIV_ESTORE);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "test double"));
    /* The failing store has no drop. */
    ck_assert_int_eq(resdeliv_log_drop(log, "news"), RESDELIV_ENOTSUP);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* ---- counters and position --------------------------------------------- */

START_TEST(counters_sizes)
{
    resdeliv_store *st = memory_store();
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message m[2];
    struct resdeliv_publish_result res[2];
    struct resdeliv_counters c;

    m[0] = msg("a", "ev", "{}");
    m[1] = msg("a", "ev", "7");
    ck_assert_int_eq(resdeliv_log_publish_batch(log, m, 2, res), 0);
    resdeliv_publish_result_clear(&res[0]);
    resdeliv_publish_result_clear(&res[1]);
    resdeliv_log_count_dedup_drops(log, 5);
    resdeliv_log_count_dedup_drops(NULL, 5);

    /* An older caller knowing only the first two members. */
    memset(&c, 0xAB, sizeof(c));
    ck_assert_int_eq(resdeliv_log_counters(log, &c,
                                           offsetof(struct resdeliv_counters,
                                                    untagged)),
                     0);
    ck_assert_uint_eq(c.published, 2);
    ck_assert_uint_eq(c.tagged, 1);
    ck_assert_uint_eq(c.untagged, 0xABABABABABABABABull);
    ck_assert_uint_eq(c.dedup_drops, 0xABABABABABABABABull);

    /* A newer caller's larger struct gets what this library has. */
    {
        unsigned char big[sizeof(c) + 16];
        memset(big, 0xCD, sizeof(big));
        ck_assert_int_eq(resdeliv_log_counters(
                             log, (struct resdeliv_counters *)(void *)big,
                             sizeof(big)),
                         0);
        memcpy(&c, big, sizeof(c));
        ck_assert_uint_eq(c.untagged, 1);
        ck_assert_uint_eq(c.not_object, 1);
        ck_assert_uint_eq(c.dedup_drops, 5);
        ck_assert_uint_eq(big[sizeof(c)], 0xCD);
    }
    ck_assert_int_eq(resdeliv_log_counters(log, &c, 0), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_counters(log, NULL, sizeof(c)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_counters(NULL, &c, sizeof(c)),
                     RESDELIV_EINVAL);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(position_and_drop)
{
    resdeliv_store *st = memory_store();
    resdeliv_log *log = open_log(NULL, st, "app");
    resdeliv_log *other = open_log(NULL, st, "other-app");
    struct resdeliv_message m = msg("news", "ev", "{}");
    struct resdeliv_publish_result res;
    struct resdeliv_position pos;
    char first_epoch[RESDELIV_EPOCH_BUFSIZE];

    ck_assert_int_eq(resdeliv_log_position(log, "news", &pos), 0);
    ck_assert(resdeliv_id_is_zero(&pos.id));
    ck_assert_str_eq(pos.epoch, "");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    ck_assert_int_eq(resdeliv_log_position(log, "news", &pos), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&pos.id, &res.position.id), 0);
    ck_assert_str_eq(pos.epoch, res.position.epoch);
    strcpy(first_epoch, pos.epoch);
    resdeliv_publish_result_clear(&res);
    /* Logs are per app id. */
    ck_assert_int_eq(resdeliv_log_position(other, "news", &pos), 0);
    ck_assert(resdeliv_id_is_zero(&pos.id));

    ck_assert_int_eq(resdeliv_log_drop(log, "news"), 0);
    ck_assert_int_eq(resdeliv_log_position(log, "news", &pos), 0);
    ck_assert(resdeliv_id_is_zero(&pos.id));
    ck_assert_str_eq(pos.epoch, "");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    ck_assert_str_ne(res.position.epoch, first_epoch);
    resdeliv_publish_result_clear(&res);

    ck_assert_int_eq(resdeliv_log_position(log, "", &pos), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_position(log, NULL, &pos),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_position(log, "news", NULL),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_drop(NULL, "news"), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_drop(log, ""), RESDELIV_EINVAL);
    resdeliv_log_close(other);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

static Suite *log_store_suite(void)
{
    Suite *s = suite_create("log_store");
    TCase *tc;

    tc = tcase_create("batch");
    tcase_add_test(tc, batch_one_call);
    tcase_add_test(tc, batch_async);
    suite_add_tcase(s, tc);

    tc = tcase_create("on_log_failure");
    tcase_add_test(tc, failure_deliver_untagged);
    tcase_add_test(tc, failure_fail);
    tcase_add_test(tc, failure_position);
    suite_add_tcase(s, tc);

    tc = tcase_create("counters");
    tcase_add_test(tc, counters_sizes);
    suite_add_tcase(s, tc);

    tc = tcase_create("position");
    tcase_add_test(tc, position_and_drop);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(log_store_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
