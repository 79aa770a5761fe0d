/* SPDX-License-Identifier: MIT */
/*
 * Tests of the subscription seam's hard cases with a real in-process host
 * (server_host.c): live messages arriving during a replay are held and
 * delivered once, in order, after it; send() saying EAGAIN in the middle
 * of a page or of the flush; a full hold queue closing the connection;
 * unsubscribe, close and server free in the middle of a replay (leaks
 * show under ASan); history changing under a replay, and a marker of
 * messages sent while the store failed; a hundred clients replaying a
 * thousand messages each; and an event-loop store whose calls complete
 * later.
 */
#include "server_host.h"

#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From `at` on, the messages' seqs strictly increase (gap notices may
 * come between them); counts each seq in `seen`. */
static void expect_ordered(const struct tconn *c, size_t at, int *seen,
                           int nseen)
{
    int last = -1;

    for (size_t i = at; i < c->n; i++) {
        struct fr f = frame_at(c, i);
        if (strcmp(f.event, RESDELIV_GAP_EVENT) == 0) {
            continue;
        }
        ck_assert_msg(f.seq > last, "frame %zu (%s) after seq %d", i,
                      c->frames[i], last);
        ck_assert_int_lt(f.seq, nseen);
        seen[f.seq]++;
        last = f.seq;
    }
}

/* ---- seam -------------------------------------------------------------- */

START_TEST(live_during_replay_once)
{
    struct fx fx;
    struct tconn *c;
    char payload[64];
    struct resdeliv_server_stats st;

    fx_open(&fx, 10, 1000, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 30);
    ck_assert_int_eq(sub(&fx, 0, 4), 0);
    ck_assert_uint_eq(c->n, 11); /* succeeded + 5..14 */
    /* Between pages: new messages, and one already in the replay
     * delivered again (as another node would), and an untagged one. */
    pub(&fx, CH, 3);
    snprintf(payload, sizeof(payload), "{\"seq\":20}");
    ck_assert_int_eq(resdeliv_server_deliver(fx.srv, CH, &fx.ids[20], "ev",
                                             payload, strlen(payload), NULL),
                     0);
    ck_assert_int_eq(resdeliv_server_deliver(fx.srv, CH, NULL, "ev",
                                             "{\"seq\":33}", 10, NULL),
                     0);
    ck_assert_int_eq(resdeliv_server_deliver(fx.srv, CH, &fx.ids[31], "ev",
                                             "{\"seq\":31}", 10, NULL),
                     0);
    ck_assert_uint_eq(c->n, 11);
    ck_assert_uint_eq(stats(&fx).held, 6);
    drive(&fx);
    /* succeeded, 5..29 replayed, then 30, 31, 32 held, then 33. */
    expect_event(c, 0, "pusher_internal:subscription_succeeded");
    expect_seqs(c, 1, 5, 25);
    expect_seqs(c, 26, 30, 4);
    ck_assert_uint_eq(c->n, 30);
    ck_assert_uint_eq(joined(&fx, c, CH)->at, 30);
    st = stats(&fx);
    ck_assert_uint_eq(st.replayed, 25);
    ck_assert_uint_eq(st.flushed, 4);
    ck_assert_uint_eq(st.seam_duplicates, 2);
    ck_assert_uint_eq(st.held, 0);
    pub(&fx, CH, 1);
    expect_seqs(c, 30, 33, 1);
    fx_close(&fx);
}
END_TEST

START_TEST(held_while_waiting)
{
    struct fx fx;
    struct resdeliv_server_options o;
    struct tconn *c;

    resdeliv_server_options_init(&o);
    o.max_replaying = 1;
    fx_open(&fx, 10, 1000, 1, &o);
    pub(&fx, CH, 15);
    ck_assert_int_eq(sub(&fx, 0, 0), 0);
    ck_assert_int_eq(sub(&fx, 1, 3), 0);
    ck_assert_uint_eq(stats(&fx).waiting, 1);
    /* Published while conns[1] waits: held there, and in its replay. */
    pub(&fx, CH, 2);
    drive(&fx);
    c = &fx.conns[1];
    expect_event(c, 0, "pusher_internal:subscription_succeeded");
    expect_seqs(c, 1, 4, 13);
    ck_assert_uint_eq(c->n, 14);
    c = &fx.conns[0];
    expect_seqs(c, 1, 1, 16);
    ck_assert_uint_eq(c->n, 17);
    ck_assert_uint_eq(stats(&fx).seam_duplicates, 2);
    fx_close(&fx);
}
END_TEST

