/* SPDX-License-Identifier: MIT */
/*
 * Tests of the replay cursor on the real memory store: what is replayed
 * from each kind of last_event_id (before the oldest, at the newest, in the
 * middle, between entries, ahead, malformed, on a missing or recreated
 * log), and how a replay in progress reports the log changing under it
 * (dropped and recreated, trimmed by count or age). The cap, paging and
 * payloads are in check_replay_pages.c, the asynchronous calls and threads
 * in check_replay_async.c, markers of unlogged messages in
 * check_replay_unlogged.c; replay_fixture.h explains the test clock.
 */
#include "replay_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- positions --------------------------------------------------------- */

START_TEST(from_before_oldest)
{
    struct resdeliv_config cfg;
    struct fixture fx;
    const struct resdeliv_replay_status *st;
    resdeliv_replay *cur;
    char buf[RESDELIV_ID_BUFSIZE];

    resdeliv_config_init(&cfg);
    cfg.default_max_messages = 5;
    fx_open(&fx, &cfg);
    fx_publish(&fx, "news", 10);
    cur = open_at(&fx, "news", fmt_id(&fx.ids[1], buf), fx.epoch);
    st = resdeliv_replay_status(cur);
    ck_assert_uint_eq(st->continuous, 0);
    ck_assert_uint_eq(st->reason, RESDELIV_GAP_TRIMMED);
    ck_assert_uint_eq(st->has_oldest, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&st->oldest, &fx.ids[5]), 0);
    ck_assert_int_eq(st->lost, -1);
    ck_assert_int_eq(resdeliv_id_cmp(&st->position.id, &fx.ids[9]), 0);
    ck_assert_str_eq(st->position.epoch, fx.epoch);
    ck_assert_uint_eq(st->expected, 5);
    expect_entries(&fx, cur, 5);
    resdeliv_replay_close(cur);

    /* 0-0 on a log that lost entries is a gap too. */
    cur = open_at(&fx, "news", "0-0", NULL);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->reason,
                      RESDELIV_GAP_TRIMMED);
    expect_entries(&fx, cur, 5);
    resdeliv_replay_close(cur);
    /* The newest trimmed id itself missed nothing. */
    cur = open_at(&fx, "news", fmt_id(&fx.ids[4], buf), NULL);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->continuous, 1);
    expect_entries(&fx, cur, 5);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

START_TEST(from_zero_untrimmed)
{
    struct fixture fx;
    resdeliv_replay *cur;

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 4);
    cur = open_at(&fx, "news", "0-0", NULL);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->continuous, 1);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->reason, RESDELIV_GAP_NONE);
    ck_assert_int_eq(resdeliv_replay_status(cur)->lost, 0);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->expected, 4);
    expect_entries(&fx, cur, 0);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

START_TEST(at_newest)
{
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_entry *e;
    size_t n = 99;
    char buf[RESDELIV_ID_BUFSIZE];

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 3);
    cur = open_at(&fx, "news", fmt_id(&fx.ids[2], buf), fx.epoch);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->continuous, 1);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->expected, 0);
    ck_assert(resdeliv_replay_done(cur));
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 0);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

START_TEST(in_middle)
{
    struct fixture fx;
    resdeliv_replay *cur;
    char buf[RESDELIV_ID_BUFSIZE];

    char epoch[RESDELIV_EPOCH_BUFSIZE];

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 10);
    strcpy(epoch, fx.epoch);
    /* Another channel's entries, with another epoch, stay out. */
    fx_publish(&fx, "other", 2);
    ck_assert_str_ne(fx.epoch, epoch);
    fx.n = 10;
    free(fx.payloads[10]);
    free(fx.payloads[11]);
    cur = open_at(&fx, "news", fmt_id(&fx.ids[3], buf), epoch);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->continuous, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&resdeliv_replay_status(cur)->after,
                                     &fx.ids[3]),
                     0);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->expected, 6);
    expect_entries(&fx, cur, 4);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

START_TEST(between_entries)
{
    struct fixture fx;
    resdeliv_replay *cur;
    struct resdeliv_id mid;
    char buf[RESDELIV_ID_BUFSIZE];

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 6);
    /* Ids are 10 ms apart: ms + 5 was never assigned. */
    mid.ms = fx.ids[2].ms + 5;
    mid.seq = 0;
    cur = open_at(&fx, "news", fmt_id(&mid, buf), NULL);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->continuous, 1);
    expect_entries(&fx, cur, 3);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

