/* SPDX-License-Identifier: MIT */
/*
 * The Redis bus against a private redis-server, driven by a small poll(2)
 * loop behind the loop hooks, with the event-loop Redis store for
 * catch-up. Entries are appended the way the store lays them out (XADD to
 * the stream, the epoch in its companion key) and announced with a plain
 * PUBLISH of a bus message, so the bus is tested on its own: parsing,
 * order, duplicates, epochs, reference counted subscriptions in batches,
 * catch-up after its connection is killed or Redis restarts, and freeing
 * with work in flight.
 */
#include "bus_redis_internal.h"
#include "redis_server.h"

#include <check.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_MS 10000u
#define NSLOTS 32
#define MAXSEEN 2048

static struct redis_server srv;

/* ---- a poll loop behind the hooks ---- */

struct slot {
    int used;
    int fd;
    uint32_t events;
    int armed;
    uint64_t due;
    resdeliv_loop_io_cb io;
    resdeliv_loop_timer_cb tm;
    void *arg;
};

struct tloop {
    struct slot w[NSLOTS];
    struct slot t[NSLOTS];
};

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

static struct resdeliv_loop hooks(struct tloop *l)
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
static void loop_once(struct tloop *l, int ms)
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

static int loop_until(struct tloop *l, const int *flag)
{
    uint64_t end = now_ms() + WAIT_MS;

    while (!*flag && now_ms() < end) {
        loop_once(l, 20);
    }
    return *flag;
}

static void loop_spin(struct tloop *l, uint64_t ms)
{
    uint64_t end = now_ms() + ms;

    while (now_ms() < end) {
        loop_once(l, 5);
    }
}

/* ---- what the bus hands over ---- */

struct seen_entry {
    char channel[64];
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    struct resdeliv_id id;
    uint32_t flags;
    char event[32];
    char data[64];
};

struct seen_gap {
    char channel[64];
    uint32_t reason;
    char epoch[RESDELIV_EPOCH_BUFSIZE];
};

struct seen {
    struct seen_entry e[MAXSEEN];
    size_t ne;
    struct seen_gap g[64];
    size_t ng;
    int done;
    int got_gap;
    size_t want;
    resdeliv_bus **free_in_entry; /* freed on the first entry when set */
};

