/* SPDX-License-Identifier: MIT */
/*
 * One log of the memory store, shared by store_memory.c (the map of logs,
 * its locking and the store vtable) and store_memory_log.c (the log's
 * ring: appends with count and age retention, ids, block reuse, lookup by
 * id). Every function here is called with the log's own lock held, or on
 * a log nobody else can reach yet. Nothing here is exported.
 */
#ifndef RESDELIV_STORE_MEMORY_INTERNAL_H
#define RESDELIV_STORE_MEMORY_INTERNAL_H

#include "internal.h"

#include <pthread.h>

struct resdeliv__mem_log {
    struct resdeliv__mem_log *next; /* hash chain */
    uint64_t hash;
    pthread_mutex_t lock;
    struct resdeliv_stored_entry *slots;
    size_t cap;
    size_t head;
    size_t len;
    struct resdeliv_id last;
    struct resdeliv_id max_deleted;
    uint32_t has_max_deleted;
    uint64_t entries_added;
    uint64_t max_age_ms;     /* age retention of the latest append */
    uint64_t last_append_ms; /* clock time of the latest append */
    char *spare;             /* a dropped entry's block, or NULL */
    size_t spare_size;       /* bytes it is known to hold */
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    size_t app_len;
    size_t chan_len;
    char key[]; /* app id bytes, then channel bytes */
};

/* The ring slot of the log's `i`-th retained entry (0 is the oldest). */
static inline size_t resdeliv__mem_log_phys(const struct resdeliv__mem_log *lg,
                                            size_t i)
{
    size_t p = lg->head + i;
    return p >= lg->cap ? p - lg->cap : p;
}

/* A new, empty log of (app, chan) with a new epoch, its lock initialised
 * but not held. @return 0, RESDELIV_ENOMEM or the epoch's error. */
int resdeliv__mem_log_new(uint64_t hash, const char *app, size_t app_len,
                          const char *chan, size_t chan_len,
                          struct resdeliv__mem_log **out);

/* Free a log that nobody holds or waits for; accepts NULL. */
void resdeliv__mem_log_free(struct resdeliv__mem_log *lg);

/* Trim aged entries. @return 1 when the log is empty and nobody appended
 * to it within its max age, so it should vanish with its epoch. */
int resdeliv__mem_log_expired(struct resdeliv__mem_log *lg, uint64_t now);

/* Forget everything of an expired log and start a new epoch in place. */
int resdeliv__mem_log_reset(struct resdeliv__mem_log *lg);

/* Append one item at clock time `now` under the item's retention; its
 * id in `*id`. @return 0, RESDELIV_ERANGE (ids used up), RESDELIV_ENOMEM. */
int resdeliv__mem_log_append(struct resdeliv__mem_log *lg,
                             const struct resdeliv_append_item *it,
                             uint64_t now, struct resdeliv_id *id);

/* Index of the first retained entry with an id greater than `after`. */
size_t resdeliv__mem_log_seek(const struct resdeliv__mem_log *lg,
                              const struct resdeliv_id *after);

#endif /* RESDELIV_STORE_MEMORY_INTERNAL_H */
