/* SPDX-License-Identifier: MIT */
/*
 * The subscription seam, connection side: the server handle, the
 * connection table, subscribe and unsubscribe, and the per-channel index
 * of subscriptions that are not live yet, through which a live message
 * finds the hold queues without scanning every connection. Live delivery
 * is in server_live.c, the replay side in server_replay.c.
 */
#include "server_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- hash tables ------------------------------------------------------- */

static uint64_t hash_ptr(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;

    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Make room for one more node. A failed growth of a non-empty table only
 * lengthens its chains. */
static int ht_reserve(struct resdeliv__htable *t)
{
    struct resdeliv__hnode **nb;
    size_t size;

    if (t->size != 0 && t->count < t->size - t->size / 4) {
        return 0;
    }
    size = t->size != 0 ? t->size * 2 : 16;
    nb = calloc(size, sizeof(*nb));
    if (nb == NULL) {
        return t->size != 0 ? 0 : RESDELIV_ENOMEM;
    }
    for (size_t i = 0; i < t->size; i++) {
        struct resdeliv__hnode *n = t->buckets[i];
        while (n != NULL) {
            struct resdeliv__hnode *next = n->next;
            size_t k = (size_t)(n->hash & (size - 1));
            n->next = nb[k];
            nb[k] = n;
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->size = size;
    return 0;
}

static void ht_add(struct resdeliv__htable *t, struct resdeliv__hnode *n)
{
    size_t k = (size_t)(n->hash & (t->size - 1));

    n->next = t->buckets[k];
    t->buckets[k] = n;
    t->count++;
}

static void ht_del(struct resdeliv__htable *t, struct resdeliv__hnode *n)
{
    struct resdeliv__hnode **pp = &t->buckets[n->hash & (t->size - 1)];

    while (*pp != NULL && *pp != n) {
        pp = &(*pp)->next;
    }
    if (*pp == n) {
        *pp = n->next;
        t->count--;
    }
}

static struct resdeliv__hnode *ht_chain(const struct resdeliv__htable *t,
                                        uint64_t hash)
{
    return t->size != 0 ? t->buckets[hash & (t->size - 1)] : NULL;
}

static struct resdeliv__conn *conn_find(const resdeliv_server *srv,
                                        const void *key)
{
    uint64_t h = hash_ptr(key);

    for (struct resdeliv__hnode *n = ht_chain(&srv->conns, h); n != NULL;
         n = n->next) {
        struct resdeliv__conn *c = (struct resdeliv__conn *)n;
        if (n->hash == h && c->key == key) {
            return c;
        }
    }
    return NULL;
}

struct resdeliv__chan *resdeliv__server_chan_find(const resdeliv_server *srv,
                                                  const char *name, size_t len)
{
    uint64_t h = hash_bytes(name, len);

    for (struct resdeliv__hnode *n = ht_chain(&srv->chans, h); n != NULL;
         n = n->next) {
        struct resdeliv__chan *ch = (struct resdeliv__chan *)n;
        if (n->hash == h && ch->len == len &&
            memcmp(ch->name, name, len) == 0) {
            return ch;
        }
    }
    return NULL;
}

/* ---- channels with subscriptions (on_channel) --------------------------- */

static struct resdeliv__active *active_find(const resdeliv_server *srv,
                                            const char *name, size_t len)
{
    uint64_t h = hash_bytes(name, len);

    for (struct resdeliv__hnode *n = ht_chain(&srv->actives, h); n != NULL;
         n = n->next) {
        struct resdeliv__active *a = (struct resdeliv__active *)n;
        if (n->hash == h && a->len == len && memcmp(a->name, name, len) == 0) {
            return a;
        }
    }
    return NULL;
}

/* Count one more subscription of `s`'s channel. @return 1 when it is the
 * channel's first, 0, or RESDELIV_ENOMEM. */
static int active_up(resdeliv_server *srv, const struct resdeliv__sub *s)
{
    struct resdeliv__active *a;

    if (srv->opts.on_channel == NULL) {
        return 0;
    }
    a = active_find(srv, s->channel, s->channel_len);
    if (a != NULL) {
        a->subs++;
        return 0;
    }
    a = malloc(sizeof(*a) + s->channel_len);
    if (a == NULL || ht_reserve(&srv->actives) < 0) {
        free(a);
        return RESDELIV_ENOMEM;
    }
    a->subs = 1;
    a->len = s->channel_len;
    memcpy(a->name, s->channel, s->channel_len);
    a->node.hash = hash_bytes(s->channel, s->channel_len);
    ht_add(&srv->actives, &a->node);
    return 1;
}

/* One subscription of `channel` went. @return 1 when it was the last. */
static int active_down(resdeliv_server *srv, const char *channel, size_t len)
{
    struct resdeliv__active *a;

    if (srv->opts.on_channel == NULL) {
        return 0;
    }
    a = active_find(srv, channel, len);
    if (a == NULL || --a->subs > 0) {
        return 0;
    }
    ht_del(&srv->actives, &a->node);
    free(a);
    return 1;
}

/* Remove a subscription (unlinked from its connection already) and tell
 * the host when its channel has no subscription left. Freeing the server
 * does not call the hook: the host may have freed its bus first. */
static void sub_remove(resdeliv_server *srv, struct resdeliv__sub *s)
{
    char name[RESDELIV_MAX_CHANNEL_LEN + 1];
    size_t len = s->channel_len;

    memcpy(name, s->channel, len);
    name[len] = '\0';
    resdeliv__sub_kill(srv, s);
    if (active_down(srv, name, len) && !srv->freeing) {
        srv->opts.on_channel(srv->opts.on_channel_arg, name, len, 0);
    }
}

/* ---- server lifetime --------------------------------------------------- */

void resdeliv_server_options_init(struct resdeliv_server_options *opts)
{
    if (opts == NULL) {
        return;
    }
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = (uint32_t)sizeof(*opts);
    opts->abi_version = RESDELIV_ABI_VERSION;
    opts->max_held = 1000;
    opts->dedup_window = 1024;
    opts->max_subscriptions = 100;
    opts->max_replaying = 256;
}

static int copy_transport(const struct resdeliv_transport *in,
                          struct resdeliv_transport *out)
{
    size_t size;

    memset(out, 0, sizeof(*out));
    if (in->struct_size < offsetof(struct resdeliv_transport, host)) {
        return RESDELIV_EINVAL;
    }
    if (RESDELIV_ABI_VERSION_MAJOR(in->abi_version) != RESDELIV_ABI_MAJOR) {
        return RESDELIV_EABI;
    }
    size = in->struct_size < sizeof(*out) ? in->struct_size : sizeof(*out);
    memcpy(out, in, size);
    if (out->send == NULL || out->broadcast == NULL ||
        out->request_writable == NULL || out->close == NULL ||
        out->join == NULL) {
        return RESDELIV_EINVAL;
    }
    return 0;
}

static int copy_options(const struct resdeliv_server_options *in,
                        struct resdeliv_server_options *out)
{
    resdeliv_server_options_init(out);
    if (in == NULL) {
        return 0;
    }
    if (in->struct_size < offsetof(struct resdeliv_server_options, max_held)) {
        return RESDELIV_EINVAL;
    }
    if (RESDELIV_ABI_VERSION_MAJOR(in->abi_version) != RESDELIV_ABI_MAJOR) {
        return RESDELIV_EABI;
    }
    memcpy(out, in,
           in->struct_size < sizeof(*out) ? in->struct_size : sizeof(*out));
    out->struct_size = (uint32_t)sizeof(*out);
    if (out->max_held == 0 || out->max_subscriptions == 0 ||
        out->max_replaying == 0 || out->dedup_window == 0 ||
        out->dedup_window > RESDELIV_DEDUP_MAX_WINDOW) {
        return RESDELIV_EINVAL;
    }
    return 0;
}

int resdeliv_server_new(resdeliv_log *log,
                        const struct resdeliv_transport *transport,
                        const struct resdeliv_server_options *opts,
                        resdeliv_server **out)
{
    resdeliv_server *srv;
    int rc;

    if (out != NULL) {
        *out = NULL;
    }
    if (log == NULL || transport == NULL || out == NULL) {
        return RESDELIV_EINVAL;
    }
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        return RESDELIV_ENOMEM;
    }
    rc = copy_transport(transport, &srv->tp);
    if (rc == 0) {
        rc = copy_options(opts, &srv->opts);
    }
    if (rc < 0) {
        free(srv);
        return rc;
    }
    srv->log = log;
    *out = srv;
    return 0;
}

static void server_destroy(resdeliv_server *srv)
{
    free(srv->conns.buckets);
    free(srv->chans.buckets);
    free(srv->actives.buckets);
    free(srv);
}

void resdeliv_server_free(resdeliv_server *srv)
{
    if (srv == NULL || srv->freeing) {
        return;
    }
    srv->freeing = 1;
    /* Every connection goes; subscriptions with a store call in flight
     * are dead and free themselves when it completes. */
    for (size_t i = 0; i < srv->conns.size; i++) {
        while (srv->conns.buckets != NULL && srv->conns.buckets[i] != NULL) {
            resdeliv__server_conn_drop(
                srv, (struct resdeliv__conn *)srv->conns.buckets[i]);
        }
    }
    for (struct resdeliv__pub *p = srv->pubs; p != NULL; p = p->next) {
        p->srv = NULL;
    }
    srv->pubs = NULL;
    if (srv->depth == 0) {
        server_destroy(srv);
    }
}

void resdeliv__server_enter(resdeliv_server *srv)
{
    srv->depth++;
}

void resdeliv__server_leave(resdeliv_server *srv)
{
    srv->depth--;
    if (srv->depth == 0 && srv->freeing) {
        server_destroy(srv);
    }
}

void resdeliv__server_say(resdeliv_server *srv, uint32_t level, const char *fmt,
                          ...)
{
    char line[512];
    va_list ap;

    if (srv->tp.log == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    srv->tp.log(srv->tp.host, level, line);
}

/* ---- connections ------------------------------------------------------- */

void resdeliv__server_conn_ref(struct resdeliv__conn *c)
{
    c->refs++;
}

void resdeliv__server_conn_unref(struct resdeliv__conn *c)
{
    if (--c->refs == 0) {
        free(c);
    }
}

int resdeliv_server_conn_open(resdeliv_server *srv, void *conn)
{
    struct resdeliv__conn *c;

    if (srv == NULL || conn == NULL || srv->freeing ||
        conn_find(srv, conn) != NULL) {
        return RESDELIV_EINVAL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL || ht_reserve(&srv->conns) < 0) {
        free(c);
        return RESDELIV_ENOMEM;
    }
    c->key = conn;
    c->refs = 1;
    c->node.hash = hash_ptr(conn);
    ht_add(&srv->conns, &c->node);
    srv->stats.connections++;
    return 0;
}

void resdeliv__server_conn_drop(resdeliv_server *srv, struct resdeliv__conn *c)
{
    struct resdeliv__sub *s;

    if (c->closed) {
        return;
    }
    c->closed = 1;
    ht_del(&srv->conns, &c->node);
    srv->stats.connections--;
    s = c->subs;
    c->subs = NULL;
    c->nsubs = 0;
    while (s != NULL) {
        struct resdeliv__sub *next = s->next;
        s->next = NULL;
        sub_remove(srv, s);
        s = next;
    }
    resdeliv__server_conn_unref(c);
    resdeliv__server_start_waiting(srv);
}

void resdeliv_server_conn_close(resdeliv_server *srv, void *conn)
{
    struct resdeliv__conn *c;

    if (srv == NULL || srv->freeing) {
        return;
    }
    c = conn_find(srv, conn);
    if (c == NULL) {
        return;
    }
    resdeliv__server_enter(srv);
    resdeliv__server_conn_drop(srv, c);
    resdeliv__server_leave(srv);
}

void resdeliv__server_want_writable(resdeliv_server *srv,
                                    struct resdeliv__conn *c)
{
    if (c->closed || c->want_writable) {
        return;
    }
    c->want_writable = 1;
    if (srv->tp.request_writable(srv->tp.host, c->key) < 0) {
        resdeliv__server_say(srv, RESDELIV_LOG_WARN,
                             "resdeliv: request_writable failed");
    }
}

void resdeliv__server_conn_fail(resdeliv_server *srv, struct resdeliv__conn *c,
                                uint32_t code, const char *msg)
{
    char *frame = NULL;
    size_t len = 0;

    if (c->closed) {
        return;
    }
    resdeliv__server_conn_ref(c);
    resdeliv__server_say(srv, RESDELIV_LOG_WARN, "%s", msg);
    if (resdeliv_pusher_build_error((int)code, msg, &frame, &len) == 0) {
        srv->tp.send(srv->tp.host, c->key, frame, len);
    }
    resdeliv_free(frame);
    if (!c->closed) {
        srv->tp.close(srv->tp.host, c->key, code, msg);
    }
    if (!c->closed && !srv->freeing) {
        resdeliv__server_conn_drop(srv, c);
    }
    resdeliv__server_conn_unref(c);
}

/* ---- subscriptions ----------------------------------------------------- */

int resdeliv__server_channel_ok(const char *channel, size_t *len)
{
    if (channel == NULL) {
        return 0;
    }
    *len = strnlen(channel, RESDELIV_MAX_CHANNEL_LEN + 1);
    if (*len == 0 || *len > RESDELIV_MAX_CHANNEL_LEN) {
        return 0;
    }
    for (size_t i = 0; i < *len; i++) {
        if ((unsigned char)channel[i] < 0x20 || channel[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static struct resdeliv__sub *sub_find(struct resdeliv__conn *c,
                                      const char *channel, size_t len)
{
    for (struct resdeliv__sub *s = c->subs; s != NULL; s = s->next) {
        if (s->channel_len == len && memcmp(s->channel, channel, len) == 0) {
            return s;
        }
    }
    return NULL;
}

static char *dup_opt(const char *s, size_t len, int *fail)
{
    char *p;

    if (s == NULL) {
        return NULL;
    }
    p = malloc(len + 1);
    if (p == NULL) {
        *fail = 1;
        return NULL;
    }
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static struct resdeliv__sub *sub_new(resdeliv_server *srv, const char *channel,
                                     size_t len, const char *id,
                                     const char *epoch, const char *data,
                                     size_t data_len)
{
    struct resdeliv__sub *s = calloc(1, sizeof(*s));
    int fail = 0;

    if (s == NULL) {
        return NULL;
    }
    s->srv = srv;
    s->refs = 1;
    memcpy(s->channel, channel, len);
    s->channel_len = len;
    if (id != NULL && id[0] != '\0') {
        s->last_id = dup_opt(id, strlen(id), &fail);
        if (epoch != NULL && epoch[0] != '\0') {
            s->last_epoch = dup_opt(epoch, strlen(epoch), &fail);
        }
    }
    if (data != NULL && data_len > 0) {
        s->data = dup_opt(data, data_len, &fail);
        s->data_len = data_len;
    }
    if (fail) {
        resdeliv__sub_unref(s);
        return NULL;
    }
    return s;
}

/* Put a new subscription into its channel's holding index. */
static int hold_index(resdeliv_server *srv, struct resdeliv__sub *s)
{
    struct resdeliv__chan *ch =
        resdeliv__server_chan_find(srv, s->channel, s->channel_len);

    if (ch == NULL) {
        ch = malloc(sizeof(*ch) + s->channel_len);
        if (ch == NULL || ht_reserve(&srv->chans) < 0) {
            free(ch);
            return RESDELIV_ENOMEM;
        }
        ch->head = NULL;
        ch->len = s->channel_len;
        memcpy(ch->name, s->channel, s->channel_len);
        ch->node.hash = hash_bytes(s->channel, s->channel_len);
        ht_add(&srv->chans, &ch->node);
    }
    s->chan = ch;
    s->hprev = NULL;
    s->hnext = ch->head;
    if (ch->head != NULL) {
        ch->head->hprev = s;
    }
    ch->head = s;
    return 0;
}

void resdeliv__server_unhold(resdeliv_server *srv, struct resdeliv__sub *s)
{
    struct resdeliv__chan *ch = s->chan;

    if (ch == NULL) {
        return;
    }
    if (s->hprev != NULL) {
        s->hprev->hnext = s->hnext;
    } else {
        ch->head = s->hnext;
    }
    if (s->hnext != NULL) {
        s->hnext->hprev = s->hprev;
    }
    s->chan = NULL;
    s->hprev = s->hnext = NULL;
    if (ch->head == NULL) {
        ht_del(&srv->chans, &ch->node);
        free(ch);
    }
}

static int refuse_subscription(resdeliv_server *srv, struct resdeliv__conn *c,
                               const char *channel)
{
    char msg[RESDELIV_MAX_CHANNEL_LEN + 128];
    char *frame = NULL;
    size_t len = 0;

    snprintf(msg, sizeof(msg),
             "resdeliv: too many subscriptions on this connection (%llu); "
             "'%s' refused",
             (unsigned long long)srv->opts.max_subscriptions, channel);
    if (resdeliv_pusher_build_error(RESDELIV_PUSHER_ERR_OVER_CAPACITY, msg,
                                    &frame, &len) == 0) {
        srv->tp.send(srv->tp.host, c->key, frame, len);
    }
    resdeliv_free(frame);
    return RESDELIV_EOVERFLOW;
}

static int subscribe_checked(resdeliv_server *srv, struct resdeliv__conn *c,
                             const char *channel, size_t len, const char *id,
                             const char *epoch, const char *data,
                             size_t data_len)
{
    struct resdeliv__sub *s;
    int first;

    if (sub_find(c, channel, len) != NULL) {
        return RESDELIV_EINVAL;
    }
    if (c->nsubs >= srv->opts.max_subscriptions) {
        return refuse_subscription(srv, c, channel);
    }
    s = sub_new(srv, channel, len, id, epoch, data, data_len);
    if (s == NULL) {
        return RESDELIV_ENOMEM;
    }
    if (hold_index(srv, s) < 0) {
        resdeliv__sub_unref(s);
        return RESDELIV_ENOMEM;
    }
    first = active_up(srv, s);
    if (first < 0) {
        resdeliv__server_unhold(srv, s);
        resdeliv__sub_unref(s);
        return RESDELIV_ENOMEM;
    }
    s->conn = c;
    s->next = c->subs;
    c->subs = s;
    c->nsubs++;
    srv->stats.subscriptions++;
    /* Before the cursor opens: a bus listening from here on leaves no
     * entry between what the replay reads and what it hands over live. */
    if (first) {
        /* The hook may close the connection: hold both meanwhile. */
        resdeliv__sub_ref(s);
        resdeliv__server_conn_ref(c);
        srv->opts.on_channel(srv->opts.on_channel_arg, s->channel,
                             s->channel_len, 1);
        if (!s->dead && !c->closed && !srv->freeing) {
            resdeliv__sub_begin(srv, s);
        }
        resdeliv__server_conn_unref(c);
        resdeliv__sub_unref(s);
        return 0;
    }
    resdeliv__sub_begin(srv, s);
    return 0;
}

int resdeliv_server_subscribe(resdeliv_server *srv, void *conn,
                              const char *channel, const char *last_event_id,
                              const char *last_event_epoch, const char *data,
                              size_t data_len)
{
    struct resdeliv__conn *c;
    size_t len = 0;
    int rc;

    if (srv == NULL || conn == NULL ||
        !resdeliv__server_channel_ok(channel, &len) ||
        (data == NULL && data_len > 0)) {
        return RESDELIV_EINVAL;
    }
    c = srv->freeing ? NULL : conn_find(srv, conn);
    if (c == NULL) {
        return RESDELIV_ENOENT;
    }
    resdeliv__server_enter(srv);
    rc = subscribe_checked(srv, c, channel, len, last_event_id,
                           last_event_epoch, data, data_len);
    resdeliv__server_leave(srv);
    return rc;
}

int resdeliv_server_unsubscribe(resdeliv_server *srv, void *conn,
                                const char *channel)
{
    struct resdeliv__conn *c;
    struct resdeliv__sub **pp;
    size_t len = 0;

    if (srv == NULL || srv->freeing ||
        !resdeliv__server_channel_ok(channel, &len)) {
        return RESDELIV_ENOENT;
    }
    c = conn_find(srv, conn);
    if (c == NULL) {
        return RESDELIV_ENOENT;
    }
    for (pp = &c->subs; *pp != NULL; pp = &(*pp)->next) {
        struct resdeliv__sub *s = *pp;
        if (s->channel_len == len && memcmp(s->channel, channel, len) == 0) {
            *pp = s->next;
            s->next = NULL;
            c->nsubs--;
            resdeliv__server_enter(srv);
            /* A joined subscription is in the host's broadcast set: take it
             * out, or the client keeps receiving the channel. */
            if (s->state == RESDELIV__SUB_LIVE && srv->tp.leave != NULL) {
                srv->tp.leave(srv->tp.host, c->key, s->channel,
                              s->channel_len);
            }
            sub_remove(srv, s);
            resdeliv__server_start_waiting(srv);
            resdeliv__server_leave(srv);
            return 0;
        }
    }
    return RESDELIV_ENOENT;
}

int resdeliv_server_writable(resdeliv_server *srv, void *conn)
{
    struct resdeliv__conn *c;

    if (srv == NULL || conn == NULL) {
        return RESDELIV_EINVAL;
    }
    c = srv->freeing ? NULL : conn_find(srv, conn);
    if (c == NULL) {
        return RESDELIV_ENOENT;
    }
    resdeliv__server_enter(srv);
    resdeliv__server_serve(srv, c);
    resdeliv__server_leave(srv);
    return 0;
}

int resdeliv_server_stats(const resdeliv_server *srv,
                          struct resdeliv_server_stats *out, size_t size)
{
    if (srv == NULL || out == NULL || size == 0) {
        return RESDELIV_EINVAL;
    }
    memcpy(out, &srv->stats,
           size < sizeof(srv->stats) ? size : sizeof(srv->stats));
    return 0;
}
