/* SPDX-License-Identifier: MIT */
/*
 * The log handle's layout, shared by the publish side (log.c) and the
 * replay cursor (replay.c), which both need the configuration, the store,
 * the counters and the per-handle error message. Nothing here is exported.
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

/* Messages of `channel` this handle delivered untagged because the store
 * failed and that no marker in the log announces yet (0: none). A replay
 * that reaches the end of the log reports them: they come after every
 * entry it read. */
uint64_t resdeliv__log_unlogged_owed(const resdeliv_log *log,
                                     const char *channel, size_t len);

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

#endif /* RESDELIV_LOG_INTERNAL_H */