/* ---- pacing ------------------------------------------------------------ */

START_TEST(eagain_mid_page)
{
    struct fx fx;
    struct tconn *c;
    int turns = 0;

    fx_open(&fx, 10, 1000, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 25);
    c->budget = 4;
    ck_assert_int_eq(sub(&fx, 0, 4), 0);
    ck_assert_uint_eq(c->n, 4);
    ck_assert_int_eq(c->want, 1);
    pub(&fx, CH, 2); /* held meanwhile */
    while (c->want) {
        c->want = 0;
        c->budget = 3;
        ck_assert_int_eq(resdeliv_server_writable(fx.srv, c), 0);
        ck_assert_int_lt(++turns, 100);
    }
    expect_event(c, 0, "pusher_internal:subscription_succeeded");
    expect_seqs(c, 1, 5, 22);
    ck_assert_uint_eq(c->n, 23);
    ck_assert_ptr_nonnull(joined(&fx, c, CH));
    ck_assert_uint_eq(stats(&fx).held, 0);
    fx_close(&fx);
}
END_TEST

START_TEST(eagain_in_flush)
{
    struct fx fx;
    struct tconn *c;

    fx_open(&fx, 10, 1000, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 5);
    ck_assert_int_eq(sub(&fx, 0, 0), 0);
    ck_assert_uint_eq(c->n, 5); /* succeeded + 1..4: done */
    ck_assert_ptr_nonnull(joined(&fx, c, CH));
    /* Now one that has to wait: hold 6 while its page is out. */
    pub(&fx, CH, 20);
    c = &fx.conns[1];
    ck_assert_int_eq(sub(&fx, 1, 4), 0);
    pub(&fx, CH, 6);
    c->budget = 0;
    while (c->want || c->budget == 0) {
        c->want = 0;
        c->budget = 2;
        ck_assert_int_eq(resdeliv_server_writable(fx.srv, c), 0);
        if (!c->want) {
            break;
        }
    }
    expect_seqs(c, 1, 5, 26);
    ck_assert_uint_eq(c->n, 27);
    ck_assert_ptr_nonnull(joined(&fx, c, CH));
    fx_close(&fx);
}
END_TEST

/* ---- overflow ---------------------------------------------------------- */

static void overflow_case(int reenter)
{
    struct fx fx;
    struct resdeliv_server_options o;
    struct resdeliv_server_stats st;
    struct fr f;
    struct tconn *c;

    resdeliv_server_options_init(&o);
    o.max_held = 3;
    fx_open(&fx, 5, 1000, 1, &o);
    fx.close_reenters = reenter;
    c = &fx.conns[0];
    pub(&fx, CH, 20);
    ck_assert_int_eq(sub(&fx, 0, 0), 0);
    ck_assert_int_eq(sub(&fx, 1, -1), 0);
    pub(&fx, CH, 3);
    ck_assert_int_eq(c->closed, 0);
    pub(&fx, CH, 1);
    ck_assert_int_eq(c->closed, 1);
    ck_assert_uint_eq(c->code, RESDELIV_PUSHER_ERR_OVER_CAPACITY);
    ck_assert_ptr_nonnull(strstr(c->reason, "hold queue full (3 messages)"));
    ck_assert_ptr_nonnull(strstr(c->reason, "last_event_id"));
    f = frame_at(c, c->n - 1);
    ck_assert_str_eq(f.event, "pusher:error");
    ck_assert_int_eq(f.code, RESDELIV_PUSHER_ERR_OVER_CAPACITY);
    st = stats(&fx);
    ck_assert_uint_eq(st.overflows, 1);
    ck_assert_uint_eq(st.held, 0);
    ck_assert_uint_eq(st.replaying, 0);
    ck_assert_uint_eq(st.subscriptions, 1);
    ck_assert_uint_eq(st.connections, MAXCONN - 1);
    ck_assert_int_eq(resdeliv_server_writable(fx.srv, c), RESDELIV_ENOENT);
    resdeliv_server_conn_close(fx.srv, c); /* the host's late close */
    /* The live subscriber is untouched. */
    expect_seqs(&fx.conns[1], 1, 20, 4);
    fx_close(&fx);
}

