/* SPDX-License-Identifier: MIT */
/*
 * Tests of the log handle: opening (app ids, configuration, stores),
 * publishing with tagging, retention per channel and entry flags,
 * untagged deliveries, refused client events and reserved event names,
 * on the real memory store (a counting wrapper shows the store calls).
 * Batches, store failures, counters and positions are in
 * check_log_store.c; the markers of messages sent untagged while the store
 * failed in check_log_unlogged.c.
 */
#include "log_fixture.h"

#include <cjson/cJSON.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- open -------------------------------------------------------------- */

START_TEST(open_bad_app_ids)
{
    resdeliv_store *st = memory_store();
    resdeliv_log *log = NULL;
    char err[256];
    char longid[RESDELIV_MAX_APP_ID_LEN + 2];

    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';

    err[0] = '\0';
    ck_assert_int_eq(resdeliv_log_open(NULL, st, NULL, &log, err,
                                       sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_ptr_null(log);
    ck_assert_ptr_nonnull(strstr(err, "app_id"));
    ck_assert_int_eq(resdeliv_log_open(NULL, st, "", &log, err, sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_open(NULL, st, longid, &log, err,
                                       sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "longer"));
    ck_assert_int_eq(resdeliv_log_open(NULL, st, "app\nid", &log, err,
                                       sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "control"));
    ck_assert_int_eq(resdeliv_log_open(NULL, st, "app", NULL, err,
                                       sizeof(err)),
                     RESDELIV_EINVAL);
    /* The longest id accepted is exactly the limit; no err buffer is fine. */
    longid[RESDELIV_MAX_APP_ID_LEN] = '\0';
    ck_assert_int_eq(resdeliv_log_open(NULL, st, longid, &log, NULL, 0), 0);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(open_bad_config)
{
    resdeliv_store *st = memory_store();
    struct resdeliv_config cfg;
    resdeliv_log *log = NULL;
    char err[256];

    resdeliv_config_init(&cfg);
    cfg.replay_id_field = "bad\"field";
    err[0] = '\0';
    ck_assert_int_eq(resdeliv_log_open(&cfg, st, "app", &log, err,
                                       sizeof(err)),
                     RESDELIV_EBADCONFIG);
    ck_assert_ptr_null(log);
    ck_assert_ptr_nonnull(strstr(err, "replay_id_field"));

    resdeliv_config_init(&cfg);
    cfg.default_max_messages = RESDELIV_MAX_RETENTION + 1;
    err[0] = '\0';
    ck_assert_int_eq(resdeliv_log_open(&cfg, st, "app", &log, err,
                                       sizeof(err)),
                     RESDELIV_EBADCONFIG);
    ck_assert_ptr_nonnull(strstr(err, "default_max_messages"));
    resdeliv_store_free(st);
}
END_TEST

START_TEST(open_own_store)
{
    struct resdeliv_config cfg;
    struct resdeliv_message m = msg("news", "update", "{\"a\":1}");
    struct resdeliv_publish_result res;
    resdeliv_log *log;

    resdeliv_config_init(&cfg);
    cfg.connection = "memory";
    log = open_log(&cfg, NULL, "app");
    ck_assert_ptr_nonnull(resdeliv_log_store(log));
    ck_assert_str_eq(resdeliv_store_name(resdeliv_log_store(log)), "memory");
    ck_assert_str_eq(resdeliv_log_config(log)->connection, "memory");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    ck_assert_uint_eq(res.logged, 1);
    resdeliv_publish_result_clear(&res);
    /* Closing frees the store it made (LeakSanitizer checks). */
    resdeliv_log_close(log);
    resdeliv_log_close(NULL);
}
END_TEST

START_TEST(open_store_urls)
{
    struct resdeliv_config cfg;
    resdeliv_log *log = NULL;
    char err[256];
    int rc;

    resdeliv_config_init(&cfg);
    cfg.connection = "redis://127.0.0.1:1/0";
    err[0] = '\0';
    rc = resdeliv_log_open(&cfg, NULL, "app", &log, err, sizeof(err));
    if (rc == 0) {
        /* A build with Redis may connect lazily. */
        ck_assert_ptr_nonnull(log);
        ck_assert_str_eq(resdeliv_store_name(resdeliv_log_store(log)),
                         "redis");
        resdeliv_log_close(log);
    } else {
        ck_assert_ptr_null(log);
        ck_assert_msg(err[0] != '\0', "no message for rc %d", rc);
        if (rc == RESDELIV_ENOTSUP) {
            ck_assert_ptr_nonnull(strstr(err, "Redis"));
        }
    }

    resdeliv_config_init(&cfg);
    cfg.connection = "bogus://somewhere";
    err[0] = '\0';
    rc = resdeliv_log_open(&cfg, NULL, "app", &log, err, sizeof(err));
    ck_assert_int_lt(rc, 0);
    ck_assert_ptr_null(log);
    ck_assert_msg(err[0] != '\0', "no message");
}
END_TEST

/* ---- publish ----------------------------------------------------------- */
START_TEST(publish_tags)
{
    resdeliv_store *st = memory_store();
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_publish_result res[3];
    struct resdeliv_message m = msg("news", "update", "{\"text\":\"hi\"}");
    struct resdeliv_counters c;

    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(resdeliv_log_publish(log, &m, &res[i]), 0);
        check_tagged(&res[i], "_replay_id", "_replay_epoch", "text");
        ck_assert_str_eq(res[i].position.epoch, res[0].position.epoch);
        if (i > 0) {
            ck_assert_int_gt(resdeliv_id_cmp(&res[i].position.id,
                                             &res[i - 1].position.id),
                             0);
        }
    }
    c = counters_of(log);
    ck_assert_uint_eq(c.published, 3);
    ck_assert_uint_eq(c.tagged, 3);
    ck_assert_uint_eq(c.untagged, 0);
    for (int i = 0; i < 3; i++) {
        resdeliv_publish_result_clear(&res[i]);
        ck_assert_ptr_null(res[i].payload);
    }
    resdeliv_publish_result_clear(NULL);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(publish_custom_fields)
{
    resdeliv_store *st = memory_store();
    struct resdeliv_config cfg;
    resdeliv_log *log;
    struct resdeliv_publish_result res;
    struct resdeliv_message m =
        msg("news", "update", "{\"rid\":\"stale\",\"x\":[1,{\"y\":2}]}");
    cJSON *obj;

    resdeliv_config_init(&cfg);
    cfg.replay_id_field = "rid";
    cfg.replay_epoch_field = "rep";
    log = open_log(&cfg, st, "app");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    check_tagged(&res, "rid", "rep", "x");
    /* The old value of the id field is replaced, not duplicated. */
    ck_assert_ptr_null(strstr(res.payload, "stale"));
    obj = cJSON_Parse(res.payload);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(obj, "_replay_id"));
    ck_assert_int_eq(cJSON_GetArraySize(obj), 3);
    cJSON_Delete(obj);
    resdeliv_publish_result_clear(&res);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(publish_bad_input)
{
    resdeliv_store *st = memory_store();
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_publish_result res;
    char longch[RESDELIV_MAX_CHANNEL_LEN + 2];
    struct resdeliv_message m;

    memset(longch, 'c', sizeof(longch) - 1);
    longch[sizeof(longch) - 1] = '\0';
    m = msg("news", "update", "{}");
    ck_assert_int_eq(resdeliv_log_publish(NULL, &m, &res), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_publish(log, NULL, &res), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_publish(log, &m, NULL), RESDELIV_EINVAL);

    m = msg("", "update", "{}");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "channel"));
    ck_assert_ptr_null(res.payload);
    m = msg(longch, "update", "{}");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "longer"));
    m = msg("a\tb", "update", "{}");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_EINVAL);
    m = msg("news", "", "{}");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "event"));
    m = msg("news", "update", NULL);
    m.data_len = 3;
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_EINVAL);
    ck_assert_uint_eq(counters_of(log).published, 0);
    ck_assert_str_eq(resdeliv_log_errmsg(NULL), "");
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* ---- untagged deliveries ----------------------------------------------- */