static void copy_bytes(char *dst, size_t size, const char *src, size_t len)
{
    len = len < size - 1 ? len : size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void on_entry(void *arg, const char *channel, size_t channel_len,
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

static void on_gap(void *arg, const char *channel, size_t channel_len,
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

/* ---- a test node: loop, store, bus ---- */

struct node {
    struct tloop loop;
    struct resdeliv_loop h;
    resdeliv_store *store;
    resdeliv_bus *bus;
    struct seen seen;
    redisContext *rc; /* the test's own client */
};

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

static struct node *node_new(const char *url)
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

static void node_free(struct node *n)
{
    resdeliv_bus_free(n->bus);
    resdeliv_store_free(n->store);
    redisFree(n->rc);
    free(n);
}

/* Keys of log `chan` of app "app" under the default prefix. */
static void keys(const char *chan, char *stream, char *epoch, char *bus)
{
    sprintf(stream, "delivery:{app:%s}", chan);
    sprintf(epoch, "delivery:{app:%s}:epoch", chan);
    sprintf(bus, "delivery:{app:%s}:bus", chan);
}

static redisReply *cmd(redisContext *c, const char *fmt, ...)
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
static struct resdeliv_id append(struct node *n, const char *chan,
                                 const char *epoch, const char *event,
                                 const char *data)
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
static long long announce(struct node *n, const char *chan, const char *epoch,
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

static struct resdeliv_id publish(struct node *n, const char *chan,
                                  const char *epoch, const char *event,
                                  const char *data)
{
    struct resdeliv_id id = append(n, chan, epoch, event, data);
    announce(n, chan, epoch, &id, 1, event, data);
    return id;
}

static long long numsub(struct node *n, const char *chan)
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
static void wait_numsub(struct node *n, const char *chan, long long want)
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

static struct resdeliv_bus_stats stats(const struct node *n);

static void wait_entries(struct node *n, size_t want)
{
    n->seen.want = want;
    n->seen.done = n->seen.ne >= want;
    ck_assert_msg(loop_until(&n->loop, &n->seen.done),
                  "%zu of %zu entries (bad %llu, dup %llu, gaps %llu)",
                  n->seen.ne, want, (unsigned long long)stats(n).bad_messages,
                  (unsigned long long)stats(n).duplicates,
                  (unsigned long long)stats(n).gaps);
}

static struct resdeliv_bus_stats stats(const struct node *n)
{
    struct resdeliv_bus_stats st;
    ck_assert_int_eq(resdeliv_bus_stats(n->bus, &st, sizeof(st)), 0);
    return st;
}

/* Kill the bus's pub/sub connection (the store's is a normal client). */
static void kill_pubsub(struct node *n)
{
    freeReplyObject(cmd(n->rc, "CLIENT KILL TYPE pubsub"));
}

/* ---- parse ---- */

static int parses(const char *text)
{
    struct resdeliv__bus_msg m;
    return resdeliv__bus_parse(text, strlen(text), &m);
}

START_TEST(parse_good)
{
    const char *t = "RD1 ab-C_9 1700000000000-3 1 7\nmessage{\"a\":1}";
    struct resdeliv__bus_msg m;

    ck_assert_int_eq(resdeliv__bus_parse(t, strlen(t), &m), 0);
    ck_assert_str_eq(m.pos.epoch, "ab-C_9");
    ck_assert(m.pos.id.ms == 1700000000000ULL && m.pos.id.seq == 3);
    ck_assert_uint_eq(m.flags, 1);
    ck_assert_uint_eq(m.event_len, 7);
    ck_assert(memcmp(m.event, "message", 7) == 0);
    ck_assert_uint_eq(m.data_len, 7);
    ck_assert(memcmp(m.data, "{\"a\":1}", 7) == 0);
    /* Empty event and data; data with a newline and a NUL byte. */
    ck_assert_int_eq(parses("RD1 e 1-0 0 0\n"), 0);
    ck_assert_int_eq(resdeliv__bus_parse("RD1 e 1-0 0 1\nxa\nb\0c", 20, &m), 0);
    ck_assert_uint_eq(m.data_len, 5);
    ck_assert_uint_eq(m.flags, 0);
}
END_TEST

START_TEST(parse_bad)
{
    static const char *const bad[] = {
        "",
        "RD1",
        "RD2 e 1-0 0 0\n",
        "rd1 e 1-0 0 0\n",
        "RD1  e 1-0 0 0\n", /* double space */
        "RD1 e! 1-0 0 0\n", /* epoch character */
        "RD1 0123456789012345678901234567890123 1-0 0 0\n", /* epoch long */
        "RD1 e 0-0 0 0\n",                                  /* zero id */
        "RD1 e 1 0 0\n",                                    /* id without seq */
        "RD1 e -1-0 0 0\n",
        "RD1 e 1-0 01 0\n",         /* leading zero */
        "RD1 e 1-0 4294967296 0\n", /* flags overflow */
        "RD1 e 1-0 +1 0\n",
        "RD1 e 1-0 0 5\nabc", /* event longer than the message */
        "RD1 e 1-0 0 99999999999999999999999\n",
        "RD1 e 1-0 0 0", /* no newline */
        "RD1 e 1-0 0 0 \n",
        "RD1 e 1-0 0\n",
        "RD1 e 1-0\n",
    };
    struct resdeliv__bus_msg m;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parses(bad[i]) == RESDELIV_EBADFRAME, "accepted '%s'",
                      bad[i]);
    }
    ck_assert_int_eq(resdeliv__bus_parse(NULL, 3, &m), RESDELIV_EBADFRAME);
    ck_assert_int_eq(resdeliv__bus_parse("RD1 e 1-0 0 0\n", 14, NULL),
                     RESDELIV_EBADFRAME);
}
END_TEST

/* ---- arguments ---- */

START_TEST(args_new)
{
    struct tloop l;
    struct resdeliv_loop h;
    struct resdeliv_redis_options o;
    struct resdeliv_bus_callbacks cb = {RESDELIV_STRUCT_HEAD(cb)};
    resdeliv_store *st = NULL;
    resdeliv_bus *b = (resdeliv_bus *)&l;
    char err[256];

    memset(&l, 0, sizeof(l));
    h = hooks(&l);
    resdeliv_redis_options_init(&o);
    o.url = srv.url;
    ck_assert_int_eq(resdeliv_store_memory_new(NULL, &st), 0);
    cb.entry = on_entry;
    cb.gap = on_gap;
    ck_assert_int_eq(
        resdeliv_bus_redis_new(&o, &h, "app", st, &cb, NULL, err, sizeof(err)),
        RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_bus_redis_new(&o, &h, "app", NULL, &cb, &b, err, sizeof(err)),
        RESDELIV_EINVAL);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(strstr(err, "store"));
    ck_assert_int_eq(
        resdeliv_bus_redis_new(&o, &h, "", st, &cb, &b, err, sizeof(err)),
        RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "app_id"));
    cb.gap = NULL;
    ck_assert_int_eq(
        resdeliv_bus_redis_new(&o, &h, "app", st, &cb, &b, err, sizeof(err)),
        RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "gap"));
    cb.gap = on_gap;
    cb.abi_version = RESDELIV_ABI_VERSION + (1u << 16);
    ck_assert_int_eq(
        resdeliv_bus_redis_new(&o, &h, "app", st, &cb, &b, err, sizeof(err)),
        RESDELIV_EABI);
    cb.abi_version = RESDELIV_ABI_VERSION;
    o.url = "redis://127.0.0.1:99999";
    ck_assert_int_eq(
        resdeliv_bus_redis_new(&o, &h, "app", st, &cb, &b, err, sizeof(err)),
        RESDELIV_EBADURL);
    ck_assert_ptr_nonnull(strstr(err, "port"));
    o.url = srv.url;
    h.timer_stop = NULL;
    ck_assert_int_eq(
        resdeliv_bus_redis_new(&o, &h, "app", st, &cb, &b, err, sizeof(err)),
        RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "timer_stop"));
    ck_assert_ptr_null(b);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(args_calls)
{
    struct node *n = node_new(srv.url);
    struct resdeliv_bus_stats st;
    char longname[RESDELIV_MAX_CHANNEL_LEN + 2];

    memset(longname, 'x', sizeof(longname));
    ck_assert_int_eq(resdeliv_bus_subscribe(NULL, "a", 1), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, NULL, 1), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "a", 0), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "a\nb", 3),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, longname, sizeof(longname)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_bus_unsubscribe(n->bus, "never", 5),
                     RESDELIV_ENOENT);
    ck_assert_int_eq(resdeliv_bus_stats(NULL, &st, sizeof(st)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_bus_stats(n->bus, NULL, sizeof(st)),
                     RESDELIV_EINVAL);
    resdeliv_bus_free(NULL);
    node_free(n);
}
END_TEST