START_TEST(overflow_closes)
{
    overflow_case(0);
}
END_TEST

START_TEST(overflow_close_reenters)
{
    overflow_case(1);
}
END_TEST

/* ---- lifecycle --------------------------------------------------------- */

START_TEST(unsubscribe_mid_replay)
{
    struct fx fx;
    struct resdeliv_server_stats st;
    struct tconn *c;

    fx_open(&fx, 5, 1000, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 20);
    ck_assert_int_eq(sub(&fx, 0, 0), 0);
    pub(&fx, CH, 2);
    ck_assert_int_eq(resdeliv_server_unsubscribe(fx.srv, c, CH), 0);
    /* Never joined: nothing for the host to leave. */
    ck_assert_uint_eq(fx.nleaves, 0);
    st = stats(&fx);
    ck_assert_uint_eq(st.subscriptions, 0);
    ck_assert_uint_eq(st.replaying, 0);
    ck_assert_uint_eq(st.held, 0);
    ck_assert_int_eq(resdeliv_server_writable(fx.srv, c), 0);
    ck_assert_uint_eq(c->n, 6);
    ck_assert_ptr_null(joined(&fx, c, CH));
    /* Subscribing again starts over. */
    ck_assert_int_eq(sub(&fx, 0, 19), 0);
    drive(&fx);
    expect_seqs(c, 7, 20, 2);
    fx_close(&fx);
}
END_TEST

START_TEST(close_mid_replay)
{
    struct fx fx;
    struct resdeliv_server_options o;
    struct resdeliv_server_stats st;

    resdeliv_server_options_init(&o);
    o.max_replaying = 1;
    fx_open(&fx, 5, 1000, 1, &o);
    pub(&fx, CH, 20);
    ck_assert_int_eq(sub(&fx, 0, 0), 0);
    ck_assert_int_eq(sub(&fx, 1, 0), 0); /* waits */
    ck_assert_int_eq(resdeliv_server_subscribe(fx.srv, &fx.conns[0], "other",
                                               NULL, NULL, NULL, 0),
                     0);
    pub(&fx, CH, 2);
    fx.conns[0].closed = 1;
    resdeliv_server_conn_close(fx.srv, &fx.conns[0]);
    st = stats(&fx);
    ck_assert_uint_eq(st.connections, MAXCONN - 1);
    ck_assert_uint_eq(st.subscriptions, 1);
    /* The waiting one took the freed slot. */
    ck_assert_uint_eq(st.replaying, 1);
    ck_assert_uint_eq(st.waiting, 0);
    ck_assert_uint_eq(st.held, 2);
    drive(&fx);
    expect_seqs(&fx.conns[1], 1, 1, 21);
    ck_assert_int_eq(resdeliv_server_writable(fx.srv, &fx.conns[0]),
                     RESDELIV_ENOENT);
    fx_close(&fx);
}
END_TEST

START_TEST(close_inside_send)
{
    struct fx fx;
    struct tconn *c;

    fx_open(&fx, 5, 1000, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 20);
    ck_assert_int_eq(sub(&fx, 0, 0), 0);
    pub(&fx, CH, 2);
    c->fail_send = 1;
    c->want = 0;
    ck_assert_int_eq(resdeliv_server_writable(fx.srv, c), 0);
    ck_assert_uint_eq(stats(&fx).subscriptions, 0);
    ck_assert_uint_eq(stats(&fx).held, 0);
    ck_assert_uint_eq(stats(&fx).connections, MAXCONN - 1);
    /* And in the flush: the held frames are the ones being sent. */
    c = &fx.conns[1];
    ck_assert_int_eq(sub(&fx, 1, 15), 0);
    pub(&fx, CH, 3);
    c->fail_send = 1;
    c->want = 0;
    ck_assert_int_eq(resdeliv_server_writable(fx.srv, c), 0);
    ck_assert_uint_eq(stats(&fx).subscriptions, 0);
    fx_close(&fx);
}
END_TEST

