/* SPDX-License-Identifier: MIT */
/*
 * Tests of the replay cursor on the real memory store: what is replayed
 * from each kind of last_event_id (before the oldest, at the newest, in the
 * middle, between entries, ahead, malformed, on a missing or recreated
 * log), markers of messages sent while the store failed, the cap,
 * paging, payload bytes, counters, the asynchronous calls
 * (through a wrapper that completes later, as an event-loop store does),
 * and readers running beside publishers on other threads.
 *
 * A test clock makes ids predictable: every publish advances it by 10 ms,
 * so the n-th entry has id (10 * n)-0 and "15-0" lies between two entries.
 */
#include <check.h>
#include <resdeliv/resdeliv.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXE 64

struct fixture {
    uint64_t now;
    resdeliv_store *store;
    resdeliv_log *log;
    struct resdeliv_id ids[MAXE];
    char *payloads[MAXE];
    int n;
    char epoch[RESDELIV_EPOCH_BUFSIZE];
};

static uint64_t test_now(void *arg)
{
    return *(uint64_t *)arg;
}

static void fx_open(struct fixture *fx, const struct resdeliv_config *cfg)
{
    struct resdeliv_memory_options opts = {RESDELIV_STRUCT_HEAD(opts)};
    char err[256] = "";

    memset(fx, 0, sizeof(*fx));
    fx->now = 1000;
    opts.clock.now_ms = test_now;
    opts.clock.arg = &fx->now;
    ck_assert_int_eq(resdeliv_store_memory_new(&opts, &fx->store), 0);
    ck_assert_msg(resdeliv_log_open(cfg, fx->store, "app", &fx->log, err,
                                    sizeof(err)) == 0,
                  "open: %s", err);
}

static void fx_forget(struct fixture *fx)
{
    for (int i = 0; i < fx->n; i++) {
        free(fx->payloads[i]);
        fx->payloads[i] = NULL;
    }
    fx->n = 0;
}

static void fx_close(struct fixture *fx)
{
    fx_forget(fx);
    resdeliv_log_close(fx->log);
    resdeliv_store_free(fx->store);
}

/* Publish `count` entries on `channel`, keeping ids and payloads. */
static void fx_publish(struct fixture *fx, const char *channel, int count)
{
    for (int i = 0; i < count; i++) {
        struct resdeliv_publish_result res;
        struct resdeliv_message m;
        char data[64];

        ck_assert_int_lt(fx->n, MAXE);
        fx->now += 10;
        snprintf(data, sizeof(data), "{\"seq\":%d,\"s\":\"x\\\"y\"}", fx->n);
        m.channel = channel;
        m.channel_len = strlen(channel);
        m.event = "tick";
        m.event_len = 4;
        m.data = data;
        m.data_len = strlen(data);
        ck_assert_int_eq(resdeliv_log_publish(fx->log, &m, &res), 0);
        fx->ids[fx->n] = res.position.id;
        fx->payloads[fx->n] = res.payload;
        strcpy(fx->epoch, res.position.epoch);
        fx->n++;
    }
}

static const char *fmt_id(const struct resdeliv_id *id, char *buf)
{
    resdeliv_id_format(id, buf, RESDELIV_ID_BUFSIZE);
    return buf;
}

static resdeliv_replay *open_at(struct fixture *fx, const char *channel,
                                const char *id, const char *epoch)
{
    resdeliv_replay *cur = NULL;

    ck_assert_int_eq(resdeliv_replay_open(fx->log, channel, id, epoch, &cur),
                     0);
    ck_assert_ptr_nonnull(cur);
    return cur;
}

/* Read every page; return how many entries, their ids in `ids`. */
static int drain(resdeliv_replay *cur, struct resdeliv_id *ids, int max,
                 int *pages)
{
    const struct resdeliv_replay_entry *e;
    size_t n;
    int total = 0;

    if (pages != NULL) {
        *pages = 0;
    }
    for (;;) {
        ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
        if (n == 0) {
            break;
        }
        if (pages != NULL) {
            (*pages)++;
        }
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_lt(total, max);
            if (total > 0) {
                ck_assert_int_gt(resdeliv_id_cmp(&e[i].id, &ids[total - 1]),
                                 0);
            }
            ids[total++] = e[i].id;
        }
    }
    ck_assert(resdeliv_replay_done(cur));
    ck_assert_uint_eq(resdeliv_replay_count(cur), (uint64_t)total);
    return total;
}

