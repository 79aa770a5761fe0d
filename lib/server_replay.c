/* SPDX-License-Identifier: MIT */
/*
 * The subscription seam, replay side: one small state machine per
 * subscription. A subscription waits for a replay slot (when it carries an
 * id), opens a cursor, sends subscription_succeeded and any gap notice,
 * then one page per writable turn of its connection, then the held live
 * frames above the last replayed id, and finally asks the host to join it
 * to the channel.
 *
 * Store completions may run inline (the memory store, whose read
 * completions also hold a store lock) or later from the host's loop. A
 * completion only records its outcome and copies the page; the transport
 * is called once the store call has returned, never from inside it.
 */
#include "server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RESDELIV_ESTALE answers in a row after which a replay is ended. */
#define MAX_STALE_RUN 8

static void sub_fetch(struct resdeliv__sub *s);
static void sub_pump(struct resdeliv__sub *s);
static void send_opening(struct resdeliv__sub *s);

/* ---- lifetime ---------------------------------------------------------- */

static void page_clear(struct resdeliv__sub *s)
{
    for (size_t i = 0; i < s->page_n; i++) {
        resdeliv_free(s->page[i].text);
    }
    s->page_n = 0;
    s->page_next = 0;
}

void resdeliv__sub_ref(struct resdeliv__sub *s)
{
    s->refs++;
}

void resdeliv__sub_unref(struct resdeliv__sub *s)
{
    if (--s->refs > 0) {
        return;
    }
    page_clear(s);
    free(s->page);
    resdeliv_replay_close(s->cur);
    resdeliv_dedup_free(s->dedup);
    while (s->held_head != NULL) {
        struct resdeliv__held *h = s->held_head;
        s->held_head = h->next;
        free(h);
    }
    free(s->last_id);
    free(s->last_epoch);
    free(s->data);
    free(s);
}

void resdeliv__sub_drop_held(resdeliv_server *srv, struct resdeliv__sub *s)
{
    while (s->held_head != NULL) {
        struct resdeliv__held *h = s->held_head;
        s->held_head = h->next;
        free(h);
    }
    s->held_tail = NULL;
    srv->stats.held -= s->nheld;
    s->nheld = 0;
}

static void release_slot(resdeliv_server *srv, struct resdeliv__sub *s)
{
    if (s->has_slot) {
        s->has_slot = 0;
        srv->stats.replaying--;
    }
}

static void unwait(resdeliv_server *srv, struct resdeliv__sub *s)
{
    if (!s->waiting) {
        return;
    }
    if (s->wprev != NULL) {
        s->wprev->wnext = s->wnext;
    } else {
        srv->wait_head = s->wnext;
    }
    if (s->wnext != NULL) {
        s->wnext->wprev = s->wprev;
    } else {
        srv->wait_tail = s->wprev;
    }
    s->wprev = s->wnext = NULL;
    s->waiting = 0;
    srv->stats.waiting--;
}

void resdeliv__sub_kill(resdeliv_server *srv, struct resdeliv__sub *s)
{
    if (s->dead) {
        return;
    }
    s->dead = 1;
    s->conn = NULL;
    srv->stats.subscriptions--;
    unwait(srv, s);
    release_slot(srv, s);
    resdeliv__server_unhold(srv, s);
    resdeliv__sub_drop_held(srv, s);
    /* A fetch in flight completes with RESDELIV_ECLOSED later; the page
     * being sent, if any, goes with the last reference. */
    resdeliv_replay_close(s->cur);
    s->cur = NULL;
    resdeliv_dedup_free(s->dedup);
    s->dedup = NULL;
    resdeliv__sub_unref(s);
}

/* ---- slots ------------------------------------------------------------- */

static void sub_start(struct resdeliv__sub *s);

void resdeliv__sub_begin(resdeliv_server *srv, struct resdeliv__sub *s)
{
    if (s->last_id == NULL) {
        /* No replay: only the position is read, no slot is needed. */
        sub_start(s);
        return;
    }
    s->waiting = 1;
    s->wprev = srv->wait_tail;
    if (srv->wait_tail != NULL) {
        srv->wait_tail->wnext = s;
    } else {
        srv->wait_head = s;
    }
    srv->wait_tail = s;
    srv->stats.waiting++;
    resdeliv__server_start_waiting(srv);
}