START_TEST(free_mid_replay)
{
    struct fx fx;

    fx_open(&fx, 5, 1000, 1, NULL);
    pub(&fx, CH, 20);
    for (int k = 0; k < 10; k++) {
        ck_assert_int_eq(sub(&fx, k, k), 0);
    }
    pub(&fx, CH, 3);
    ck_assert_uint_eq(stats(&fx).held, 30);
    fx_close(&fx); /* frees the server with everything in flight */
}
END_TEST

START_TEST(free_inside_send)
{
    struct fx fx;
    resdeliv_server *srv;

    fx_open(&fx, 5, 1000, 1, NULL);
    pub(&fx, CH, 20);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(sub(&fx, k, 0), 0);
    }
    pub(&fx, CH, 2);
    srv = fx.srv;
    fx.conns[1].free_on_send = 1;
    ck_assert_int_eq(resdeliv_server_writable(srv, &fx.conns[1]), 0);
    ck_assert_ptr_null(fx.srv);
    ck_assert_uint_eq(fx.conns[1].n, 6);
    fx_close(&fx);
}
END_TEST

START_TEST(join_fails)
{
    struct fx fx;
    struct fr f;
    struct tconn *c;

    fx_open(&fx, 5, 1000, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 3);
    c->fail_join = 1;
    ck_assert_int_eq(sub(&fx, 0, 0), 0);
    /* Not joined means broadcasts would be missed: the client is told to
     * come back with its id instead. */
    ck_assert_int_eq(c->closed, 1);
    ck_assert_uint_eq(c->code, RESDELIV_PUSHER_ERR_GENERIC_RECONNECT);
    f = frame_at(c, c->n - 1);
    ck_assert_str_eq(f.event, "pusher:error");
    expect_seqs(c, 1, 1, 2);
    ck_assert_uint_eq(stats(&fx).subscriptions, 0);
    ck_assert_uint_eq(stats(&fx).connections, MAXCONN - 1);
    fx_close(&fx);
}
END_TEST

/* ---- stale ------------------------------------------------------------- */

START_TEST(epoch_changes_mid_replay)
{
    struct fx fx;
    struct tconn *c;
    struct fr f;
    int seen[64] = {0};
    size_t gap_at = 0;

    fx_open(&fx, 5, 1000, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 12);
    ck_assert_int_eq(sub(&fx, 0, 0), 0);
    ck_assert_uint_eq(c->n, 6); /* succeeded + 1..5 */
    ck_assert_int_eq(resdeliv_log_drop(fx.log, CH), 0);
    pub(&fx, CH, 3); /* 12..14 in a new log */
    drive(&fx);
    for (size_t i = 6; i < c->n && gap_at == 0; i++) {
        if (strcmp(frame_at(c, i).event, RESDELIV_GAP_EVENT) == 0) {
            gap_at = i;
        }
    }
    ck_assert_uint_eq(gap_at, 6);
    f = frame_at(c, gap_at);
    ck_assert_str_ne(f.reason, "none");
    expect_ordered(c, 1, seen, 64);
    for (int s = 1; s <= 5; s++) {
        ck_assert_int_eq(seen[s], 1);
    }
    for (int s = 12; s <= 14; s++) {
        ck_assert_int_eq(seen[s], 1);
    }
    ck_assert_ptr_nonnull(joined(&fx, c, CH));
    fx_close(&fx);
}
END_TEST

START_TEST(trim_mid_replay)
{
    struct fx fx;
    struct tconn *c;
    int seen[64] = {0};
    int next = 1;
    int gap = 0;

    fx_open(&fx, 5, 10, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 10);
    ck_assert_int_eq(sub(&fx, 0, 0), 0);
    ck_assert_uint_eq(c->n, 6); /* succeeded + 1..5 */
    pub(&fx, CH, 10);           /* 6..9 trimmed away */
    drive(&fx);
    expect_ordered(c, 1, seen, 64);
    /* Never a hole without a gap notice before it. */
    for (size_t i = 1; i < c->n; i++) {
        struct fr f = frame_at(c, i);
        if (strcmp(f.event, RESDELIV_GAP_EVENT) == 0) {
            gap = 1;
            continue;
        }
        ck_assert_msg(f.seq == next || gap,
                      "seq %d follows %d with no gap notice", f.seq, next - 1);
        next = f.seq + 1;
        gap = 0;
    }
    for (int s = 10; s < 20; s++) {
        ck_assert_int_eq(seen[s], 1);
    }
    fx_close(&fx);
}
END_TEST