/* Assert the replay yields exactly fx->ids[from .. fx->n). */
static void expect_entries(struct fixture *fx, resdeliv_replay *cur,
                           int from)
{
    struct resdeliv_id got[MAXE];
    int n = drain(cur, got, MAXE, NULL);

    ck_assert_int_eq(n, fx->n - from);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(resdeliv_id_cmp(&got[i], &fx->ids[from + i]), 0);
    }
}

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

static uint64_t gaps_of(const resdeliv_log *log)
{
    struct resdeliv_counters c;

    ck_assert_int_eq(resdeliv_log_counters(log, &c, sizeof(c)), 0);
    return c.gaps;
}

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

/* Collect what a cursor yields until the end. */
static int drain_ids(resdeliv_replay *cur, struct resdeliv_id *ids, int max)
{
    const struct resdeliv_replay_entry *e;
    size_t n;
    int total = 0;

    for (;;) {
        ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
        if (n == 0) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_lt(total, max);
            ids[total++] = e[i].id;
        }
    }
    return total;
}

struct page_seen {
    int calls;
    int status;
    size_t n;
    struct resdeliv_id first;
};

static void on_page(void *arg, int status,
                    const struct resdeliv_replay_entry *entries, size_t n)
{
    struct page_seen *s = arg;

    s->calls++;
    s->status = status;
    s->n = n;
    if (n > 0) {
        s->first = entries[0].id;
    }
}

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

/* ---- unlogged markers -------------------------------------------------- */

struct marker_seen {
    int status;
    struct resdeliv_id id;
};

static void on_marker_appended(void *arg, int status,
                               const struct resdeliv_append_result *res,
                               size_t n)
{
    struct marker_seen *s = arg;

    s->status = status != 0 ? status : (n == 1 ? res[0].status : -1);
    if (s->status == 0) {
        s->id = res[0].id;
    }
}

/* Append a marker entry as the log handle does after a store failure,
 * straight to the store; its id is not one of fx->ids. */
static struct resdeliv_id fx_marker(struct fixture *fx, const char *channel,
                                    const char *data)
{
    struct resdeliv_append_item it = {0};
    struct marker_seen seen = {-1, {0, 0}};

    fx->now += 10;
    it.channel = channel;
    it.channel_len = strlen(channel);
    it.event = RESDELIV_UNLOGGED_EVENT;
    it.event_len = strlen(RESDELIV_UNLOGGED_EVENT);
    it.data = data;
    it.data_len = strlen(data);
    ck_assert_int_eq(resdeliv_store_append(fx->store, "app", 3, &it, 1,
                                           on_marker_appended, &seen),
                     0);
    ck_assert_int_eq(seen.status, 0);
    return seen.id;
}

/* Entries before the marker, then ESTALE with reason unlogged and the
 * marker's count, then the entries after it; the marker never comes out
 * and is not counted as replayed. */
START_TEST(marker_mid_replay)
{
    struct resdeliv_config cfg;
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_status *st;
    const struct resdeliv_replay_entry *e;
    struct resdeliv_id oldest;
    struct resdeliv_counters c0, c1;
    char buf[RESDELIV_ID_BUFSIZE];
    size_t n;

    resdeliv_config_init(&cfg);
    cfg.replay_batch_size = 10;
    fx_open(&fx, &cfg);
    fx_publish(&fx, "news", 5);
    fx_marker(&fx, "news", "{\"lost\":3,\"since\":1234}");
    fx_publish(&fx, "news", 4);
    ck_assert_int_eq(resdeliv_log_counters(fx.log, &c0, sizeof(c0)), 0);
    cur = open_at(&fx, "news", fmt_id(&fx.ids[1], buf), fx.epoch);
    st = resdeliv_replay_status(cur);
    ck_assert_uint_eq(st->continuous, 1);
    ck_assert_uint_eq(st->expected, 8); /* the marker is an entry */
    oldest = st->oldest;
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 3);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(resdeliv_id_cmp(&e[i].id, &fx.ids[2 + i]), 0);
        ck_assert_str_eq(e[i].event, "tick");
    }
    ck_assert_uint_eq(st->continuous, 1);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), RESDELIV_ESTALE);
    ck_assert_uint_eq(n, 0);
    ck_assert(!resdeliv_replay_done(cur));
    ck_assert_uint_eq(st->continuous, 0);
    ck_assert_uint_eq(st->reason, RESDELIV_GAP_UNLOGGED);
    ck_assert_int_eq(st->lost, 3);
    ck_assert_uint_eq(st->has_oldest, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&st->oldest, &oldest), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&st->position.id, &fx.ids[8]), 0);
    ck_assert_uint_eq(st->expected, 7);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(fx.log), "store failed"));
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 4);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(resdeliv_id_cmp(&e[i].id, &fx.ids[5 + i]), 0);
    }
    ck_assert(resdeliv_replay_done(cur));
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(resdeliv_replay_count(cur), 7);
    ck_assert_int_eq(resdeliv_log_counters(fx.log, &c1, sizeof(c1)), 0);
    ck_assert_uint_eq(c1.replayed, c0.replayed + 7);
    ck_assert_uint_eq(c1.gaps, c0.gaps + 1);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

