/* SPDX-License-Identifier: MIT */
/*
 * Tests of the subscription seam's API and its plain paths with a real
 * in-process host (server_host.c) over the memory store: argument checks,
 * subscribing with and without an id, paced replay pages, gap notices,
 * and the subscription and replay limits. The seam's harder cases (live
 * messages during a replay, EAGAIN, overflow, removal mid-replay, history
 * changing under a replay, scale, an event-loop store) are in
 * check_server_seam.c.
 */
#include "server_host.h"

#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- api --------------------------------------------------------------- */

START_TEST(new_rejects_bad_input)
{
    struct fx fx;
    struct resdeliv_server_options o;
    struct resdeliv_transport tp;
    resdeliv_server *srv = (resdeliv_server *)&fx;

    fx_open(&fx, 10, 1000, 1, NULL);
    tp = host_transport(&fx);
    ck_assert_int_eq(resdeliv_server_new(NULL, &tp, NULL, &srv),
                     RESDELIV_EINVAL);
    ck_assert_ptr_null(srv);
    ck_assert_int_eq(resdeliv_server_new(fx.log, NULL, NULL, &srv),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_new(fx.log, &tp, NULL, NULL),
                     RESDELIV_EINVAL);
    tp.join = NULL;
    ck_assert_int_eq(resdeliv_server_new(fx.log, &tp, NULL, &srv),
                     RESDELIV_EINVAL);
    tp = host_transport(&fx);
    tp.abi_version = (RESDELIV_ABI_MAJOR + 1u) << 16;
    ck_assert_int_eq(resdeliv_server_new(fx.log, &tp, NULL, &srv),
                     RESDELIV_EABI);
    tp = host_transport(&fx);
    tp.struct_size = 4;
    ck_assert_int_eq(resdeliv_server_new(fx.log, &tp, NULL, &srv),
                     RESDELIV_EINVAL);
    tp = host_transport(&fx);
    resdeliv_server_options_init(&o);
    o.max_held = 0;
    ck_assert_int_eq(resdeliv_server_new(fx.log, &tp, &o, &srv),
                     RESDELIV_EINVAL);
    resdeliv_server_options_init(&o);
    o.dedup_window = RESDELIV_DEDUP_MAX_WINDOW + 1;
    ck_assert_int_eq(resdeliv_server_new(fx.log, &tp, &o, &srv),
                     RESDELIV_EINVAL);
    resdeliv_server_options_init(&o);
    o.max_replaying = 0;
    ck_assert_int_eq(resdeliv_server_new(fx.log, &tp, &o, &srv),
                     RESDELIV_EINVAL);
    resdeliv_server_options_init(&o);
    o.abi_version = (RESDELIV_ABI_MAJOR + 1u) << 16;
    ck_assert_int_eq(resdeliv_server_new(fx.log, &tp, &o, &srv), RESDELIV_EABI);
    /* An older caller's shorter options keep the defaults of the rest. */
    resdeliv_server_options_init(&o);
    o.struct_size =
        (uint32_t)offsetof(struct resdeliv_server_options, max_subscriptions);
    o.max_held = 7;
    ck_assert_int_eq(resdeliv_server_new(fx.log, &tp, &o, &srv), 0);
    resdeliv_server_free(srv);
    resdeliv_server_free(NULL);
    fx_close(&fx);
}
END_TEST

