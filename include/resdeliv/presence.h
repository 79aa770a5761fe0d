/* SPDX-License-Identifier: MIT */
/**
 * @file presence.h
 * Presence members across server nodes: several resdeliv-server processes
 * share one Redis, and the members of one Pusher presence channel may sit
 * on different nodes. A presence registry keeps, per presence channel, a
 * Redis hash of (node, user) -> user_info next to the channel's log,
 * announces changes to the other nodes on the log's bus channel, and keeps
 * each node's merged view (user -> nodes), so that subscription_succeeded,
 * member_added and member_removed count a user once whatever the number of
 * nodes and connections they have.
 *
 * Every node refreshes a heartbeat key with a time to live; a node whose
 * key expired is taken as dead: the other nodes remove its members (and
 * announce it) within the time to live plus one refresh period.
 *
 * Thread: the loop's thread, like the event-loop Redis store.
 */
#ifndef RESDELIV_PRESENCE_H
#define RESDELIV_PRESENCE_H

#include "common.h"
#include "loop.h"
#include "pusher_server.h"
#include "redis.h"

RESDELIV_BEGIN_DECLS

typedef struct resdeliv_presence resdeliv_presence;

/** Default heartbeat time to live (ms); the refresh period is a third. */
#define RESDELIV_PRESENCE_DEFAULT_TTL_MS 10000u

/**
 * A presence registry for `app_id` on the Redis server of `opts->url` (the
 * store's URL and key prefix), driven by `loop`, for the node `node_id`
 * (1 to 64 bytes of letters, digits, '.', '_', '-'; unique among the
 * nodes). `ttl_ms` is the heartbeat time to live (0: the default, at
 * least 300). Never blocks: connects in the background.
 * @return 0, RESDELIV_EINVAL (message in `err`), RESDELIV_EBADURL,
 * RESDELIV_ENOTSUP (built without Redis), RESDELIV_ENOMEM.
 * Ownership: strings and options copied; free with resdeliv_presence_free().
 * Thread: the loop's thread.
 */
RESDELIV_API int resdeliv_presence_redis_new(
    const struct resdeliv_redis_options *opts, const struct resdeliv_loop *loop,
    const char *app_id, const char *node_id, uint64_t ttl_ms,
    resdeliv_presence **out, char *err, size_t errsize);

/** Free a registry: its connections close, its members' fields stay in
 * Redis until the other nodes see the heartbeat expire (as after a crash).
 * Detach it from its Pusher server first. Accepts NULL.
 * Thread: the loop's thread. */
RESDELIV_API void resdeliv_presence_free(resdeliv_presence *pr);

/**
 * Make `ps` keep its presence members in `pr` (borrowed; NULL detaches).
 * Attach before the first connection opens; a registry serves one server.
 * Detach (or free the registry) before freeing `ps`.
 * @return 0, RESDELIV_EINVAL (ps NULL, attaching with connections open,
 * or pr serving another server), RESDELIV_ENOTSUP (built without Redis).
 * Ownership: borrowed. Thread: the loop's thread.
 */
RESDELIV_API int resdeliv_pusher_server_set_presence(resdeliv_pusher_server *ps,
                                                     resdeliv_presence *pr);

RESDELIV_END_DECLS

#endif /* RESDELIV_PRESENCE_H */