/* The marker right after the client's id is the first thing the cursor
 * finds; one as the last entry ends the replay after the notice. */
START_TEST(marker_first_and_last)
{
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_status *st;
    const struct resdeliv_replay_entry *e;
    char buf[RESDELIV_ID_BUFSIZE];
    size_t n;

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 3);
    fx_marker(&fx, "news", "{\"lost\":1,\"since\":5}");
    fx_publish(&fx, "news", 2);
    fx_marker(&fx, "news", "{\"lost\":9,\"since\":6}");
    cur = open_at(&fx, "news", fmt_id(&fx.ids[2], buf), fx.epoch);
    st = resdeliv_replay_status(cur);
    ck_assert_uint_eq(st->continuous, 1);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), RESDELIV_ESTALE);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(st->reason, RESDELIV_GAP_UNLOGGED);
    ck_assert_int_eq(st->lost, 1);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(resdeliv_id_cmp(&e[0].id, &fx.ids[3]), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&e[1].id, &fx.ids[4]), 0);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), RESDELIV_ESTALE);
    ck_assert_int_eq(st->lost, 9);
    ck_assert(resdeliv_replay_done(cur));
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(resdeliv_replay_count(cur), 2);
    ck_assert_uint_eq(st->expected, 2);
    resdeliv_replay_close(cur);
    /* A client at the newest message still learns of the last marker. */
    cur = open_at(&fx, "news", fmt_id(&fx.ids[4], buf), fx.epoch);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), RESDELIV_ESTALE);
    ck_assert_int_eq(resdeliv_replay_status(cur)->lost, 9);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 0);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

/* Markers in a row are one gap, their counts summed; a marker whose data
 * cannot be read makes the count unknown. Pages of two split around
 * them; a gap already reported at open is followed by this one too. */
START_TEST(markers_in_a_row)
{
    struct resdeliv_config cfg;
    struct fixture fx;
    resdeliv_replay *cur;
    const struct resdeliv_replay_status *st;
    const struct resdeliv_replay_entry *e;
    struct resdeliv_id got[MAXE];
    int k = 0;
    int stale = 0;
    int64_t lost[4];
    size_t n;
    int rc;

    resdeliv_config_init(&cfg);
    cfg.replay_batch_size = 2;
    fx_open(&fx, &cfg);
    fx_publish(&fx, "news", 1);
    fx_marker(&fx, "news", "{\"lost\":2,\"since\":5}");
    fx_marker(&fx, "news", "{\"since\":6,\"lost\":5}");
    fx_publish(&fx, "news", 3);
    fx_marker(&fx, "news", "not json");
    fx_marker(&fx, "news", "{\"lost\":1}");
    fx_publish(&fx, "news", 1);
    fx_marker(&fx, "news", "{\"lost\":-4}");
    fx_publish(&fx, "news", 1);
    /* Another epoch: every retained entry, gap epoch_changed first. */
    cur = open_at(&fx, "news", "1-0", "0123456789abcdef");
    st = resdeliv_replay_status(cur);
    ck_assert_uint_eq(st->reason, RESDELIV_GAP_EPOCH_CHANGED);
    for (int guard = 0; guard < 40; guard++) {
        rc = resdeliv_replay_next_page(cur, &e, &n);
        if (rc == RESDELIV_ESTALE) {
            ck_assert_uint_eq(n, 0);
            ck_assert_uint_eq(st->reason, RESDELIV_GAP_UNLOGGED);
            ck_assert_int_lt(stale, 4);
            lost[stale++] = st->lost;
            continue;
        }
        ck_assert_int_eq(rc, 0);
        if (n == 0) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            ck_assert_str_eq(e[i].event, "tick");
            got[k++] = e[i].id;
        }
    }
    ck_assert_int_eq(stale, 3);
    ck_assert_int_eq(lost[0], 7);
    ck_assert_int_eq(lost[1], -1);
    ck_assert_int_eq(lost[2], -1);
    ck_assert_int_eq(k, fx.n);
    for (int i = 0; i < k; i++) {
        ck_assert_int_eq(resdeliv_id_cmp(&got[i], &fx.ids[i]), 0);
    }
    ck_assert_uint_eq(resdeliv_replay_count(cur), (uint64_t)fx.n);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

