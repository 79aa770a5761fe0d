/* SPDX-License-Identifier: MIT */
/**
 * @file adapters/libuv.h
 * Event-loop hooks over a libuv loop, header-only: the host includes this
 * (and so links libuv itself); libresdeliv never does.
 *
 *     struct resdeliv_loop hooks;
 *     resdeliv_loop_uv_init(&hooks, uv_default_loop());
 *     resdeliv_store_redis_async_new(&opts, &hooks, &store, err, sizeof err);
 *
 * Watchers are uv_poll_t and timers uv_timer_t, each in its own small heap
 * block that libuv's close callback frees; so after the last store made
 * with these hooks is freed, run the loop once more (uv_run) before
 * uv_loop_close() to let those closes finish.
 */
#ifndef RESDELIV_ADAPTERS_LIBUV_H
#define RESDELIV_ADAPTERS_LIBUV_H

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../loop.h"

#ifdef __cplusplus
extern "C" {
#endif

struct resdeliv_uv_watch {
    uv_poll_t poll; /* first: the handle's address is the block's */
    resdeliv_loop_io_cb cb;
    void *arg;
    uint32_t events;
};

struct resdeliv_uv_timer {
    uv_timer_t timer; /* first, as above */
    resdeliv_loop_timer_cb cb;
    void *arg;
};

static inline void resdeliv_uv_free_handle(uv_handle_t *h)
{
    free(h);
}

static inline void resdeliv_uv_on_poll(uv_poll_t *p, int status, int ev)
{
    struct resdeliv_uv_watch *w = (struct resdeliv_uv_watch *)p->data;
    uint32_t e = 0;

    if (status < 0) {
        e = RESDELIV_LOOP_READ | RESDELIV_LOOP_WRITE;
    } else {
        e |= (ev & UV_READABLE) ? RESDELIV_LOOP_READ : 0u;
        e |= (ev & UV_WRITABLE) ? RESDELIV_LOOP_WRITE : 0u;
        e &= w->events;
    }
    w->cb(w->arg, e);
}

static inline int resdeliv_uv_watch(void *loop, int fd, uint32_t events,
                                    resdeliv_loop_io_cb cb, void *arg,
                                    void **watcher)
{
    struct resdeliv_uv_watch *w = (struct resdeliv_uv_watch *)*watcher;
    int uvev = 0;

    if (w == NULL) {
        w = (struct resdeliv_uv_watch *)calloc(1, sizeof(*w));
        if (w == NULL) {
            return RESDELIV_ENOMEM;
        }
        if (uv_poll_init((uv_loop_t *)loop, &w->poll, fd) != 0) {
            free(w);
            return RESDELIV_EINVAL;
        }
        w->poll.data = w;
        w->cb = cb;
        w->arg = arg;
        *watcher = w;
    } else if (w->events == events) {
        return 0;
    }
    uvev |= (events & RESDELIV_LOOP_READ) ? UV_READABLE : 0;
    uvev |= (events & RESDELIV_LOOP_WRITE) ? UV_WRITABLE : 0;
    if (uvev == 0) {
        uv_poll_stop(&w->poll);
    } else if (uv_poll_start(&w->poll, uvev, resdeliv_uv_on_poll) != 0) {
        return RESDELIV_EINVAL;
    }
    w->events = events;
    return 0;
}

static inline void resdeliv_uv_unwatch(void *loop, void **watcher)
{
    struct resdeliv_uv_watch *w = (struct resdeliv_uv_watch *)*watcher;

    (void)loop;
    if (w == NULL) {
        return;
    }
    *watcher = NULL;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, resdeliv_uv_free_handle);
}

static inline void resdeliv_uv_on_timer(uv_timer_t *h)
{
    struct resdeliv_uv_timer *t = (struct resdeliv_uv_timer *)h->data;
    t->cb(t->arg);
}

static inline int resdeliv_uv_timer_start(void *loop, uint64_t ms,
                                          resdeliv_loop_timer_cb cb,
                                          void *arg, void **timer)
{
    struct resdeliv_uv_timer *t = (struct resdeliv_uv_timer *)*timer;

    if (t == NULL) {
        t = (struct resdeliv_uv_timer *)calloc(1, sizeof(*t));
        if (t == NULL) {
            return RESDELIV_ENOMEM;
        }
        if (uv_timer_init((uv_loop_t *)loop, &t->timer) != 0) {
            free(t);
            return RESDELIV_EINVAL;
        }
        t->timer.data = t;
        t->cb = cb;
        t->arg = arg;
        *timer = t;
    }
    /* libuv re-arms an active timer in place. */
    return uv_timer_start(&t->timer, resdeliv_uv_on_timer, ms, 0) == 0
               ? 0
               : RESDELIV_EINVAL;
}

static inline void resdeliv_uv_timer_stop(void *loop, void **timer)
{
    struct resdeliv_uv_timer *t = (struct resdeliv_uv_timer *)*timer;

    (void)loop;
    if (t == NULL) {
        return;
    }
    *timer = NULL;
    uv_timer_stop(&t->timer);
    uv_close((uv_handle_t *)&t->timer, resdeliv_uv_free_handle);
}

/** Fill `hooks` for `loop`, which must outlive every store using them. */
static inline void resdeliv_loop_uv_init(struct resdeliv_loop *hooks,
                                         uv_loop_t *loop)
{
    struct resdeliv_loop l;

    memset(&l, 0, sizeof(l));
    l.struct_size = (uint32_t)sizeof(l);
    l.abi_version = RESDELIV_ABI_VERSION;
    l.loop = loop;
    l.watch = resdeliv_uv_watch;
    l.unwatch = resdeliv_uv_unwatch;
    l.timer_start = resdeliv_uv_timer_start;
    l.timer_stop = resdeliv_uv_timer_stop;
    *hooks = l;
}

#ifdef __cplusplus
}
#endif

#endif /* RESDELIV_ADAPTERS_LIBUV_H */
