/* SPDX-License-Identifier: MIT */
/**
 * @file server.h
 * The subscription seam: what a WebSocket server calls so that a client
 * resuming with `last_event_id` gets what it missed, in order, then live
 * delivery, with no duplicate and no hole in between.
 *
 * For a subscription that carries an id, the seam opens a replay cursor and
 * sends, in this order on the wire: `pusher_internal:subscription_succeeded`
 * (its data carries the log's current position and epoch), a `resdeliv:gap`
 * notice when history is not continuous (and gap_notice is on), the replayed
 * messages in id order one page per writable callback, the live messages
 * that arrived meanwhile (held in a bounded queue, only those with ids above
 * the last replayed one), and then calls the transport's join() so that the
 * host's own broadcast reaches the connection from then on. A subscription
 * without an id gets subscription_succeeded (with the position) and is joined
 * at once. A hold queue that overflows closes the connection with Pusher
 * error 4100 and a message; nothing is dropped silently.
 *
 * The seam works with any store: it uses the asynchronous log and replay
 * calls, which complete at once on the memory store and from the host's
 * event loop on an event-loop-driven store.
 *
 * Thread: a server and its connections are used by one thread (the host's
 * event loop thread); hosts with a thread per connection serialize calls
 * into one server or give each thread its own server over a shared store.
 */
#ifndef RESDELIV_SERVER_H
#define RESDELIV_SERVER_H

#include "common.h"
#include "log.h"
#include "replay.h"
#include "transport.h"

RESDELIV_BEGIN_DECLS

typedef struct resdeliv_server resdeliv_server;

/** Server limits; fill with resdeliv_server_options_init(). */
struct resdeliv_server_options {
    uint32_t struct_size;
    uint32_t abi_version;
    /** Live messages held per replaying subscription (default 1000). */
    uint64_t max_held;
    /** Ids remembered per subscription at the seam (default 1024). */
    uint64_t dedup_window;
    /** Subscriptions per connection (default 100); one more is refused
     * with RESDELIV_EOVERFLOW and a pusher:error frame. The frame carries
     * Pusher code 4100 (over capacity) and a message naming the channel;
     * the connection stays open and its other subscriptions go on. */
    uint64_t max_subscriptions;
    /** Replays running at once in this server (default 256); further
     * replaying subscriptions wait their turn, holding live messages. */
    uint64_t max_replaying;
    /** 1: live delivery comes from a bus (bus.h): publish() only appends to
     * the log, and every node, this one included, delivers what the bus
     * hands to resdeliv_server_deliver_entry(), in log order (default 0). */
    uint32_t live_from_bus;
    uint32_t reserved;
    /** Optional. Called when `channel` gets its first subscription on this
     * server (active 1) and when its last one goes (active 0), so a bus
     * listens only to channels with local subscribers. */
    void (*on_channel)(void *arg, const char *channel, size_t channel_len,
                       uint32_t active);
    void *on_channel_arg;
};

/** Defaults, including the struct head. */
RESDELIV_API void resdeliv_server_options_init(
    struct resdeliv_server_options *opts);

/**
 * A seam over `log` (borrowed, outlives the server) delivering through
 * `transport` (copied with the struct_size rules; send, broadcast,
 * request_writable, close and join are mandatory).
 * @return 0, RESDELIV_EINVAL, RESDELIV_EABI, RESDELIV_ENOMEM.
 */
RESDELIV_API int resdeliv_server_new(
    resdeliv_log *log, const struct resdeliv_transport *transport,
    const struct resdeliv_server_options *opts, resdeliv_server **out);

/** Free a server and all its connection state. Accepts NULL. Operations
 * in flight complete without touching the freed server. */
RESDELIV_API void resdeliv_server_free(resdeliv_server *srv);

/** A connection opened. @return 0, RESDELIV_EINVAL (NULL or known conn),
 * RESDELIV_ENOMEM. */
RESDELIV_API int resdeliv_server_conn_open(resdeliv_server *srv, void *conn);

/** A connection closed: every subscription, cursor and held message of it
 * is released now. Unknown connections are ignored. */
RESDELIV_API void resdeliv_server_conn_close(resdeliv_server *srv,
                                             void *conn);

