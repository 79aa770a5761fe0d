/* SPDX-License-Identifier: MIT */
/*
 * How a bus channel gets in sync (see bus_redis.c for the whole design):
 * store calls with tickets that outlive the bus and the channel, the
 * starting position, the check of epoch and retention after an
 * interruption, the catch-up reads in pages, and retries while the store
 * is away.
 */
#include "bus_redis_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- store calls ---- */

static void on_info(void *arg, int status,
                    const struct resdeliv_log_info *info);
static void on_read(void *arg, int status,
                    const struct resdeliv_stored_entry *e, size_t n,
                    const char *epoch);

/* Take ticket `t` off the bus's list of calls in flight. */
static void ticket_unlink(resdeliv__bus_t *b, struct resdeliv__bus_ticket *t)
{
    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else {
        b->calls = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    }
}

/* Start a store call for `ch`. @return 0 (the completion will run, maybe
 * already did) or an error (it will not). */
int resdeliv__bus_call(struct resdeliv__bus_chan *ch, int kind)
{
    resdeliv__bus_t *b = ch->bus;
    struct resdeliv_log_key key;
    struct resdeliv__bus_ticket *t = calloc(1, sizeof(*t));
    int rc;

    if (t == NULL) {
        return RESDELIV_ENOMEM;
    }
    t->bus = b;
    t->ch = ch;
    t->gen = ch->gen;
    t->kind = kind;
    t->next = b->calls;
    if (b->calls != NULL) {
        b->calls->prev = t;
    }
    b->calls = t;
    key.app_id = b->app;
    key.app_id_len = b->app_len;
    key.channel = ch->name;
    key.channel_len = ch->len;
    if (kind == RESDELIV__BUS_CALL_START) {
        ch->start_busy = 1;
        rc = resdeliv_store_info(b->store, &key, NULL, 0, on_info, t);
    } else if (kind == RESDELIV__BUS_CALL_CHECK) {
        ch->busy = 1;
        rc = resdeliv_store_info(b->store, &key, &ch->last.id, 0, on_info, t);
    } else {
        ch->busy = 1;
        rc = resdeliv_store_read(b->store, &key, &ch->last.id,
                                 RESDELIV__BUS_PAGE, on_read, t);
    }
    if (rc < 0) {
        ticket_unlink(b, t);
        free(t);
        if (kind == RESDELIV__BUS_CALL_START) {
            ch->start_busy = 0;
        } else {
            ch->busy = 0;
        }
    }
    return rc;
}

/* Retire a ticket. @return its channel when the completion still
 * matters (the bus entered and the channel pinned), else NULL. */
static struct resdeliv__bus_chan *ticket_take(struct resdeliv__bus_ticket *t)
{
    resdeliv__bus_t *b = t->bus;
    struct resdeliv__bus_chan *ch = t->ch;
    int stale;

    if (b != NULL) {
        ticket_unlink(b, t);
    }
    stale = b == NULL || ch == NULL || b->closing ||
            (t->kind != RESDELIV__BUS_CALL_START && t->gen != ch->gen);
    free(t);
    if (stale) {
        return NULL;
    }
    resdeliv__bus_enter(b);
    ch->pins++;
    return ch;
}

static void ticket_done(struct resdeliv__bus_chan *ch)
{
    resdeliv__bus_t *b = ch->bus;

    ch->pins--;
    resdeliv__bus_chan_release(ch);
    resdeliv__bus_leave(b);
}

/* ---- getting in sync ---- */

/* What may have been missed cannot be told: say so and go on. */
static void give_up(struct resdeliv__bus_chan *ch)
{
    ch->attempts = 0;
    resdeliv__bus_gap(ch, RESDELIV_GAP_STORE_UNAVAILABLE, NULL, NULL);
    if (!resdeliv__bus_gone(ch)) {
        resdeliv__bus_go_synced(ch);
    }
}

static void on_retry(void *arg);

/* The store failed: Redis coming back often takes the store's connection
 * a moment longer than the bus's, so try again before giving up. */
static void sync_failed(struct resdeliv__bus_chan *ch)
{
    resdeliv__bus_t *b = ch->bus;
    uint32_t shift;

    if (ch->attempts >= RESDELIV__BUS_RETRY_MAX) {
        give_up(ch);
        return;
    }
    shift = ch->attempts < 4 ? ch->attempts : 4;
    ch->attempts++;
    if (!ch->in_retry) {
        ch->in_retry = 1;
        ch->rnext = b->retry_head;
        b->retry_head = ch;
    }
    b->loop.timer_start(b->loop.loop,
                        (uint64_t)RESDELIV__BUS_RETRY_MIN_MS << shift, on_retry,
                        b, &b->retry);
}

void resdeliv__bus_arm_work(resdeliv__bus_t *b);