void resdeliv__server_start_waiting(resdeliv_server *srv)
{
    if (srv->starting || srv->freeing) {
        return;
    }
    /* A loop rather than recursion: a replay that ends at once frees its
     * slot from inside sub_start(). */
    srv->starting = 1;
    while (srv->wait_head != NULL && !srv->freeing &&
           srv->stats.replaying < srv->opts.max_replaying) {
        struct resdeliv__sub *s = srv->wait_head;
        unwait(srv, s);
        s->has_slot = 1;
        srv->stats.replaying++;
        sub_start(s);
    }
    srv->starting = 0;
}

/* ---- opening ----------------------------------------------------------- */

static int page_add(struct resdeliv__sub *s, char *text, size_t len, int entry,
                    const struct resdeliv_id *id)
{
    struct resdeliv__out *o;

    if (s->page_n == s->page_cap) {
        size_t cap = s->page_cap != 0 ? s->page_cap * 2 : 8;
        struct resdeliv__out *p = realloc(s->page, cap * sizeof(*p));
        if (p == NULL) {
            resdeliv_free(text);
            return RESDELIV_ENOMEM;
        }
        s->page = p;
        s->page_cap = cap;
    }
    o = &s->page[s->page_n++];
    o->text = text;
    o->len = len;
    o->entry = entry;
    if (id != NULL) {
        o->id = *id;
    } else {
        memset(&o->id, 0, sizeof(o->id));
    }
    return 0;
}

static int add_gap(struct resdeliv__sub *s,
                   const struct resdeliv_replay_status *st)
{
    resdeliv_server *srv = s->srv;
    char *frame = NULL;
    size_t len = 0;
    int rc;

    if (!resdeliv_log_config(srv->log)->gap_notice) {
        return 0;
    }
    rc = resdeliv_pusher_build_gap(s->channel, st, &frame, &len);
    if (rc == 0) {
        rc = page_add(s, frame, len, 0, NULL);
    }
    if (rc == 0) {
        srv->stats.gap_notices++;
    }
    return rc;
}

/* The status to report when the store could not be asked at all. */
static void unavailable(struct resdeliv_replay_status *st)
{
    st->continuous = 0;
    st->reason = RESDELIV_GAP_STORE_UNAVAILABLE;
    st->lost = -1;
}

static void fail_local(struct resdeliv__sub *s, int rc)
{
    resdeliv_server *srv = s->srv;
    char msg[RESDELIV_MAX_CHANNEL_LEN + 96];

    snprintf(msg, sizeof(msg), "resdeliv: %s while subscribing to '%s'",
             resdeliv_strerror(rc), s->channel);
    resdeliv__server_conn_fail(srv, s->conn,
                               RESDELIV_PUSHER_ERR_GENERIC_RECONNECT, msg);
}

/* The cursor is open (or could not be): queue subscription_succeeded and
 * the gap notice, then the first page unless the connection is busy. */
static void sub_opened(struct resdeliv__sub *s)
{
    resdeliv_server *srv = s->srv;
    const struct resdeliv_config *cfg = resdeliv_log_config(srv->log);
    char *frame = NULL;
    size_t len = 0;
    int rc;

    if (s->cur != NULL && s->op_status == 0) {
        s->status = *resdeliv_replay_status(s->cur);
        s->ended = resdeliv_replay_done(s->cur);
    } else {
        resdeliv__server_say(srv, RESDELIV_LOG_WARN,
                             "resdeliv: replay of '%s' could not open: %s",
                             s->channel, resdeliv_strerror(s->op_status));
        memset(&s->status, 0, sizeof(s->status));
        unavailable(&s->status);
        s->ended = 1;
    }
    s->state = RESDELIV__SUB_REPLAYING;
    s->last_replayed = s->status.after;
    if (resdeliv_dedup_new((size_t)srv->opts.dedup_window, &s->dedup) == 0) {
        resdeliv_dedup_reset(s->dedup, &s->last_replayed);
    }
    rc = resdeliv_pusher_build_subscribed(
        s->channel, s->data, s->data_len,
        s->cur != NULL ? &s->status.position : NULL, cfg->replay_id_field,
        cfg->replay_epoch_field, &frame, &len);
    if (rc == 0) {
        rc = page_add(s, frame, len, 0, NULL);
    }
    if (rc == 0 && !s->status.continuous) {
        rc = add_gap(s, &s->status);
    }
    free(s->data);
    s->data = NULL;
    if (rc < 0) {
        fail_local(s, rc);
    } else {
        send_opening(s);
    }
}