/**
 * A subscription that passed authorization. Call only after the host has
 * checked auth: the seam replays whatever the log holds for `channel`.
 * `last_event_id` / `last_event_epoch` are as the client sent them (NULL or
 * "" for none). `data` is the inner JSON object of subscription_succeeded
 * (NULL for `{}`; a presence server passes its presence hash object).
 * A store that cannot be reached does not fail the call: the client gets
 * subscription_succeeded and a gap notice with reason store_unavailable.
 * @return 0 (frames follow through the transport), RESDELIV_EINVAL,
 * RESDELIV_ENOENT (unknown conn), RESDELIV_EOVERFLOW (too many
 * subscriptions), RESDELIV_ENOMEM. A second subscribe to a channel the
 * connection already has is RESDELIV_EINVAL and sends nothing.
 */
RESDELIV_API int resdeliv_server_subscribe(resdeliv_server *srv, void *conn,
                                           const char *channel,
                                           const char *last_event_id,
                                           const char *last_event_epoch,
                                           const char *data, size_t data_len);

/** The client left `channel`: a replay in progress stops and its held
 * messages are dropped. @return 0 or RESDELIV_ENOENT. */
RESDELIV_API int resdeliv_server_unsubscribe(resdeliv_server *srv,
                                             void *conn,
                                             const char *channel);

/** The host's writable callback for `conn` (after request_writable): the
 * seam sends the next replay page, or finishes the replay. */
RESDELIV_API int resdeliv_server_writable(resdeliv_server *srv, void *conn);

/**
 * Publish `n` messages: append them to their logs, then deliver each tagged
 * frame live: broadcast() to the joined subscribers (except `except`, may
 * be NULL) and into the hold queue of every subscription of that channel
 * still replaying. `cb` (may be NULL) gets the publish results.
 * Events starting with "client-" are refused (RESDELIV_EWHISPER in their
 * result); hosts relay client events themselves.
 */
RESDELIV_API int resdeliv_server_publish(resdeliv_server *srv,
                                         const struct resdeliv_message *msgs,
                                         size_t n, void *except,
                                         resdeliv_publish_cb cb, void *arg);

/**
 * Deliver one message that is already in the log (appended elsewhere, for
 * example by another server node) as publish() would deliver it live.
 * `payload` is the tagged data; `id` its id (zero when untagged).
 */
RESDELIV_API int resdeliv_server_deliver(resdeliv_server *srv,
                                         const char *channel,
                                         const struct resdeliv_id *id,
                                         const char *event,
                                         const char *payload,
                                         size_t payload_len, void *except);

/**
 * Deliver one logged entry as it came from a bus: `data` is the data as
 * stored (untagged); the seam tags it with `pos` (id and epoch) using the
 * log's field names (the RESDELIV_ENTRY_OBJECT `flags` bit lets it splice
 * without a scan), then delivers it like resdeliv_server_deliver().
 */
RESDELIV_API int resdeliv_server_deliver_entry(
    resdeliv_server *srv, const char *channel, size_t channel_len,
    const struct resdeliv_position *pos, uint32_t flags, const char *event,
    size_t event_len, const char *data, size_t data_len);

/**
 * Tell every subscriber of `channel` on this server (live and replaying)
 * that history is not continuous: a `resdeliv:gap` notice built from
 * `status` (a bus that lost its connection and could not catch up).
 */
RESDELIV_API int resdeliv_server_announce_gap(
    resdeliv_server *srv, const char *channel,
    const struct resdeliv_replay_status *status);

/** Seam counters. */
struct resdeliv_server_stats {
    uint64_t connections;       /**< open now */
    uint64_t subscriptions;     /**< open now */
    uint64_t replaying;         /**< replays running now */
    uint64_t waiting;           /**< replays waiting for a slot */
    uint64_t held;              /**< live messages held now */
    uint64_t replayed;          /**< replayed frames sent, total */
    uint64_t flushed;           /**< held frames sent after replays */
    uint64_t seam_duplicates;   /**< held frames dropped as already replayed */
    uint64_t overflows;         /**< connections closed on a full queue */
    uint64_t gap_notices;       /**< gap notices sent */
};

/** Copy the counters (size = sizeof(*out), older callers pass less). */
RESDELIV_API int resdeliv_server_stats(const resdeliv_server *srv,
                                       struct resdeliv_server_stats *out,
                                       size_t size);

RESDELIV_END_DECLS

#endif /* RESDELIV_SERVER_H */
