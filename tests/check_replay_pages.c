/* SPDX-License-Identifier: MIT */
/*
 * Tests of the replay cursor's cap and pages on the real memory store:
 * the cap keeps the newest entries and the first gap reason, pages are of
 * the configured batch size; and of what it yields: payloads byte for
 * byte as delivered live, the fast tagging path against the full one, the
 * log's replay counters, and closing a cursor never fetched.
 */
#include "replay_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- cap and pages ----------------------------------------------------- */

START_TEST(cap_newest)
{
    struct resdeliv_config cfg;
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_status *st;
    char buf[RESDELIV_ID_BUFSIZE];

    resdeliv_config_init(&cfg);
    cfg.replay_max_messages = 3;
    fx_open(&fx, &cfg);
    fx_publish(&fx, "news", 10);
    cur = open_at(&fx, "news", fmt_id(&fx.ids[1], buf), fx.epoch);
    st = resdeliv_replay_status(cur);
    ck_assert_uint_eq(st->reason, RESDELIV_GAP_CAP);
    ck_assert_uint_eq(st->continuous, 0);
    /* 8 entries after the id, the newest 3 replayed. */
    ck_assert_int_eq(st->lost, 5);
    ck_assert_uint_eq(st->expected, 3);
    ck_assert_int_eq(resdeliv_id_cmp(&st->after, &fx.ids[6]), 0);
    expect_entries(&fx, cur, 7);
    resdeliv_replay_close(cur);

    /* Exactly the cap after the id: continuous. */
    cur = open_at(&fx, "news", fmt_id(&fx.ids[6], buf), fx.epoch);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->continuous, 1);
    expect_entries(&fx, cur, 7);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

START_TEST(cap_keeps_first_reason)
{
    struct resdeliv_config cfg;
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_status *st;
    struct resdeliv_id ahead;
    char buf[RESDELIV_ID_BUFSIZE];

    resdeliv_config_init(&cfg);
    cfg.replay_max_messages = 3;
    fx_open(&fx, &cfg);
    fx_publish(&fx, "news", 10);
    ahead = fx.ids[9];
    ahead.ms += 1000;
    cur = open_at(&fx, "news", fmt_id(&ahead, buf), NULL);
    st = resdeliv_replay_status(cur);
    ck_assert_uint_eq(st->reason, RESDELIV_GAP_AHEAD);
    ck_assert_int_eq(st->lost, -1);
    ck_assert_uint_eq(st->expected, 3);
    expect_entries(&fx, cur, 7);
    resdeliv_replay_close(cur);

    /* Epoch changed, and the new log is over the cap: from an id older
     * than the log and from one past it. */
    cur = open_at(&fx, "news", "1-0", "another-epoch");
    st = resdeliv_replay_status(cur);
    ck_assert_uint_eq(st->reason, RESDELIV_GAP_EPOCH_CHANGED);
    ck_assert_uint_eq(st->expected, 3);
    expect_entries(&fx, cur, 7);
    resdeliv_replay_close(cur);
    cur = open_at(&fx, "news", buf, "another-epoch");
    st = resdeliv_replay_status(cur);
    ck_assert_uint_eq(st->reason, RESDELIV_GAP_EPOCH_CHANGED);
    ck_assert_int_eq(st->lost, -1);
    expect_entries(&fx, cur, 7);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

START_TEST(pages_of_batch_size)
{
    struct resdeliv_config cfg;
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_entry *e;
    size_t n;
    size_t sizes[8];
    int pages = 0;

    resdeliv_config_init(&cfg);
    cfg.replay_batch_size = 4;
    fx_open(&fx, &cfg);
    fx_publish(&fx, "news", 10);
    cur = open_at(&fx, "news", "0-0", NULL);
    do {
        ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
        ck_assert_int_lt(pages, 8);
        sizes[pages++] = n;
    } while (n > 0);
    ck_assert_int_eq(pages, 4);
    ck_assert_uint_eq(sizes[0], 4);
    ck_assert_uint_eq(sizes[1], 4);
    ck_assert_uint_eq(sizes[2], 2);
    ck_assert_uint_eq(sizes[3], 0);
    ck_assert_uint_eq(resdeliv_replay_count(cur), 10);
    resdeliv_replay_close(cur);

    /* A replay ending exactly on a page boundary. */
    fx_publish(&fx, "news", 2);
    cur = open_at(&fx, "news", "0-0", NULL);
    ck_assert_int_eq(drain(cur, fx.ids, MAXE, &pages), 12);
    ck_assert_int_eq(pages, 3);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

/* ---- payloads and counters --------------------------------------------- */

START_TEST(payloads_match_live)
{
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_entry *e;
    size_t n;
    struct resdeliv_message m;
    struct resdeliv_publish_result res;

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 5);
    /* One entry whose data is not an object. */
    m.channel = "news";
    m.channel_len = 4;
    m.event = "raw";
    m.event_len = 3;
    m.data = "[1,2]";
    m.data_len = 5;
    fx.now += 10;
    ck_assert_int_eq(resdeliv_log_publish(fx.log, &m, &res), 0);
    fx.ids[fx.n] = res.position.id;
    fx.payloads[fx.n++] = res.payload;

    cur = open_at(&fx, "news", "0-0", fx.epoch);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 6);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(resdeliv_id_cmp(&e[i].id, &fx.ids[i]), 0);
        ck_assert_uint_eq(e[i].payload_len, strlen(fx.payloads[i]));
        ck_assert_int_eq(memcmp(e[i].payload, fx.payloads[i],
                                e[i].payload_len + 1),
                         0);
        ck_assert_uint_eq(e[i].tagged, i < 5 ? 1 : 0);
        ck_assert_str_eq(e[i].event, i < 5 ? "tick" : "raw");
        ck_assert_uint_eq(e[i].event_len, i < 5 ? 4 : 3);
    }
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

