/* SPDX-License-Identifier: MIT */
/*
 * The Redis bus (bus.h): one hiredis async connection in pub/sub mode on
 * the host's loop hooks, subscribed to the bus channels of the logs that
 * have local subscribers, handing each entry over in log order.
 *
 * Channels. Each is reference counted by resdeliv_bus_subscribe(); the
 * first reference reads the log's position through the store (the
 * starting point) and queues a SUBSCRIBE; the last queues an UNSUBSCRIBE.
 * Queued changes go out from a zero-delay timer, many channels per
 * command. A channel is re-subscribed only once Redis has confirmed its
 * UNSUBSCRIBE.
 *
 * Continuity. A channel keeps the position of the last entry it handed
 * over. Until it is in sync, bus messages are queued (bounded); it gets in
 * sync once Redis confirmed the SUBSCRIBE and the store has been read
 * after that position. This read closes the window between the starting
 * point and the moment the SUBSCRIBE took effect, and after a lost
 * connection it recovers what was published meanwhile, after a check of
 * the log's epoch and retention that announces whatever cannot be
 * recovered as a gap. Queued messages then follow, duplicates dropped.
 *
 * Lifetimes. Store calls carry a ticket that outlives the bus and the
 * channel (either may go while a call is in flight). Callbacks may free
 * the bus or unsubscribe: entry points count themselves in `depth`, and
 * memory goes when the outermost one returns; a channel being worked on
 * is pinned.
 */
#include "bus_redis_internal.h"
#include "redis_async_internal.h"

#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 50u
#define BACKOFF_MAX_MS 5000u

/* Catch-up calls that failed are tried again this often, waiting 100 ms
 * doubling up to 1.6 s, before the channel gives up with a gap. */
#define RETRY_MAX 8
#define RETRY_MIN_MS 100u

#define CALL_START 0 /* the starting position */
#define CALL_CHECK 1 /* epoch and retention after an interruption */
#define CALL_READ 2  /* a page of entries after the last one */

typedef struct resdeliv_bus bus_t;

struct qmsg {
    struct qmsg *next;
    struct resdeliv__bus_msg m;
    size_t size;
    char bytes[];
};

struct bchan {
    bus_t *bus;
    struct bchan *hnext; /* table chain */
    struct bchan *pnext; /* SUBSCRIBE / UNSUBSCRIBE to send */
    struct bchan *wnext; /* a catch-up read to issue */
    struct bchan *rnext; /* a failed catch-up to try again */
    uint64_t hash;
    size_t refs;
    int pins;
    int pending;    /* on the pending list */
    int in_work;    /* on the work list */
    int in_retry;   /* on the retry list */
    uint32_t attempts; /* failed catch-up calls in a row */
    int on_redis;   /* SUBSCRIBE sent on this connection, no UNSUBSCRIBE */
    int confirmed;  /* Redis confirmed it */
    int unsub_sent; /* UNSUBSCRIBE not confirmed yet */
    int start_busy; /* starting position being read */
    int have_pos;   /* `last` is known */
    int synced;     /* bus messages go straight out */
    int need_check; /* the connection dropped since the last sync */
    int busy;       /* a catch-up call is in flight */
    int overflowed; /* queued messages were dropped */
    uint64_t gen;   /* catch-up calls of older generations are ignored */
    uint64_t recovered;
    struct resdeliv_position last;
    struct qmsg *qhead, *qtail;
    size_t qn, qbytes;
    char *key; /* the Redis channel */
    size_t key_len;
    size_t len;
    char name[];
};

struct bcall {
    struct bcall *prev, *next;
    bus_t *bus;        /* NULL once the bus is freed */
    struct bchan *ch;  /* NULL once the channel is gone */
    uint64_t gen;
    int kind;
};

struct resdeliv_bus {
    struct resdeliv_loop loop;
    struct resdeliv_bus_callbacks cb;
    resdeliv_store *store;
    redisAsyncContext *ac;
    int fd;
    uint32_t want;
    void *watch;
    void *timer; /* reconnect backoff, or the connect deadline */
    void *work;  /* zero-delay: pending (un)subscribes, catch-up reads */
    void *retry; /* failed catch-up calls */
    int freeing; /* redisAsyncFree() was called on ac */
    int established;
    int connected_once;
    int closing;
    int depth;
    int pipe_ignored;
    uint32_t failures;
    uint64_t rng;
    struct resdeliv__redis_url url;
    char *prefix;
    size_t prefix_len;
    char *app;
    size_t app_len;
    uint64_t connect_ms;
    struct bchan **buckets;
    size_t nbuckets;
    size_t nchans;
    struct bchan *pend_head, *pend_tail;
    struct bchan *work_head, *work_tail;
    struct bchan *retry_head;
    struct bcall *calls;
    struct resdeliv_bus_stats stats;
    char errmsg[256];
};

static void on_sub(redisAsyncContext *ac, void *reply, void *privdata);
static void ch_sync(struct bchan *ch);
static void chan_release(struct bchan *ch);

/* ---- lifetime across reentrant calls ---- */

static void qdrop(struct bchan *ch)
{
    while (ch->qhead != NULL) {
        struct qmsg *q = ch->qhead;
        ch->qhead = q->next;
        free(q);
    }
    ch->qtail = NULL;
    ch->qn = ch->qbytes = 0;
}

static void chan_free(struct bchan *ch)
{
    qdrop(ch);
    free(ch->key);
    free(ch);
}