static void queue_read(struct resdeliv__bus_chan *ch)
{
    resdeliv__bus_t *b = ch->bus;

    if (ch->in_work) {
        return;
    }
    ch->in_work = 1;
    ch->wnext = NULL;
    if (b->work_tail != NULL) {
        b->work_tail->wnext = ch;
    } else {
        b->work_head = ch;
    }
    b->work_tail = ch;
    resdeliv__bus_arm_work(b);
}

void resdeliv__bus_read_now(struct resdeliv__bus_chan *ch)
{
    if (resdeliv__bus_call(ch, RESDELIV__BUS_CALL_READ) < 0) {
        sync_failed(ch);
    }
}

/* Start getting in sync when Redis confirmed and the position is known. */
void resdeliv__bus_sync(struct resdeliv__bus_chan *ch)
{
    if (!ch->confirmed || ch->synced || ch->busy || ch->start_busy ||
        resdeliv__bus_gone(ch)) {
        return;
    }
    ch->recovered = 0;
    if (!ch->have_pos) {
        /* Nowhere to read from: say so if something may have been
         * missed; the next message sets the position. */
        if (ch->need_check) {
            give_up(ch);
        } else {
            resdeliv__bus_go_synced(ch);
        }
        return;
    }
    if (ch->need_check) {
        if (resdeliv__bus_call(ch, RESDELIV__BUS_CALL_CHECK) < 0) {
            sync_failed(ch);
        }
        return;
    }
    resdeliv__bus_read_now(ch);
}

/* The retry timer. A channel whose store call fails at once (the store
 * is still reconnecting) goes back on the list from inside this loop:
 * taking the whole list first leaves it for the next timer, instead of
 * spending every attempt in this one. */
static void on_retry(void *arg)
{
    resdeliv__bus_t *b = arg;
    struct resdeliv__bus_chan *list = b->retry_head;

    b->retry_head = NULL;
    resdeliv__bus_enter(b);
    while (list != NULL && !b->closing) {
        struct resdeliv__bus_chan *ch = list;
        list = ch->rnext;
        ch->in_retry = 0;
        ch->pins++;
        resdeliv__bus_sync(ch);
        ch->pins--;
        resdeliv__bus_chan_release(ch);
    }
    /* Closing: the rest goes back for the close to release. */
    while (list != NULL) {
        struct resdeliv__bus_chan *ch = list;
        list = ch->rnext;
        ch->rnext = b->retry_head;
        b->retry_head = ch;
    }
    resdeliv__bus_leave(b);
}

/* ---- catch-up ---- */

static int was_trimmed(const struct resdeliv_log_info *info,
                       const struct resdeliv_id *id)
{
    if (info->has_max_deleted) {
        return resdeliv_id_cmp(id, &info->max_deleted) < 0;
    }
    return info->length > 0 && resdeliv_id_cmp(id, &info->first) < 0 &&
           info->entries_added > info->length;
}

/* After an interruption: what of the history since `last` is still
 * there. Announces what is not, then reads. */
static void check_done(struct resdeliv__bus_chan *ch,
                       const struct resdeliv_log_info *info)
{
    struct resdeliv_position now;

    memset(&now, 0, sizeof(now));
    if (!info->exists) {
        if (ch->last.epoch[0] != '\0' || !resdeliv_id_is_zero(&ch->last.id)) {
            resdeliv__bus_gap(ch, RESDELIV_GAP_MISSING, &now, NULL);
        }
        memset(&ch->last, 0, sizeof(ch->last));
        if (!resdeliv__bus_gone(ch)) {
            resdeliv__bus_go_synced(ch);
        }
        return;
    }
    now.id = info->last;
    memcpy(now.epoch, info->epoch, sizeof(now.epoch));
    now.epoch[sizeof(now.epoch) - 1] = '\0';
    if (ch->last.epoch[0] == '\0') {
        /* The log appeared meanwhile: all of it is new. */
        memcpy(ch->last.epoch, now.epoch, sizeof(now.epoch));
        memset(&ch->last.id, 0, sizeof(ch->last.id));
    } else if (strcmp(ch->last.epoch, now.epoch) != 0) {
        resdeliv__bus_gap(ch, RESDELIV_GAP_EPOCH_CHANGED, &now, &info->first);
        memcpy(ch->last.epoch, now.epoch, sizeof(now.epoch));
        memset(&ch->last.id, 0, sizeof(ch->last.id));
    } else if (resdeliv_id_cmp(&ch->last.id, &info->last) > 0) {
        /* The log went back in time (a restore): newer entries will have
         * ids below ours, so start from its newest. */
        resdeliv__bus_gap(ch, RESDELIV_GAP_AHEAD, &now, &info->first);
        ch->last.id = info->last;
    } else if (was_trimmed(info, &ch->last.id)) {
        resdeliv__bus_gap(ch, RESDELIV_GAP_TRIMMED, &now, &info->first);
    }
    if (!resdeliv__bus_gone(ch)) {
        ch->need_check = 0;
        resdeliv__bus_read_now(ch);
    }
}