/* The asynchronous fetch reports the marker the same way. */
START_TEST(marker_async_fetch)
{
    struct fixture fx;
    resdeliv_replay *cur;
    struct page_seen p = {0};
    char buf[RESDELIV_ID_BUFSIZE];

    fx_open(&fx, NULL);
    fx_publish(&fx, "news", 2);
    fx_marker(&fx, "news", "{\"lost\":4,\"since\":1}");
    fx_publish(&fx, "news", 1);
    cur = open_at(&fx, "news", fmt_id(&fx.ids[0], buf), fx.epoch);
    ck_assert_int_eq(resdeliv_replay_fetch_async(cur, on_page, &p), 0);
    ck_assert_int_eq(p.status, 0);
    ck_assert_uint_eq(p.n, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&p.first, &fx.ids[1]), 0);
    ck_assert_int_eq(resdeliv_replay_fetch_async(cur, on_page, &p), 0);
    ck_assert_int_eq(p.calls, 2);
    ck_assert_int_eq(p.status, RESDELIV_ESTALE);
    ck_assert_uint_eq(p.n, 0);
    ck_assert_int_eq(resdeliv_replay_status(cur)->lost, 4);
    ck_assert_int_eq(resdeliv_replay_fetch_async(cur, on_page, &p), 0);
    ck_assert_int_eq(p.status, 0);
    ck_assert_uint_eq(p.n, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&p.first, &fx.ids[2]), 0);
    resdeliv_replay_close(cur);
    fx_close(&fx);
}
END_TEST

/* A store over the fixture's that fails every append while `fail` is
 * set: the real path, a log handle publishing through an outage. */
struct outage {
    resdeliv_store *inner;
    int fail;
};

static int out_append(void *self, const char *app, size_t app_len,
                      const struct resdeliv_append_item *items, size_t n,
                      resdeliv_append_cb cb, void *arg)
{
    struct outage *o = self;

    if (o->fail) {
        return RESDELIV_ESTORE;
    }
    return resdeliv_store_append(o->inner, app, app_len, items, n, cb, arg);
}

static int out_read(void *self, const struct resdeliv_log_key *key,
                    const struct resdeliv_id *after, size_t max,
                    resdeliv_read_cb cb, void *arg)
{
    struct outage *o = self;

    return resdeliv_store_read(o->inner, key, after, max, cb, arg);
}

static int out_info(void *self, const struct resdeliv_log_key *key,
                    const struct resdeliv_id *after, uint64_t cap,
                    resdeliv_info_cb cb, void *arg)
{
    struct outage *o = self;

    return resdeliv_store_info(o->inner, key, after, cap, cb, arg);
}

static void out_publish(resdeliv_log *log, struct fixture *fx, int logged)
{
    struct resdeliv_message m = {"news", 4, "tick", 4, "{\"o\":1}", 7};
    struct resdeliv_publish_result res;

    fx->now += 10;
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    ck_assert_uint_eq(res.logged, (uint32_t)logged);
    if (logged) {
        ck_assert_int_lt(fx->n, MAXE);
        fx->ids[fx->n] = res.position.id;
        fx->payloads[fx->n++] = res.payload;
    } else {
        resdeliv_publish_result_clear(&res);
    }
}

/* Published through an outage and back: a client that resumes from
 * before it gets the entries, the notice with the count, the rest. */
START_TEST(outage_announced)
{
    struct resdeliv_store_ops ops = {
        RESDELIV_STRUCT_HEAD(ops),
        .flags = RESDELIV_STORE_SYNC,
        .name = "outage",
        .append = out_append,
        .read = out_read,
        .info = out_info,
    };
    struct outage o = {0};
    struct fixture fx;
    resdeliv_store *st;
    resdeliv_log *log;
    resdeliv_replay *cur;
    const struct resdeliv_replay_entry *e;
    char buf[RESDELIV_ID_BUFSIZE];
    char err[256];
    size_t n;

    fx_open(&fx, NULL);
    o.inner = fx.store;
    ck_assert_int_eq(resdeliv_store_new(&ops, &o, &st), 0);
    ck_assert_int_eq(resdeliv_log_open(NULL, st, "app", &log, err,
                                       sizeof(err)),
                     0);
    out_publish(log, &fx, 1);
    out_publish(log, &fx, 1);
    o.fail = 1;
    out_publish(log, &fx, 0);
    out_publish(log, &fx, 0);
    o.fail = 0;
    out_publish(log, &fx, 1);
    cur = open_at(&fx, "news", fmt_id(&fx.ids[0], buf), fx.epoch);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->continuous, 1);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&e[0].id, &fx.ids[1]), 0);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), RESDELIV_ESTALE);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->reason,
                      RESDELIV_GAP_UNLOGGED);
    ck_assert_int_eq(resdeliv_replay_status(cur)->lost, 2);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&e[0].id, &fx.ids[2]), 0);
    ck_assert_str_eq(e[0].payload, fx.payloads[2]);
    resdeliv_replay_close(cur);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
    fx_close(&fx);
}
END_TEST

