/* SPDX-License-Identifier: MIT */
/**
 * @file bus.h
 * Live fan-out across server nodes through Redis: several resdeliv-server
 * processes share one Redis; a message published on any node reaches the
 * subscribers of every node, and every node delivers one channel's messages
 * in log (id) order.
 *
 * The append and the notification are one atomic step on Redis: a store
 * made with `publish` set in its options appends each entry and PUBLISHes it
 * on the log's bus channel in the same script, so the order of
 * notifications is the order of ids. Each node runs one bus: a pub/sub
 * connection driven by the host's event loop that subscribes only to the
 * channels with local subscribers (the seam's on_channel hook) and hands
 * every entry to the seam (resdeliv_server_deliver_entry()). When the
 * connection drops, the bus reconnects, resubscribes and catches up each
 * channel from the last id it delivered (read from the log); what it cannot
 * recover (the log lost, another epoch) it announces as a gap.
 *
 * Bus channel of a log: the log's stream key followed by ":bus" (same
 * Redis Cluster hash tag). Message: `RD1 <epoch> <id> <flags> <event_len>\n`
 * then the event bytes, then the data bytes (stored data, untagged).
 * Presence announcements (presence.h) travel on the same channel as
 * `RDP1 <+|-> <node_id> <user_id_len>\n<user_id><user_info>`: they are not
 * entries, and a bus ignores every message that starts with `RDP1 `
 * without counting it as a bad message.
 *
 * Thread: the loop's thread, like the event-loop Redis store.
 */
#ifndef RESDELIV_BUS_H
#define RESDELIV_BUS_H

#include "common.h"
#include "id.h"
#include "loop.h"
#include "redis.h"
#include "replay.h"

RESDELIV_BEGIN_DECLS

typedef struct resdeliv_bus resdeliv_bus;

/** What a bus hands to its host. */
struct resdeliv_bus_callbacks {
    uint32_t struct_size;
    uint32_t abi_version;
    void *arg;
    /** Mandatory. One logged entry of `channel`, in id order per channel;
     * pointers live until it returns. */
    void (*entry)(void *arg, const char *channel, size_t channel_len,
                  const struct resdeliv_position *pos, uint32_t flags,
                  const char *event, size_t event_len, const char *data,
                  size_t data_len);
    /** Mandatory. History of `channel` could not be caught up after an
     * interruption (log lost, epoch changed, store unreachable). */
    void (*gap)(void *arg, const char *channel, size_t channel_len,
                const struct resdeliv_replay_status *status);
};

/**
 * A bus for `app_id` on the Redis server of `opts->url` (the same URL and
 * key prefix as the store), driven by `loop`. `store` (borrowed, outlives
 * the bus) is the node's event-loop Redis store, used to catch up after an
 * interruption. Never blocks: connects in the background.
 * @return 0, RESDELIV_EINVAL, RESDELIV_EBADURL, RESDELIV_ENOTSUP (built
 * without Redis), RESDELIV_ENOMEM.
 */
RESDELIV_API int resdeliv_bus_redis_new(
    const struct resdeliv_redis_options *opts,
    const struct resdeliv_loop *loop, const char *app_id,
    resdeliv_store *store, const struct resdeliv_bus_callbacks *cb,
    resdeliv_bus **out, char *err, size_t errsize);

/** Free a bus (unsubscribes, closes its connection). Accepts NULL. */
RESDELIV_API void resdeliv_bus_free(resdeliv_bus *bus);

/** Listen to `channel`: entries appended after the subscription is
 * confirmed by Redis are delivered; the bus also reads the log's position
 * then, as the place to catch up from after an interruption. Reference
 * counted: each call needs one resdeliv_bus_unsubscribe(). */
RESDELIV_API int resdeliv_bus_subscribe(resdeliv_bus *bus, const char *channel,
                                        size_t channel_len);

/** Stop listening to `channel` when the last reference goes. */
RESDELIV_API int resdeliv_bus_unsubscribe(resdeliv_bus *bus,
                                          const char *channel,
                                          size_t channel_len);

/** Bus counters. */
struct resdeliv_bus_stats {
    uint64_t channels;       /**< channels listened to now */
    uint64_t entries;        /**< entries handed to the host */
    uint64_t caught_up;      /**< entries recovered from the log */
    uint64_t gaps;           /**< gaps announced */
    uint64_t reconnects;     /**< connections re-established */
    uint64_t duplicates;     /**< entries at or below a channel's last id */
    uint64_t bad_messages;   /**< bus messages that did not parse, ignored */
};

/** Copy the counters (size = sizeof(*out)). */
RESDELIV_API int resdeliv_bus_stats(const resdeliv_bus *bus,
                                    struct resdeliv_bus_stats *out,
                                    size_t size);

RESDELIV_END_DECLS

#endif /* RESDELIV_BUS_H */
