/* SPDX-License-Identifier: MIT */
/**
 * @file redis.h
 * The Redis Streams store (blocking client).
 *
 * One stream per (app id, channel) plus a companion epoch key, both under
 * one Redis Cluster hash tag: `delivery:{app-id:orders}` and
 * `delivery:{app-id:orders}:epoch` (names with '%', '{', '}' or, in the app
 * id, ':' are percent-escaped so keys of different logs never collide).
 * Appends run a server-side script that creates the epoch with the first
 * entry, starts a new epoch when the epoch key was lost, trims with
 * `MAXLEN ~` (and `MINID ~` when an age is set) and expires idle logs.
 *
 * Store URLs: `redis://[user:password@]host[:port][/db]` (IPv6 as `[::1]`,
 * user and password percent-decoded, port 1..65535, default 6379, db
 * 0..1000000, default 0) and `unix:///path/to/sock[?db=N&password=P&user=U]`.
 *
 * This store has RESDELIV_STORE_SYNC but not RESDELIV_STORE_THREADSAFE: it
 * owns one connection, so threads each open their own store. After an I/O
 * error it reconnects on the next call, waiting at most the connect timeout
 * between attempts. Store errors are RESDELIV_ESTORE with the Redis text in
 * resdeliv_store_errmsg().
 *
 * resdeliv_store_info(): Redis records `max-deleted-entry-id` for XDEL only,
 * never for trimming, so has_max_deleted is 1 only while nothing was ever
 * removed from the log (Redis >= 7.0); after trimming it is 0 and gaps are
 * judged from `first`, `length` and `entries_added`. count_after is exact
 * (counted on the server when capped).
 *
 * A library built without hiredis still has these functions:
 * resdeliv_store_redis_new() then answers RESDELIV_ENOTSUP.
 */
#ifndef RESDELIV_REDIS_H
#define RESDELIV_REDIS_H

#include "common.h"
#include "loop.h"
#include "store.h"

RESDELIV_BEGIN_DECLS

/** Default timeouts in milliseconds. */
#define RESDELIV_REDIS_CONNECT_TIMEOUT_MS 2000u
#define RESDELIV_REDIS_COMMAND_TIMEOUT_MS 5000u

/** Redis store options. Zero members take their defaults. */
struct resdeliv_redis_options {
    uint32_t struct_size;
    uint32_t abi_version;
    const char *url;              /**< store URL (mandatory) */
    const char *key_prefix;       /**< NULL: "delivery" */
    uint64_t connect_timeout_ms;  /**< 0: RESDELIV_REDIS_CONNECT_TIMEOUT_MS */
    uint64_t command_timeout_ms;  /**< 0: RESDELIV_REDIS_COMMAND_TIMEOUT_MS */
    /** 1: every append also PUBLISHes the entry on its log's bus channel
     * in the same atomic step, for the nodes' buses (bus.h). Default 0. */
    uint32_t publish;
    uint32_t reserved;
};

/** Fill `opts` with defaults (url NULL), including the struct head.
 * Thread: safe. */
RESDELIV_API void resdeliv_redis_options_init(
    struct resdeliv_redis_options *opts);

/**
 * Make a Redis store. The URL is checked first (RESDELIV_EBADURL, the
 * message in `err` names the part: scheme, host, port, db, user, password,
 * path, query). Then it connects: a server that refuses the credentials or
 * the database fails here (RESDELIV_EAUTH or RESDELIV_ESTORE with the
 * server's message); an unreachable server does not fail the call, the
 * store connects on first use. Options from another ABI major give
 * RESDELIV_EABI. Entry flags (RESDELIV_ENTRY_*) are kept and read back,
 * as with the memory store.
 * @return 0, RESDELIV_EINVAL, RESDELIV_EBADURL, RESDELIV_EAUTH,
 * RESDELIV_ESTORE, RESDELIV_ENOMEM, or RESDELIV_ENOTSUP without Redis.
 * Ownership: options copied; free with resdeliv_store_free(). Thread: safe.
 */
RESDELIV_API int resdeliv_store_redis_new(
    const struct resdeliv_redis_options *opts, resdeliv_store **out,
    char *err, size_t errsize);

/**
 * Make a Redis store driven by the host's event loop (no
 * RESDELIV_STORE_SYNC): the same keys, script and semantics as
 * resdeliv_store_redis_new(), but no call waits. The URL and options are
 * checked here (same errors as resdeliv_store_redis_new(), and
 * RESDELIV_EINVAL / RESDELIV_EABI for bad `loop` hooks, the message names
 * the hook); connecting, AUTH, SELECT and the server version check then
 * run on the loop, so a refused password shows later as RESDELIV_ESTORE
 * with the server's text in resdeliv_store_errmsg().
 *
 * Operations issued while the connection is being set up wait for it;
 * while disconnected they fail at once with RESDELIV_ESTORE. When Redis
 * goes away every operation in flight completes once with RESDELIV_ESTORE
 * and the store reconnects on loop timers with exponential backoff and
 * jitter (50 ms doubling up to 5 s). The connect timeout bounds the whole
 * connection setup; the command timeout drops a connection that answers
 * nothing for that long while commands are outstanding. A host name is
 * resolved at each connect (getaddrinfo): give an address or a Unix socket
 * where name resolution could stall the loop. Freeing the store completes
 * every operation still in flight with RESDELIV_ECLOSED, before
 * resdeliv_store_free() returns.
 *
 * Use it with resdeliv_log_publish_async(), resdeliv_replay_open_async()
 * and resdeliv_replay_fetch_async(). Adapters for libuv and libevent:
 * `<resdeliv/adapters/libuv.h>`, `<resdeliv/adapters/libevent.h>`.
 * @return 0, RESDELIV_EINVAL, RESDELIV_EABI, RESDELIV_EBADURL,
 * RESDELIV_ENOMEM, or RESDELIV_ENOTSUP without Redis.
 * Ownership: options and hooks copied (`loop->loop` must outlive the
 * store); free with resdeliv_store_free(). Thread: the store and its
 * callbacks belong to the loop's thread.
 */
RESDELIV_API int resdeliv_store_redis_async_new(
    const struct resdeliv_redis_options *opts,
    const struct resdeliv_loop *loop, resdeliv_store **out, char *err,
    size_t errsize);

RESDELIV_END_DECLS

#endif /* RESDELIV_REDIS_H */