static void start_done(struct resdeliv__bus_chan *ch, int status,
                       const struct resdeliv_log_info *info)
{
    memset(&ch->last, 0, sizeof(ch->last));
    ch->have_pos = status == 0;
    if (status == 0 && info->exists) {
        ch->last.id = info->last;
        memcpy(ch->last.epoch, info->epoch, sizeof(ch->last.epoch));
        ch->last.epoch[sizeof(ch->last.epoch) - 1] = '\0';
    }
    resdeliv__bus_sync(ch);
}

static void on_info(void *arg, int status, const struct resdeliv_log_info *info)
{
    struct resdeliv__bus_ticket *t = arg;
    int kind = t->kind;
    struct resdeliv__bus_chan *ch = ticket_take(t);

    if (ch == NULL) {
        return;
    }
    if (kind == RESDELIV__BUS_CALL_START) {
        ch->start_busy = 0;
        if (!resdeliv__bus_gone(ch)) {
            start_done(ch, status == 0 && info != NULL ? 0 : -1, info);
        }
    } else {
        ch->busy = 0;
        if (resdeliv__bus_gone(ch)) {
            /* nothing to do for a channel left meanwhile */
        } else if (status < 0 || info == NULL) {
            sync_failed(ch);
        } else {
            check_done(ch, info);
        }
    }
    ticket_done(ch);
}

/* A page read in another epoch than the channel's. @return 1 when it
 * was handled (nothing of it is handed over). */
static int read_epoch(struct resdeliv__bus_chan *ch, const char *epoch)
{
    struct resdeliv_position now;

    if (ch->last.epoch[0] == '\0' || strcmp(ch->last.epoch, epoch) == 0) {
        if (ch->last.epoch[0] == '\0' && epoch[0] != '\0') {
            snprintf(ch->last.epoch, sizeof(ch->last.epoch), "%s", epoch);
        }
        return 0;
    }
    memset(&now, 0, sizeof(now));
    if (epoch[0] == '\0') {
        resdeliv__bus_gap(ch, RESDELIV_GAP_MISSING, &now, NULL);
        memset(&ch->last, 0, sizeof(ch->last));
        if (!resdeliv__bus_gone(ch)) {
            resdeliv__bus_go_synced(ch);
        }
        return 1;
    }
    snprintf(now.epoch, sizeof(now.epoch), "%s", epoch);
    resdeliv__bus_gap(ch, RESDELIV_GAP_EPOCH_CHANGED, &now, NULL);
    ch->last = now;
    if (!resdeliv__bus_gone(ch)) {
        queue_read(ch);
    }
    return 1;
}

static void read_done(struct resdeliv__bus_chan *ch,
                      const struct resdeliv_stored_entry *e, size_t n,
                      const char *epoch)
{
    if (read_epoch(ch, epoch != NULL ? epoch : "")) {
        return;
    }
    for (size_t i = 0; i < n && !resdeliv__bus_gone(ch); i++) {
        struct resdeliv__bus_msg m;
        memset(&m, 0, sizeof(m));
        m.pos.id = e[i].id;
        memcpy(m.pos.epoch, ch->last.epoch, sizeof(m.pos.epoch));
        m.flags = e[i].flags;
        m.event = e[i].event;
        m.event_len = e[i].event_len;
        m.data = e[i].data;
        m.data_len = e[i].data_len;
        if (resdeliv__bus_hand(ch, &m)) {
            ch->bus->stats.caught_up++;
        }
    }
    if (resdeliv__bus_gone(ch)) {
        return;
    }
    ch->recovered += n;
    if (ch->recovered >= RESDELIV__BUS_CATCHUP_MAX) {
        resdeliv__bus_gap(ch, RESDELIV_GAP_CAP, NULL, NULL);
        if (!resdeliv__bus_gone(ch)) {
            resdeliv__bus_go_synced(ch);
        }
    } else if (n >= RESDELIV__BUS_PAGE || ch->overflowed) {
        /* More to read, or messages were dropped from the queue since
         * this read was issued: the log has them. */
        ch->overflowed = 0;
        queue_read(ch);
    } else {
        resdeliv__bus_go_synced(ch);
    }
}

static void on_read(void *arg, int status,
                    const struct resdeliv_stored_entry *e, size_t n,
                    const char *epoch)
{
    struct resdeliv__bus_ticket *t = arg;
    struct resdeliv__bus_chan *ch = ticket_take(t);

    if (ch == NULL) {
        return;
    }
    ch->busy = 0;
    if (resdeliv__bus_gone(ch)) {
        /* left meanwhile */
    } else if (status < 0) {
        sync_failed(ch);
    } else {
        read_done(ch, e, e != NULL ? n : 0, epoch);
    }
    ticket_done(ch);
}