static void on_open(void *arg, int status, resdeliv_replay *cur)
{
    struct resdeliv__sub *s = arg;
    resdeliv_server *srv = s->srv;

    s->busy = 0;
    if (s->dead) {
        resdeliv_replay_close(cur);
        resdeliv__sub_unref(s);
        return;
    }
    s->cur = cur;
    s->op_status = status;
    if (!s->in_call) {
        resdeliv__server_enter(srv);
        sub_opened(s);
        resdeliv__server_leave(srv);
    }
    resdeliv__sub_unref(s);
}

static void sub_start(struct resdeliv__sub *s)
{
    resdeliv_server *srv = s->srv;
    int rc;

    s->state = RESDELIV__SUB_OPENING;
    resdeliv__sub_ref(s); /* this frame */
    resdeliv__sub_ref(s); /* the open in flight */
    s->busy = 1;
    s->in_call = 1;
    rc = resdeliv_replay_open_async(srv->log, s->channel, s->last_id,
                                    s->last_epoch, on_open, s);
    s->in_call = 0;
    if (rc < 0) {
        s->busy = 0;
        s->op_status = rc;
        resdeliv__sub_unref(s);
    }
    if (!s->busy && !s->dead) {
        sub_opened(s);
    }
    resdeliv__sub_unref(s);
}

/* ---- pages ------------------------------------------------------------- */

