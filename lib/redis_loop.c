/* SPDX-License-Identifier: MIT */
/*
 * hiredis's async `ev` hooks over a struct resdeliv_loop, for every async
 * connection of the library (redis_loop_internal.h). hiredis asks for read
 * and write interest and a cleanup; here they become one loop watcher of
 * the socket, re-registered only when the interest changes. Owners that
 * count their entry points are entered around each loop callback, so a
 * user callback run from a reply may free the owner safely.
 *
 * Order of the end. Owners count on hiredis answering every pending
 * command (NULL replies) before their `gone` hook runs. hiredis 0.14 and
 * redisAsyncFree() do it in that order; hiredis 1.x, when it drops a
 * connection itself (an I/O error, a failed connect, a timeout), runs the
 * cleanup hook first and the NULL replies after it. There `gone` waits
 * until hiredis returns to the loop callback that called it (FD_GONE_OWED),
 * so that owners see the same order with either version.
 */
#include "redis_loop_internal.h"

#include <stdio.h>
#include <string.h>

#define BACKOFF_MIN_MS 50u
#define BACKOFF_MAX_MS 5000u

/* rl->fd once hiredis closed the socket: the owner was told, or is owed
 * its `gone` hook. */
#define FD_CLOSED (-1)
#define FD_GONE_OWED (-2)

static void enter(struct resdeliv__redis_loop *rl)
{
    if (rl->ops != NULL && rl->ops->enter != NULL) {
        rl->ops->enter(rl->owner);
    }
}

/* `rl` may be gone when this returns. */
static void leave(struct resdeliv__redis_loop *rl)
{
    if (rl->ops != NULL && rl->ops->leave != NULL) {
        rl->ops->leave(rl->owner);
    }
}

static int flag(const int *f)
{
    return f != NULL && *f;
}

static void gone(struct resdeliv__redis_loop *rl)
{
    if (rl->ops != NULL && rl->ops->gone != NULL) {
        rl->ops->gone(rl->owner);
    }
}

/* After a call into hiredis: a connection it dropped in that call has
 * answered its commands by now, and its context is freed. */
static void settle(struct resdeliv__redis_loop *rl)
{
    if (rl->fd == FD_GONE_OWED) {
        rl->fd = FD_CLOSED;
        gone(rl);
    }
}

static int usable(const struct resdeliv__redis_loop *rl)
{
    return rl->ac != NULL && rl->fd >= 0;
}

static void on_io(void *arg, uint32_t events)
{
    struct resdeliv__redis_loop *rl = arg;

    enter(rl);
    if ((events & RESDELIV_LOOP_READ) && usable(rl)) {
        redisAsyncHandleRead(rl->ac);
        settle(rl);
    }
    if ((events & RESDELIV_LOOP_WRITE) && usable(rl) && !flag(rl->closing)) {
        /* See redis_conn.c: a failed write drops the connection. */
        struct resdeliv__pipe_guard g;
        if (rl->guard) {
            resdeliv__pipe_enter(&g, rl->pipe_ignored);
        }
        redisAsyncHandleWrite(rl->ac);
        if (rl->guard) {
            resdeliv__pipe_leave(&g, !usable(rl) || rl->ac->err != 0 ||
                                         flag(rl->lost));
        }
        settle(rl);
    }
    leave(rl);
}

void resdeliv__redis_loop_want(struct resdeliv__redis_loop *rl,
                               uint32_t want)
{
    if (!usable(rl) || (want == rl->want && rl->watch != NULL)) {
        return;
    }
    if (rl->loop->watch(rl->loop->loop, rl->fd, want, on_io, rl,
                        &rl->watch) != 0) {
        /* The owner's watchdog drops a connection that never gets its
         * events. */
        if (rl->errmsg != NULL) {
            snprintf(rl->errmsg, rl->errsize,
                     "event loop refused to watch the Redis socket");
        }
        return;
    }
    rl->want = want;
}

static void ev_add_read(void *p)
{
    struct resdeliv__redis_loop *rl = p;
    resdeliv__redis_loop_want(rl, rl->want | RESDELIV_LOOP_READ);
}

static void ev_del_read(void *p)
{
    struct resdeliv__redis_loop *rl = p;
    resdeliv__redis_loop_want(rl, rl->want & ~RESDELIV_LOOP_READ);
}

static void ev_add_write(void *p)
{
    struct resdeliv__redis_loop *rl = p;
    resdeliv__redis_loop_want(rl, rl->want | RESDELIV_LOOP_WRITE);
}

