/* SPDX-License-Identifier: MIT */
/*
 * The bus's channels (see bus_redis.c for the whole design): the table of
 * channels by Redis channel name, their lifetime across reentrant
 * callbacks, what they hand over (in order, duplicates dropped, another
 * epoch announced as a gap), the queue that holds bus messages while a
 * channel catches up, and the reference counted subscribe API.
 */
#include "bus_redis_internal.h"
#include "redis_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- lifetime across reentrant calls ---- */

void resdeliv__bus_qdrop(struct resdeliv__bus_chan *ch)
{
    while (ch->qhead != NULL) {
        struct resdeliv__bus_qmsg *q = ch->qhead;
        ch->qhead = q->next;
        free(q);
    }
    ch->qtail = NULL;
    ch->qn = ch->qbytes = 0;
}

static void chan_free(struct resdeliv__bus_chan *ch)
{
    resdeliv__bus_qdrop(ch);
    free(ch->key);
    free(ch);
}

void resdeliv__bus_release(resdeliv__bus_t *b)
{
    for (size_t i = 0; i < b->nbuckets; i++) {
        while (b->buckets[i] != NULL) {
            struct resdeliv__bus_chan *ch = b->buckets[i];
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

void resdeliv__bus_enter(resdeliv__bus_t *b)
{
    b->depth++;
}

void resdeliv__bus_leave(resdeliv__bus_t *b)
{
    if (--b->depth == 0 && b->closing) {
        resdeliv__bus_release(b);
    }
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

struct resdeliv__bus_chan *resdeliv__bus_chan_find(const resdeliv__bus_t *b,
                                                   const char *key, size_t len)
{
    uint64_t h = hash_key(key, len);

    if (b->nbuckets == 0) {
        return NULL;
    }
    for (struct resdeliv__bus_chan *ch = b->buckets[h & (b->nbuckets - 1)];
         ch != NULL; ch = ch->hnext) {
        if (ch->hash == h && ch->key_len == len &&
            memcmp(ch->key, key, len) == 0) {
            return ch;
        }
    }
    return NULL;
}

static int table_grow(resdeliv__bus_t *b)
{
    size_t size = b->nbuckets ? b->nbuckets * 2 : 64;
    struct resdeliv__bus_chan **nb;

    if (b->nbuckets != 0 && b->nchans < b->nbuckets - b->nbuckets / 4) {
        return 0;
    }
    nb = calloc(size, sizeof(*nb));
    if (nb == NULL) {
        return b->nbuckets != 0 ? 0 : RESDELIV_ENOMEM;
    }
    for (size_t i = 0; i < b->nbuckets; i++) {
        while (b->buckets[i] != NULL) {
            struct resdeliv__bus_chan *ch = b->buckets[i];
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

static void table_del(resdeliv__bus_t *b, struct resdeliv__bus_chan *ch)
{
    struct resdeliv__bus_chan **pp = &b->buckets[ch->hash & (b->nbuckets - 1)];

    while (*pp != NULL && *pp != ch) {
        pp = &(*pp)->hnext;
    }
    if (*pp == ch) {
        *pp = ch->hnext;
        b->nchans--;
    }
}

/* The Redis channel of a log: its stream key and the suffix. */
static int bus_key(const resdeliv__bus_t *b, const char *name, size_t len,
                   char **out, size_t *out_len)
{
    struct resdeliv__redis_keys keys;
    char *k;

    if (resdeliv__redis_keys_build(b->prefix, b->prefix_len, b->app, b->app_len,
                                   name, len, &keys) != 0) {
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
void resdeliv__bus_chan_release(struct resdeliv__bus_chan *ch)
{
    resdeliv__bus_t *b = ch->bus;

    if (b->closing || ch->refs > 0 || ch->on_redis || ch->unsub_sent ||
        ch->pending || ch->in_work || ch->in_retry || ch->pins > 0) {
        return;
    }
    for (struct resdeliv__bus_ticket *t = b->calls; t != NULL; t = t->next) {
        if (t->ch == ch) {
            t->ch = NULL;
        }
    }
    table_del(b, ch);
    chan_free(ch);
}

/* ---- handing over ---- */

void resdeliv__bus_gap(struct resdeliv__bus_chan *ch, uint32_t reason,
                       const struct resdeliv_position *now,
                       const struct resdeliv_id *oldest)
{
    resdeliv__bus_t *b = ch->bus;
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
int resdeliv__bus_hand(struct resdeliv__bus_chan *ch,
                       const struct resdeliv__bus_msg *m)
{
    resdeliv__bus_t *b = ch->bus;

    if (ch->last.epoch[0] != '\0') {
        if (strcmp(ch->last.epoch, m->pos.epoch) == 0) {
            if (resdeliv_id_cmp(&m->pos.id, &ch->last.id) <= 0) {
                b->stats.duplicates++;
                return 0;
            }
        } else {
            resdeliv__bus_gap(ch, RESDELIV_GAP_EPOCH_CHANGED, &m->pos, NULL);
            if (resdeliv__bus_gone(ch)) {
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
void resdeliv__bus_go_synced(struct resdeliv__bus_chan *ch)
{
    ch->synced = 1;
    ch->need_check = 0;
    ch->attempts = 0;
    ch->overflowed = 0;
    ch->pins++;
    while (!resdeliv__bus_gone(ch) && ch->synced && ch->qhead != NULL) {
        struct resdeliv__bus_qmsg *q = ch->qhead;
        ch->qhead = q->next;
        if (ch->qhead == NULL) {
            ch->qtail = NULL;
        }
        ch->qn--;
        ch->qbytes -= q->size;
        resdeliv__bus_hand(ch, &q->m);
        free(q);
    }
    ch->pins--;
}

/* ---- the queue ---- */

void resdeliv__bus_enqueue(struct resdeliv__bus_chan *ch,
                           const struct resdeliv__bus_msg *m, const char *raw,
                           size_t len)
{
    struct resdeliv__bus_qmsg *q;

    if (ch->qn >= RESDELIV__BUS_QUEUE_MAX ||
        ch->qbytes + len > RESDELIV__BUS_QUEUE_BYTES ||
        (q = malloc(sizeof(*q) + len)) == NULL) {
        resdeliv__bus_qdrop(ch);
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

/* ---- subscribing ---- */

void resdeliv__bus_pend(struct resdeliv__bus_chan *ch)
{
    resdeliv__bus_t *b = ch->bus;

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
    resdeliv__bus_arm_work(b);
}

/* ---- the API ---- */

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

static struct resdeliv__bus_chan *chan_new(resdeliv__bus_t *b, const char *name,
                                           size_t len, char *key,
                                           size_t key_len)
{
    struct resdeliv__bus_chan *ch;

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
static void chan_activate(struct resdeliv__bus_chan *ch)
{
    resdeliv__bus_t *b = ch->bus;

    ch->gen++;
    ch->synced = ch->busy = ch->need_check = ch->overflowed = 0;
    ch->have_pos = 0;
    memset(&ch->last, 0, sizeof(ch->last));
    resdeliv__bus_qdrop(ch);
    b->stats.channels++;
    /* Issued now, before the caller opens its replay on the same store:
     * the catch-up after the SUBSCRIBE covers the time in between. */
    if (!ch->start_busy) {
        resdeliv__bus_call(ch, RESDELIV__BUS_CALL_START);
    }
    if (!resdeliv__bus_gone(ch)) {
        resdeliv__bus_pend(ch);
    }
}

/* The bus key of `channel` (the caller frees it) and its channel, NULL
 * when the bus has none: 0, or the error subscribe and unsubscribe
 * return. */
static int chan_lookup(resdeliv_bus *b, const char *channel,
                       size_t channel_len, char **key, size_t *key_len,
                       struct resdeliv__bus_chan **ch)
{
    if (b == NULL || !channel_ok(channel, channel_len)) {
        return RESDELIV_EINVAL;
    }
    if (b->closing) {
        return RESDELIV_ECLOSED;
    }
    if (bus_key(b, channel, channel_len, key, key_len) != 0) {
        return RESDELIV_ENOMEM;
    }
    *ch = resdeliv__bus_chan_find(b, *key, *key_len);
    return 0;
}

int resdeliv_bus_subscribe(resdeliv_bus *b, const char *channel,
                           size_t channel_len)
{
    struct resdeliv__bus_chan *ch = NULL;
    char *key = NULL;
    size_t key_len = 0;
    int rc = chan_lookup(b, channel, channel_len, &key, &key_len, &ch);

    if (rc != 0) {
        return rc;
    }
    if (ch != NULL) {
        free(key);
    } else if ((ch = chan_new(b, channel, channel_len, key, key_len)) == NULL) {
        free(key);
        return RESDELIV_ENOMEM;
    }
    if (ch->refs++ > 0) {
        return 0;
    }
    resdeliv__bus_enter(b);
    ch->pins++;
    chan_activate(ch);
    ch->pins--;
    resdeliv__bus_chan_release(ch);
    resdeliv__bus_leave(b);
    return 0;
}

int resdeliv_bus_unsubscribe(resdeliv_bus *b, const char *channel,
                             size_t channel_len)
{
    struct resdeliv__bus_chan *ch = NULL;
    char *key = NULL;
    size_t key_len = 0;
    int rc = chan_lookup(b, channel, channel_len, &key, &key_len, &ch);

    if (rc != 0) {
        return rc;
    }
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
    resdeliv__bus_qdrop(ch);
    if (ch->on_redis) {
        resdeliv__bus_pend(ch);
    } else {
        resdeliv__bus_chan_release(ch);
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