/* Before the channel's next append writes the marker, the handle that
 * sent the messages untagged still knows of them: a replay on it that
 * reaches the end of the log reports them there, once; one without an id
 * does not. */
START_TEST(outage_not_yet_marked)
{
    struct resdeliv_store_ops ops = {
        RESDELIV_STRUCT_HEAD(ops),
        .flags = RESDELIV_STORE_SYNC,
        .name = "outage",
        .append = out_append,
        .read = out_read,
        .info = out_info,
    };
    struct outage o = {0};
    struct fixture fx;
    resdeliv_store *st;
    resdeliv_log *log;
    resdeliv_replay *cur;
    const struct resdeliv_replay_entry *e;
    char buf[RESDELIV_ID_BUFSIZE];
    char err[256];
    size_t n;

    fx_open(&fx, NULL);
    o.inner = fx.store;
    ck_assert_int_eq(resdeliv_store_new(&ops, &o, &st), 0);
    ck_assert_int_eq(resdeliv_log_open(NULL, st, "app", &log, err,
                                       sizeof(err)),
                     0);
    out_publish(log, &fx, 1);
    out_publish(log, &fx, 1);
    o.fail = 1;
    out_publish(log, &fx, 0);
    out_publish(log, &fx, 0);
    out_publish(log, &fx, 0);
    o.fail = 0;
    /* The entries, then the notice, then the end. */
    ck_assert_int_eq(resdeliv_replay_open(log, "news",
                                          fmt_id(&fx.ids[0], buf), fx.epoch,
                                          &cur),
                     0);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->continuous, 1);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert(!resdeliv_replay_done(cur));
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), RESDELIV_ESTALE);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->reason,
                      RESDELIV_GAP_UNLOGGED);
    ck_assert_int_eq(resdeliv_replay_status(cur)->lost, 3);
    ck_assert(resdeliv_replay_done(cur));
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(resdeliv_replay_count(cur), 1);
    resdeliv_replay_close(cur);
    /* At the newest entry: nothing to read, the notice still comes. */
    ck_assert_int_eq(resdeliv_replay_open(log, "news",
                                          fmt_id(&fx.ids[1], buf), fx.epoch,
                                          &cur),
                     0);
    ck_assert(!resdeliv_replay_done(cur));
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), RESDELIV_ESTALE);
    ck_assert_int_eq(resdeliv_replay_status(cur)->lost, 3);
    ck_assert(resdeliv_replay_done(cur));
    resdeliv_replay_close(cur);
    /* No id: no replay, nothing owed to this subscriber. */
    ck_assert_int_eq(resdeliv_replay_open(log, "news", NULL, NULL, &cur), 0);
    ck_assert(resdeliv_replay_done(cur));
    resdeliv_replay_close(cur);
    /* Another handle on the same store cannot know until the marker. */
    cur = open_at(&fx, "news", fmt_id(&fx.ids[1], buf), fx.epoch);
    ck_assert(resdeliv_replay_done(cur));
    resdeliv_replay_close(cur);
    /* Once the marker is written, the log says it, the handle no more. */
    out_publish(log, &fx, 1);
    ck_assert_int_eq(resdeliv_replay_open(log, "news",
                                          fmt_id(&fx.ids[1], buf), fx.epoch,
                                          &cur),
                     0);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), RESDELIV_ESTALE);
    ck_assert_int_eq(resdeliv_replay_status(cur)->lost, 3);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&e[0].id, &fx.ids[2]), 0);
    ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert(resdeliv_replay_done(cur));
    resdeliv_replay_close(cur);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
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

    tc = tcase_create("unlogged");
    tcase_add_test(tc, marker_mid_replay);
    tcase_add_test(tc, marker_first_and_last);
    tcase_add_test(tc, markers_in_a_row);
    tcase_add_test(tc, marker_async_fetch);
    tcase_add_test(tc, outage_announced);
    tcase_add_test(tc, outage_not_yet_marked);
    suite_add_tcase(s, tc);

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
    SRunner *sr = srunner_create(replay_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