/* Messages that went out untagged while the store failed are marked in
 * the log; the client resuming from before the marker gets the entries
 * before it, a gap notice "unlogged" with the count, then the rest. */
static void on_marker(void *arg, int status,
                      const struct resdeliv_append_result *res, size_t n)
{
    *(int *)arg = status != 0 ? status : (n == 1 ? res[0].status : -1);
}

START_TEST(unlogged_marker_mid_replay)
{
    struct fx fx;
    struct tconn *c;
    struct fr f;
    struct resdeliv_append_item it = {0};
    const char *data = "{\"lost\":3,\"since\":1}";
    int rc = -1;

    fx_open(&fx, 10, 1000, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 8);
    fx.now += 1;
    it.channel = CH;
    it.channel_len = strlen(CH);
    it.event = RESDELIV_UNLOGGED_EVENT;
    it.event_len = strlen(RESDELIV_UNLOGGED_EVENT);
    it.data = data;
    it.data_len = strlen(data);
    ck_assert_int_eq(
        resdeliv_store_append(fx.mem, "app", 3, &it, 1, on_marker, &rc), 0);
    ck_assert_int_eq(rc, 0);
    pub(&fx, CH, 4);
    ck_assert_int_eq(sub(&fx, 0, 2), 0);
    drive(&fx);
    expect_event(c, 0, "pusher_internal:subscription_succeeded");
    expect_seqs(c, 1, 3, 5);
    f = frame_at(c, 6);
    ck_assert_str_eq(f.event, RESDELIV_GAP_EVENT);
    ck_assert_str_eq(f.reason, "unlogged");
    ck_assert_ptr_nonnull(strstr(c->frames[6], "lost\\\":3"));
    expect_seqs(c, 7, 8, 4);
    ck_assert_uint_eq(c->n, 11);
    ck_assert_ptr_nonnull(joined(&fx, c, CH));
    ck_assert_uint_eq(stats(&fx).gap_notices, 1);
    ck_assert_uint_eq(stats(&fx).replayed, 9);
    fx_close(&fx);
}
END_TEST

/* ---- scale ------------------------------------------------------------- */

START_TEST(hundred_clients_thousand_missed)
{
    struct fx fx;
    struct resdeliv_server_stats st;

    fx_open(&fx, 100, 2000, 1, NULL);
    pub(&fx, CH, 1001);
    for (int k = 0; k < MAXCONN; k++) {
        ck_assert_int_eq(sub(&fx, k, 0), 0);
        ck_assert_uint_eq(fx.conns[k].n, 101);
    }
    st = stats(&fx);
    ck_assert_uint_eq(st.replaying, MAXCONN);
    pub(&fx, CH, 5); /* held by everyone */
    drive(&fx);
    for (int k = 0; k < MAXCONN; k++) {
        struct tconn *c = &fx.conns[k];
        ck_assert_uint_eq(c->n, 1006);
        expect_seqs(c, 1, 1, 1005);
        /* One page per writable turn, the flush of 5 with the last. */
        ck_assert_uint_le(c->burst, 105);
        ck_assert_ptr_nonnull(joined(&fx, c, CH));
    }
    st = stats(&fx);
    ck_assert_uint_eq(st.replayed, 100000);
    ck_assert_uint_eq(st.flushed, 500);
    ck_assert_uint_eq(st.held, 0);
    ck_assert_uint_eq(st.replaying, 0);
    fx_close(&fx);
}
END_TEST

/* ---- async ------------------------------------------------------------- */

static void open_deferred(struct fx *fx, uint64_t batch)
{
    struct resdeliv_config cfg;

    resdeliv_config_init(&cfg);
    cfg.replay_batch_size = batch;
    fx_open_with(fx, &cfg, NULL, 1);
}

