/* SPDX-License-Identifier: MIT */
/*
 * Tests of replaying over markers of messages sent while the store
 * failed: a marker in the middle, first and last, several in a row, on
 * the asynchronous fetch, and an outage announced (or not yet marked)
 * when a store wrapper fails appends for a while.
 */
#include "replay_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static Suite *replay_unlogged_suite(void)
{
    Suite *s = suite_create("replay_unlogged");
    TCase *tc;

    tc = tcase_create("unlogged");
    tcase_add_test(tc, marker_mid_replay);
    tcase_add_test(tc, marker_first_and_last);
    tcase_add_test(tc, markers_in_a_row);
    tcase_add_test(tc, marker_async_fetch);
    tcase_add_test(tc, outage_announced);
    tcase_add_test(tc, outage_not_yet_marked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(replay_unlogged_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
