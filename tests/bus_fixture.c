/* SPDX-License-Identifier: MIT */
/*
 * The Redis bus tests' shared fixture (bus_fixture.h).
 */
#include "bus_fixture.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct redis_server srv;

/* ---- a poll loop behind the hooks ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct slot *slot_take(struct slot *s)
{
    for (int i = 0; i < NSLOTS; i++) {
        if (!s[i].used) {
            memset(&s[i], 0, sizeof(s[i]));
            s[i].used = 1;
            return &s[i];
        }
    }
    return NULL;
}

static int l_watch(void *loop, int fd, uint32_t ev, resdeliv_loop_io_cb cb,
                   void *arg, void **watcher)
{
    struct tloop *l = loop;
    struct slot *s = *watcher;

    if (s == NULL) {
        s = slot_take(l->w);
        if (s == NULL) {
            return RESDELIV_ENOMEM;
        }
        s->fd = fd;
        s->io = cb;
        s->arg = arg;
        *watcher = s;
    }
    s->events = ev;
    return 0;
}

static void l_unwatch(void *loop, void **watcher)
{
    struct slot *s = *watcher;

    (void)loop;
    if (s != NULL) {
        s->used = 0;
        *watcher = NULL;
    }
}

static int l_timer_start(void *loop, uint64_t ms, resdeliv_loop_timer_cb cb,
                         void *arg, void **timer)
{
    struct tloop *l = loop;
    struct slot *s = *timer;

    if (s == NULL) {
        s = slot_take(l->t);
        if (s == NULL) {
            return RESDELIV_ENOMEM;
        }
        s->tm = cb;
        s->arg = arg;
        *timer = s;
    }
    s->armed = 1;
    s->due = now_ms() + ms;
    return 0;
}

static void l_timer_stop(void *loop, void **timer)
{
    struct slot *s = *timer;

    (void)loop;
    if (s != NULL) {
        s->used = 0;
        *timer = NULL;
    }
}

struct resdeliv_loop hooks(struct tloop *l)
{
    struct resdeliv_loop h = {
        RESDELIV_STRUCT_HEAD(h),
        .loop = l,
        .watch = l_watch,
        .unwatch = l_unwatch,
        .timer_start = l_timer_start,
        .timer_stop = l_timer_stop,
    };
    return h;
}

/* One turn: wait at most `ms` for sockets, then run due timers. */
void loop_once(struct tloop *l, int ms)
{
    struct pollfd pfd[NSLOTS];
    struct slot *who[NSLOTS];
    int n = 0;
    uint64_t now = now_ms();

    for (int i = 0; i < NSLOTS; i++) {
        struct slot *t = &l->t[i];
        if (t->used && t->armed) {
            int left = t->due > now ? (int)(t->due - now) : 0;
            ms = left < ms ? left : ms;
        }
    }
    for (int i = 0; i < NSLOTS; i++) {
        struct slot *w = &l->w[i];
        if (w->used && w->events != 0) {
            pfd[n].fd = w->fd;
            pfd[n].events =
                (short)(((w->events & RESDELIV_LOOP_READ) ? POLLIN : 0) |
                        ((w->events & RESDELIV_LOOP_WRITE) ? POLLOUT : 0));
            pfd[n].revents = 0;
            who[n++] = w;
        }
    }
    if (poll(pfd, (nfds_t)n, ms) > 0) {
        for (int i = 0; i < n; i++) {
            uint32_t ev = 0;
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ev |= RESDELIV_LOOP_READ;
            }
            if (pfd[i].revents & (POLLOUT | POLLERR)) {
                ev |= RESDELIV_LOOP_WRITE;
            }
            /* A callback may have released this watcher meanwhile. */
            if (ev != 0 && who[i]->used && who[i]->fd == pfd[i].fd) {
                who[i]->io(who[i]->arg, ev);
            }
        }
    }
    now = now_ms();
    for (int i = 0; i < NSLOTS; i++) {
        struct slot *t = &l->t[i];
        if (t->used && t->armed && t->due <= now) {
            t->armed = 0;
            t->tm(t->arg);
        }
    }
}

