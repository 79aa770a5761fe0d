/* SPDX-License-Identifier: MIT */
/*
 * The log handle's layout, shared by the publish side (log.c, log_info.c,
 * log_unlogged.c) and the replay cursor (replay.c, replay_page.c), which
 * all need the configuration, the store, the counters and the per-handle
 * error message; and the cursor's layout, shared by its two files.
 * Nothing here is exported.
 */
#ifndef RESDELIV_LOG_INTERNAL_H
#define RESDELIV_LOG_INTERNAL_H

#include "internal.h"

#include <string.h>

#define LOG_ERRMSG_SIZE 256

/* A channel whose messages went out untagged because the store failed.
 * `total` such messages so far, `marked` of them announced by a marker
 * entry already in the log; the entry goes when both are equal. */
struct resdeliv__unlogged {
    uint64_t total;
    uint64_t marked;
    uint64_t since; /* ms of the first failure not yet marked */
    uint64_t gen;   /* the publish call that last planned a marker */
    size_t len;
    char channel[];
};

struct resdeliv_log {
    struct resdeliv_config *cfg; /* validated deep copy */
    resdeliv_store *store;
    int own_store;               /* 1: made from cfg->connection */
    uint32_t store_flags;
    char *app_id;
    size_t app_id_len;
    size_t id_field_len;         /* strlen(cfg->replay_id_field) */
    size_t epoch_field_len;      /* strlen(cfg->replay_epoch_field) */
    struct resdeliv__tag_fields fields; /* checked once, at open */
    struct resdeliv_counters counters;
    char errmsg[LOG_ERRMSG_SIZE];
    /* The last epoch from the store that passed resdeliv_epoch_check(),
     * and the tag values over it: publishes mostly see the same epoch,
     * checked once, and ids of one ms, formatted once (the handle is used
     * by one thread at a time). */
    char epoch_ok[RESDELIV_EPOCH_BUFSIZE];
    struct resdeliv__tag_values tv;
    /* Channels owed a marker (RESDELIV_UNLOGGED_EVENT): open addressing
     * with linear probing, at most RESDELIV_MAX_UNLOGGED_CHANNELS. */
    struct resdeliv__unlogged **unlogged;
    size_t unlogged_cap; /* slots: 0 or a power of two */
    size_t unlogged_n;
    uint64_t unlogged_gen;
};