static void on_append_seen(void *arg, int status,
                           const struct resdeliv_append_result *res, size_t n)
{
    struct page_seen *s = arg;

    s->calls++;
    s->status = status != 0 ? status : (n == 1 ? res[0].status : -1);
}

/* Entries marked RESDELIV_ENTRY_OBJECT are tagged by insertion; the
 * result is byte for byte the full tag (and the live payload), whatever
 * the white space. A flag on data that does not end like an object falls
 * back to the full path. */
START_TEST(fast_path_matches_full)
{
    static const char *const datas[] = {
        "{\"a\":1}",          " {\"a\" : [1, {}] }\n\t", "{}",
        "  { \r\n }  ",       "{\"s\":\"}{\\\"\"}",
        "{\"_replay_id\":0}", "{\"a\":{\"_replay_id\":1}}",
    };
    size_t nd = sizeof(datas) / sizeof(datas[0]);
    struct resdeliv_append_item lie = {
        .channel = "news", .channel_len = 4, .event = "ev", .event_len = 2,
        .data = "[1]", .data_len = 3, .retention = {100, 0},
        .flags = RESDELIV_ENTRY_OBJECT};
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_entry *e;
    struct page_seen ap = {0};
    size_t n;

    fx_open(&fx, NULL);
    for (size_t i = 0; i < nd; i++) {
        struct resdeliv_message m = {"news", 4, "ev", 2, datas[i],
                                     strlen(datas[i])};
        struct resdeliv_publish_result res;
        fx.now += 10;
        ck_assert_int_eq(resdeliv_log_publish(fx.log, &m, &res), 0);
        ck_assert_uint_eq(res.tagged, 1);
        fx.ids[fx.n] = res.position.id;
        fx.payloads[fx.n++] = res.payload;
        strcpy(fx.epoch, res.position.epoch);
    }
    fx.now += 10;
    ck_assert_int_eq(resdeliv_store_append(fx.store, "app", 3, &lie, 1,
                                           on_append_seen, &ap),
                     0);
    cur = open_at(&fx, "news", "0-0", fx.epoch);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, nd + 1);
    for (size_t i = 0; i < nd; i++) {
        char *full = NULL;
        size_t full_len = 0;
        ck_assert_int_eq(resdeliv_tag(datas[i], strlen(datas[i]),
                                      "_replay_id", "_replay_epoch",
                                      &e[i].id, fx.epoch, &full, &full_len),
                         0);
        ck_assert_uint_eq(e[i].tagged, 1);
        ck_assert_str_eq(e[i].payload, full);
        ck_assert_uint_eq(e[i].payload_len, full_len);
        ck_assert_str_eq(e[i].payload, fx.payloads[i]);
        resdeliv_free(full);
    }
    ck_assert_uint_eq(e[nd].tagged, 0);
    ck_assert_str_eq(e[nd].payload, "[1]");
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

START_TEST(replay_counters)
{
    struct resdeliv_config cfg;
    struct fixture fx;
    resdeliv_replay *cur;
    struct resdeliv_counters c;
    struct resdeliv_id ids[MAXE];
    char buf[RESDELIV_ID_BUFSIZE];

    resdeliv_config_init(&cfg);
    cfg.default_max_messages = 4;
    fx_open(&fx, &cfg);
    fx_publish(&fx, "news", 6);
    cur = open_at(&fx, "news", fmt_id(&fx.ids[3], buf), NULL);
    ck_assert_int_eq(drain(cur, ids, MAXE, NULL), 2);
    resdeliv_replay_close(cur);
    cur = open_at(&fx, "news", "0-0", NULL); /* trimmed */
    ck_assert_int_eq(drain(cur, ids, MAXE, NULL), 4);
    resdeliv_replay_close(cur);
    cur = open_at(&fx, "gone", "1-0", NULL); /* missing */
    resdeliv_replay_close(cur);
    ck_assert_int_eq(resdeliv_log_counters(fx.log, &c, sizeof(c)), 0);
    ck_assert_uint_eq(c.replayed, 6);
    ck_assert_uint_eq(c.gaps, 2);
    ck_assert_uint_eq(c.published, 6);
    fx_close(&fx);
}
END_TEST

START_TEST(close_unfetched)
{
    struct fixture fx;
    resdeliv_replay *cur;

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 20);
    cur = open_at(&fx, "news", "0-0", NULL);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->expected, 20);
    ck_assert(!resdeliv_replay_done(cur));
    resdeliv_replay_close(cur);
    /* And after one page, with the page buffer allocated. */
    cur = open_at(&fx, "news", "0-0", NULL);
    {
        const struct resdeliv_replay_entry *e;
        size_t n;
        ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
        ck_assert_uint_eq(n, 20);
    }
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

static Suite *replay_pages_suite(void)
{
    Suite *s = suite_create("replay_pages");
    TCase *tc;

    tc = tcase_create("cap");
    tcase_add_test(tc, cap_newest);
    tcase_add_test(tc, cap_keeps_first_reason);
    tcase_add_test(tc, pages_of_batch_size);
    suite_add_tcase(s, tc);

    tc = tcase_create("payloads");
    tcase_add_test(tc, payloads_match_live);
    tcase_add_test(tc, fast_path_matches_full);
    tcase_add_test(tc, replay_counters);
    tcase_add_test(tc, close_unfetched);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(replay_pages_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