/* Copy a page as frames; runs inside the store's completion. */
static int take_page(struct resdeliv__sub *s,
                     const struct resdeliv_replay_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *frame = NULL;
        size_t len = 0;
        int rc = resdeliv_pusher_build_event(
            e[i].event, e[i].event_len, s->channel, s->channel_len,
            e[i].payload, e[i].payload_len, &frame, &len);
        if (rc == 0) {
            rc = page_add(s, frame, len, 1, &e[i].id);
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* A fetch answered: queue what it means for the client, then send. */
static void after_page(struct resdeliv__sub *s)
{
    int rc = s->op_status;
    struct resdeliv_replay_status st;

    if (rc == RESDELIV_ESTALE) {
        /* History changed under the replay: the status now tells how;
         * say so, then go on from where the cursor stands. */
        st = *resdeliv_replay_status(s->cur);
        if (st.reason == RESDELIV_GAP_NONE) {
            st.reason = RESDELIV_GAP_EPOCH_CHANGED;
            st.lost = -1;
        }
        st.continuous = 0;
        rc = add_gap(s, &st);
        if (rc == 0 && ++s->stale_run < MAX_STALE_RUN &&
            !resdeliv_replay_done(s->cur)) {
            sub_fetch(s);
            return;
        }
        s->ended = 1;
    } else if (rc == RESDELIV_ENOMEM) {
        s->ended = 1;
    } else if (rc < 0) {
        resdeliv__server_say(s->srv, RESDELIV_LOG_WARN,
                             "resdeliv: replay of '%s' stopped: %s", s->channel,
                             resdeliv_strerror(rc));
        st = s->status;
        unavailable(&st);
        rc = add_gap(s, &st);
        s->ended = 1;
    } else {
        s->stale_run = 0;
        s->ended = s->ended || resdeliv_replay_done(s->cur);
    }
    if (rc < 0) {
        fail_local(s, rc);
        return;
    }
    sub_pump(s);
}

static void on_page(void *arg, int status,
                    const struct resdeliv_replay_entry *entries, size_t n)
{
    struct resdeliv__sub *s = arg;
    resdeliv_server *srv = s->srv;

    s->busy = 0;
    if (s->dead) {
        resdeliv__sub_unref(s);
        return;
    }
    if (status == 0 && n > 0 && entries != NULL) {
        status = take_page(s, entries, n);
    } else if (status == 0) {
        s->ended = 1;
    }
    s->op_status = status;
    if (!s->in_call) {
        resdeliv__server_enter(srv);
        after_page(s);
        resdeliv__server_leave(srv);
    }
    resdeliv__sub_unref(s);
}

static void sub_fetch(struct resdeliv__sub *s)
{
    int rc;

    resdeliv__sub_ref(s); /* this frame */
    resdeliv__sub_ref(s); /* the fetch in flight */
    s->busy = 1;
    s->in_call = 1;
    rc = resdeliv_replay_fetch_async(s->cur, on_page, s);
    s->in_call = 0;
    if (rc < 0) {
        s->busy = 0;
        s->op_status = rc;
        resdeliv__sub_unref(s);
    }
    if (!s->busy && !s->dead) {
        after_page(s);
    }
    resdeliv__sub_unref(s);
}

/* ---- sending ----------------------------------------------------------- */

static void go_live(struct resdeliv__sub *s, struct resdeliv__conn *c)
{
    resdeliv_server *srv = s->srv;
    int rc;

    resdeliv__server_unhold(srv, s);
    resdeliv_dedup_free(s->dedup);
    s->dedup = NULL;
    s->state = RESDELIV__SUB_LIVE;
    rc = srv->tp.join(srv->tp.host, c->key, s->channel, s->channel_len);
    if (rc < 0 && !s->dead && !c->closed) {
        /* Not joined means missed broadcasts: let the client resume. */
        resdeliv__server_conn_fail(srv, c,
                                   RESDELIV_PUSHER_ERR_GENERIC_RECONNECT,
                                   "resdeliv: could not join the channel; "
                                   "reconnect with last_event_id");
    }
}

/* 1: drop a held frame (at or below the last replayed id, or seen). The
 * window remembers what it passes, so a frame sent again after EAGAIN is
 * not asked twice. */
static int held_is_duplicate(struct resdeliv__sub *s, struct resdeliv__held *h)
{
    if (h->fresh || (h->id.ms == 0 && h->id.seq == 0)) {
        return 0;
    }
    if (resdeliv_id_cmp(&h->id, &s->last_replayed) <= 0) {
        return 1;
    }
    if (s->dedup != NULL &&
        resdeliv_dedup_check(s->dedup, &h->id) != RESDELIV_DEDUP_FRESH) {
        return 1;
    }
    h->fresh = 1;
    return 0;
}

/* Send the held frames, then join. Each frame leaves the queue before it
 * is sent, so a removal from inside send() cannot free it under the
 * host. */
static void sub_flush(struct resdeliv__sub *s, struct resdeliv__conn *c)
{
    resdeliv_server *srv = s->srv;

    while (s->held_head != NULL) {
        struct resdeliv__held *h = s->held_head;
        int rc;

        s->held_head = h->next;
        if (s->held_head == NULL) {
            s->held_tail = NULL;
        }
        s->nheld--;
        srv->stats.held--;
        if (held_is_duplicate(s, h)) {
            srv->stats.seam_duplicates++;
            resdeliv_log_count_dedup_drops(srv->log, 1);
            free(h);
            continue;
        }
        rc = srv->tp.send(srv->tp.host, c->key, h->frame, h->len);
        if (s->dead || c->closed) {
            free(h);
            return;
        }
        if (rc == RESDELIV_EAGAIN) {
            h->next = s->held_head;
            s->held_head = h;
            if (s->held_tail == NULL) {
                s->held_tail = h;
            }
            s->nheld++;
            srv->stats.held++;
            s->wants_writable = 1;
            resdeliv__server_want_writable(srv, c);
            return;
        }
        free(h);
        if (rc < 0) {
            resdeliv__server_conn_drop(srv, c);
            return;
        }
        srv->stats.flushed++;
    }
    go_live(s, c);
}

/* The replay has ended and its last page is out: free the slot, flush. */
static void sub_finish(struct resdeliv__sub *s, struct resdeliv__conn *c)
{
    resdeliv_server *srv = s->srv;

    resdeliv_replay_close(s->cur);
    s->cur = NULL;
    release_slot(srv, s);
    s->state = RESDELIV__SUB_FLUSHING;
    sub_flush(s, c);
    resdeliv__server_start_waiting(srv);
}

static void sent_entry(struct resdeliv__sub *s, const struct resdeliv__out *o)
{
    s->srv->stats.replayed++;
    s->last_replayed = o->id;
    if (s->dedup != NULL) {
        resdeliv_dedup_check(s->dedup, &o->id);
    }
}

/* Send what is left of the page. @return 1 when all of it went out and
 * the subscription is still there; the caller holds references. */
static int send_page(struct resdeliv__sub *s, struct resdeliv__conn *c)
{
    resdeliv_server *srv = s->srv;

    while (s->page_next < s->page_n) {
        const struct resdeliv__out *o = &s->page[s->page_next];
        int rc = srv->tp.send(srv->tp.host, c->key, o->text, o->len);
        if (s->dead || c->closed) {
            return 0;
        }
        if (rc == RESDELIV_EAGAIN) {
            s->wants_writable = 1;
            resdeliv__server_want_writable(srv, c);
            return 0;
        }
        if (rc < 0) {
            resdeliv__server_conn_drop(srv, c);
            return 0;
        }
        if (o->entry) {
            sent_entry(s, o);
        }
        s->page_next++;
    }
    page_clear(s);
    return 1;
}

/* Send the page; then finish, or wait for the next writable turn. */
static void sub_pump(struct resdeliv__sub *s)
{
    struct resdeliv__conn *c = s->conn;

    resdeliv__sub_ref(s);
    resdeliv__server_conn_ref(c);
    if (send_page(s, c)) {
        if (s->ended) {
            sub_finish(s, c);
        } else {
            s->wants_writable = 1;
            resdeliv__server_want_writable(s->srv, c);
        }
    }
    resdeliv__server_conn_unref(c);
    resdeliv__sub_unref(s);
}

/* subscription_succeeded and any gap notice go out at once; the first
 * page follows unless the connection is waiting for a writable turn. */
static void send_opening(struct resdeliv__sub *s)
{
    struct resdeliv__conn *c = s->conn;

    if (s->ended || c->want_writable) {
        sub_pump(s);
        return;
    }
    resdeliv__sub_ref(s);
    resdeliv__server_conn_ref(c);
    if (send_page(s, c)) {
        sub_fetch(s);
    }
    resdeliv__server_conn_unref(c);
    resdeliv__sub_unref(s);
}

/* ---- writable ---------------------------------------------------------- */

static struct resdeliv__sub *next_turn(struct resdeliv__conn *c)
{
    struct resdeliv__sub **pp;
    struct resdeliv__sub *s;

    for (pp = &c->subs; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->wants_writable && !(*pp)->busy) {
            break;
        }
    }
    s = *pp;
    if (s == NULL) {
        return NULL;
    }
    /* Move it last, so subscriptions of one connection take turns. */
    *pp = s->next;
    s->next = NULL;
    pp = &c->subs;
    while (*pp != NULL) {
        pp = &(*pp)->next;
    }
    *pp = s;
    s->wants_writable = 0;
    return s;
}

static int any_turn(const struct resdeliv__conn *c)
{
    for (const struct resdeliv__sub *s = c->subs; s != NULL; s = s->next) {
        if (s->wants_writable) {
            return 1;
        }
    }
    return 0;
}

void resdeliv__server_serve(resdeliv_server *srv, struct resdeliv__conn *c)
{
    struct resdeliv__sub *s;
    int in_flight = 0;

    c->want_writable = 0;
    resdeliv__server_conn_ref(c);
    s = next_turn(c);
    if (s != NULL) {
        resdeliv__sub_ref(s);
        if (s->page_next < s->page_n) {
            sub_pump(s);
        } else if (s->state == RESDELIV__SUB_REPLAYING && !s->ended) {
            sub_fetch(s);
        } else if (s->state == RESDELIV__SUB_REPLAYING) {
            sub_finish(s, c);
        } else if (s->state == RESDELIV__SUB_FLUSHING) {
            sub_flush(s, c);
        }
        in_flight = s->busy && !s->dead;
        resdeliv__sub_unref(s);
    }
    /* A page still coming from the store asks for the next turn itself
     * once it is sent: one page per connection at a time. */
    if (!in_flight && !c->closed && !srv->freeing && any_turn(c)) {
        resdeliv__server_want_writable(srv, c);
    }
    resdeliv__server_conn_unref(c);
}