/* ---- live delivery ---- */

START_TEST(live_order)
{
    struct node *n = node_new(srv.url);
    struct resdeliv_id ids[3];
    struct resdeliv_bus_stats st;

    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "live1", 5), 0);
    wait_numsub(n, "live1", 1);
    ids[0] = publish(n, "live1", "ep1", "ev", "{\"n\":0}");
    ids[1] = publish(n, "live1", "ep1", "ev", "{\"n\":1}");
    ids[2] = publish(n, "live1", "ep1", "other", "plain");
    wait_entries(n, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(n->seen.e[i].channel, "live1");
        ck_assert_str_eq(n->seen.e[i].epoch, "ep1");
        ck_assert_int_eq(resdeliv_id_cmp(&n->seen.e[i].id, &ids[i]), 0);
        ck_assert_uint_eq(n->seen.e[i].flags, 1);
    }
    ck_assert_str_eq(n->seen.e[1].data, "{\"n\":1}");
    ck_assert_str_eq(n->seen.e[2].event, "other");
    ck_assert_str_eq(n->seen.e[2].data, "plain");
    st = stats(n);
    ck_assert_uint_eq(st.channels, 1);
    ck_assert_uint_eq(st.entries, 3);
    ck_assert_uint_eq(n->seen.ng, 0);
    node_free(n);
}
END_TEST

