/* SPDX-License-Identifier: MIT */
/**
 * @file loop.h
 * Event-loop hooks: how a non-blocking store asks the host's event loop to
 * watch a socket and to run a timer, without the library linking any loop
 * library.
 *
 * The vtable mirrors hiredis's `ev` block: watch a descriptor for read
 * and/or write readiness, stop watching, start and stop a one-shot timer.
 * Every hook is idempotent and may be called from inside any callback the
 * loop runs, including the callback of the very watcher or timer it
 * changes. After unwatch() or timer_stop() returns, that watcher's or
 * timer's callback is never called again.
 *
 * Ready adapters fill this struct for libuv
 * (`<resdeliv/adapters/libuv.h>`) and libevent
 * (`<resdeliv/adapters/libevent.h>`); they are header-only and are not
 * included by `<resdeliv/resdeliv.h>`. A host with its own poll (for
 * example libwebsockets) implements the four hooks over its pollfd set and
 * timer list.
 *
 * Thread: the hooks are called only from the thread that runs the loop
 * (and from the thread that makes or frees the store).
 */
#ifndef RESDELIV_LOOP_H
#define RESDELIV_LOOP_H

#include "common.h"

RESDELIV_BEGIN_DECLS

/** @name Readiness events (bits; values are part of the ABI) */
/**@{*/
#define RESDELIV_LOOP_READ 0x1u
#define RESDELIV_LOOP_WRITE 0x2u
/**@}*/

/** A watched descriptor is ready: `events` holds the RESDELIV_LOOP_* bits
 * that are ready. On a poll error the loop reports both bits, so the
 * library reads the error from the socket. */
typedef void (*resdeliv_loop_io_cb)(void *arg, uint32_t events);

/** A one-shot timer expired. */
typedef void (*resdeliv_loop_timer_cb)(void *arg);

/**
 * The host's event loop. Fill with designated initializers starting with
 * RESDELIV_STRUCT_HEAD(loop); members are only ever appended. The library
 * copies the struct; `loop` (the host's loop object) must outlive every
 * store made with it.
 *
 * Handles: the library keeps one `void *` per watcher and per timer,
 * NULL before first use. The host stores whatever it allocates there and
 * resets it to NULL when it releases it.
 */
struct resdeliv_loop {
    uint32_t struct_size;
    uint32_t abi_version;
    /** The host's loop, passed as the first argument of every hook
     * (a uv_loop_t *, a struct event_base *, an lws context ...). */
    void *loop;
    /**
     * Mandatory. Watch `fd` for `events` (RESDELIV_LOOP_* bits; 0 keeps the
     * watcher but waits for nothing). With `*watcher` NULL this creates the
     * watcher and stores it there; otherwise it replaces the event set of
     * the existing one (`fd`, `cb` and `arg` are then the same as at
     * creation). Setting the set it already has does nothing.
     * @return 0, or a negative RESDELIV_E* code (nothing changed).
     */
    int (*watch)(void *loop, int fd, uint32_t events, resdeliv_loop_io_cb cb,
                 void *arg, void **watcher);
    /** Mandatory. Stop watching and release the watcher; sets `*watcher`
     * to NULL. Does nothing when it is NULL. Never closes the descriptor,
     * which the library closes after this returns. */
    void (*unwatch)(void *loop, void **watcher);
    /**
     * Mandatory. Run `cb(arg)` once, `ms` milliseconds from now. With
     * `*timer` NULL this creates the timer and stores it there; otherwise
     * it re-arms the existing one, replacing a pending expiry (`cb` and
     * `arg` are then the same as at creation). `ms` 0 means on the next
     * loop iteration, never from inside this call.
     * @return 0, or a negative RESDELIV_E* code.
     */
    int (*timer_start)(void *loop, uint64_t ms, resdeliv_loop_timer_cb cb,
                       void *arg, void **timer);
    /** Mandatory. Cancel and release the timer; sets `*timer` to NULL.
     * Does nothing when it is NULL. */
    void (*timer_stop)(void *loop, void **timer);
};

RESDELIV_END_DECLS

#endif /* RESDELIV_LOOP_H */