START_TEST(ahead_of_log)
{
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_status *st;
    struct resdeliv_id ahead;
    char buf[RESDELIV_ID_BUFSIZE];

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 4);
    ahead = fx.ids[3];
    ahead.seq++;
    cur = open_at(&fx, "news", fmt_id(&ahead, buf), NULL);
    st = resdeliv_replay_status(cur);
    ck_assert_uint_eq(st->continuous, 0);
    ck_assert_uint_eq(st->reason, RESDELIV_GAP_AHEAD);
    ck_assert(resdeliv_id_is_zero(&st->after));
    ck_assert_uint_eq(st->expected, 4);
    expect_entries(&fx, cur, 0);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST
/* ---- bad input --------------------------------------------------------- */

START_TEST(invalid_ids)
{
    static const char *const bad[] = {"abc", "1-", "-1", " 1-0", "1-0x",
                                      "1--0", "99999999999999999999999-0"};
    struct fixture fx;
    const struct resdeliv_replay_entry *e;
    size_t n;

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 3);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        resdeliv_replay *cur = open_at(&fx, "news", bad[i], NULL);
        const struct resdeliv_replay_status *st = resdeliv_replay_status(cur);
        ck_assert_msg(st->reason == RESDELIV_GAP_INVALID_ID, "%s", bad[i]);
        ck_assert_uint_eq(st->continuous, 0);
        ck_assert_uint_eq(st->expected, 0);
        /* The position is still reported, for the client to resume from. */
        ck_assert_int_eq(resdeliv_id_cmp(&st->position.id, &fx.ids[2]), 0);
        ck_assert(resdeliv_replay_done(cur));
        ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
        ck_assert_uint_eq(n, 0);
        resdeliv_replay_close(cur);
    }
    /* A well-formed id with a malformed epoch. */
    {
        resdeliv_replay *cur = open_at(&fx, "news", "1-0", "bad epoch!");
        ck_assert_uint_eq(resdeliv_replay_status(cur)->reason,
                          RESDELIV_GAP_INVALID_ID);
        resdeliv_replay_close(cur);
    }
    ck_assert_uint_eq(gaps_of(fx.log), 8);
    fx_close(&fx);
}
END_TEST

START_TEST(no_id)
{
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_status *st;

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 3);
    /* NULL and "" both mean the client sent none: only the position. */
    for (int k = 0; k < 2; k++) {
        cur = open_at(&fx, "news", k == 0 ? NULL : "", "ignored-epoch");
        st = resdeliv_replay_status(cur);
        ck_assert_uint_eq(st->continuous, 1);
        ck_assert_uint_eq(st->reason, RESDELIV_GAP_NONE);
        ck_assert_uint_eq(st->expected, 0);
        ck_assert_int_eq(resdeliv_id_cmp(&st->position.id, &fx.ids[2]), 0);
        ck_assert_str_eq(st->position.epoch, fx.epoch);
        ck_assert_uint_eq(st->has_oldest, 1);
        ck_assert_int_eq(resdeliv_id_cmp(&st->oldest, &fx.ids[0]), 0);
        ck_assert(resdeliv_replay_done(cur));
        resdeliv_replay_close(cur);
    }
    fx_close(&fx);
}
END_TEST

START_TEST(bad_arguments)
{
    struct fixture fx;
    resdeliv_replay *cur = NULL;
    char longch[RESDELIV_MAX_CHANNEL_LEN + 2];
    const struct resdeliv_replay_entry *e;
    size_t n;

    memset(longch, 'c', sizeof(longch) - 1);
    longch[sizeof(longch) - 1] = '\0';
    fx_open(&fx, NULL);
    ck_assert_int_eq(resdeliv_replay_open(NULL, "news", "1-0", NULL, &cur),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_replay_open(fx.log, "news", "1-0", NULL, NULL),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_replay_open(fx.log, NULL, "1-0", NULL, &cur),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_replay_open(fx.log, "", "1-0", NULL, &cur),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_replay_open(fx.log, longch, "1-0", NULL, &cur),
                     RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(fx.log), "channel"));
    ck_assert_ptr_null(cur);
    ck_assert_int_eq(resdeliv_replay_next_page(NULL, &e, &n),
                     RESDELIV_EINVAL);
    ck_assert_ptr_null(resdeliv_replay_status(NULL));
    ck_assert_uint_eq(resdeliv_replay_count(NULL), 0);
    ck_assert_int_eq(resdeliv_replay_done(NULL), 1);
    resdeliv_replay_close(NULL);
    fx_close(&fx);
}
END_TEST

