/* SPDX-License-Identifier: MIT */
/**
 * @file log.h
 * The log handle: a configuration, a store and an app id bound together.
 * Publishing appends a broadcast to its channel's log and returns the id and
 * the payload tagged with it; counters say what happened.
 *
 * Thread: a log handle is used by one thread at a time; the store under it
 * may be shared by handles on other threads when the store is thread-safe
 * (the memory store is).
 */
#ifndef RESDELIV_LOG_H
#define RESDELIV_LOG_H

#include "common.h"
#include "config.h"
#include "id.h"
#include "store.h"

RESDELIV_BEGIN_DECLS

typedef struct resdeliv_log resdeliv_log;

/** Longest app id and channel name accepted, in bytes. */
#define RESDELIV_MAX_APP_ID_LEN 256
#define RESDELIV_MAX_CHANNEL_LEN 200

/**
 * Open a log handle for `app_id`. `cfg` (NULL = defaults) is validated and
 * copied. `store` is borrowed and must outlive the handle; when NULL the
 * handle makes its own store from `cfg->connection` and frees it on close.
 * On error a message naming the cause is written to `err` (may be NULL).
 * @return 0, RESDELIV_EBADCONFIG, RESDELIV_EINVAL, RESDELIV_ENOTSUP (a
 * store kind this build lacks), RESDELIV_ENOMEM, or a store error.
 * Thread: safe.
 */
RESDELIV_API int resdeliv_log_open(const struct resdeliv_config *cfg,
                                   resdeliv_store *store, const char *app_id,
                                   resdeliv_log **out, char *err,
                                   size_t errsize);

/** Close a handle (and its own store, if it made one). Accepts NULL. */
RESDELIV_API void resdeliv_log_close(resdeliv_log *log);

/** The store in use. Ownership: the handle's or the caller's, as opened. */
RESDELIV_API resdeliv_store *resdeliv_log_store(const resdeliv_log *log);

/** The validated configuration in use. Ownership: the handle's. */
RESDELIV_API const struct resdeliv_config *
resdeliv_log_config(const resdeliv_log *log);

/** Detail text of the last error on this handle ("" if none).
 * Ownership: the handle's, valid until its next call. */
RESDELIV_API const char *resdeliv_log_errmsg(const resdeliv_log *log);

/** One broadcast to publish. Bytes, not necessarily NUL-terminated. */
struct resdeliv_message {
    const char *channel;
    size_t channel_len;
    const char *event;
    size_t event_len;
    const char *data;
    size_t data_len;
};

/** Outcome of one publish. */
struct resdeliv_publish_result {
    int status;          /**< 0 or a negative error for this message */
    uint32_t logged;     /**< 1: appended to the log, id/epoch valid */
    uint32_t tagged;     /**< 1: payload carries the id and epoch */
    uint32_t reserved;
    struct resdeliv_position position; /**< id and epoch assigned */
    char *payload;       /**< data to deliver, NUL-terminated */
    size_t payload_len;
};

/** Free what a result owns and zero it. Accepts NULL. */
RESDELIV_API void resdeliv_publish_result_clear(
    struct resdeliv_publish_result *res);

/** Event names starting with this prefix belong to the library: publishing
 * one is refused with RESDELIV_EINVAL. */
#define RESDELIV_RESERVED_EVENT_PREFIX "resdeliv:"

/** Event of the marker entry the log appends for messages that went out
 * untagged because the store failed. Its data is
 * `{"lost":N,"since":MS}`: N messages, the first of them at MS
 * (milliseconds since the Unix epoch, this host's clock). A replay cursor
 * never yields it: it reports a gap with reason unlogged. */
#define RESDELIV_UNLOGGED_EVENT "resdeliv:unlogged"

/** Most channels a log handle remembers as owed a marker at once. */
#define RESDELIV_MAX_UNLOGGED_CHANNELS 4096