START_TEST(calls_reject_bad_input)
{
    struct fx fx;
    struct resdeliv_server_stats st;
    struct resdeliv_message m = {0};
    char longname[RESDELIV_MAX_CHANNEL_LEN + 2];
    int other;

    fx_open(&fx, 10, 1000, 1, NULL);
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ck_assert_int_eq(resdeliv_server_conn_open(NULL, &other), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_conn_open(fx.srv, NULL), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_conn_open(fx.srv, &fx.conns[0]),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_server_subscribe(NULL, &fx.conns[0], CH, NULL, NULL, NULL, 0),
        RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_subscribe(fx.srv, &fx.conns[0], NULL, NULL,
                                               NULL, NULL, 0),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_subscribe(fx.srv, &fx.conns[0], "", NULL,
                                               NULL, NULL, 0),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_subscribe(fx.srv, &fx.conns[0], "a\nb",
                                               NULL, NULL, NULL, 0),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_subscribe(fx.srv, &fx.conns[0], longname,
                                               NULL, NULL, NULL, 0),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_subscribe(fx.srv, &fx.conns[0], CH, NULL,
                                               NULL, NULL, 5),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_server_subscribe(fx.srv, &other, CH, NULL, NULL, NULL, 0),
        RESDELIV_ENOENT);
    ck_assert_int_eq(resdeliv_server_unsubscribe(fx.srv, &fx.conns[0], CH),
                     RESDELIV_ENOENT);
    ck_assert_int_eq(resdeliv_server_unsubscribe(fx.srv, &other, CH),
                     RESDELIV_ENOENT);
    ck_assert_int_eq(resdeliv_server_writable(fx.srv, &other), RESDELIV_ENOENT);
    ck_assert_int_eq(resdeliv_server_writable(NULL, &other), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_publish(fx.srv, NULL, 1, NULL, NULL, NULL),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_publish(fx.srv, &m, 1, NULL, NULL, NULL),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_server_deliver(fx.srv, "", NULL, "ev", "{}", 2, NULL),
        RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_server_deliver(fx.srv, CH, NULL, NULL, "{}", 2, NULL),
        RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_stats(fx.srv, NULL, sizeof(st)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_stats(fx.srv, &st, 0), RESDELIV_EINVAL);
    /* An older caller's shorter stats get the members they know. */
    memset(&st, 0xff, sizeof(st));
    ck_assert_int_eq(resdeliv_server_stats(fx.srv, &st, sizeof(uint64_t)), 0);
    ck_assert_uint_eq(st.connections, MAXCONN);
    ck_assert_uint_eq(st.subscriptions, UINT64_MAX);
    resdeliv_server_conn_close(fx.srv, &other);
    resdeliv_server_conn_close(NULL, &other);
    ck_assert_uint_eq(stats(&fx).connections, MAXCONN);
    resdeliv_server_conn_close(fx.srv, &fx.conns[0]);
    ck_assert_uint_eq(stats(&fx).connections, MAXCONN - 1);
    fx_close(&fx);
}
END_TEST

struct whisper {
    int calls;
    int status;
};

static void on_whisper(void *arg, int status, struct resdeliv_publish_result *r,
                       size_t n)
{
    struct whisper *w = arg;

    ck_assert_int_eq(status, 0);
    ck_assert_uint_eq(n, 1);
    w->calls++;
    w->status = r[0].status;
}

START_TEST(client_events_refused)
{
    struct fx fx;
    struct whisper w = {0};
    struct resdeliv_message m = {CH, 4, "client-typing", 13, "{}", 2};

    fx_open(&fx, 10, 1000, 1, NULL);
    ck_assert_int_eq(sub(&fx, 0, -1), 0);
    ck_assert_int_eq(
        resdeliv_server_publish(fx.srv, &m, 1, NULL, on_whisper, &w), 0);
    ck_assert_int_eq(w.calls, 1);
    ck_assert_int_eq(w.status, RESDELIV_EWHISPER);
    ck_assert_uint_eq(fx.conns[0].n, 1);
    fx_close(&fx);
}
END_TEST

/* ---- subscribe --------------------------------------------------------- */

START_TEST(no_id_joins_at_once)
{
    struct fx fx;
    struct fr f;
    char id[RESDELIV_ID_BUFSIZE];
    struct tconn *c;

    fx_open(&fx, 10, 1000, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 3);
    ck_assert_int_eq(sub(&fx, 0, -1), 0);
    ck_assert_uint_eq(c->n, 1);
    f = frame_at(c, 0);
    ck_assert_str_eq(f.event, "pusher_internal:subscription_succeeded");
    ck_assert_str_eq(f.channel, CH);
    id_text(&fx, 2, id);
    ck_assert_str_eq(f.id, id);
    ck_assert_ptr_nonnull(strstr(c->frames[0], "_replay_epoch"));
    ck_assert_ptr_nonnull(joined(&fx, c, CH));
    ck_assert_int_eq(c->want, 0);
    pub(&fx, CH, 2);
    ck_assert_uint_eq(c->n, 3);
    expect_seqs(c, 1, 3, 2);
    ck_assert_uint_eq(stats(&fx).subscriptions, 1);
    ck_assert_uint_eq(stats(&fx).replaying, 0);
    ck_assert_uint_eq(stats(&fx).held, 0);
    /* A second subscribe to the same channel is refused. */
    ck_assert_int_eq(sub(&fx, 0, -1), RESDELIV_EINVAL);
    fx_close(&fx);
}
END_TEST

START_TEST(data_and_except)
{
    struct fx fx;
    struct resdeliv_message m = {CH, 4, "ev", 2, "{\"seq\":0}", 9};

    fx_open(&fx, 10, 1000, 1, NULL);
    ck_assert_int_eq(resdeliv_server_subscribe(fx.srv, &fx.conns[0], CH, "", "",
                                               "{\"presence\":1}", 14),
                     0);
    ck_assert_ptr_nonnull(strstr(fx.conns[0].frames[0], "presence"));
    ck_assert_int_eq(sub(&fx, 1, -1), 0);
    ck_assert_int_eq(
        resdeliv_server_publish(fx.srv, &m, 1, &fx.conns[0], NULL, NULL), 0);
    ck_assert_uint_eq(fx.conns[0].n, 1);
    ck_assert_uint_eq(fx.conns[1].n, 2);
    expect_seqs(&fx.conns[1], 1, 0, 1);
    fx_close(&fx);
}
END_TEST

START_TEST(empty_log_position)
{
    struct fx fx;
    struct fr f;

    fx_open(&fx, 10, 1000, 1, NULL);
    ck_assert_int_eq(sub(&fx, 0, -1), 0);
    f = frame_at(&fx.conns[0], 0);
    ck_assert_str_eq(f.event, "pusher_internal:subscription_succeeded");
    ck_assert_ptr_nonnull(joined(&fx, &fx.conns[0], CH));
    pub(&fx, CH, 1);
    expect_seqs(&fx.conns[0], 1, 0, 1);
    fx_close(&fx);
}
END_TEST

/* ---- replay ------------------------------------------------------------ */

START_TEST(behind_by_n_paced)
{
    struct fx fx;
    struct tconn *c;
    const struct join *j;

    fx_open(&fx, 10, 1000, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 25);
    ck_assert_int_eq(sub(&fx, 0, 4), 0);
    /* subscription_succeeded and the first page, then a writable ask. */
    ck_assert_uint_eq(c->n, 11);
    expect_event(c, 0, "pusher_internal:subscription_succeeded");
    expect_seqs(c, 1, 5, 10);
    ck_assert_int_eq(c->want, 1);
    ck_assert_ptr_null(joined(&fx, c, CH));
    ck_assert_uint_eq(stats(&fx).replaying, 1);
    c->want = 0;
    ck_assert_int_eq(resdeliv_server_writable(fx.srv, c), 0);
    ck_assert_uint_eq(c->n, 21);
    expect_seqs(c, 11, 15, 10);
    /* The cursor had exactly 20: the replay ended with that page. */
    j = joined(&fx, c, CH);
    ck_assert_ptr_nonnull(j);
    ck_assert_uint_eq(j->at, 21);
    ck_assert_int_eq(c->want, 0);
    ck_assert_uint_eq(stats(&fx).replayed, 20);
    ck_assert_uint_eq(stats(&fx).replaying, 0);
    pub(&fx, CH, 1);
    expect_seqs(c, 21, 25, 1);
    fx_close(&fx);
}
END_TEST

START_TEST(caught_up_joins)
{
    struct fx fx;
    struct tconn *c;

    fx_open(&fx, 10, 1000, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 5);
    ck_assert_int_eq(sub(&fx, 0, 4), 0);
    ck_assert_uint_eq(c->n, 1);
    expect_event(c, 0, "pusher_internal:subscription_succeeded");
    ck_assert_ptr_nonnull(joined(&fx, c, CH));
    ck_assert_uint_eq(stats(&fx).replaying, 0);
    fx_close(&fx);
}
END_TEST

START_TEST(last_page_full)
{
    struct fx fx;
    struct tconn *c;

    /* 20 missed with pages of 10: two pages, nothing after. */
    fx_open(&fx, 10, 1000, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 21);
    ck_assert_int_eq(sub(&fx, 0, 0), 0);
    drive(&fx);
    ck_assert_uint_eq(c->n, 21);
    expect_seqs(c, 1, 1, 20);
    ck_assert_ptr_nonnull(joined(&fx, c, CH));
    fx_close(&fx);
}
END_TEST

/* ---- gap --------------------------------------------------------------- */

START_TEST(trimmed_gap_notice)
{
    struct fx fx;
    struct fr f;
    char id[RESDELIV_ID_BUFSIZE];
    struct tconn *c;

    fx_open(&fx, 4, 10, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 30);
    ck_assert_int_eq(sub(&fx, 0, 2), 0);
    drive(&fx);
    ck_assert_uint_eq(c->n, 12);
    expect_event(c, 0, "pusher_internal:subscription_succeeded");
    f = frame_at(c, 1);
    ck_assert_str_eq(f.event, RESDELIV_GAP_EVENT);
    ck_assert_str_eq(f.channel, CH);
    ck_assert_str_eq(f.reason, "trimmed");
    id_text(&fx, 20, id);
    ck_assert_ptr_nonnull(strstr(c->frames[1], id));
    expect_seqs(c, 2, 20, 10);
    ck_assert_uint_eq(stats(&fx).gap_notices, 1);
    fx_close(&fx);
}
END_TEST

START_TEST(gap_notice_off)
{
    struct fx fx;
    struct tconn *c;

    fx_open(&fx, 4, 10, 0, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 30);
    ck_assert_int_eq(sub(&fx, 0, 2), 0);
    drive(&fx);
    ck_assert_uint_eq(c->n, 11);
    expect_event(c, 0, "pusher_internal:subscription_succeeded");
    expect_seqs(c, 1, 20, 10);
    ck_assert_uint_eq(stats(&fx).gap_notices, 0);
    fx_close(&fx);
}
END_TEST

START_TEST(invalid_and_missing)
{
    struct fx fx;
    struct fr f;
    struct tconn *c;

    fx_open(&fx, 4, 10, 1, NULL);
    c = &fx.conns[0];
    pub(&fx, CH, 3);
    ck_assert_int_eq(
        resdeliv_server_subscribe(fx.srv, c, CH, "12-x", NULL, NULL, 0), 0);
    ck_assert_uint_eq(c->n, 2);
    f = frame_at(c, 1);
    ck_assert_str_eq(f.event, RESDELIV_GAP_EVENT);
    ck_assert_str_eq(f.reason, "invalid_id");
    ck_assert_ptr_nonnull(joined(&fx, c, CH));
    c = &fx.conns[1];
    ck_assert_int_eq(
        resdeliv_server_subscribe(fx.srv, c, "nothing", "5-0", NULL, NULL, 0),
        0);
    ck_assert_uint_eq(c->n, 2);
    f = frame_at(c, 1);
    ck_assert_str_eq(f.reason, "missing");
    ck_assert_ptr_nonnull(joined(&fx, c, "nothing"));
    fx_close(&fx);
}
END_TEST

/* ---- limits ------------------------------------------------------------ */

START_TEST(max_subscriptions_refused)
{
    struct fx fx;
    struct resdeliv_server_options o;
    struct fr f;
    struct tconn *c;

    resdeliv_server_options_init(&o);
    o.max_subscriptions = 2;
    fx_open(&fx, 10, 1000, 1, &o);
    c = &fx.conns[0];
    ck_assert_int_eq(
        resdeliv_server_subscribe(fx.srv, c, "a", NULL, NULL, NULL, 0), 0);
    ck_assert_int_eq(
        resdeliv_server_subscribe(fx.srv, c, "b", NULL, NULL, NULL, 0), 0);
    ck_assert_int_eq(
        resdeliv_server_subscribe(fx.srv, c, "c", NULL, NULL, NULL, 0),
        RESDELIV_EOVERFLOW);
    f = frame_at(c, c->n - 1);
    ck_assert_str_eq(f.event, "pusher:error");
    ck_assert_int_eq(f.code, RESDELIV_PUSHER_ERR_OVER_CAPACITY);
    ck_assert_ptr_nonnull(strstr(c->frames[c->n - 1], "'c'"));
    ck_assert_int_eq(c->closed, 0);
    ck_assert_ptr_null(joined(&fx, c, "c"));
    ck_assert_uint_eq(stats(&fx).subscriptions, 2);
    ck_assert_ptr_nonnull(joined(&fx, c, "a"));
    ck_assert_int_eq(resdeliv_server_unsubscribe(fx.srv, c, "a"), 0);
    /* The host was told to stop broadcasting "a" to the connection. */
    ck_assert_uint_eq(fx.nleaves, 1);
    ck_assert_ptr_null(joined(&fx, c, "a"));
    ck_assert_ptr_nonnull(joined(&fx, c, "b"));
    ck_assert_int_eq(
        resdeliv_server_subscribe(fx.srv, c, "c", NULL, NULL, NULL, 0), 0);
    /* Another connection has its own allowance. */
    ck_assert_int_eq(resdeliv_server_subscribe(fx.srv, &fx.conns[1], "c", NULL,
                                               NULL, NULL, 0),
                     0);
    fx_close(&fx);
}
END_TEST

START_TEST(max_replaying_queues)
{
    struct fx fx;
    struct resdeliv_server_options o;
    struct resdeliv_server_stats st;

    resdeliv_server_options_init(&o);
    o.max_replaying = 2;
    fx_open(&fx, 5, 1000, 1, &o);
    pub(&fx, CH, 30);
    for (int k = 0; k < 6; k++) {
        ck_assert_int_eq(sub(&fx, k, 0), 0);
    }
    st = stats(&fx);
    ck_assert_uint_eq(st.replaying, 2);
    ck_assert_uint_eq(st.waiting, 4);
    /* A waiting subscription has sent nothing yet. */
    ck_assert_uint_eq(fx.conns[5].n, 0);
    pub(&fx, CH, 3);
    ck_assert_uint_eq(stats(&fx).held, 18);
    for (int round = 0; round < 1000 && stats(&fx).replaying > 0; round++) {
        for (int k = 0; k < 6; k++) {
            if (fx.conns[k].want) {
                fx.conns[k].want = 0;
                ck_assert_int_eq(resdeliv_server_writable(fx.srv, &fx.conns[k]),
                                 0);
            }
        }
        ck_assert_uint_le(stats(&fx).replaying, 2);
    }
    st = stats(&fx);
    ck_assert_uint_eq(st.replaying, 0);
    ck_assert_uint_eq(st.waiting, 0);
    ck_assert_uint_eq(st.held, 0);
    for (int k = 0; k < 6; k++) {
        struct tconn *c = &fx.conns[k];
        ck_assert_uint_eq(c->n, 33);
        expect_seqs(c, 1, 1, 32);
        ck_assert_ptr_nonnull(joined(&fx, c, CH));
    }
    /* The first two held 30..32 beside replays that ended before them;
     * the four that waited replayed them and dropped the held copies. */
    ck_assert_uint_eq(st.seam_duplicates, 12);
    fx_close(&fx);
}
END_TEST

/* ---- bus ---------------------------------------------------------------- */

struct hook_log {
    struct fx *fx;
    int n;
    char channel[8][32];
    uint32_t active[8];
    size_t frames_then[8]; /* frames of conns[0] when the hook ran */
};

static void on_channel(void *arg, const char *channel, size_t len,
                       uint32_t active)
{
    struct hook_log *h = arg;

    ck_assert_int_lt(h->n, 8);
    snprintf(h->channel[h->n], sizeof(h->channel[0]), "%.*s", (int)len,
             channel);
    h->active[h->n] = active;
    h->frames_then[h->n] = h->fx->conns[0].n;
    h->n++;
}

static void bus_opts(struct resdeliv_server_options *o, struct hook_log *h)
{
    resdeliv_server_options_init(o);
    o->live_from_bus = 1;
    o->on_channel = on_channel;
    o->on_channel_arg = h;
}

START_TEST(on_channel_first_and_last)
{
    struct fx fx;
    struct hook_log h = {0};
    struct resdeliv_server_options o;

    h.fx = &fx;
    bus_opts(&o, &h);
    fx_open(&fx, 10, 1000, 1, &o);
    pub(&fx, CH, 2);
    ck_assert_int_eq(sub(&fx, 0, 0), 0);
    /* Told before anything of the subscription (its replay) happened. */
    ck_assert_int_eq(h.n, 1);
    ck_assert_str_eq(h.channel[0], CH);
    ck_assert_uint_eq(h.active[0], 1);
    ck_assert_uint_eq(h.frames_then[0], 0);
    ck_assert_uint_gt(fx.conns[0].n, 0);
    ck_assert_int_eq(sub(&fx, 1, -1), 0);
    ck_assert_int_eq(resdeliv_server_subscribe(fx.srv, &fx.conns[1], "other",
                                               NULL, NULL, NULL, 0),
                     0);
    ck_assert_int_eq(h.n, 2);
    ck_assert_str_eq(h.channel[1], "other");
    ck_assert_int_eq(resdeliv_server_unsubscribe(fx.srv, &fx.conns[0], CH), 0);
    ck_assert_int_eq(h.n, 2);
    /* The last subscriptions go with their connection. */
    resdeliv_server_conn_close(fx.srv, &fx.conns[1]);
    ck_assert_int_eq(h.n, 4);
    ck_assert_uint_eq(h.active[2], 0);
    ck_assert_uint_eq(h.active[3], 0);
    ck_assert(strcmp(h.channel[2], CH) == 0 || strcmp(h.channel[3], CH) == 0);
    /* Back again: told again. */
    ck_assert_int_eq(sub(&fx, 0, -1), 0);
    ck_assert_int_eq(h.n, 5);
    ck_assert_uint_eq(h.active[4], 1);
    fx_close(&fx);
}
END_TEST

/* Deliver message `seq` (already in the log) as a bus would. */
static int bus_entry(struct fx *fx, int seq, uint32_t flags, const char *data)
{
    struct resdeliv_position pos;
    char own[64];

    ck_assert_int_eq(resdeliv_log_position(fx->log, CH, &pos), 0);
    pos.id = fx->ids[seq];
    if (data == NULL) {
        snprintf(own, sizeof(own), "{\"seq\":%d}", seq);
        data = own;
    }
    return resdeliv_server_deliver_entry(fx->srv, CH, strlen(CH), &pos, flags,
                                         "ev", 2, data, strlen(data));
}

START_TEST(live_from_bus_delivers_entries)
{
    struct fx fx;
    struct hook_log h = {0};
    struct resdeliv_server_options o;
    struct fr f;
    char id[RESDELIV_ID_BUFSIZE];

    h.fx = &fx;
    bus_opts(&o, &h);
    fx_open(&fx, 10, 1000, 1, &o);
    ck_assert_int_eq(sub(&fx, 0, -1), 0);
    ck_assert_uint_eq(fx.conns[0].n, 1);
    /* publish() only logs: the bus delivers, on every node alike. */
    pub(&fx, CH, 2);
    ck_assert_uint_eq(fx.conns[0].n, 1);
    ck_assert_int_eq(bus_entry(&fx, 0, RESDELIV_ENTRY_OBJECT, NULL), 0);
    ck_assert_int_eq(bus_entry(&fx, 1, 0, NULL), 0);
    ck_assert_uint_eq(fx.conns[0].n, 3);
    expect_seqs(&fx.conns[0], 1, 0, 2);
    f = frame_at(&fx.conns[0], 2);
    id_text(&fx, 1, id);
    ck_assert_str_eq(f.id, id);
    ck_assert_ptr_nonnull(strstr(fx.conns[0].frames[2], "_replay_epoch"));
    /* Data that is not an object goes out untagged. */
    ck_assert_int_eq(bus_entry(&fx, 1, 0, "[1,2]"), 0);
    ck_assert_uint_eq(fx.conns[0].n, 4);
    f = frame_at(&fx.conns[0], 3);
    ck_assert_str_eq(f.id, "");
    fx_close(&fx);
}
END_TEST

/* Entries from the bus during a replay: held, then sent once each. */
START_TEST(bus_entries_at_the_seam)
{
    struct fx fx;
    struct hook_log h = {0};
    struct resdeliv_server_options o;
    struct tconn *c;

    h.fx = &fx;
    bus_opts(&o, &h);
    fx_open(&fx, 2, 1000, 1, &o);
    c = &fx.conns[0];
    pub(&fx, CH, 6);
    ck_assert_int_eq(sub(&fx, 0, 0), 0);
    ck_assert_uint_eq(stats(&fx).replaying, 1);
    /* The bus hands over an entry the replay also reads, and new ones. */
    ck_assert_int_eq(bus_entry(&fx, 3, RESDELIV_ENTRY_OBJECT, NULL), 0);
    pub(&fx, CH, 2);
    ck_assert_int_eq(bus_entry(&fx, 6, RESDELIV_ENTRY_OBJECT, NULL), 0);
    ck_assert_int_eq(bus_entry(&fx, 7, RESDELIV_ENTRY_OBJECT, NULL), 0);
    ck_assert_uint_eq(stats(&fx).held, 3);
    drive(&fx);
    ck_assert_ptr_nonnull(joined(&fx, c, CH));
    expect_event(c, 0, "pusher_internal:subscription_succeeded");
    expect_seqs(c, 1, 1, 7);
    ck_assert_uint_eq(c->n, 8);
    ck_assert_uint_ge(stats(&fx).seam_duplicates, 1);
    fx_close(&fx);
}
END_TEST

START_TEST(announce_gap_live_and_replaying)
{
    struct fx fx;
    struct hook_log h = {0};
    struct resdeliv_server_options o;
    struct resdeliv_replay_status st;
    struct fr f;

    h.fx = &fx;
    bus_opts(&o, &h);
    fx_open(&fx, 2, 1000, 1, &o);
    pub(&fx, CH, 4);
    ck_assert_int_eq(sub(&fx, 0, -1), 0);
    ck_assert_int_eq(sub(&fx, 1, 0), 0);
    memset(&st, 0, sizeof(st));
    st.reason = RESDELIV_GAP_EPOCH_CHANGED;
    st.lost = -1;
    ck_assert_int_eq(resdeliv_server_announce_gap(fx.srv, CH, &st), 0);
    ck_assert_uint_eq(fx.conns[0].n, 2);
    f = frame_at(&fx.conns[0], 1);
    ck_assert_str_eq(f.event, "resdeliv:gap");
    ck_assert_str_eq(f.reason, "epoch_changed");
    /* The replaying one gets it after its replay, in line. */
    drive(&fx);
    expect_seqs(&fx.conns[1], 1, 1, 3);
    f = frame_at(&fx.conns[1], 4);
    ck_assert_str_eq(f.event, "resdeliv:gap");
    ck_assert_uint_eq(fx.conns[1].n, 5);
    ck_assert_int_eq(resdeliv_server_announce_gap(NULL, CH, &st),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_announce_gap(fx.srv, CH, NULL),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_announce_gap(fx.srv, "", &st),
                     RESDELIV_EINVAL);
    fx_close(&fx);
    /* gap_notice off: nothing is sent. */
    fx_open(&fx, 2, 1000, 0, &o);
    h.fx = &fx;
    ck_assert_int_eq(sub(&fx, 0, -1), 0);
    ck_assert_int_eq(resdeliv_server_announce_gap(fx.srv, CH, &st), 0);
    ck_assert_uint_eq(fx.conns[0].n, 1);
    fx_close(&fx);
}
END_TEST

START_TEST(deliver_entry_bad_input)
{
    struct fx fx;
    struct resdeliv_position pos;

    memset(&pos, 0, sizeof(pos));
    pos.id.ms = 1;
    fx_open(&fx, 10, 1000, 1, NULL);
    ck_assert_int_eq(resdeliv_server_deliver_entry(NULL, CH, 4, &pos, 0, "e",
                                                   1, "{}", 2),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_deliver_entry(fx.srv, CH, 0, &pos, 0,
                                                   "e", 1, "{}", 2),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_deliver_entry(fx.srv, CH, 4, NULL, 0,
                                                   "e", 1, "{}", 2),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_deliver_entry(fx.srv, CH, 4, &pos, 0,
                                                   NULL, 1, "{}", 2),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_server_deliver_entry(fx.srv, CH, 4, &pos, 0,
                                                   "e", 1, NULL, 2),
                     RESDELIV_EINVAL);
    memset(pos.epoch, 'x', sizeof(pos.epoch));
    ck_assert_int_eq(resdeliv_server_deliver_entry(fx.srv, CH, 4, &pos, 0,
                                                   "e", 1, "{}", 2),
                     RESDELIV_EINVAL);
    /* A flagged entry that is no object after all is still delivered. */
    memset(pos.epoch, 0, sizeof(pos.epoch));
    ck_assert_int_eq(sub(&fx, 0, -1), 0);
    ck_assert_int_eq(resdeliv_server_deliver_entry(fx.srv, CH, 4, &pos,
                                                   RESDELIV_ENTRY_OBJECT, "e",
                                                   1, "nope", 4),
                     0);
    ck_assert_uint_eq(fx.conns[0].n, 2);
    fx_close(&fx);
}
END_TEST

static Suite *server_suite(void)
{
    Suite *s = suite_create("server");
    TCase *tc;

    tc = tcase_create("api");
    tcase_add_test(tc, new_rejects_bad_input);
    tcase_add_test(tc, calls_reject_bad_input);
    tcase_add_test(tc, client_events_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("subscribe");
    tcase_add_test(tc, no_id_joins_at_once);
    tcase_add_test(tc, data_and_except);
    tcase_add_test(tc, empty_log_position);
    suite_add_tcase(s, tc);

    tc = tcase_create("replay");
    tcase_add_test(tc, behind_by_n_paced);
    tcase_add_test(tc, caught_up_joins);
    tcase_add_test(tc, last_page_full);
    suite_add_tcase(s, tc);

    tc = tcase_create("gap");
    tcase_add_test(tc, trimmed_gap_notice);
    tcase_add_test(tc, gap_notice_off);
    tcase_add_test(tc, invalid_and_missing);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, max_subscriptions_refused);
    tcase_add_test(tc, max_replaying_queues);
    suite_add_tcase(s, tc);

    tc = tcase_create("bus");
    tcase_add_test(tc, on_channel_first_and_last);
    tcase_add_test(tc, live_from_bus_delivers_entries);
    tcase_add_test(tc, bus_entries_at_the_seam);
    tcase_add_test(tc, announce_gap_live_and_replaying);
    tcase_add_test(tc, deliver_entry_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(server_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