START_TEST(reason_names)
{
    ck_assert_str_eq(resdeliv_gap_reason_name(RESDELIV_GAP_NONE), "none");
    ck_assert_str_eq(resdeliv_gap_reason_name(RESDELIV_GAP_TRIMMED),
                     "trimmed");
    ck_assert_str_eq(resdeliv_gap_reason_name(RESDELIV_GAP_MISSING),
                     "missing");
    ck_assert_str_eq(resdeliv_gap_reason_name(RESDELIV_GAP_EPOCH_CHANGED),
                     "epoch_changed");
    ck_assert_str_eq(resdeliv_gap_reason_name(RESDELIV_GAP_AHEAD), "ahead");
    ck_assert_str_eq(
        resdeliv_gap_reason_name(RESDELIV_GAP_STORE_UNAVAILABLE),
        "store_unavailable");
    ck_assert_str_eq(resdeliv_gap_reason_name(RESDELIV_GAP_INVALID_ID),
                     "invalid_id");
    ck_assert_str_eq(resdeliv_gap_reason_name(RESDELIV_GAP_CAP), "cap");
    ck_assert_str_eq(resdeliv_gap_reason_name(RESDELIV_GAP_UNLOGGED),
                     "unlogged");
    ck_assert_str_eq(resdeliv_gap_reason_name(9), "unknown");
    ck_assert_str_eq(resdeliv_gap_reason_name(UINT32_MAX), "unknown");
}
END_TEST

/* ---- missing log and epochs -------------------------------------------- */

START_TEST(missing_log)
{
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_status *st;

    fx_open(&fx, NULL);
    cur = open_at(&fx, "nothing-here", "5-0", NULL);
    st = resdeliv_replay_status(cur);
    ck_assert_uint_eq(st->continuous, 0);
    ck_assert_uint_eq(st->reason, RESDELIV_GAP_MISSING);
    ck_assert_int_eq(st->lost, -1);
    ck_assert_uint_eq(st->has_oldest, 0);
    ck_assert(resdeliv_id_is_zero(&st->position.id));
    ck_assert_str_eq(st->position.epoch, "");
    ck_assert_uint_eq(st->expected, 0);
    ck_assert(resdeliv_replay_done(cur));
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

START_TEST(epoch_matches)
{
    struct fixture fx;
    resdeliv_replay *cur;
    char buf[RESDELIV_ID_BUFSIZE];

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 5);
    cur = open_at(&fx, "news", fmt_id(&fx.ids[1], buf), fx.epoch);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->continuous, 1);
    expect_entries(&fx, cur, 2);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

START_TEST(epoch_changed)
{
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_status *st;
    char old_epoch[RESDELIV_EPOCH_BUFSIZE];
    char buf[RESDELIV_ID_BUFSIZE];

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 5);
    strcpy(old_epoch, fx.epoch);
    fmt_id(&fx.ids[1], buf);
    ck_assert_int_eq(resdeliv_log_drop(fx.log, "news"), 0);
    fx_forget(&fx);
    fx_publish(&fx, "news", 3);
    ck_assert_str_ne(fx.epoch, old_epoch);
    /* The old id lies inside the new log's range: only the epoch tells. */
    cur = open_at(&fx, "news", buf, old_epoch);
    st = resdeliv_replay_status(cur);
    ck_assert_uint_eq(st->reason, RESDELIV_GAP_EPOCH_CHANGED);
    ck_assert_uint_eq(st->continuous, 0);
    ck_assert_str_eq(st->position.epoch, fx.epoch);
    ck_assert(resdeliv_id_is_zero(&st->after));
    expect_entries(&fx, cur, 0);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST
/* Dropped and recreated between two pages: ESTALE with the gap in the
 * status, then the whole new log, each entry once. */