START_TEST(not_object_untagged)
{
    static const char *const data[] = {"[1,2,3]", "\"text\"", "42", "",
                                       "{\"open\":1"};
    const size_t n = sizeof(data) / sizeof(data[0]);
    resdeliv_store *st = memory_store();
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_counters c;

    for (size_t i = 0; i < n; i++) {
        struct resdeliv_message m = msg("news", "update", data[i]);
        struct resdeliv_publish_result res;

        ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
        ck_assert_uint_eq(res.logged, 1);
        ck_assert_uint_eq(res.tagged, 0);
        ck_assert_uint_eq(res.payload_len, strlen(data[i]));
        ck_assert_str_eq(res.payload, data[i]);
        ck_assert(!resdeliv_id_is_zero(&res.position.id));
        resdeliv_publish_result_clear(&res);
    }
    c = counters_of(log);
    ck_assert_uint_eq(c.published, n);
    ck_assert_uint_eq(c.not_object, n);
    ck_assert_uint_eq(c.untagged, n);
    ck_assert_uint_eq(c.tagged, 0);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(whisper_refused)
{
    resdeliv_store *st = memory_store();
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message m = msg("private-chat", "client-typing", "{}");
    struct resdeliv_publish_result res;
    struct resdeliv_position pos;
    struct resdeliv_counters c;

    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_EWHISPER);
    ck_assert_int_eq(res.status, RESDELIV_EWHISPER);
    ck_assert_uint_eq(res.logged, 0);
    ck_assert_ptr_null(res.payload);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "client"));
    /* "client" alone is an ordinary event name. */
    m = msg("private-chat", "client", "{}");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    resdeliv_publish_result_clear(&res);
    c = counters_of(log);
    ck_assert_uint_eq(c.whispers_refused, 1);
    ck_assert_uint_eq(c.published, 1);
    /* Nothing of the whisper reached the log. */
    ck_assert_int_eq(resdeliv_log_position(log, "private-chat", &pos), 0);
    m = msg("private-other", "client-x", "{}");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_EWHISPER);
    ck_assert_int_eq(resdeliv_log_position(log, "private-other", &pos), 0);
    ck_assert(resdeliv_id_is_zero(&pos.id));
    ck_assert_str_eq(pos.epoch, "");
    ck_assert_uint_eq(counters_of(log).whispers_refused, 2);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(retention_per_channel)
{
    resdeliv_store *st = memory_store();
    struct resdeliv_retention_rule rules[] = {{"short-*", 2}, {"*", 5}};
    struct resdeliv_config cfg;
    resdeliv_log *log;
    resdeliv_replay *cur;

    resdeliv_config_init(&cfg);
    cfg.per_channel = rules;
    cfg.per_channel_count = 2;
    log = open_log(&cfg, st, "app");
    for (int i = 0; i < 8; i++) {
        struct resdeliv_message m[2];
        struct resdeliv_publish_result res[2];
        m[0] = msg("short-a", "ev", "{}");
        m[1] = msg("long", "ev", "{}");
        ck_assert_int_eq(resdeliv_log_publish_batch(log, m, 2, res), 0);
        resdeliv_publish_result_clear(&res[0]);
        resdeliv_publish_result_clear(&res[1]);
    }
    /* The retained length shows through a replay from the start. */
    ck_assert_int_eq(resdeliv_replay_open(log, "short-a", "0-0", NULL, &cur),
                     0);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->expected, 2);
    resdeliv_replay_close(cur);
    ck_assert_int_eq(resdeliv_replay_open(log, "long", "0-0", NULL, &cur), 0);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->expected, 5);
    resdeliv_replay_close(cur);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* ---- entry flags ------------------------------------------------------ */