/* Set the handle's error message, printf style. */
void resdeliv__log_seterr(resdeliv_log *log, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Copy the store's error detail (or `fallback` when it has none) into the
 * handle's message, prefixed with `what`. */
void resdeliv__log_store_err(resdeliv_log *log, const char *what,
                             int status);

/* Check a channel name: 1..RESDELIV_MAX_CHANNEL_LEN bytes, no control
 * characters. @return 0 or RESDELIV_EINVAL with the handle's message set. */
int resdeliv__log_check_channel(resdeliv_log *log, const char *channel,
                                size_t len);

/* ---- channels owed a marker (log_unlogged.c) ---- */

/* One more message of `channel` went out untagged. RESDELIV_ESTORE when
 * the channel cannot be remembered (the map is full, or memory short):
 * the message must then not go out, no marker would announce it. */
int resdeliv__log_unlogged_note(resdeliv_log *log, const char *channel,
                                size_t len);

/* Plan the marker `channel` owes, once per publish call (the handle's
 * `unlogged_gen`): its data ({"lost":N,"since":MS}) into `data` of `size`
 * bytes and, in `*upto`, the failure total it covers. Markers of calls
 * still in flight may cover the same failures: a notice too many is safe,
 * and `marked` only ever moves forward. @return 1 when planned, else 0. */
int resdeliv__log_unlogged_plan(resdeliv_log *log, const char *channel,
                                size_t len, uint64_t *upto, char *data,
                                size_t size);

/* A marker covering the channel's first `upto` failures is in the log;
 * the channel leaves the map once every failure is covered. */
void resdeliv__log_unlogged_marked(resdeliv_log *log, const char *channel,
                                   size_t len, uint64_t upto);

/* Messages of `channel` this handle delivered untagged because the store
 * failed and that no marker in the log announces yet (0: none). A replay
 * that reaches the end of the log reports them: they come after every
 * entry it read. */
uint64_t resdeliv__log_unlogged_owed(const resdeliv_log *log,
                                     const char *channel, size_t len);

/* Free the map (the handle's close). */
void resdeliv__log_unlogged_free(resdeliv_log *log);

/* Buffer size that always holds `data_len` bytes of data tagged with an id
 * and an epoch, and the NUL (the bound resdeliv_tag_into() documents). */
static inline size_t resdeliv__log_tag_bound(const resdeliv_log *log,
                                             size_t data_len)
{
    return data_len + log->id_field_len + log->epoch_field_len +
           RESDELIV_ID_BUFSIZE + RESDELIV_EPOCH_BUFSIZE + 16;
}

/*
 * Tag `data` into `buf` (of a size from resdeliv__log_tag_bound()), or copy
 * it untagged when it is not a JSON object or the epoch is malformed. With
 * a plan (from resdeliv__tag_plan() with the handle's fields; NULL: scan
 * now) the data is not scanned again. Sets `*tagged`.
 * @return the payload length (a NUL follows).
 */
size_t resdeliv__log_tag_into(const resdeliv_log *log, const char *data,
                              size_t len,
                              const struct resdeliv__tag_plan *plan,
                              const struct resdeliv_id *id,
                              const char *epoch, char *buf, size_t size,
                              uint32_t *tagged);

/* ---- the replay cursor (replay.c, replay_page.c) ---- */

struct resdeliv_replay {
    resdeliv_log *log;
    struct resdeliv_log_key key;
    char channel[RESDELIV_MAX_CHANNEL_LEN + 1];
    struct resdeliv_replay_status status;
    struct resdeliv_id id;               /* the client's id */
    char epoch[RESDELIV_EPOCH_BUFSIZE];  /* the client's epoch, "" = none */
    int want;        /* a valid id was given: decide and replay */
    int invalid;     /* the id or the epoch was malformed */
    int second;      /* the info call with after = 0-0 is in flight */
    int busy;        /* a store call is in flight */
    int closed;      /* closed while busy: free on completion */
    int done;
    /* Reached the end of the log while this handle owed a marker for the
     * channel: `tail` messages to report on the next fetch, once. */
    uint64_t tail;
    int tail_seen;
    uint64_t cap;        /* replay cap, 0 = none */
    uint64_t remaining;  /* entries still to yield */
    struct resdeliv_id next_after;
    /* With `check`, the next read starts just before `expect`, which the
     * store must return first; `drop_first`: it was yielded already. */
    int check;
    int drop_first;
    struct resdeliv_id expect;
    size_t asked;        /* entries asked of the store for this page */
    uint64_t count;
    char *buf;           /* page buffer: events and payloads */
    size_t buf_size;
    struct resdeliv_replay_entry *entries;
    size_t entries_size;
    resdeliv_replay_open_cb open_cb;
    resdeliv_replay_page_cb page_cb;
    void *arg;
};

/* Tag the `n` entries of a page into the cursor's buffer, reserved once
 * for the page. @return 0 or RESDELIV_ENOMEM. */
int resdeliv__replay_fill_page(resdeliv_replay *cur,
                               const struct resdeliv_stored_entry *in,
                               size_t n, const char *epoch);

/* Check a page read against the cursor's state: the epoch, the entry the
 * read had to start with, markers. @return 0 with `*in`/`*n` the entries
 * to hand out, RESDELIV_ESTALE with the status updated (a gap), or another
 * negative code. */
int resdeliv__replay_check_page(resdeliv_replay *cur,
                                const struct resdeliv_stored_entry **in,
                                size_t *n, const char *epoch);

/* The end of the log is reached: messages this handle delivered untagged
 * and has not marked in the log yet came after every entry read. Keep the
 * cursor open to report them on the next fetch (once per cursor). */
void resdeliv__replay_arm_tail(resdeliv_replay *cur);

/* Report what resdeliv__replay_arm_tail() kept as a gap with reason
 * unlogged; the cursor is done. */
void resdeliv__replay_tail_gap(resdeliv_replay *cur);

#endif /* RESDELIV_LOG_INTERNAL_H */
