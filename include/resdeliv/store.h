/* SPDX-License-Identifier: MIT */
/**
 * @file store.h
 * The log store vtable and the built-in embedded memory store.
 *
 * A store keeps one append-only log per (app id, channel). Every operation
 * completes through a callback: if the call returns an error the callback
 * is never called; if it returns 0 the callback is called exactly once,
 * possibly before the call returns (stores that set RESDELIV_STORE_SYNC
 * always complete before returning). Pointers handed to a callback live
 * until it returns.
 *
 * Implementers fill a `struct resdeliv_store_ops` with designated
 * initializers starting with RESDELIV_STRUCT_HEAD(ops) and wrap it with
 * resdeliv_store_new(). Members are only ever appended.
 */
#ifndef RESDELIV_STORE_H
#define RESDELIV_STORE_H

#include "common.h"
#include "id.h"

RESDELIV_BEGIN_DECLS

/** A store instance (opaque). May be shared by several threads when its
 * implementation says so (the memory store does). */
typedef struct resdeliv_store resdeliv_store;

/** Which log: bytes, not necessarily NUL-terminated. */
struct resdeliv_log_key {
    const char *app_id;
    size_t app_id_len;
    const char *channel;
    size_t channel_len;
};

/** Retention to apply on append. 0 means unbounded for either member. */
struct resdeliv_retention {
    uint64_t max_messages;
    uint64_t max_age_ms;
};

/** @name Entry flags
 * Set by the publisher on an append item; a store that keeps them returns
 * them on the stored entry, a store that does not returns 0 (always safe:
 * a reader then does the full work). */
/**@{*/
/** The data is one JSON object (checked by the publisher) with no
 * top-level member named like the publisher's tag fields: a reader may tag
 * it by inserting before its last '}'. Log handles that share a log should
 * therefore use the same replay_id_field and replay_epoch_field. */
#define RESDELIV_ENTRY_OBJECT 0x1u
/**@}*/

/** One entry to append. */
struct resdeliv_append_item {
    const char *channel;
    size_t channel_len;
    const char *event;
    size_t event_len;
    const char *data;
    size_t data_len;
    struct resdeliv_retention retention;
    uint32_t flags;    /**< RESDELIV_ENTRY_*; a store may ignore them */
    uint32_t reserved; /**< 0 */
};

/** Outcome of one appended item. */
struct resdeliv_append_result {
    int status;                           /**< 0 or a negative error */
    uint32_t reserved;
    struct resdeliv_id id;                /**< id the store assigned */
    char epoch[RESDELIV_EPOCH_BUFSIZE];   /**< epoch of the log */
};

/** One stored entry, as read back (data untagged, as appended). */
struct resdeliv_stored_entry {
    struct resdeliv_id id;
    const char *event;
    size_t event_len;
    const char *data;
    size_t data_len;
    /** The item's RESDELIV_ENTRY_* flags when the store keeps them, else
     * 0. */
    uint32_t flags;
    uint32_t reserved; /**< 0 */
};

/** What a store knows of one log. */
struct resdeliv_log_info {
    uint32_t exists;           /**< 0: no such log (other members zero) */
    uint32_t has_max_deleted;  /**< max_deleted is known */
    uint64_t length;           /**< entries retained */
    struct resdeliv_id first;  /**< oldest retained id (zero when empty) */
    struct resdeliv_id last;   /**< newest id ever assigned in this epoch */
    struct resdeliv_id max_deleted; /**< newest id removed by trimming */
    uint64_t entries_added;    /**< entries ever appended in this epoch */
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    /** With an `after` id in the request: entries retained after it, or -1
     * when the store cannot count them. */
    int64_t count_after;
    /** With a `cap` in the request and more than `cap` entries after
     * `after`: 1, and `skip_to` is the id after which exactly the newest
     * `cap` entries remain. */
    uint32_t capped;
    uint32_t reserved;
    struct resdeliv_id skip_to;
};

/** Completion of append: `results` has one element per item. `status` is
 * the batch outcome; an item can fail while the batch succeeds. */
typedef void (*resdeliv_append_cb)(void *arg, int status,
                                   const struct resdeliv_append_result *results,
                                   size_t n);
/** Completion of read: up to `max` entries with ids strictly after the
 * requested one, ascending, and the epoch of the log read. The memory store
 * hands out its own entries and runs this callback with the log locked, so
 * the callback must not call into the same store. */
typedef void (*resdeliv_read_cb)(void *arg, int status,
                                 const struct resdeliv_stored_entry *entries,
                                 size_t n, const char *epoch);
/** Completion of info. */
typedef void (*resdeliv_info_cb)(void *arg, int status,
                                 const struct resdeliv_log_info *info);
/** Completion of drop. */
typedef void (*resdeliv_done_cb)(void *arg, int status);

/** Store flags. */
#define RESDELIV_STORE_SYNC 0x1u        /**< completes before returning */
#define RESDELIV_STORE_THREADSAFE 0x2u  /**< callable from many threads */