struct flags_read {
    size_t n;
    uint32_t flags[8];
};

static void on_flags_read(void *arg, int status,
                          const struct resdeliv_stored_entry *e, size_t n,
                          const char *epoch)
{
    struct flags_read *o = arg;

    o->n = status == 0 ? n : 0;
    for (size_t i = 0; i < o->n && i < 8; i++) {
        o->flags[i] = e[i].flags;
    }
    (void)epoch;
}

/* One scan per publish: the store learns which payloads a reader may tag
 * by insertion, and the payload is what resdeliv_tag() makes. */
START_TEST(publish_entry_flags)
{
    static const struct {
        const char *data;
        uint32_t flags;
    } cases[] = {
        {"{\"a\":1}", RESDELIV_ENTRY_OBJECT},
        {" { \n} ", RESDELIV_ENTRY_OBJECT},
        {"{\"a\":\"}\" } ", RESDELIV_ENTRY_OBJECT},
        {"{\"_replay_id\":5,\"b\":2}", 0},
        {"{\"x\":1,\"_replay_epoch\":\"zz\"}", 0},
        {"[1]", 0},
        {"{\"a\":1", 0},
    };
    size_t ncases = sizeof(cases) / sizeof(cases[0]);
    resdeliv_store *st = memory_store();
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_log_key key = {"app", 3, "fl", 2};
    struct flags_read r = {0};

    for (size_t i = 0; i < ncases; i++) {
        struct resdeliv_message m = msg("fl", "ev", cases[i].data);
        struct resdeliv_publish_result res;
        char *want = NULL;
        size_t want_len = 0;
        int rc;

        ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
        rc = resdeliv_tag(m.data, m.data_len, "_replay_id", "_replay_epoch",
                          &res.position.id, res.position.epoch, &want,
                          &want_len);
        ck_assert_uint_eq(res.tagged, rc == 0);
        ck_assert_str_eq(res.payload, rc == 0 ? want : cases[i].data);
        resdeliv_free(want);
        resdeliv_publish_result_clear(&res);
    }
    ck_assert_int_eq(resdeliv_store_read(st, &key, NULL, 8, on_flags_read, &r),
                     0);
    ck_assert_uint_eq(r.n, ncases);
    for (size_t i = 0; i < ncases; i++) {
        ck_assert_msg(r.flags[i] == cases[i].flags, "'%s': flags %u",
                      cases[i].data, r.flags[i]);
    }
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* ---- reserved names ---------------------------------------------------- */

START_TEST(reserved_refused)
{
    resdeliv_store *mem = memory_store();
    struct counting *cnt;
    resdeliv_store *st = counting_store(mem, RESDELIV_STORE_SYNC, &cnt);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message m[3];
    struct resdeliv_publish_result res[3];
    struct resdeliv_position pos;

    m[0] = msg("news", RESDELIV_UNLOGGED_EVENT, "{\"lost\":1,\"since\":1}");
    ck_assert_int_eq(resdeliv_log_publish(log, &m[0], &res[0]),
                     RESDELIV_EINVAL);
    ck_assert_ptr_null(res[0].payload);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "reserved"));
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "resdeliv:"));
    ck_assert_int_eq(cnt->appends, 0);
    /* In a batch only that message is refused; the store never sees it. */
    m[0] = msg("news", "a", "{}");
    m[1] = msg("news", "resdeliv:gap", "{}");
    m[2] = msg("news", "resdeliv-not-reserved", "{}");
    ck_assert_int_eq(resdeliv_log_publish_batch(log, m, 3, res), 0);
    ck_assert_int_eq(res[0].status, 0);
    ck_assert_int_eq(res[1].status, RESDELIV_EINVAL);
    ck_assert_ptr_null(res[1].payload);
    ck_assert_int_eq(res[2].status, 0);
    ck_assert_int_eq(cnt->appends, 1);
    ck_assert_uint_eq(cnt->last_n, 2);
    ck_assert_int_eq(resdeliv_log_position(log, "news", &pos), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&pos.id, &res[2].position.id), 0);
    resdeliv_publish_result_clear(&res[2]);
    /* "resdeliv" without the colon, and the prefix cut short, pass. */
    m[0] = msg("news", "resdeliv", "{}");
    m[1] = msg("news", "resdeliv;", "{}");
    ck_assert_int_eq(resdeliv_log_publish_batch(log, m, 2, res + 1), 0);
    ck_assert_int_eq(res[1].status, 0);
    ck_assert_int_eq(res[2].status, 0);
    ck_assert_uint_eq(counters_of(log).published, 4);
    ck_assert_uint_eq(counters_of(log).whispers_refused, 0);
    for (int i = 0; i < 3; i++) {
        resdeliv_publish_result_clear(&res[i]);
    }
    resdeliv_log_close(log);
    resdeliv_store_free(st);
    resdeliv_store_free(mem);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc;

    tc = tcase_create("open");
    tcase_add_test(tc, open_bad_app_ids);
    tcase_add_test(tc, open_bad_config);
    tcase_add_test(tc, open_own_store);
    tcase_add_test(tc, open_store_urls);
    suite_add_tcase(s, tc);

    tc = tcase_create("publish");
    tcase_add_test(tc, publish_tags);
    tcase_add_test(tc, publish_custom_fields);
    tcase_add_test(tc, publish_bad_input);
    tcase_add_test(tc, retention_per_channel);
    tcase_add_test(tc, publish_entry_flags);
    suite_add_tcase(s, tc);

    tc = tcase_create("not_object");
    tcase_add_test(tc, not_object_untagged);
    suite_add_tcase(s, tc);

    tc = tcase_create("whisper");
    tcase_add_test(tc, whisper_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("reserved");
    tcase_add_test(tc, reserved_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(log_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