static void release(bus_t *b)
{
    for (size_t i = 0; i < b->nbuckets; i++) {
        while (b->buckets[i] != NULL) {
            struct bchan *ch = b->buckets[i];
            b->buckets[i] = ch->hnext;
            chan_free(ch);
        }
    }
    free(b->buckets);
    free(b->prefix);
    free(b->app);
    memset(&b->url, 0, sizeof(b->url));
    free(b);
}

static void enter(bus_t *b)
{
    b->depth++;
}

static void leave(bus_t *b)
{
    if (--b->depth == 0 && b->closing) {
        release(b);
    }
}

/* 1 when work on `ch` must stop: the bus is closing or the channel was
 * left (by a callback, typically). */
static int gone(const struct bchan *ch)
{
    return ch->bus->closing || ch->refs == 0;
}

/* ---- channel table ---- */

static uint64_t hash_key(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static struct bchan *chan_find(const bus_t *b, const char *key, size_t len)
{
    uint64_t h = hash_key(key, len);

    if (b->nbuckets == 0) {
        return NULL;
    }
    for (struct bchan *ch = b->buckets[h & (b->nbuckets - 1)]; ch != NULL;
         ch = ch->hnext) {
        if (ch->hash == h && ch->key_len == len &&
            memcmp(ch->key, key, len) == 0) {
            return ch;
        }
    }
    return NULL;
}

static int table_grow(bus_t *b)
{
    size_t size = b->nbuckets ? b->nbuckets * 2 : 64;
    struct bchan **nb;

    if (b->nbuckets != 0 && b->nchans < b->nbuckets - b->nbuckets / 4) {
        return 0;
    }
    nb = calloc(size, sizeof(*nb));
    if (nb == NULL) {
        return b->nbuckets != 0 ? 0 : RESDELIV_ENOMEM;
    }
    for (size_t i = 0; i < b->nbuckets; i++) {
        while (b->buckets[i] != NULL) {
            struct bchan *ch = b->buckets[i];
            b->buckets[i] = ch->hnext;
            ch->hnext = nb[ch->hash & (size - 1)];
            nb[ch->hash & (size - 1)] = ch;
        }
    }
    free(b->buckets);
    b->buckets = nb;
    b->nbuckets = size;
    return 0;
}

static void table_del(bus_t *b, struct bchan *ch)
{
    struct bchan **pp = &b->buckets[ch->hash & (b->nbuckets - 1)];

    while (*pp != NULL && *pp != ch) {
        pp = &(*pp)->hnext;
    }
    if (*pp == ch) {
        *pp = ch->hnext;
        b->nchans--;
    }
}

/* The Redis channel of a log: its stream key and the suffix. */
static int bus_key(const bus_t *b, const char *name, size_t len, char **out,
                   size_t *out_len)
{
    struct resdeliv__redis_keys keys;
    char *k;

    if (resdeliv__redis_keys_build(b->prefix, b->prefix_len, b->app,
                                   b->app_len, name, len, &keys) != 0) {
        return RESDELIV_ENOMEM;
    }
    k = malloc(keys.stream_len + sizeof(RESDELIV__BUS_SUFFIX));
    if (k != NULL) {
        memcpy(k, keys.stream, keys.stream_len);
        memcpy(k + keys.stream_len, RESDELIV__BUS_SUFFIX,
               sizeof(RESDELIV__BUS_SUFFIX));
        *out_len = keys.stream_len + sizeof(RESDELIV__BUS_SUFFIX) - 1;
    }
    resdeliv__redis_keys_clear(&keys);
    *out = k;
    return k != NULL ? 0 : RESDELIV_ENOMEM;
}

/* Free a channel nobody needs: no reference, nothing owed to Redis, not
 * being worked on. */
static void chan_release(struct bchan *ch)
{
    bus_t *b = ch->bus;

    if (b->closing || ch->refs > 0 || ch->on_redis || ch->unsub_sent ||
        ch->pending || ch->in_work || ch->in_retry || ch->pins > 0) {
        return;
    }
    for (struct bcall *t = b->calls; t != NULL; t = t->next) {
        if (t->ch == ch) {
            t->ch = NULL;
        }
    }
    table_del(b, ch);
    chan_free(ch);
}

/* ---- hiredis ev hooks over the loop vtable ---- */

static void on_io(void *arg, uint32_t events)
{
    bus_t *b = arg;

    enter(b);
    if ((events & RESDELIV_LOOP_READ) && b->ac != NULL) {
        redisAsyncHandleRead(b->ac);
    }
    if ((events & RESDELIV_LOOP_WRITE) && b->ac != NULL && !b->closing) {
        struct resdeliv__pipe_guard g;
        resdeliv__pipe_enter(&g, b->pipe_ignored);
        redisAsyncHandleWrite(b->ac);
        resdeliv__pipe_leave(&g, b->ac == NULL || b->ac->err != 0);
    }
    leave(b);
}

static void set_want(bus_t *b, uint32_t want)
{
    if (want == b->want && b->watch != NULL) {
        return;
    }
    if (b->loop.watch(b->loop.loop, b->fd, want, on_io, b, &b->watch) != 0) {
        snprintf(b->errmsg, sizeof(b->errmsg),
                 "event loop refused to watch the Redis socket");
        return;
    }
    b->want = want;
}

static void ev_add_read(void *p)
{
    bus_t *b = p;
    set_want(b, b->want | RESDELIV_LOOP_READ);
}

static void ev_del_read(void *p)
{
    bus_t *b = p;
    set_want(b, b->want & ~RESDELIV_LOOP_READ);
}

static void ev_add_write(void *p)
{
    bus_t *b = p;
    set_want(b, b->want | RESDELIV_LOOP_WRITE);
}

static void ev_del_write(void *p)
{
    bus_t *b = p;
    set_want(b, b->want & ~RESDELIV_LOOP_WRITE);
}

static void conn_gone(bus_t *b);

static void ev_cleanup(void *p)
{
    conn_gone(p);
}

static void attach(bus_t *b, redisAsyncContext *ac)
{
    ac->data = b;
    ac->ev.data = b;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
}

static void detach(redisAsyncContext *ac)
{
    ac->data = NULL;
    ac->ev.data = NULL;
    ac->ev.addRead = NULL;
    ac->ev.delRead = NULL;
    ac->ev.addWrite = NULL;
    ac->ev.delWrite = NULL;
    ac->ev.cleanup = NULL;
}

/* ---- store calls ---- */

static void on_info(void *arg, int status,
                    const struct resdeliv_log_info *info);
static void on_read(void *arg, int status,
                    const struct resdeliv_stored_entry *e, size_t n,
                    const char *epoch);

/* Start a store call for `ch`. @return 0 (the completion will run, maybe
 * already did) or an error (it will not). */
static int call(struct bchan *ch, int kind)
{
    bus_t *b = ch->bus;
    struct resdeliv_log_key key;
    struct bcall *t = calloc(1, sizeof(*t));
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
    if (kind == CALL_START) {
        ch->start_busy = 1;
        rc = resdeliv_store_info(b->store, &key, NULL, 0, on_info, t);
    } else if (kind == CALL_CHECK) {
        ch->busy = 1;
        rc = resdeliv_store_info(b->store, &key, &ch->last.id, 0, on_info, t);
    } else {
        ch->busy = 1;
        rc = resdeliv_store_read(b->store, &key, &ch->last.id,
                                 RESDELIV__BUS_PAGE, on_read, t);
    }
    if (rc < 0) {
        if (t->prev != NULL) {
            t->prev->next = t->next;
        } else {
            b->calls = t->next;
        }
        if (t->next != NULL) {
            t->next->prev = t->prev;
        }
        free(t);
        if (kind == CALL_START) {
            ch->start_busy = 0;
        } else {
            ch->busy = 0;
        }
    }
    return rc;
}

/* Retire a ticket. @return its channel when the completion still
 * matters (the bus entered and the channel pinned), else NULL. */
static struct bchan *ticket_take(struct bcall *t)
{
    bus_t *b = t->bus;
    struct bchan *ch = t->ch;
    int stale;

    if (b != NULL) {
        if (t->prev != NULL) {
            t->prev->next = t->next;
        } else {
            b->calls = t->next;
        }
        if (t->next != NULL) {
            t->next->prev = t->prev;
        }
    }
    stale = b == NULL || ch == NULL || b->closing ||
            (t->kind != CALL_START && t->gen != ch->gen);
    free(t);
    if (stale) {
        return NULL;
    }
    enter(b);
    ch->pins++;
    return ch;
}

static void ticket_done(struct bchan *ch)
{
    bus_t *b = ch->bus;

    ch->pins--;
    chan_release(ch);
    leave(b);
}

/* ---- handing over ---- */

static void gap(struct bchan *ch, uint32_t reason,
                const struct resdeliv_position *now,
                const struct resdeliv_id *oldest)
{
    bus_t *b = ch->bus;
    struct resdeliv_replay_status st;

    memset(&st, 0, sizeof(st));
    st.continuous = 0;
    st.reason = reason;
    st.lost = -1;
    st.position = now != NULL ? *now : ch->last;
    st.after = ch->last.id;
    if (oldest != NULL && !resdeliv_id_is_zero(oldest)) {
        st.has_oldest = 1;
        st.oldest = *oldest;
    }
    b->stats.gaps++;
    b->cb.gap(b->cb.arg, ch->name, ch->len, &st);
}

/* Hand one entry over unless it is a duplicate. @return 1 when handed. */
static int hand(struct bchan *ch, const struct resdeliv__bus_msg *m)
{
    bus_t *b = ch->bus;

    if (ch->last.epoch[0] != '\0') {
        if (strcmp(ch->last.epoch, m->pos.epoch) == 0) {
            if (resdeliv_id_cmp(&m->pos.id, &ch->last.id) <= 0) {
                b->stats.duplicates++;
                return 0;
            }
        } else {
            gap(ch, RESDELIV_GAP_EPOCH_CHANGED, &m->pos, NULL);
            if (gone(ch)) {
                return 0;
            }
        }
    }
    ch->last = m->pos;
    b->stats.entries++;
    b->cb.entry(b->cb.arg, ch->name, ch->len, &m->pos, m->flags, m->event,
                m->event_len, m->data, m->data_len);
    return 1;
}

/* In sync: the queued messages go out, then every new one at once. */
static void go_synced(struct bchan *ch)
{
    ch->synced = 1;
    ch->need_check = 0;
    ch->attempts = 0;
    ch->overflowed = 0;
    ch->pins++;
    while (!gone(ch) && ch->synced && ch->qhead != NULL) {
        struct qmsg *q = ch->qhead;
        ch->qhead = q->next;
        if (ch->qhead == NULL) {
            ch->qtail = NULL;
        }
        ch->qn--;
        ch->qbytes -= q->size;
        hand(ch, &q->m);
        free(q);
    }
    ch->pins--;
}

/* What may have been missed cannot be told: say so and go on. */
static void give_up(struct bchan *ch)
{
    ch->attempts = 0;
    gap(ch, RESDELIV_GAP_STORE_UNAVAILABLE, NULL, NULL);
    if (!gone(ch)) {
        go_synced(ch);
    }
}

static void on_retry(void *arg);

/* The store failed: Redis coming back often takes the store's connection
 * a moment longer than the bus's, so try again before giving up. */
static void sync_failed(struct bchan *ch)
{
    bus_t *b = ch->bus;
    uint32_t shift;

    if (ch->attempts >= RETRY_MAX) {
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
    b->loop.timer_start(b->loop.loop, (uint64_t)RETRY_MIN_MS << shift,
                        on_retry, b, &b->retry);
}

static void arm_work(bus_t *b);

static void queue_read(struct bchan *ch)
{
    bus_t *b = ch->bus;

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
    arm_work(b);
}

static void read_now(struct bchan *ch)
{
    if (call(ch, CALL_READ) < 0) {
        sync_failed(ch);
    }
}

/* Start getting in sync when Redis confirmed and the position is known. */
static void ch_sync(struct bchan *ch)
{
    if (!ch->confirmed || ch->synced || ch->busy || ch->start_busy ||
        gone(ch)) {
        return;
    }
    ch->recovered = 0;
    if (!ch->have_pos) {
        /* Nowhere to read from: say so if something may have been
         * missed; the next message sets the position. */
        if (ch->need_check) {
            give_up(ch);
        } else {
            go_synced(ch);
        }
        return;
    }
    if (ch->need_check) {
        if (call(ch, CALL_CHECK) < 0) {
            sync_failed(ch);
        }
        return;
    }
    read_now(ch);
}

static void on_retry(void *arg)
{
    bus_t *b = arg;

    enter(b);
    while (!b->closing && b->retry_head != NULL) {
        struct bchan *ch = b->retry_head;
        b->retry_head = ch->rnext;
        ch->in_retry = 0;
        ch->pins++;
        ch_sync(ch);
        ch->pins--;
        chan_release(ch);
    }
    leave(b);
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
static void check_done(struct bchan *ch, const struct resdeliv_log_info *info)
{
    struct resdeliv_position now;

    memset(&now, 0, sizeof(now));
    if (!info->exists) {
        if (ch->last.epoch[0] != '\0' || !resdeliv_id_is_zero(&ch->last.id)) {
            gap(ch, RESDELIV_GAP_MISSING, &now, NULL);
        }
        memset(&ch->last, 0, sizeof(ch->last));
        if (!gone(ch)) {
            go_synced(ch);
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
        gap(ch, RESDELIV_GAP_EPOCH_CHANGED, &now, &info->first);
        memcpy(ch->last.epoch, now.epoch, sizeof(now.epoch));
        memset(&ch->last.id, 0, sizeof(ch->last.id));
    } else if (resdeliv_id_cmp(&ch->last.id, &info->last) > 0) {
        /* The log went back in time (a restore): newer entries will have
         * ids below ours, so start from its newest. */
        gap(ch, RESDELIV_GAP_AHEAD, &now, &info->first);
        ch->last.id = info->last;
    } else if (was_trimmed(info, &ch->last.id)) {
        gap(ch, RESDELIV_GAP_TRIMMED, &now, &info->first);
    }
    if (!gone(ch)) {
        ch->need_check = 0;
        read_now(ch);
    }
}

static void start_done(struct bchan *ch, int status,
                       const struct resdeliv_log_info *info)
{
    memset(&ch->last, 0, sizeof(ch->last));
    ch->have_pos = status == 0;
    if (status == 0 && info->exists) {
        ch->last.id = info->last;
        memcpy(ch->last.epoch, info->epoch, sizeof(ch->last.epoch));
        ch->last.epoch[sizeof(ch->last.epoch) - 1] = '\0';
    }
    ch_sync(ch);
}

static void on_info(void *arg, int status,
                    const struct resdeliv_log_info *info)
{
    struct bcall *t = arg;
    int kind = t->kind;
    struct bchan *ch = ticket_take(t);

    if (ch == NULL) {
        return;
    }
    if (kind == CALL_START) {
        ch->start_busy = 0;
        if (!gone(ch)) {
            start_done(ch, status == 0 && info != NULL ? 0 : -1, info);
        }
    } else {
        ch->busy = 0;
        if (gone(ch)) {
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
static int read_epoch(struct bchan *ch, const char *epoch)
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
        gap(ch, RESDELIV_GAP_MISSING, &now, NULL);
        memset(&ch->last, 0, sizeof(ch->last));
        if (!gone(ch)) {
            go_synced(ch);
        }
        return 1;
    }
    snprintf(now.epoch, sizeof(now.epoch), "%s", epoch);
    gap(ch, RESDELIV_GAP_EPOCH_CHANGED, &now, NULL);
    ch->last = now;
    if (!gone(ch)) {
        queue_read(ch);
    }
    return 1;
}

static void read_done(struct bchan *ch, const struct resdeliv_stored_entry *e,
                      size_t n, const char *epoch)
{
    if (read_epoch(ch, epoch != NULL ? epoch : "")) {
        return;
    }
    for (size_t i = 0; i < n && !gone(ch); i++) {
        struct resdeliv__bus_msg m;
        memset(&m, 0, sizeof(m));
        m.pos.id = e[i].id;
        memcpy(m.pos.epoch, ch->last.epoch, sizeof(m.pos.epoch));
        m.flags = e[i].flags;
        m.event = e[i].event;
        m.event_len = e[i].event_len;
        m.data = e[i].data;
        m.data_len = e[i].data_len;
        if (hand(ch, &m)) {
            ch->bus->stats.caught_up++;
        }
    }
    if (gone(ch)) {
        return;
    }
    ch->recovered += n;
    if (ch->recovered >= RESDELIV__BUS_CATCHUP_MAX) {
        gap(ch, RESDELIV_GAP_CAP, NULL, NULL);
        if (!gone(ch)) {
            go_synced(ch);
        }
    } else if (n >= RESDELIV__BUS_PAGE || ch->overflowed) {
        /* More to read, or messages were dropped from the queue since
         * this read was issued: the log has them. */
        ch->overflowed = 0;
        queue_read(ch);
    } else {
        go_synced(ch);
    }
}

static void on_read(void *arg, int status,
                    const struct resdeliv_stored_entry *e, size_t n,
                    const char *epoch)
{
    struct bcall *t = arg;
    struct bchan *ch = ticket_take(t);

    if (ch == NULL) {
        return;
    }
    ch->busy = 0;
    if (gone(ch)) {
        /* left meanwhile */
    } else if (status < 0) {
        sync_failed(ch);
    } else {
        read_done(ch, e, e != NULL ? n : 0, epoch);
    }
    ticket_done(ch);
}

/* ---- messages ---- */

static void enqueue(struct bchan *ch, const struct resdeliv__bus_msg *m,
                    const char *raw, size_t len)
{
    struct qmsg *q;

    if (ch->qn >= RESDELIV__BUS_QUEUE_MAX ||
        ch->qbytes + len > RESDELIV__BUS_QUEUE_BYTES ||
        (q = malloc(sizeof(*q) + len)) == NULL) {
        qdrop(ch);
        ch->overflowed = 1;
        return;
    }
    memcpy(q->bytes, raw, len);
    q->m = *m;
    q->m.event = q->bytes + (m->event - raw);
    q->m.data = q->bytes + (m->data - raw);
    q->size = len;
    q->next = NULL;
    if (ch->qtail != NULL) {
        ch->qtail->next = q;
    } else {
        ch->qhead = q;
    }
    ch->qtail = q;
    ch->qn++;
    ch->qbytes += len;
}

static void on_message(bus_t *b, struct bchan *ch, const redisReply *r)
{
    struct resdeliv__bus_msg m;

    if (r->type != REDIS_REPLY_STRING ||
        resdeliv__bus_parse(r->str, (size_t)r->len, &m) != 0) {
        b->stats.bad_messages++;
        return;
    }
    if (ch == NULL || ch->refs == 0 || !ch->on_redis) {
        return;
    }
    if (!ch->synced) {
        enqueue(ch, &m, r->str, (size_t)r->len);
        return;
    }
    ch->pins++;
    hand(ch, &m);
    ch->pins--;
    chan_release(ch);
}

static void established(bus_t *b)
{
    if (b->established) {
        return;
    }
    b->established = 1;
    b->failures = 0;
    b->errmsg[0] = '\0';
    b->loop.timer_stop(b->loop.loop, &b->timer);
    if (b->connected_once) {
        b->stats.reconnects++;
    }
    b->connected_once = 1;
}

static void pend(struct bchan *ch);

static void on_unsubscribed(struct bchan *ch)
{
    if (!ch->unsub_sent) {
        return;
    }
    ch->unsub_sent = 0;
    if (ch->refs > 0) {
        pend(ch);
    } else {
        chan_release(ch);
    }
}

static int is_word(const redisReply *r, const char *w)
{
    size_t n = strlen(w);
    return r->type == REDIS_REPLY_STRING && (size_t)r->len == n &&
           strncasecmp(r->str, w, n) == 0;
}

/* Every pub/sub reply: confirmations and messages. */
static void on_sub(redisAsyncContext *ac, void *reply, void *privdata)
{
    bus_t *b = privdata;
    const redisReply *r = reply;
    struct bchan *ch;

    (void)ac;
    if (r == NULL || b->closing) {
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[1]->type != REDIS_REPLY_STRING) {
        b->stats.bad_messages++;
        return;
    }
    enter(b);
    ch = chan_find(b, r->element[1]->str, (size_t)r->element[1]->len);
    if (is_word(r->element[0], "message")) {
        on_message(b, ch, r->element[2]);
    } else if (is_word(r->element[0], "subscribe")) {
        established(b);
        if (ch != NULL && ch->on_redis && !ch->confirmed) {
            ch->confirmed = 1;
            ch->pins++;
            ch_sync(ch);
            ch->pins--;
            chan_release(ch);
        }
    } else if (is_word(r->element[0], "unsubscribe") && ch != NULL) {
        on_unsubscribed(ch);
    }
    leave(b);
}

/* ---- subscribing ---- */

static void pend(struct bchan *ch)
{
    bus_t *b = ch->bus;

    if (ch->pending) {
        return;
    }
    ch->pending = 1;
    ch->pnext = NULL;
    if (b->pend_tail != NULL) {
        b->pend_tail->pnext = ch;
    } else {
        b->pend_head = ch;
    }
    b->pend_tail = ch;
    arm_work(b);
}

static int send_batch(bus_t *b, const char *cmd, struct bchan **chs,
                      size_t n)
{
    const char *argv[RESDELIV__BUS_BATCH + 1];
    size_t len[RESDELIV__BUS_BATCH + 1];

    argv[0] = cmd;
    len[0] = strlen(cmd);
    for (size_t i = 0; i < n; i++) {
        argv[i + 1] = chs[i]->key;
        len[i + 1] = chs[i]->key_len;
    }
    if (b->ac == NULL || b->freeing ||
        redisAsyncCommandArgv(b->ac, on_sub, b, (int)n + 1, argv, len) !=
            REDIS_OK) {
        return RESDELIV_ESTORE;
    }
    return 0;
}

/* Take up to a batch of each kind off the pending list. */
static void take_pending(bus_t *b, struct bchan **subs, size_t *ns,
                         struct bchan **unsubs, size_t *nu)
{
    *ns = *nu = 0;
    while (b->pend_head != NULL && *ns < RESDELIV__BUS_BATCH &&
           *nu < RESDELIV__BUS_BATCH) {
        struct bchan *ch = b->pend_head;
        b->pend_head = ch->pnext;
        if (b->pend_head == NULL) {
            b->pend_tail = NULL;
        }
        ch->pending = 0;
        if (ch->refs > 0 && !ch->on_redis && !ch->unsub_sent) {
            subs[(*ns)++] = ch;
        } else if (ch->refs == 0 && ch->on_redis) {
            unsubs[(*nu)++] = ch;
        } else {
            chan_release(ch);
        }
    }
}

static void abort_conn(bus_t *b, const char *why);

/* Put back what could not be sent; the next connection sends it. */
static void repend(struct bchan **chs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pend(chs[i]);
    }
}

/* Send what is pending, many channels per command. */
static void flush(bus_t *b)
{
    struct bchan *subs[RESDELIV__BUS_BATCH];
    struct bchan *unsubs[RESDELIV__BUS_BATCH];
    size_t ns, nu;
    int failed = 0;

    while (!failed && b->ac != NULL && !b->freeing && b->pend_head != NULL) {
        take_pending(b, subs, &ns, unsubs, &nu);
        if (ns > 0 && send_batch(b, "SUBSCRIBE", subs, ns) != 0) {
            repend(subs, ns);
            failed = 1;
            ns = 0;
        }
        for (size_t i = 0; i < ns; i++) {
            subs[i]->on_redis = 1;
            subs[i]->confirmed = 0;
        }
        if (nu > 0 && (failed || send_batch(b, "UNSUBSCRIBE", unsubs, nu))) {
            repend(unsubs, nu);
            failed = 1;
            nu = 0;
        }
        for (size_t i = 0; i < nu; i++) {
            unsubs[i]->on_redis = 0;
            unsubs[i]->unsub_sent = 1;
        }
    }
    if (failed) {
        abort_conn(b, "Redis bus: could not queue a command");
    }
}

/* ---- the work timer ---- */

static void on_work(void *arg)
{
    bus_t *b = arg;

    enter(b);
    if (!b->closing) {
        flush(b);
    }
    while (!b->closing && b->work_head != NULL) {
        struct bchan *ch = b->work_head;
        b->work_head = ch->wnext;
        if (b->work_head == NULL) {
            b->work_tail = NULL;
        }
        ch->in_work = 0;
        ch->pins++;
        if (!gone(ch) && ch->confirmed && !ch->synced && !ch->busy) {
            read_now(ch);
        }
        ch->pins--;
        chan_release(ch);
    }
    leave(b);
}

static void arm_work(bus_t *b)
{
    if (b->closing) {
        return;
    }
    if (b->loop.timer_start(b->loop.loop, 0, on_work, b, &b->work) != 0) {
        snprintf(b->errmsg, sizeof(b->errmsg),
                 "event loop refused a timer");
    }
}

/* ---- connection ---- */

static void on_timer(void *arg);

static void arm(bus_t *b, uint64_t ms)
{
    b->loop.timer_start(b->loop.loop, ms, on_timer, b, &b->timer);
}

static uint64_t backoff_ms(bus_t *b)
{
    uint32_t shift = b->failures > 1 ? b->failures - 1 : 0;
    uint64_t d = BACKOFF_MAX_MS;

    if (shift < 16) {
        d = (uint64_t)BACKOFF_MIN_MS << shift;
        d = d > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d;
    }
    /* xorshift64: jitter keeps many nodes from reconnecting in step. */
    b->rng ^= b->rng << 13;
    b->rng ^= b->rng >> 7;
    b->rng ^= b->rng << 17;
    return d / 2 + b->rng % (d / 2 + 1);
}

/* Drop the connection; hiredis answers with NULL replies and runs the
 * cleanup hook (at once, or when its callback returns). */
static void abort_conn(bus_t *b, const char *why)
{
    if (b->ac == NULL || b->freeing) {
        return;
    }
    if (why != NULL) {
        snprintf(b->errmsg, sizeof(b->errmsg), "%s", why);
    }
    b->freeing = 1;
    redisAsyncFree(b->ac);
}

/* The connection is gone (cleanup hook): every channel is subscribed
 * again on the next one and checked for what it missed. */
static void conn_gone(bus_t *b)
{
    b->loop.unwatch(b->loop.loop, &b->watch);
    b->want = 0;
    b->ac = NULL;
    b->freeing = 0;
    b->failures = b->established ? 1 : b->failures + 1;
    b->established = 0;
    if (b->errmsg[0] == '\0') {
        snprintf(b->errmsg, sizeof(b->errmsg), "Redis bus: connection lost");
    }
    if (b->closing) {
        return;
    }
    for (size_t i = 0; i < b->nbuckets; i++) {
        struct bchan *ch = b->buckets[i];
        while (ch != NULL) {
            struct bchan *next = ch->hnext;
            if (ch->on_redis || ch->confirmed) {
                ch->need_check = 1;
            }
            ch->on_redis = ch->confirmed = ch->unsub_sent = 0;
            ch->synced = ch->busy = ch->overflowed = 0;
            ch->gen++;
            qdrop(ch);
            if (ch->refs > 0) {
                pend(ch);
            } else {
                chan_release(ch);
            }
            ch = next;
        }
    }
    arm(b, backoff_ms(b));
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    bus_t *b = ac->data;

    if (b == NULL || b->closing) {
        return;
    }
    if (status != REDIS_OK) {
        snprintf(b->errmsg, sizeof(b->errmsg), "Redis bus connect: %s",
                 ac->errstr);
        return;
    }
    if (!b->url.has_password) {
        established(b);
    }
}

static void on_auth(redisAsyncContext *ac, void *reply, void *privdata)
{
    bus_t *b = privdata;
    const redisReply *r = reply;

    (void)ac;
    if (r == NULL || b->closing) {
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        char msg[200];
        snprintf(msg, sizeof(msg), "Redis bus AUTH: %.*s", (int)r->len,
                 r->str);
        abort_conn(b, msg);
        return;
    }
    established(b);
}

static int send_auth(bus_t *b)
{
    const char *argv[3];
    size_t len[3];
    int n = 0;

    argv[n] = "AUTH";
    len[n++] = 4;
    if (b->url.has_user) {
        argv[n] = b->url.user;
        len[n] = strlen(b->url.user);
        n++;
    }
    argv[n] = b->url.password;
    len[n] = strlen(b->url.password);
    n++;
    return redisAsyncCommandArgv(b->ac, on_auth, b, n, argv, len) == REDIS_OK
               ? 0
               : RESDELIV_ESTORE;
}

static void start_connect(bus_t *b)
{
    redisAsyncContext *ac = b->url.is_unix
                                ? redisAsyncConnectUnix(b->url.path)
                                : redisAsyncConnect(b->url.host, b->url.port);

    if (ac == NULL || ac->err) {
        snprintf(b->errmsg, sizeof(b->errmsg), "Redis bus connect: %s",
                 ac != NULL ? ac->errstr : "out of memory");
        if (ac != NULL) {
            redisAsyncFree(ac);
        }
        b->failures++;
        arm(b, backoff_ms(b));
        return;
    }
    b->ac = ac;
    b->fd = ac->c.fd;
    b->pipe_ignored = resdeliv__pipe_ignored();
    attach(b, ac);
    redisAsyncSetConnectCallback(ac, on_connect);
    if (!b->url.is_unix) {
        /* An idle subscriber notices a vanished server only this way. */
        redisEnableKeepAlive(&ac->c);
    }
    arm(b, b->connect_ms);
    if (b->url.has_password && send_auth(b) != 0) {
        abort_conn(b, "Redis bus connect: cannot queue AUTH");
        return;
    }
    flush(b);
}

static void on_timer(void *arg)
{
    bus_t *b = arg;

    enter(b);
    if (b->closing) {
        /* nothing: the bus is going */
    } else if (b->ac == NULL) {
        start_connect(b);
    } else if (!b->established) {
        char msg[96];
        snprintf(msg, sizeof(msg), "Redis bus connect: timed out after %llu ms",
                 (unsigned long long)b->connect_ms);
        abort_conn(b, msg);
    }
    leave(b);
}

/* ---- the API ---- */

static int check_callbacks(const struct resdeliv_bus_callbacks *cb,
                           struct resdeliv_bus_callbacks *out, char *err,
                           size_t errsize)
{
    memset(out, 0, sizeof(*out));
    if (cb == NULL) {
        resdeliv__errf(err, errsize, "bus: callbacks are NULL");
        return RESDELIV_EINVAL;
    }
    if (RESDELIV_ABI_VERSION_MAJOR(cb->abi_version) != RESDELIV_ABI_MAJOR) {
        resdeliv__errf(err, errsize, "bus: callbacks of ABI major %u",
                       (unsigned)RESDELIV_ABI_VERSION_MAJOR(cb->abi_version));
        return RESDELIV_EABI;
    }
    if (cb->struct_size < sizeof(*out)) {
        resdeliv__errf(err, errsize, "bus: callbacks struct_size %u too small",
                       (unsigned)cb->struct_size);
        return RESDELIV_EINVAL;
    }
    memcpy(out, cb, sizeof(*out));
    if (out->entry == NULL || out->gap == NULL) {
        resdeliv__errf(err, errsize, "bus: callback %s is NULL",
                       out->entry == NULL ? "entry" : "gap");
        return RESDELIV_EINVAL;
    }
    return 0;
}

/* Options, loop hooks and URL are checked as the event-loop store checks
 * them, with its own code. */
static int configure(bus_t *b, const struct resdeliv_redis_options *opts,
                     const struct resdeliv_loop *loop, char *err,
                     size_t errsize)
{
    struct resdeliv__ra_store *tmp = calloc(1, sizeof(*tmp));
    int rc;

    if (tmp == NULL) {
        return RESDELIV_ENOMEM;
    }
    rc = resdeliv__ra_configure(tmp, opts, loop, err, errsize);
    if (rc == 0) {
        b->loop = tmp->loop;
        b->url = tmp->url;
        b->prefix = tmp->prefix;
        b->prefix_len = tmp->prefix_len;
        b->connect_ms = tmp->connect_ms;
        b->rng = tmp->rng;
        tmp->prefix = NULL;
    }
    free(tmp->prefix);
    memset(&tmp->url, 0, sizeof(tmp->url));
    free(tmp);
    return rc;
}

int resdeliv_bus_redis_new(const struct resdeliv_redis_options *opts,
                           const struct resdeliv_loop *loop,
                           const char *app_id, resdeliv_store *store,
                           const struct resdeliv_bus_callbacks *cb,
                           resdeliv_bus **out, char *err, size_t errsize)
{
    bus_t *b;
    int rc;

    if (out != NULL) {
        *out = NULL;
    }
    if (out == NULL || store == NULL || app_id == NULL ||
        app_id[0] == '\0' ||
        strnlen(app_id, RESDELIV_MAX_APP_ID_LEN + 1) >
            RESDELIV_MAX_APP_ID_LEN) {
        resdeliv__errf(err, errsize, "bus: %s",
                       out == NULL     ? "out is NULL"
                       : store == NULL ? "store is NULL"
                                       : "app_id is empty or too long");
        return RESDELIV_EINVAL;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return RESDELIV_ENOMEM;
    }
    rc = check_callbacks(cb, &b->cb, err, errsize);
    if (rc == 0) {
        rc = configure(b, opts, loop, err, errsize);
    }
    if (rc == 0) {
        b->app_len = strlen(app_id);
        b->app = malloc(b->app_len + 1);
        rc = b->app != NULL ? 0 : RESDELIV_ENOMEM;
    }
    if (rc != 0) {
        release(b);
        return rc;
    }
    memcpy(b->app, app_id, b->app_len + 1);
    b->store = store;
    start_connect(b);
    *out = b;
    return 0;
}

void resdeliv_bus_free(resdeliv_bus *b)
{
    redisAsyncContext *ac;

    if (b == NULL || b->closing) {
        return;
    }
    enter(b);
    b->closing = 1;
    b->loop.timer_stop(b->loop.loop, &b->timer);
    b->loop.timer_stop(b->loop.loop, &b->work);
    b->loop.timer_stop(b->loop.loop, &b->retry);
    b->loop.unwatch(b->loop.loop, &b->watch);
    ac = b->ac;
    b->ac = NULL;
    if (ac != NULL) {
        detach(ac);
        if (!b->freeing) {
            /* Inside one of its callbacks hiredis frees it on return;
             * its NULL replies then find the bus closing, still there. */
            redisAsyncFree(ac);
        }
    }
    /* Store calls in flight complete later, on their own. */
    for (struct bcall *t = b->calls; t != NULL; t = t->next) {
        t->bus = NULL;
        t->ch = NULL;
    }
    b->calls = NULL;
    leave(b);
}

static int channel_ok(const char *channel, size_t len)
{
    if (channel == NULL || len == 0 || len > RESDELIV_MAX_CHANNEL_LEN) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)channel[i] < 0x20 || channel[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static struct bchan *chan_new(bus_t *b, const char *name, size_t len,
                              char *key, size_t key_len)
{
    struct bchan *ch;

    if (table_grow(b) != 0 || (ch = calloc(1, sizeof(*ch) + len + 1)) == NULL) {
        return NULL;
    }
    ch->bus = b;
    ch->key = key;
    ch->key_len = key_len;
    ch->hash = hash_key(key, key_len);
    ch->len = len;
    memcpy(ch->name, name, len);
    ch->hnext = b->buckets[ch->hash & (b->nbuckets - 1)];
    b->buckets[ch->hash & (b->nbuckets - 1)] = ch;
    b->nchans++;
    return ch;
}

/* First reference: a fresh starting point, then SUBSCRIBE. */
static void chan_activate(struct bchan *ch)
{
    bus_t *b = ch->bus;

    ch->gen++;
    ch->synced = ch->busy = ch->need_check = ch->overflowed = 0;
    ch->have_pos = 0;
    memset(&ch->last, 0, sizeof(ch->last));
    qdrop(ch);
    b->stats.channels++;
    /* Issued now, before the caller opens its replay on the same store:
     * the catch-up after the SUBSCRIBE covers the time in between. */
    if (!ch->start_busy) {
        call(ch, CALL_START);
    }
    if (!gone(ch)) {
        pend(ch);
    }
}

int resdeliv_bus_subscribe(resdeliv_bus *b, const char *channel,
                           size_t channel_len)
{
    struct bchan *ch;
    char *key = NULL;
    size_t key_len = 0;

    if (b == NULL || !channel_ok(channel, channel_len)) {
        return RESDELIV_EINVAL;
    }
    if (b->closing) {
        return RESDELIV_ECLOSED;
    }
    if (bus_key(b, channel, channel_len, &key, &key_len) != 0) {
        return RESDELIV_ENOMEM;
    }
    ch = chan_find(b, key, key_len);
    if (ch != NULL) {
        free(key);
    } else if ((ch = chan_new(b, channel, channel_len, key, key_len)) ==
               NULL) {
        free(key);
        return RESDELIV_ENOMEM;
    }
    if (ch->refs++ > 0) {
        return 0;
    }
    enter(b);
    ch->pins++;
    chan_activate(ch);
    ch->pins--;
    chan_release(ch);
    leave(b);
    return 0;
}

int resdeliv_bus_unsubscribe(resdeliv_bus *b, const char *channel,
                             size_t channel_len)
{
    struct bchan *ch;
    char *key = NULL;
    size_t key_len = 0;

    if (b == NULL || !channel_ok(channel, channel_len)) {
        return RESDELIV_EINVAL;
    }
    if (b->closing) {
        return RESDELIV_ECLOSED;
    }
    if (bus_key(b, channel, channel_len, &key, &key_len) != 0) {
        return RESDELIV_ENOMEM;
    }
    ch = chan_find(b, key, key_len);
    free(key);
    if (ch == NULL || ch->refs == 0) {
        return RESDELIV_ENOENT;
    }
    if (--ch->refs > 0) {
        return 0;
    }
    b->stats.channels--;
    ch->gen++;
    ch->synced = ch->busy = 0;
    qdrop(ch);
    if (ch->on_redis) {
        pend(ch);
    } else {
        chan_release(ch);
    }
    return 0;
}

int resdeliv_bus_stats(const resdeliv_bus *b, struct resdeliv_bus_stats *out,
                       size_t size)
{
    if (b == NULL || out == NULL || size == 0) {
        return RESDELIV_EINVAL;
    }
    memcpy(out, &b->stats, size < sizeof(b->stats) ? size : sizeof(b->stats));
    return 0;
}