/** The store vtable. `self` is the implementation's instance. */
struct resdeliv_store_ops {
    uint32_t struct_size;
    uint32_t abi_version;
    uint32_t flags;            /**< RESDELIV_STORE_* */
    uint32_t reserved;
    const char *name;          /**< "memory", "redis", ... */
    /** Mandatory. Append `n` items to the logs of `app_id`, each creating
     * its log (and epoch) if needed and applying its retention. */
    int (*append)(void *self, const char *app_id, size_t app_id_len,
                  const struct resdeliv_append_item *items, size_t n,
                  resdeliv_append_cb cb, void *arg);
    /** Mandatory. Read up to `max` entries after `after`. A missing log
     * reads as zero entries with an empty epoch. */
    int (*read)(void *self, const struct resdeliv_log_key *key,
                const struct resdeliv_id *after, size_t max,
                resdeliv_read_cb cb, void *arg);
    /** Mandatory. Describe a log; `after` (may be NULL) and `cap` (0 = no
     * cap) fill count_after / capped / skip_to. */
    int (*info)(void *self, const struct resdeliv_log_key *key,
                const struct resdeliv_id *after, uint64_t cap,
                resdeliv_info_cb cb, void *arg);
    /** Optional. Delete a log and its epoch. */
    int (*drop)(void *self, const struct resdeliv_log_key *key,
                resdeliv_done_cb cb, void *arg);
    /** Optional. Called once by resdeliv_store_free(). */
    void (*destroy)(void *self);
    /** Optional. Last error detail text, or NULL. */
    const char *(*errmsg)(void *self);
};

/**
 * Wrap an implementation. Rejects another ABI major (RESDELIV_EABI) and a
 * missing mandatory member (RESDELIV_EINVAL); copies min(struct_size,
 * sizeof) of `ops` into a zeroed private copy, so older implementations
 * keep working.
 * Ownership: `self` is owned by the store from success on (destroy is
 * called by resdeliv_store_free()). Thread: safe.
 */
RESDELIV_API int resdeliv_store_new(const struct resdeliv_store_ops *ops,
                                    void *self, resdeliv_store **out);

/** Destroy a store. Accepts NULL. Every log opened on it must be closed
 * first. */
RESDELIV_API void resdeliv_store_free(resdeliv_store *store);

/** The store's name ("memory"). Ownership: the store's. */
RESDELIV_API const char *resdeliv_store_name(const resdeliv_store *store);

/** The store's flags (RESDELIV_STORE_*). */
RESDELIV_API uint32_t resdeliv_store_flags(const resdeliv_store *store);

/** Last error detail of the store, or "" when it keeps none.
 * Ownership: the store's, valid until its next call. */
RESDELIV_API const char *resdeliv_store_errmsg(const resdeliv_store *store);

/** @name Raw store calls
 * Thin checked wrappers over the vtable; a missing optional member answers
 * RESDELIV_ENOTSUP without calling the callback. */
/**@{*/
RESDELIV_API int resdeliv_store_append(resdeliv_store *store,
                                       const char *app_id, size_t app_id_len,
                                       const struct resdeliv_append_item *items,
                                       size_t n, resdeliv_append_cb cb,
                                       void *arg);
RESDELIV_API int resdeliv_store_read(resdeliv_store *store,
                                     const struct resdeliv_log_key *key,
                                     const struct resdeliv_id *after,
                                     size_t max, resdeliv_read_cb cb,
                                     void *arg);
RESDELIV_API int resdeliv_store_info(resdeliv_store *store,
                                     const struct resdeliv_log_key *key,
                                     const struct resdeliv_id *after,
                                     uint64_t cap, resdeliv_info_cb cb,
                                     void *arg);
RESDELIV_API int resdeliv_store_drop(resdeliv_store *store,
                                     const struct resdeliv_log_key *key,
                                     resdeliv_done_cb cb, void *arg);
/**@}*/

/** A clock for the memory store: milliseconds since the Unix epoch. It is
 * called with no store lock held, from every thread that uses the store. */
struct resdeliv_clock {
    uint64_t (*now_ms)(void *arg);
    void *arg;
};

/** Memory store options; pass NULL for defaults. */
struct resdeliv_memory_options {
    uint32_t struct_size;
    uint32_t abi_version;
    /** Clock used for ids and age retention; NULL members = real time. */
    struct resdeliv_clock clock;
    /** Most logs kept at once; 0 = unbounded. An append that would create
     * one more fails with RESDELIV_EOVERFLOW. */
    uint64_t max_logs;
};

/**
 * The embedded memory store: one ring per (app id, channel), exact count
 * retention, O(1) append, O(log n) seek, ids made as Redis makes them
 * (`ms-seq`, monotonic even when the clock steps back), epochs random per
 * created log. Idle logs whose entries all aged out are removed. Entry
 * flags (RESDELIV_ENTRY_*) are kept and read back.
 * Flags: RESDELIV_STORE_SYNC | RESDELIV_STORE_THREADSAFE.
 * Ownership: free with resdeliv_store_free(). Thread: safe.
 */
RESDELIV_API int resdeliv_store_memory_new(
    const struct resdeliv_memory_options *opts, resdeliv_store **out);

/**
 * Remove aged entries and idle logs of a memory store now (the store also
 * does this lazily on access). @return logs removed, or RESDELIV_EINVAL when
 * `store` is not a memory store. Thread: safe.
 */
RESDELIV_API int resdeliv_store_memory_expire(resdeliv_store *store);

RESDELIV_END_DECLS

#endif /* RESDELIV_STORE_H */