int loop_until(struct tloop *l, const int *flag)
{
    uint64_t end = now_ms() + WAIT_MS;

    while (!*flag && now_ms() < end) {
        loop_once(l, 20);
    }
    return *flag;
}

void loop_spin(struct tloop *l, uint64_t ms)
{
    uint64_t end = now_ms() + ms;

    while (now_ms() < end) {
        loop_once(l, 5);
    }
}

static void copy_bytes(char *dst, size_t size, const char *src, size_t len)
{
    len = len < size - 1 ? len : size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void on_entry(void *arg, const char *channel, size_t channel_len,
              const struct resdeliv_position *pos, uint32_t flags,
              const char *event, size_t event_len, const char *data,
              size_t data_len)
{
    struct seen *s = arg;
    struct seen_entry *e;

    if (s->ne < MAXSEEN) {
        e = &s->e[s->ne++];
        copy_bytes(e->channel, sizeof(e->channel), channel, channel_len);
        snprintf(e->epoch, sizeof(e->epoch), "%s", pos->epoch);
        e->id = pos->id;
        e->flags = flags;
        copy_bytes(e->event, sizeof(e->event), event, event_len);
        copy_bytes(e->data, sizeof(e->data), data, data_len);
    }
    if (s->free_in_entry != NULL) {
        resdeliv_bus_free(*s->free_in_entry);
        *s->free_in_entry = NULL;
        s->free_in_entry = NULL;
    }
    s->done = s->ne >= s->want;
}

void on_gap(void *arg, const char *channel, size_t channel_len,
            const struct resdeliv_replay_status *st)
{
    struct seen *s = arg;

    if (s->ng < 64) {
        struct seen_gap *g = &s->g[s->ng++];
        copy_bytes(g->channel, sizeof(g->channel), channel, channel_len);
        g->reason = st->reason;
        snprintf(g->epoch, sizeof(g->epoch), "%s", st->position.epoch);
    }
    s->got_gap = 1;
}

static void on_ready(void *arg, int status,
                     const struct resdeliv_log_info *info)
{
    (void)status;
    (void)info;
    *(int *)arg = 1;
}

/* Run the loop until the store has its connection. */
static void store_ready(struct node *n)
{
    struct resdeliv_log_key k = {"app", 3, "none", 4};
    int done = 0;

    ck_assert_int_eq(
        resdeliv_store_info(n->store, &k, NULL, 0, on_ready, &done), 0);
    ck_assert(loop_until(&n->loop, &done));
}

struct node *node_new(const char *url)
{
    struct node *n = calloc(1, sizeof(*n));
    struct resdeliv_redis_options o;
    struct resdeliv_bus_callbacks cb = {RESDELIV_STRUCT_HEAD(cb)};
    char err[256] = "";
    int rc;

    ck_assert_ptr_nonnull(n);
    n->h = hooks(&n->loop);
    resdeliv_redis_options_init(&o);
    o.url = url;
    rc = resdeliv_store_redis_async_new(&o, &n->h, &n->store, err, sizeof(err));
    ck_assert_msg(rc == 0, "store: %s", err);
    cb.arg = &n->seen;
    cb.entry = on_entry;
    cb.gap = on_gap;
    rc = resdeliv_bus_redis_new(&o, &n->h, "app", n->store, &cb, &n->bus, err,
                                sizeof(err));
    ck_assert_msg(rc == 0, "bus: %s", err);
    n->rc = redisConnect("127.0.0.1", srv.port);
    ck_assert(n->rc != NULL && n->rc->err == 0);
    store_ready(n);
    return n;
}

void node_free(struct node *n)
{
    resdeliv_bus_free(n->bus);
    resdeliv_store_free(n->store);
    redisFree(n->rc);
    free(n);
}

/* Keys of log `chan` of app "app" under the default prefix. */
void keys(const char *chan, char *stream, char *epoch, char *bus)
{
    sprintf(stream, "delivery:{app:%s}", chan);
    sprintf(epoch, "delivery:{app:%s}:epoch", chan);
    sprintf(bus, "delivery:{app:%s}:bus", chan);
}

redisReply *cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(r->type != REDIS_REPLY_ERROR, "redis: %s", r->str);
    return r;
}