START_TEST(event_loop_store)
{
    struct fx fx;
    struct tconn *c;

    open_deferred(&fx, 5);
    c = &fx.conns[0];
    pub(&fx, CH, 12);
    ck_assert_int_eq(sub(&fx, 0, 0), 0);
    ck_assert_int_eq(sub(&fx, 1, -1), 0);
    ck_assert_uint_eq(c->n, 0); /* the cursor is opening */
    /* Held by both; the one without an id learns a position that is
     * already past them, so they are not its to receive. */
    pub(&fx, CH, 2);
    for (int i = 0; i < 1000; i++) {
        if (!def_run_one(fx.def)) {
            drive(&fx);
            if (fx.def->nq == 0) {
                break;
            }
        }
    }
    expect_event(c, 0, "pusher_internal:subscription_succeeded");
    expect_seqs(c, 1, 1, 13);
    ck_assert_uint_eq(c->n, 14);
    ck_assert_uint_eq(fx.conns[1].n, 1);
    ck_assert_ptr_nonnull(joined(&fx, c, CH));
    ck_assert_ptr_nonnull(joined(&fx, &fx.conns[1], CH));
    ck_assert_uint_eq(stats(&fx).seam_duplicates, 4);
    pub(&fx, CH, 1);
    expect_seqs(c, 14, 14, 1);
    expect_seqs(&fx.conns[1], 1, 14, 1);
    fx_close(&fx);
}
END_TEST

START_TEST(event_loop_removal_in_flight)
{
    struct fx fx;

    open_deferred(&fx, 5);
    pub(&fx, CH, 12);
    /* conns[0]: open in flight; conns[1]: a fetch in flight. */
    ck_assert_int_eq(sub(&fx, 1, 0), 0);
    ck_assert_int_eq(def_run_one(fx.def), 1);
    ck_assert_uint_eq(fx.conns[1].n, 1);
    ck_assert_int_eq(sub(&fx, 0, 0), 0);
    ck_assert_uint_eq(fx.def->nq, 2);
    ck_assert_int_eq(resdeliv_server_unsubscribe(fx.srv, &fx.conns[0], CH), 0);
    resdeliv_server_conn_close(fx.srv, &fx.conns[1]);
    ck_assert_uint_eq(stats(&fx).subscriptions, 0);
    while (def_run_one(fx.def)) {
    }
    ck_assert_uint_eq(fx.conns[0].n, 0);
    ck_assert_uint_eq(fx.conns[1].n, 1);
    /* And the server freed with calls in flight. */
    ck_assert_int_eq(sub(&fx, 2, 0), 0);
    ck_assert_int_eq(def_run_one(fx.def), 1);
    ck_assert_int_eq(sub(&fx, 3, 0), 0);
    ck_assert_uint_eq(fx.def->nq, 2);
    fx_close(&fx);
}
END_TEST

static Suite *seam_suite(void)
{
    Suite *s = suite_create("server_seam");
    TCase *tc;

    tc = tcase_create("seam");
    tcase_add_test(tc, live_during_replay_once);
    tcase_add_test(tc, held_while_waiting);
    suite_add_tcase(s, tc);

    tc = tcase_create("pacing");
    tcase_add_test(tc, eagain_mid_page);
    tcase_add_test(tc, eagain_in_flush);
    suite_add_tcase(s, tc);

    tc = tcase_create("overflow");
    tcase_add_test(tc, overflow_closes);
    tcase_add_test(tc, overflow_close_reenters);
    suite_add_tcase(s, tc);

    tc = tcase_create("lifecycle");
    tcase_add_test(tc, unsubscribe_mid_replay);
    tcase_add_test(tc, close_mid_replay);
    tcase_add_test(tc, close_inside_send);
    tcase_add_test(tc, free_mid_replay);
    tcase_add_test(tc, free_inside_send);
    tcase_add_test(tc, join_fails);
    suite_add_tcase(s, tc);

    tc = tcase_create("stale");
    tcase_add_test(tc, epoch_changes_mid_replay);
    tcase_add_test(tc, trim_mid_replay);
    tcase_add_test(tc, unlogged_marker_mid_replay);
    suite_add_tcase(s, tc);

    tc = tcase_create("scale");
    tcase_add_test(tc, hundred_clients_thousand_missed);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("async");
    tcase_add_test(tc, event_loop_store);
    tcase_add_test(tc, event_loop_removal_in_flight);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(seam_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