START_TEST(live_duplicates_and_bad)
{
    struct node *n = node_new(srv.url);
    char stream[128], ek[128], bus[128];
    struct resdeliv_id a, b;
    struct resdeliv_bus_stats st;

    keys("dup1", stream, ek, bus);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "dup1", 4), 0);
    wait_numsub(n, "dup1", 1);
    a = publish(n, "dup1", "ep1", "ev", "{}");
    wait_entries(n, 1);
    /* The same id again, an older one, and garbage: none handed over. */
    announce(n, "dup1", "ep1", &a, 1, "ev", "{}");
    freeReplyObject(cmd(n->rc, "PUBLISH %s %s", bus, "RD1 ep1 nope 0 0\n"));
    freeReplyObject(cmd(n->rc, "PUBLISH %s %s", bus, "hello"));
    b = publish(n, "dup1", "ep1", "ev", "{\"b\":1}");
    wait_entries(n, 2);
    ck_assert_int_eq(resdeliv_id_cmp(&n->seen.e[1].id, &b), 0);
    st = stats(n);
    ck_assert_uint_eq(st.duplicates, 1);
    ck_assert_uint_eq(st.bad_messages, 2);
    ck_assert_uint_eq(st.entries, 2);
    node_free(n);
}
END_TEST

START_TEST(live_epoch_change)
{
    struct node *n = node_new(srv.url);
    struct resdeliv_id id;

    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "ep1c", 4), 0);
    wait_numsub(n, "ep1c", 1);
    publish(n, "ep1c", "old", "ev", "{}");
    wait_entries(n, 1);
    /* A message of another epoch: a gap first, then the entry, even with
     * a lower id. */
    id.ms = 1;
    id.seq = 1;
    announce(n, "ep1c", "new", &id, 0, "ev", "{}");
    wait_entries(n, 2);
    ck_assert_uint_eq(n->seen.ng, 1);
    ck_assert_uint_eq(n->seen.g[0].reason, RESDELIV_GAP_EPOCH_CHANGED);
    ck_assert_str_eq(n->seen.g[0].epoch, "new");
    ck_assert_str_eq(n->seen.e[1].epoch, "new");
    ck_assert_uint_eq(stats(n).gaps, 1);
    node_free(n);
}
END_TEST

/* Entries appended between the starting point and the SUBSCRIBE are
 * read from the log: none falls between the two. */
START_TEST(live_window)
{
    struct node *n = node_new(srv.url);
    struct resdeliv_id before, inside;

    struct timespec pause = {0, 30 * 1000000L};

    before = append(n, "win1", "ep1", "ev", "{\"n\":0}");
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "win1", 4), 0);
    /* One turn writes the starting-point read and queues the SUBSCRIBE,
     * which goes out on the next turn; an entry appended in between is
     * announced to nobody: only the log has it. */
    loop_once(&n->loop, 0);
    nanosleep(&pause, NULL);
    ck_assert_int_eq(numsub(n, "win1"), 0);
    inside = append(n, "win1", "ep1", "ev", "{\"n\":1}");
    wait_numsub(n, "win1", 1);
    wait_entries(n, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&n->seen.e[0].id, &inside), 0);
    ck_assert_int_gt(resdeliv_id_cmp(&inside, &before), 0);
    loop_spin(&n->loop, 50);
    ck_assert_uint_eq(n->seen.ne, 1);
    node_free(n);
}
END_TEST

/* ---- subscriptions ---- */

START_TEST(subs_refcount)
{
    struct node *n = node_new(srv.url);

    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "rc1", 3), 0);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "rc1", 3), 0);
    wait_numsub(n, "rc1", 1);
    ck_assert_int_eq(resdeliv_bus_unsubscribe(n->bus, "rc1", 3), 0);
    loop_spin(&n->loop, 50);
    ck_assert_int_eq(numsub(n, "rc1"), 1);
    ck_assert_uint_eq(stats(n).channels, 1);
    ck_assert_int_eq(resdeliv_bus_unsubscribe(n->bus, "rc1", 3), 0);
    wait_numsub(n, "rc1", 0);
    ck_assert_uint_eq(stats(n).channels, 0);
    ck_assert_int_eq(resdeliv_bus_unsubscribe(n->bus, "rc1", 3),
                     RESDELIV_ENOENT);
    /* Left and back before Redis answered: subscribed in the end. */
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "rc1", 3), 0);
    wait_numsub(n, "rc1", 1);
    ck_assert_int_eq(resdeliv_bus_unsubscribe(n->bus, "rc1", 3), 0);
    loop_once(&n->loop, 0);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "rc1", 3), 0);
    loop_spin(&n->loop, 100);
    wait_numsub(n, "rc1", 1);
    publish(n, "rc1", "ep1", "ev", "{}");
    wait_entries(n, 1);
    node_free(n);
}
END_TEST