/* Append an entry as the store lays it out. @return its id. */
struct resdeliv_id append(struct node *n, const char *chan, const char *epoch,
                          const char *event, const char *data)
{
    char stream[128], ek[128], bus[128];
    struct resdeliv_id id;
    redisReply *r;

    keys(chan, stream, ek, bus);
    freeReplyObject(cmd(n->rc, "SET %s %s", ek, epoch));
    r = cmd(n->rc, "XADD %s * e %s d %s", stream, event, data);
    ck_assert_int_eq(resdeliv_id_parse(r->str, r->len, &id), 0);
    freeReplyObject(r);
    return id;
}

/* PUBLISH a bus message. @return receivers. */
long long announce(struct node *n, const char *chan, const char *epoch,
                   const struct resdeliv_id *id, uint32_t flags,
                   const char *event, const char *data)
{
    char stream[128], ek[128], bus[128], idt[RESDELIV_ID_BUFSIZE];
    char msg[512];
    redisReply *r;
    long long got;
    int len;

    keys(chan, stream, ek, bus);
    resdeliv_id_format(id, idt, sizeof(idt));
    len = snprintf(msg, sizeof(msg), "RD1 %s %s %u %zu\n%s%s", epoch, idt,
                   flags, strlen(event), event, data);
    r = cmd(n->rc, "PUBLISH %s %b", bus, msg, (size_t)len);
    got = r->integer;
    freeReplyObject(r);
    return got;
}

struct resdeliv_id publish(struct node *n, const char *chan, const char *epoch,
                           const char *event, const char *data)
{
    struct resdeliv_id id = append(n, chan, epoch, event, data);
    announce(n, chan, epoch, &id, 1, event, data);
    return id;
}

long long numsub(struct node *n, const char *chan)
{
    char stream[128], ek[128], bus[128];
    redisReply *r;
    long long v;

    keys(chan, stream, ek, bus);
    r = cmd(n->rc, "PUBSUB NUMSUB %s", bus);
    v = r->element[1]->integer;
    freeReplyObject(r);
    return v;
}

/* Spin until Redis counts `want` subscribers of the bus channel. */
void wait_numsub(struct node *n, const char *chan, long long want)
{
    uint64_t end = now_ms() + WAIT_MS;

    while (numsub(n, chan) != want && now_ms() < end) {
        loop_once(&n->loop, 10);
    }
    ck_assert_int_eq(numsub(n, chan), want);
    /* Let the bus read its starting point and get in sync: entries
     * appended before that count as older than the subscription. */
    loop_spin(&n->loop, 100);
}

void wait_entries(struct node *n, size_t want)
{
    n->seen.want = want;
    n->seen.done = n->seen.ne >= want;
    ck_assert_msg(loop_until(&n->loop, &n->seen.done),
                  "%zu of %zu entries (bad %llu, dup %llu, gaps %llu)",
                  n->seen.ne, want, (unsigned long long)stats(n).bad_messages,
                  (unsigned long long)stats(n).duplicates,
                  (unsigned long long)stats(n).gaps);
}

struct resdeliv_bus_stats stats(const struct node *n)
{
    struct resdeliv_bus_stats st;
    ck_assert_int_eq(resdeliv_bus_stats(n->bus, &st, sizeof(st)), 0);
    return st;
}

/* Kill the bus's pub/sub connection (the store's is a normal client). */
void kill_pubsub(struct node *n)
{
    freeReplyObject(cmd(n->rc, "CLIENT KILL TYPE pubsub"));
}
