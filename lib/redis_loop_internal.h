/* SPDX-License-Identifier: MIT */
/*
 * One hiredis async connection on the host's loop hooks (redis_loop.c),
 * shared by the event-loop store, the Redis bus and the presence registry:
 * hiredis's `ev` hooks become a watcher of the socket and a timer, writes
 * run under the SIGPIPE guard, and reconnect delays back off with jitter.
 * The owner embeds the struct, fills it once, and keeps its own state
 * (what a lost connection means to it) behind the `gone` hook.
 */
#ifndef RESDELIV_REDIS_LOOP_INTERNAL_H
#define RESDELIV_REDIS_LOOP_INTERNAL_H

#include "redis_internal.h"

#include <resdeliv/loop.h>

#include <hiredis/async.h>

/* What the owner does around the hooks; each may be NULL. */
struct resdeliv__redis_loop_ops {
    /* Around every loop callback: the owner counts its entry points, and
     * may release itself (and this struct) inside leave(). */
    void (*enter)(void *owner);
    void (*leave)(void *owner);
    /* hiredis freed the context (its cleanup hook); the socket watcher
     * and the hiredis timer are gone already. */
    void (*gone)(void *owner);
};

struct resdeliv__redis_loop {
    const struct resdeliv_loop *loop; /* the owner's copy of the hooks */
    const struct resdeliv__redis_loop_ops *ops;
    void *owner;        /* ac->data and the argument of the ops */
    const int *closing; /* owner going: no more writes (NULL: never) */
    const int *lost;    /* owner dropped the connection (NULL: never) */
    int guard;          /* writes run under the SIGPIPE guard */
    char *errmsg;       /* a refused watch is reported here (or not) */
    size_t errsize;
    redisAsyncContext *ac;
    int fd;
    uint32_t want;      /* events hiredis asked for */
    void *watch;
    void *hr_timer;     /* hiredis 1.x scheduleTimer */
    int pipe_ignored;   /* SIGPIPE was ignored when we connected */
};

/* Zero `rl` and set what stays for its lifetime; the flags, guard and
 * errmsg are then set by the owner where it needs them. */
void resdeliv__redis_loop_init(struct resdeliv__redis_loop *rl,
                               const struct resdeliv_loop *loop,
                               const struct resdeliv__redis_loop_ops *ops,
                               void *owner);
/* Take `ac` (new, not yet connected) and wire its hooks to the loop. */
void resdeliv__redis_loop_attach(struct resdeliv__redis_loop *rl,
                                 redisAsyncContext *ac);
/* Start connecting to `u` and attach: 0, or RESDELIV_ESTORE with
 * "<what>: <reason>" in errmsg. */
int resdeliv__redis_loop_connect(struct resdeliv__redis_loop *rl,
                                 const struct resdeliv__redis_url *u,
                                 const char *what);
/* Make hiredis forget the owner: no hook of `ac` runs after this. */
void resdeliv__redis_loop_detach(redisAsyncContext *ac);
/* Watch the socket for `want` (RESDELIV_LOOP_READ | _WRITE). */
void resdeliv__redis_loop_want(struct resdeliv__redis_loop *rl,
                               uint32_t want);
/* The delay before reconnect attempt number `failures` + 1: doubling from
 * 50 ms to 5 s, jittered into its upper half by the xorshift64 `*rng`. */
uint64_t resdeliv__redis_loop_backoff(uint32_t failures, uint64_t *rng);

#endif /* RESDELIV_REDIS_LOOP_INTERNAL_H */