START_TEST(subs_many)
{
    struct node *n = node_new(srv.url);
    char name[32];
    redisReply *r;
    int count = RESDELIV__BUS_BATCH * 2 + 17;

    for (int i = 0; i < count; i++) {
        int len = snprintf(name, sizeof(name), "many.%d", i);
        ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, name, (size_t)len), 0);
    }
    wait_numsub(n, "many.0", 1);
    wait_numsub(n, "many.528", 1);
    loop_spin(&n->loop, 100);
    r = cmd(n->rc, "PUBSUB NUMPAT");
    freeReplyObject(r);
    r = cmd(n->rc, "PUBSUB CHANNELS delivery:{app:many.*");
    ck_assert_uint_eq(r->elements, (size_t)count);
    freeReplyObject(r);
    ck_assert_uint_eq(stats(n).channels, (uint64_t)count);
    publish(n, "many.300", "ep1", "ev", "{}");
    wait_entries(n, 1);
    ck_assert_str_eq(n->seen.e[0].channel, "many.300");
    for (int i = 0; i < count; i++) {
        int len = snprintf(name, sizeof(name), "many.%d", i);
        ck_assert_int_eq(resdeliv_bus_unsubscribe(n->bus, name, (size_t)len),
                         0);
    }
    wait_numsub(n, "many.528", 0);
    node_free(n);
}
END_TEST

/* ---- interruptions ---- */

START_TEST(catchup_after_kill)
{
    struct node *n = node_new(srv.url);
    struct resdeliv_id ids[4];
    struct resdeliv_bus_stats st;

    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "cu1", 3), 0);
    wait_numsub(n, "cu1", 1);
    ids[0] = publish(n, "cu1", "ep1", "ev", "{\"n\":0}");
    wait_entries(n, 1);
    kill_pubsub(n);
    /* Published while the bus is away: nobody hears the PUBLISH. */
    ids[1] = publish(n, "cu1", "ep1", "ev", "{\"n\":1}");
    ids[2] = publish(n, "cu1", "ep1", "ev", "{\"n\":2}");
    wait_entries(n, 3);
    wait_numsub(n, "cu1", 1);
    ids[3] = publish(n, "cu1", "ep1", "ev", "{\"n\":3}");
    wait_entries(n, 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(resdeliv_id_cmp(&n->seen.e[i].id, &ids[i]), 0);
    }
    ck_assert_str_eq(n->seen.e[2].data, "{\"n\":2}");
    st = stats(n);
    ck_assert_uint_eq(st.reconnects, 1);
    ck_assert_uint_eq(st.caught_up, 2);
    ck_assert_uint_eq(st.gaps, 0);
    ck_assert_uint_eq(n->seen.ng, 0);
    node_free(n);
}
END_TEST

START_TEST(catchup_epoch_changed)
{
    struct node *n = node_new(srv.url);
    char stream[128], ek[128], bus[128];
    struct resdeliv_id fresh;

    keys("cu2", stream, ek, bus);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "cu2", 3), 0);
    wait_numsub(n, "cu2", 1);
    publish(n, "cu2", "ep1", "ev", "{}");
    wait_entries(n, 1);
    kill_pubsub(n);
    /* The log is lost and made again under a new epoch. */
    freeReplyObject(cmd(n->rc, "DEL %s %s", stream, ek));
    fresh = append(n, "cu2", "ep2", "ev", "{\"new\":1}");
    wait_entries(n, 2);
    ck_assert_uint_eq(n->seen.ng, 1);
    ck_assert_uint_eq(n->seen.g[0].reason, RESDELIV_GAP_EPOCH_CHANGED);
    ck_assert_str_eq(n->seen.g[0].epoch, "ep2");
    ck_assert_str_eq(n->seen.e[1].epoch, "ep2");
    ck_assert_int_eq(resdeliv_id_cmp(&n->seen.e[1].id, &fresh), 0);
    node_free(n);
}
END_TEST

START_TEST(catchup_missing)
{
    struct node *n = node_new(srv.url);
    char stream[128], ek[128], bus[128];

    keys("cu3", stream, ek, bus);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "cu3", 3), 0);
    wait_numsub(n, "cu3", 1);
    publish(n, "cu3", "ep1", "ev", "{}");
    wait_entries(n, 1);
    freeReplyObject(cmd(n->rc, "DEL %s %s", stream, ek));
    kill_pubsub(n);
    wait_numsub(n, "cu3", 1);
    ck_assert(loop_until(&n->loop, &n->seen.got_gap));
    ck_assert_uint_eq(n->seen.ng, 1);
    ck_assert_uint_eq(n->seen.g[0].reason, RESDELIV_GAP_MISSING);
    /* A new log then flows without another gap. */
    publish(n, "cu3", "ep9", "ev", "{}");
    wait_entries(n, 2);
    ck_assert_uint_eq(n->seen.ng, 1);
    node_free(n);
}
END_TEST