static void ev_del_write(void *p)
{
    struct resdeliv__redis_loop *rl = p;
    resdeliv__redis_loop_want(rl, rl->want & ~RESDELIV_LOOP_WRITE);
}

static void ev_cleanup(void *p)
{
    struct resdeliv__redis_loop *rl = p;

    rl->loop->unwatch(rl->loop->loop, &rl->watch);
    rl->loop->timer_stop(rl->loop->loop, &rl->hr_timer);
    rl->want = 0;
#if HIREDIS_MAJOR >= 1
    /* Not from redisAsyncFree(): the NULL replies are still to come, and
     * this runs inside on_io() or on_hr_timer(), which settle(). */
    if (rl->ac != NULL && !(rl->ac->c.flags & REDIS_FREEING)) {
        rl->fd = FD_GONE_OWED;
        return;
    }
#endif
    rl->fd = FD_CLOSED;
    gone(rl);
}

#if HIREDIS_MAJOR >= 1
static void on_hr_timer(void *arg)
{
    struct resdeliv__redis_loop *rl = arg;

    enter(rl);
    if (usable(rl) && !flag(rl->closing)) {
        redisAsyncHandleTimeout(rl->ac);
        settle(rl);
    }
    leave(rl);
}

static void ev_schedule_timer(void *p, struct timeval tv)
{
    struct resdeliv__redis_loop *rl = p;
    uint64_t ms = (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;

    rl->loop->timer_start(rl->loop->loop, ms, on_hr_timer, rl,
                          &rl->hr_timer);
}
#endif

void resdeliv__redis_loop_init(struct resdeliv__redis_loop *rl,
                               const struct resdeliv_loop *loop,
                               const struct resdeliv__redis_loop_ops *ops,
                               void *owner)
{
    memset(rl, 0, sizeof(*rl));
    rl->loop = loop;
    rl->ops = ops;
    rl->owner = owner;
}

void resdeliv__redis_loop_attach(struct resdeliv__redis_loop *rl,
                                 redisAsyncContext *ac)
{
    rl->ac = ac;
    rl->fd = ac->c.fd;
    if (rl->guard) {
        rl->pipe_ignored = resdeliv__pipe_ignored();
    }
    ac->data = rl->owner;
    ac->ev.data = rl;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
#if HIREDIS_MAJOR >= 1
    ac->ev.scheduleTimer = ev_schedule_timer;
#endif
}

int resdeliv__redis_loop_connect(struct resdeliv__redis_loop *rl,
                                 const struct resdeliv__redis_url *u,
                                 const char *what)
{
    redisAsyncContext *ac = u->is_unix ? redisAsyncConnectUnix(u->path)
                                       : redisAsyncConnect(u->host, u->port);

    if (ac == NULL || ac->err) {
        if (rl->errmsg != NULL) {
            snprintf(rl->errmsg, rl->errsize, "%s: %s", what,
                     ac != NULL ? ac->errstr : "out of memory");
        }
        if (ac != NULL) {
            redisAsyncFree(ac);
        }
        return RESDELIV_ESTORE;
    }
    resdeliv__redis_loop_attach(rl, ac);
    return 0;
}

void resdeliv__redis_loop_detach(redisAsyncContext *ac)
{
    struct resdeliv__redis_loop *rl = ac->ev.data;

    /* Detached inside a NULL reply: hiredis 0.14 would run no cleanup
     * hook after this, so no `gone` either. */
    if (rl != NULL && rl->fd == FD_GONE_OWED) {
        rl->fd = FD_CLOSED;
    }
    ac->data = NULL;
    ac->ev.data = NULL;
    ac->ev.addRead = NULL;
    ac->ev.delRead = NULL;
    ac->ev.addWrite = NULL;
    ac->ev.delWrite = NULL;
    ac->ev.cleanup = NULL;
#if HIREDIS_MAJOR >= 1
    ac->ev.scheduleTimer = NULL;
#endif
}

uint64_t resdeliv__redis_loop_backoff(uint32_t failures, uint64_t *rng)
{
    uint32_t shift = failures > 1 ? failures - 1 : 0;
    uint64_t d = BACKOFF_MAX_MS;

    if (shift < 16) {
        d = (uint64_t)BACKOFF_MIN_MS << shift;
        d = d > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d;
    }
    /* xorshift64: jitter keeps many nodes from reconnecting in step. */
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    return d / 2 + *rng % (d / 2 + 1);
}