/**
 * Append one broadcast and produce the payload to deliver. When the store
 * fails and on_log_failure is deliver_untagged, returns 0 with logged = 0
 * and the data untouched (counted); with fail, returns RESDELIV_ESTORE.
 * Data that is not a JSON object is logged and delivered untagged
 * (counted). Events starting with "client-" are refused with
 * RESDELIV_EWHISPER, events starting with "resdeliv:" (reserved) with
 * RESDELIV_EINVAL.
 *
 * Untagged messages are in no log, so a client that was away cannot replay
 * them; the log says so instead. The handle counts them per channel, and
 * the channel's next successful append (single, batch or asynchronous)
 * carries, in the same store call and before the channel's first message,
 * a marker entry (RESDELIV_UNLOGGED_EVENT) that replay turns into a gap
 * notice with reason unlogged. The marker has no publish result: results
 * keep the caller's count and order. The handle remembers at most
 * RESDELIV_MAX_UNLOGGED_CHANNELS channels; while that many wait for their
 * marker, a store failure on any other channel is answered as
 * on_log_failure fail would (RESDELIV_ESTORE, not delivered), so that no
 * message is delivered untagged without a marker to come. The counts live
 * in the handle: closing it (or the process ending) before the store is
 * back loses them, and the loss is then not announced.
 * Needs a store with RESDELIV_STORE_SYNC, else RESDELIV_ENOTSUP (use
 * resdeliv_log_publish_async()).
 * Ownership: inputs borrowed; `*res` owns its payload (clear it).
 */
RESDELIV_API int resdeliv_log_publish(resdeliv_log *log,
                                      const struct resdeliv_message *msg,
                                      struct resdeliv_publish_result *res);

/**
 * Publish `n` messages in one store round trip. `results` has `n`
 * elements; each carries its own status. @return 0 when the batch was
 * processed (check each result), or an error for the whole call.
 */
RESDELIV_API int resdeliv_log_publish_batch(resdeliv_log *log,
                                            const struct resdeliv_message *msgs,
                                            size_t n,
                                            struct resdeliv_publish_result *results);

/** Completion of an asynchronous publish: `results` has `n` elements and
 * lives until the callback returns; a callback may take a payload by
 * setting its pointer to NULL, and then frees it with resdeliv_free(). */
typedef void (*resdeliv_publish_cb)(void *arg, int status,
                                    struct resdeliv_publish_result *results,
                                    size_t n);

/** Publish without waiting, for stores driven by an event loop. Same rules
 * as resdeliv_log_publish_batch(); the callback follows the library rule
 * (never on error return, exactly once otherwise). */
RESDELIV_API int resdeliv_log_publish_async(resdeliv_log *log,
                                            const struct resdeliv_message *msgs,
                                            size_t n, resdeliv_publish_cb cb,
                                            void *arg);

/** Library counters of one log handle. */
struct resdeliv_counters {
    uint64_t published;     /**< messages accepted by publish */
    uint64_t tagged;        /**< delivered with an id */
    uint64_t untagged;      /**< delivered without an id (any reason) */
    uint64_t not_object;    /**< untagged because data is not an object */
    uint64_t log_failures;  /**< store failed during publish */
    uint64_t replayed;      /**< entries handed out by replay cursors */
    uint64_t gaps;          /**< replays that reported a gap */
    uint64_t dedup_drops;   /**< duplicates dropped at the seam */
    uint64_t whispers_refused; /**< client-* events refused */
};

/**
 * Copy the counters into `out`, of `size` bytes (pass sizeof(*out)): an
 * older caller's smaller struct gets the members it knows.
 * @return 0 or RESDELIV_EINVAL.
 */
RESDELIV_API int resdeliv_log_counters(const resdeliv_log *log,
                                       struct resdeliv_counters *out,
                                       size_t size);

/** Add to the dedup_drops counter (used by server seams). */
RESDELIV_API void resdeliv_log_count_dedup_drops(resdeliv_log *log,
                                                 uint64_t n);

/**
 * Current position of a channel's log (newest id and epoch), for a
 * subscriber that sent no id. A missing log gives id 0-0 and an empty
 * epoch. Needs a RESDELIV_STORE_SYNC store.
 */
RESDELIV_API int resdeliv_log_position(resdeliv_log *log, const char *channel,
                                       struct resdeliv_position *out);

/** Delete a channel's log and its epoch (tools and tests). */
RESDELIV_API int resdeliv_log_drop(resdeliv_log *log, const char *channel);

RESDELIV_END_DECLS

#endif /* RESDELIV_LOG_H */