START_TEST(epoch_changes_mid_replay)
{
    struct resdeliv_config cfg;
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_status *st;
    const struct resdeliv_replay_entry *e;
    char old_epoch[RESDELIV_EPOCH_BUFSIZE];
    struct resdeliv_id got[MAXE];
    uint64_t gaps;
    size_t n;
    int k;

    resdeliv_config_init(&cfg);
    cfg.replay_batch_size = 2;
    fx_open(&fx, &cfg);
    fx_publish(&fx, "news", 6);
    strcpy(old_epoch, fx.epoch);
    cur = open_at(&fx, "news", "0-0", fx.epoch);
    st = resdeliv_replay_status(cur);
    ck_assert_uint_eq(st->continuous, 1);
    gaps = gaps_of(fx.log);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(resdeliv_log_drop(fx.log, "news"), 0);
    fx_publish(&fx, "news", 6);
    ck_assert_str_ne(fx.epoch, old_epoch);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), RESDELIV_ESTALE);
    ck_assert_uint_eq(n, 0);
    ck_assert(!resdeliv_replay_done(cur));
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(fx.log), "epoch"));
    ck_assert_uint_eq(st->continuous, 0);
    ck_assert_uint_eq(st->reason, RESDELIV_GAP_EPOCH_CHANGED);
    ck_assert_str_eq(st->position.epoch, fx.epoch);
    ck_assert_int_eq(st->lost, -1);
    ck_assert_uint_eq(gaps_of(fx.log), gaps + 1);
    /* The new log's six entries, in order; nothing of the old one again. */
    k = drain_ids(cur, got, MAXE);
    ck_assert_int_eq(k, 6);
    for (int i = 0; i < k; i++) {
        ck_assert_int_eq(resdeliv_id_cmp(&got[i], &fx.ids[6 + i]), 0);
    }
    ck_assert(resdeliv_replay_done(cur));
    ck_assert_uint_eq(resdeliv_replay_count(cur), 2 + 6);
    ck_assert_uint_eq(gaps_of(fx.log), gaps + 1);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

/* Dropped and not recreated: ESTALE with reason missing, then the end. */
START_TEST(dropped_mid_replay)
{
    struct resdeliv_config cfg;
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_entry *e;
    size_t n;

    resdeliv_config_init(&cfg);
    cfg.replay_batch_size = 2;
    fx_open(&fx, &cfg);
    fx_publish(&fx, "news", 5);
    cur = open_at(&fx, "news", "0-0", fx.epoch);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(resdeliv_log_drop(fx.log, "news"), 0);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), RESDELIV_ESTALE);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->reason,
                      RESDELIV_GAP_MISSING);
    ck_assert_str_eq(resdeliv_replay_status(cur)->position.epoch, "");
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert(resdeliv_replay_done(cur));
    ck_assert_uint_eq(resdeliv_replay_count(cur), 2);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

/* Count retention trims entries the cursor has not reached between two
 * pages: ESTALE, the status names the oldest retained id, and the replay
 * goes on from it, in order, without repeating what was yielded. */
START_TEST(trimmed_mid_replay)
{
    struct resdeliv_config cfg;
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_status *st;
    const struct resdeliv_replay_entry *e;
    struct resdeliv_id got[MAXE];
    uint64_t gaps;
    size_t n;
    int k;

    resdeliv_config_init(&cfg);
    cfg.replay_batch_size = 3;
    cfg.default_max_messages = 10;
    fx_open(&fx, &cfg);
    fx_publish(&fx, "news", 10);
    cur = open_at(&fx, "news", "0-0", fx.epoch);
    st = resdeliv_replay_status(cur);
    ck_assert_uint_eq(st->continuous, 1);
    ck_assert_uint_eq(st->expected, 10);
    gaps = gaps_of(fx.log);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(resdeliv_id_cmp(&e[2].id, &fx.ids[2]), 0);
    /* Six more: entries 0..5 go, 6..15 remain. */
    fx_publish(&fx, "news", 6);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), RESDELIV_ESTALE);
    ck_assert_uint_eq(n, 0);
    ck_assert(!resdeliv_replay_done(cur));
    ck_assert_uint_eq(st->continuous, 0);
    ck_assert_uint_eq(st->reason, RESDELIV_GAP_TRIMMED);
    ck_assert_uint_eq(st->has_oldest, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&st->oldest, &fx.ids[6]), 0);
    ck_assert_int_eq(st->lost, -1);
    ck_assert_uint_eq(gaps_of(fx.log), gaps + 1);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(fx.log), "trimmed"));
    /* The rest of the budget (10 - 3) from the oldest retained entry. */
    k = drain_ids(cur, got, MAXE);
    ck_assert_int_eq(k, 7);
    for (int i = 0; i < k; i++) {
        ck_assert_int_eq(resdeliv_id_cmp(&got[i], &fx.ids[6 + i]), 0);
    }
    ck_assert(resdeliv_replay_done(cur));
    ck_assert_uint_eq(resdeliv_replay_count(cur), 10);
    ck_assert_uint_eq(gaps_of(fx.log), gaps + 1);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