START_TEST(catchup_redis_restart)
{
    struct redis_server own;
    struct node *n;
    int rc;

    memset(&own, 0, sizeof(own));
    rc = redis_server_start(&own, NULL);
    ck_assert_int_eq(rc, REDIS_SERVER_OK);
    n = node_new(own.url);
    redisFree(n->rc);
    n->rc = redisConnect("127.0.0.1", own.port);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "rs1", 3), 0);
    wait_numsub(n, "rs1", 1);
    publish(n, "rs1", "ep1", "ev", "{}");
    wait_entries(n, 1);
    redis_server_kill(&own);
    loop_spin(&n->loop, 100);
    ck_assert_int_eq(redis_server_restart(&own), REDIS_SERVER_OK);
    redisFree(n->rc);
    n->rc = redisConnect("127.0.0.1", own.port);
    /* No persistence: the log is gone, which the bus announces. */
    wait_numsub(n, "rs1", 1);
    ck_assert(loop_until(&n->loop, &n->seen.got_gap));
    ck_assert_uint_eq(n->seen.ng, 1);
    ck_assert_uint_eq(n->seen.g[0].reason, RESDELIV_GAP_MISSING);
    publish(n, "rs1", "ep2", "ev", "{}");
    wait_entries(n, 2);
    ck_assert_uint_ge(stats(n).reconnects, 1);
    node_free(n);
    redis_server_stop(&own);
}
END_TEST

/* ---- freeing ---- */

START_TEST(free_in_flight)
{
    struct node *n = node_new(srv.url);

    /* The starting-point read is in flight on the store. */
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "fr1", 3), 0);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "fr2", 3), 0);
    loop_once(&n->loop, 0);
    resdeliv_bus_free(n->bus);
    n->bus = NULL;
    loop_spin(&n->loop, 50);
    node_free(n);
}
END_TEST

START_TEST(free_in_callback)
{
    struct node *n = node_new(srv.url);

    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "fr3", 3), 0);
    wait_numsub(n, "fr3", 1);
    n->seen.free_in_entry = &n->bus;
    publish(n, "fr3", "ep1", "ev", "{}");
    publish(n, "fr3", "ep1", "ev", "{}");
    wait_entries(n, 1);
    ck_assert_ptr_null(n->bus);
    loop_spin(&n->loop, 50);
    ck_assert_uint_eq(n->seen.ne, 1);
    node_free(n);
}
END_TEST

static Suite *bus_suite(void)
{
    Suite *s = suite_create("bus");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_test(tc, parse_good);
    tcase_add_test(tc, parse_bad);
    suite_add_tcase(s, tc);

    tc = tcase_create("args");
    tcase_add_test(tc, args_new);
    tcase_add_test(tc, args_calls);
    suite_add_tcase(s, tc);

    tc = tcase_create("live");
    tcase_add_test(tc, live_order);
    tcase_add_test(tc, live_duplicates_and_bad);
    tcase_add_test(tc, live_epoch_change);
    tcase_add_test(tc, live_window);
    suite_add_tcase(s, tc);

    tc = tcase_create("subscriptions");
    tcase_add_test(tc, subs_refcount);
    tcase_add_test(tc, subs_many);
    suite_add_tcase(s, tc);

    tc = tcase_create("catchup");
    tcase_add_test(tc, catchup_after_kill);
    tcase_add_test(tc, catchup_epoch_changed);
    tcase_add_test(tc, catchup_missing);
    tcase_add_test(tc, catchup_redis_restart);
    suite_add_tcase(s, tc);

    tc = tcase_create("free");
    tcase_add_test(tc, free_in_flight);
    tcase_add_test(tc, free_in_callback);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    rc = redis_server_start(&srv, NULL);
    if (rc != REDIS_SERVER_OK) {
        return redis_server_skip_status(rc);
    }
    sr = srunner_create(bus_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    redis_server_stop(&srv);
    return failed ? 1 : 0;
}
