/* SPDX-License-Identifier: MIT */
/**
 * @file adapters/libevent.h
 * Event-loop hooks over a libevent 2 event_base, header-only: the host
 * includes this (and so links libevent itself); libresdeliv never does.
 *
 *     struct resdeliv_loop hooks;
 *     resdeliv_loop_event_init(&hooks, base);
 *     resdeliv_store_redis_async_new(&opts, &hooks, &store, err, sizeof err);
 *
 * A watcher is a pair of persistent events (read, write) added and deleted
 * as the wanted set changes; a timer is one evtimer. Both are freed at
 * once by unwatch()/timer_stop(), which libevent allows from inside their
 * own callbacks.
 */
#ifndef RESDELIV_ADAPTERS_LIBEVENT_H
#define RESDELIV_ADAPTERS_LIBEVENT_H

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "../loop.h"

#ifdef __cplusplus
extern "C" {
#endif

struct resdeliv_event_watch {
    struct event *rev;
    struct event *wev;
    resdeliv_loop_io_cb cb;
    void *arg;
    uint32_t events;
};

struct resdeliv_event_timer {
    struct event *ev;
    resdeliv_loop_timer_cb cb;
    void *arg;
};

static inline void resdeliv_event_on_io(evutil_socket_t fd, short what,
                                        void *arg)
{
    struct resdeliv_event_watch *w = (struct resdeliv_event_watch *)arg;
    uint32_t e = 0;

    (void)fd;
    e |= (what & EV_READ) ? RESDELIV_LOOP_READ : 0u;
    e |= (what & EV_WRITE) ? RESDELIV_LOOP_WRITE : 0u;
    w->cb(w->arg, e);
}

static inline void resdeliv_event_free_watch(struct resdeliv_event_watch *w)
{
    if (w->rev != NULL) {
        event_free(w->rev);
    }
    if (w->wev != NULL) {
        event_free(w->wev);
    }
    free(w);
}

/* Add or delete one event so that it matches `on`. */
static inline int resdeliv_event_set(struct event *ev, int on)
{
    if (on) {
        return event_add(ev, NULL) == 0 ? 0 : RESDELIV_EINVAL;
    }
    return event_del(ev) == 0 ? 0 : RESDELIV_EINVAL;
}

static inline int resdeliv_event_watch(void *loop, int fd, uint32_t events,
                                       resdeliv_loop_io_cb cb, void *arg,
                                       void **watcher)
{
    struct resdeliv_event_watch *w = (struct resdeliv_event_watch *)*watcher;
    struct event_base *base = (struct event_base *)loop;
    uint32_t diff;

    if (w == NULL) {
        w = (struct resdeliv_event_watch *)calloc(1, sizeof(*w));
        if (w == NULL) {
            return RESDELIV_ENOMEM;
        }
        w->cb = cb;
        w->arg = arg;
        w->rev = event_new(base, fd, EV_READ | EV_PERSIST,
                           resdeliv_event_on_io, w);
        w->wev = event_new(base, fd, EV_WRITE | EV_PERSIST,
                           resdeliv_event_on_io, w);
        if (w->rev == NULL || w->wev == NULL) {
            resdeliv_event_free_watch(w);
            return RESDELIV_ENOMEM;
        }
        *watcher = w;
    }
    diff = w->events ^ events;
    if ((diff & RESDELIV_LOOP_READ) &&
        resdeliv_event_set(w->rev, (events & RESDELIV_LOOP_READ) != 0) != 0) {
        return RESDELIV_EINVAL;
    }
    if ((diff & RESDELIV_LOOP_WRITE) &&
        resdeliv_event_set(w->wev, (events & RESDELIV_LOOP_WRITE) != 0) != 0) {
        return RESDELIV_EINVAL;
    }
    w->events = events;
    return 0;
}

static inline void resdeliv_event_unwatch(void *loop, void **watcher)
{
    struct resdeliv_event_watch *w = (struct resdeliv_event_watch *)*watcher;

    (void)loop;
    if (w == NULL) {
        return;
    }
    *watcher = NULL;
    resdeliv_event_free_watch(w);
}

static inline void resdeliv_event_on_timer(evutil_socket_t fd, short what,
                                           void *arg)
{
    struct resdeliv_event_timer *t = (struct resdeliv_event_timer *)arg;

    (void)fd;
    (void)what;
    t->cb(t->arg);
}

static inline int resdeliv_event_timer_start(void *loop, uint64_t ms,
                                             resdeliv_loop_timer_cb cb,
                                             void *arg, void **timer)
{
    struct resdeliv_event_timer *t = (struct resdeliv_event_timer *)*timer;
    struct timeval tv;

    if (t == NULL) {
        t = (struct resdeliv_event_timer *)calloc(1, sizeof(*t));
        if (t == NULL) {
            return RESDELIV_ENOMEM;
        }
        t->cb = cb;
        t->arg = arg;
        t->ev = evtimer_new((struct event_base *)loop,
                            resdeliv_event_on_timer, t);
        if (t->ev == NULL) {
            free(t);
            return RESDELIV_ENOMEM;
        }
        *timer = t;
    }
    tv.tv_sec = (time_t)(ms / 1000u);
    tv.tv_usec = (suseconds_t)((ms % 1000u) * 1000u);
    /* Adding a pending timer reschedules it. */
    return evtimer_add(t->ev, &tv) == 0 ? 0 : RESDELIV_EINVAL;
}

static inline void resdeliv_event_timer_stop(void *loop, void **timer)
{
    struct resdeliv_event_timer *t = (struct resdeliv_event_timer *)*timer;

    (void)loop;
    if (t == NULL) {
        return;
    }
    *timer = NULL;
    event_free(t->ev);
    free(t);
}

/** Fill `hooks` for `base`, which must outlive every store using them. */
static inline void resdeliv_loop_event_init(struct resdeliv_loop *hooks,
                                            struct event_base *base)
{
    memset(hooks, 0, sizeof(*hooks));
    hooks->struct_size = (uint32_t)sizeof(*hooks);
    hooks->abi_version = RESDELIV_ABI_VERSION;
    hooks->loop = base;
    hooks->watch = resdeliv_event_watch;
    hooks->unwatch = resdeliv_event_unwatch;
    hooks->timer_start = resdeliv_event_timer_start;
    hooks->timer_stop = resdeliv_event_timer_stop;
}

#ifdef __cplusplus
}
#endif

#endif /* RESDELIV_ADAPTERS_LIBEVENT_H */