/* Age retention trims while the cursor waits, with no new entry: the
 * asynchronous fetch reports ESTALE too, and afterwards the cursor yields
 * exactly the retained entries. */
START_TEST(aged_mid_replay)
{
    struct resdeliv_config cfg;
    struct fixture fx;
    struct page_seen p = {0};
    resdeliv_replay *cur;
    const struct resdeliv_replay_entry *e;
    struct resdeliv_id got[MAXE];
    size_t n;
    int k;

    resdeliv_config_init(&cfg);
    cfg.replay_batch_size = 3;
    cfg.max_age_seconds = 1;
    fx_open(&fx, &cfg);
    fx_publish(&fx, "news", 10); /* ids 1010-0 .. 1100-0 */
    cur = open_at(&fx, "news", "0-0", fx.epoch);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 3);
    /* Entries older than 1050 age out; 1050..1100 remain. */
    fx.now = 2050;
    ck_assert_int_eq(resdeliv_replay_fetch_async(cur, on_page, &p), 0);
    ck_assert_int_eq(p.calls, 1);
    ck_assert_int_eq(p.status, RESDELIV_ESTALE);
    ck_assert_uint_eq(p.n, 0);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->reason,
                      RESDELIV_GAP_TRIMMED);
    ck_assert_int_eq(
        resdeliv_id_cmp(&resdeliv_replay_status(cur)->oldest, &fx.ids[4]), 0);
    k = drain_ids(cur, got, MAXE);
    ck_assert_int_eq(k, 6);
    for (int i = 0; i < k; i++) {
        ck_assert_int_eq(resdeliv_id_cmp(&got[i], &fx.ids[4 + i]), 0);
    }
    ck_assert(resdeliv_replay_done(cur));
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

/* The last yielded entry trimmed while the next one is kept cannot be told
 * apart from a lost entry: reported, and nothing is yielded twice. */
START_TEST(trimmed_at_boundary)
{
    struct resdeliv_config cfg;
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_entry *e;
    struct resdeliv_id got[MAXE];
    size_t n;
    int k;

    resdeliv_config_init(&cfg);
    cfg.replay_batch_size = 2;
    cfg.default_max_messages = 4;
    fx_open(&fx, &cfg);
    fx_publish(&fx, "news", 4);
    cur = open_at(&fx, "news", "0-0", fx.epoch);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 2);
    /* Entries 0 and 1 (both yielded) go; 2..5 remain. */
    fx_publish(&fx, "news", 2);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), RESDELIV_ESTALE);
    ck_assert_int_eq(
        resdeliv_id_cmp(&resdeliv_replay_status(cur)->oldest, &fx.ids[2]), 0);
    k = drain_ids(cur, got, MAXE);
    ck_assert_int_eq(k, 2);
    ck_assert_int_eq(resdeliv_id_cmp(&got[0], &fx.ids[2]), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&got[1], &fx.ids[3]), 0);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

static Suite *replay_suite(void)
{
    Suite *s = suite_create("replay");
    TCase *tc;

    tc = tcase_create("positions");
    tcase_add_test(tc, from_before_oldest);
    tcase_add_test(tc, from_zero_untrimmed);
    tcase_add_test(tc, at_newest);
    tcase_add_test(tc, in_middle);
    tcase_add_test(tc, between_entries);
    tcase_add_test(tc, ahead_of_log);
    suite_add_tcase(s, tc);

    tc = tcase_create("bad_input");
    tcase_add_test(tc, invalid_ids);
    tcase_add_test(tc, no_id);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, reason_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("epoch");
    tcase_add_test(tc, missing_log);
    tcase_add_test(tc, epoch_matches);
    tcase_add_test(tc, epoch_changed);
    tcase_add_test(tc, epoch_changes_mid_replay);
    tcase_add_test(tc, dropped_mid_replay);
    suite_add_tcase(s, tc);

    tc = tcase_create("history_changes");
    tcase_add_test(tc, trimmed_mid_replay);
    tcase_add_test(tc, aged_mid_replay);
    tcase_add_test(tc, trimmed_at_boundary);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(replay_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
